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


def rebuild_step(tx: Tx, chunk: int = REBUILD_CHUNK) -> bool:
    """Move the next `chunk` rows into the lean table, in the caller's transaction; once all are
    there, swap the tables and index the new one. False when there was nothing to do (state is
    read inside the transaction, so processes starting together share the work)."""
    status = rebuild_status(tx)
    if status is None:
        return False
    after, last = status
    if after < last:
        upto = min(after + chunk, last)
        tx.execute(_COPY, (after, upto))
        tx.execute("DELETE FROM clicks WHERE rowid > ? AND rowid <= ?", (after, upto))
        tx.execute("UPDATE click_rebuild SET next_rowid = ?", (upto,))
        return True
    # A row stored after the migration ran (nothing should write before it is done) moves too.
    tx.execute(_COPY, (last, 1 << 62))
    for statement in _SWAP:
        tx.execute(statement)
    return True


class ClickRebuild(SQLiteBase):
    async def rebuild_clicks(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Finish migration 017's copy if one is under way, calling progress(done, total) per chunk."""
        step, status = with_tx(rebuild_step), with_tx(rebuild_status)
        logged, total, shown = -1, 0, None
        while True:
            state = await self.run_on_reader(status, timeout=None)
            done, total = state if state is not None else (total, total)
            if not total or (done, total) == shown:  # an empty table (a new database): nothing to show
                pass
            elif progress is not None:
                shown = (done, total)
                progress(done, total)
            elif done * 20 // total != logged:  # serve migrating on start: a log line per 5 %
                logged = done * 20 // total
                log.info("moving stored clicks to lean rows: %d %%", done * 100 // total)
            if state is None or not await self.run_in_transaction(step):
                return
