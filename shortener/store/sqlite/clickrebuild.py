"""Migration 017's copy of the clicks into lean rows, a chunk per transaction (see its SQL)."""
from __future__ import annotations

from typing import Callable

from .base import SQLiteBase, Tx, log, with_tx

REBUILD_CHUNK = 50_000
# The columns the lean table keeps, all of them in the old one.
_KEPT = ("id, link_id, url, timestamp, country, continent, region, city, device, browser, os, ua, referer, "
         "referer_url, qr, trigger, ip, identity_hash")
_COPY = f"INSERT INTO clicks_lean (rowid, {_KEPT}) SELECT rowid, {_KEPT} FROM clicks WHERE rowid > ? AND rowid <= ?"
_SWAP = (
    "DROP TABLE clicks",
    "ALTER TABLE clicks_lean RENAME TO clicks",
    "CREATE INDEX clicks_link_time ON clicks (link_id, timestamp)",
    "CREATE INDEX clicks_time ON clicks (timestamp)",
    "DROP TABLE click_rebuild",
)


def rebuild_status(tx: Tx) -> tuple[int, int] | None:
    """(rows copied, rows in all), in rowids; None when no rebuild is under way."""
    if tx.fetchone("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'click_rebuild'") is None:
        return None
    row = tx.fetchone("SELECT next_rowid, last_rowid FROM click_rebuild")
    return row["next_rowid"], row["last_rowid"]


def rebuild_step(tx: Tx, chunk: int = REBUILD_CHUNK) -> tuple[int, int] | None:
    """Move the next `chunk` rows into the lean table, in the caller's transaction; once all are
    there, swap the tables and index the new one. Returns (rows copied, rows in all) after the
    step, None when there was nothing to do. The state is read inside the write transaction only:
    processes starting together share the work, and none reads a table another just dropped."""
    status = rebuild_status(tx)
    if status is None:
        return None
    after, last = status
    if after < last:
        upto = min(after + chunk, last)
        tx.execute(_COPY, (after, upto))
        tx.execute("DELETE FROM clicks WHERE rowid > ? AND rowid <= ?", (after, upto))
        tx.execute("UPDATE click_rebuild SET next_rowid = ?", (upto,))
        return upto, last
    # A row stored after the migration ran (nothing should write before it is done) moves too.
    tx.execute(_COPY, (last, 1 << 62))
    for statement in _SWAP:
        tx.execute(statement)
    return last, last


class ClickRebuild(SQLiteBase):
    async def rebuild_clicks(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Finish migration 017's copy if one is under way, calling progress(done, total) per chunk."""
        step = with_tx(rebuild_step)
        logged, shown = -1, None
        while (state := await self.run_in_transaction(step)) is not None:
            done, total = state
            if not total or state == shown:  # an empty table (a new database), or the swap
                continue
            shown = state
            if progress is not None:
                progress(done, total)
            elif done * 20 // total != logged:  # serve migrating on start: a log line per 5 %
                logged = done * 20 // total
                log.info("moving stored clicks to lean rows: %d %%", done * 100 // total)
