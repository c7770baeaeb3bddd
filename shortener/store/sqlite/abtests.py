"""Queries for A/B destinations: a finished test's results, and recording its winner."""
from __future__ import annotations

import sqlite3

from .base import SQLiteBase


def _results(conn: sqlite3.Connection, link_id: str, start: str, end: str) -> tuple[list, list]:
    cur = conn.execute(
        "SELECT url, COUNT(*) AS n FROM clicks WHERE link_id = ? AND timestamp >= ? AND timestamp <= ? GROUP BY url",
        (link_id, start, end),
    )
    clicks = [(r["url"], r["n"]) for r in cur.fetchall()]
    cur = conn.execute(
        "SELECT c.url AS url, COUNT(*) AS n FROM lead_events l JOIN clicks c ON c.id = l.click_id "
        "WHERE l.link_id = ? AND l.timestamp >= ? AND l.timestamp <= ? GROUP BY c.url",
        (link_id, start, end),
    )
    leads = [(r["url"], r["n"]) for r in cur.fetchall()]
    return clicks, leads


def _complete(conn: sqlite3.Connection, link_id: str, url: str, utm: dict, at: str) -> bool:
    cols = sorted(utm)
    cur = conn.execute(
        f"UPDATE links SET url = ?, test_decided_at = ?, updated_at = ?, {', '.join(c + ' = ?' for c in cols)} "
        "WHERE id = ? AND test_decided_at IS NULL AND test_variants IS NOT NULL",
        (url, at, at, *[utm[c] for c in cols], link_id),
    )
    done = cur.rowcount > 0
    cur.close()
    return done


class ABTestQueries(SQLiteBase):
    async def ab_test_results(self, link_id: str, start: str, end: str) -> tuple[list, list]:
        """([(click url, clicks)], [(click url, leads)]) of a link between two ISO times: the
        clicks, and the leads whose click went to that URL."""
        return await self.run_on_reader(_results, link_id, start, end)

    async def complete_ab_test(self, link_id: str, url: str, utm: dict, at: str) -> bool:
        """Make `url` the link's destination and mark its test decided; False when it already was."""
        return await self.run_in_transaction(_complete, link_id, url, utm, at)
