"""Queries for the redirect path's lookups and click batches."""
from __future__ import annotations

import functools
import itertools
from typing import Callable, Iterable, Sequence

from .base import Row, SQLiteBase, Tx, with_tx
from .rollups import roll_up_click_rows
from .webhooks import insert_outbox

# Only what a redirect needs; the link cache keeps these rows for the whole working set.
_REDIRECT_COLUMNS = (
    "id, domain, key, url, track_conversion, archived, expires_at, expired_url, password_hash, proxy, "
    "title, description, image, video, rewrite, do_index, ios, android, geo, webhook_ids, "
    "redirect_status, disabled_at, test_variants, test_completed_at, test_decided_at"
)

# The table's columns (lean since migration 017), in its order.
CLICK_COLUMNS = (
    "id", "link_id", "url", "timestamp", "country", "continent", "region", "city", "device", "browser", "os",
    "ua", "referer", "referer_url", "qr", "trigger", "ip", "identity_hash",
)

_ROW = f"({', '.join('?' * len(CLICK_COLUMNS))})"
# Rows per INSERT statement: 18 columns x 400 stays far below SQLite's 32,766 parameters.
_ROWS_PER_STATEMENT = 400


@functools.lru_cache(maxsize=8)
def _counters(links: int) -> str:
    """One UPDATE for `links` links' counters, from (clicks to add, latest timestamp, id) triples:
    as for the INSERTs (below), a statement per row waited for the GIL once per link."""
    values = ", ".join(["(?, ?, ?)"] * links)
    return (f"WITH v(n, at, id) AS (VALUES {values}) "
            "UPDATE links SET clicks = clicks + v.n, last_clicked = MAX(COALESCE(last_clicked, ''), v.at) "
            "FROM v WHERE links.id = v.id")


def _counter_statements(counters: Sequence[tuple]):
    for start in range(0, len(counters), _ROWS_PER_STATEMENT):
        chunk = counters[start:start + _ROWS_PER_STATEMENT]
        yield _counters(len(chunk)), list(itertools.chain.from_iterable(chunk))


@functools.lru_cache(maxsize=8)
def _insert_clicks(rows: int) -> str:
    return f"INSERT OR IGNORE INTO clicks ({', '.join(CLICK_COLUMNS)}) VALUES {', '.join([_ROW] * rows)}"


def _click_statements(clicks: Sequence[tuple]):
    """Multi-row INSERTs, not executemany: the sqlite3 module releases the GIL around every step
    and must win it back for the next row, which next to a busy event loop can wait the 5 ms
    switch interval each time. One statement per 400 rows waits once."""
    for start in range(0, len(clicks), _ROWS_PER_STATEMENT):
        chunk = clicks[start:start + _ROWS_PER_STATEMENT]
        yield _insert_clicks(len(chunk)), list(itertools.chain.from_iterable(chunk)), len(chunk)


# What the INSERT hands back per inserted row; _click_counters reads these positions.
_RETURNING = " RETURNING id, link_id, timestamp"
_ID, _LINK_ID, _TIMESTAMP = 0, 1, 2


def _click_counters(inserted: Iterable[tuple]) -> list[tuple[int, str, str]]:
    """(clicks to add, latest timestamp, link id) per link of inserted (id, link_id, timestamp) rows."""
    counters: dict[str, list] = {}
    for row in inserted:
        link_id, at = row[_LINK_ID], row[_TIMESTAMP]
        entry = counters.get(link_id)
        if entry is None:
            counters[link_id] = [1, at, link_id]
        else:
            entry[0] += 1
            if at > entry[1]:
                entry[1] = at
    return [tuple(v) for v in counters.values()]


_WRITER_CACHE_KIB = 65536


# Rows whose counters and rollups are added at a time, inside a transaction. When a write
# queues behind a click batch, the rows inserted since the last time are rolled back and written
# again after it (_write_clicks), so this bounds the work thrown away; larger, the rollups of a
# busy link's clicks aggregate more before they are written.
FINISH_ROWS = 2500


def _finish_rows(tx: Tx, inserted: list[tuple], first_rowid: int, outbox: dict[str, list[Row]] | None,
                 stop: Callable[[], bool] | None = None) -> int | None:
    """Counters, rollups and outbox rows of the rows just inserted (rowids after first_rowid);
    returns the last rowid. With `stop`, asked between statements: True leaves the work half
    done and returns None (the caller rolls it back)."""
    for sql, params in _counter_statements(_click_counters(inserted)):
        if stop is not None and stop():
            return None
        tx.execute(sql, params)
    last = tx.fetchone("SELECT COALESCE(MAX(rowid), 0) AS last FROM clicks")["last"]
    if inserted and not roll_up_click_rows(tx, first_rowid, last, stop):
        return None
    if outbox:
        insert_outbox(tx, [entry for row in inserted for entry in outbox.get(row[_ID], ())])
    return last


@with_tx
def _write_clicks(tx: Tx, clicks: Sequence[tuple], outbox: dict[str, list[Row]] | None,
                  others_waiting: Callable[[], bool]) -> tuple[int, int]:
    """Insert the rows; counters and link.clicked outbox rows follow only the rows inserted
    (a click id already stored is ignored, and must not count twice). Returns that number and
    how many of `clicks` were taken: when another write is waiting (an API call), the
    transaction stops after the current statement, drops the rows whose counters and rollups
    are not added yet (at most FINISH_ROWS) and commits the rest, so that write waits for one
    statement and a COMMIT rather than the whole batch; the caller writes the rest in the next
    transaction."""
    conn = tx.conn
    # Click inserts touch the (link_id, timestamp) index at one page per link: with many links
    # the default 2 MB page cache thrashes and each batch rewrites pages it just evicted. 64 MB
    # keeps a few million clicks' index pages hot. (Per batch: a pragma costs microseconds.)
    tx.execute(f"PRAGMA cache_size=-{_WRITER_CACHE_KIB}")
    # The rows this batch inserts get the rowids after the largest (one writer at a time): the
    # rollups are made from that range, so only inserted rows count (an id already stored is
    # ignored and must not count twice).
    first_rowid = tx.fetchone("SELECT COALESCE(MAX(rowid), 0) AS last FROM clicks")["last"]
    written = taken = finished = 0  # finished: rows of `clicks` whose counters and rollups are in
    pending: list[tuple] = []
    half_done = False  # a finish stopped between its statements
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: thousands of rows per batch
    try:
        for sql, params, rows in _click_statements(clicks):
            if taken and others_waiting():
                break
            if pending and (not finished or taken - finished >= FINISH_ROWS):
                # Finishing can itself take a while (the rollups of FINISH_ROWS clicks): a write
                # that queues meanwhile stops it between its statements. (The first statement's
                # rows are finished whatever happens, so every transaction keeps some.)
                last = _finish_rows(tx, pending, first_rowid, outbox, others_waiting if finished else None)
                if last is None:
                    half_done = True
                    break
                first_rowid = last
                written += len(pending)
                if finished:  # the savepoint opened after the last finish
                    # One savepoint at a time: while any is open, SQLite copies each page it is
                    # about to change into the statement sub-journal (in memory: WRITER_TEMP_STORE),
                    # and only the release of the last one empties it. Nested, a 20,000-click
                    # batch held ~400 MB there (bench_redirect, 100k links: RSS 760 -> ~350 MiB).
                    tx.execute("RELEASE unfinished")
                pending, finished = [], taken
                tx.execute("SAVEPOINT unfinished")
            pending += cur.execute(sql + _RETURNING, params).fetchall()
            taken += rows
    finally:
        cur.close()
    if pending and finished:
        if half_done or others_waiting() or _finish_rows(tx, pending, first_rowid, outbox, others_waiting) is None:
            # A write is waiting: the rows since the last finish (and any half of their
            # finishing) are rolled back rather than finished, so the write waits for one
            # statement and the COMMIT; they are written again after it.
            tx.execute("ROLLBACK TO unfinished")
            return written, finished
    elif pending:
        _finish_rows(tx, pending, first_rowid, outbox)
    return written + len(pending), taken


class ClickQueries(SQLiteBase):
    # -- redirect lookups (synchronous: primary-key point reads on the event loop) -----------

    def find_redirect_link(self, domain: str, key: str) -> Row | None:
        """The link at (domain, key), compared case-insensitively (the columns are NOCASE)."""
        return self.read_one_now(f"SELECT {_REDIRECT_COLUMNS} FROM links WHERE domain = ? AND key = ?", (domain, key))

    async def recent_redirect_links(self, limit: int, before: tuple[str, str] | None = None) -> list[Row]:
        """Up to `limit` links, newest first, created before `before` (the created_at and id of
        the last row of the previous page) if given; for warming the link cache at start."""
        if before is None:
            where, params = "", ()
        else:
            where, params = "WHERE (created_at, id) < (?, ?) ", tuple(before)
        return await self.read(
            f"SELECT {_REDIRECT_COLUMNS}, created_at FROM links {where}ORDER BY created_at DESC, id DESC LIMIT ?",
            (*params, limit),
        )

    def find_redirect_domain(self, slug: str) -> Row | None:
        rows = self.read_now(
            "SELECT slug, archived, placeholder, expired_url, not_found_url, cookie_domain "
            "FROM domains WHERE slug = ?",
            (slug,),
        )
        return rows[0] if rows else None

    # -- click batches -----------------------------------------------------------------------

    async def record_click_batch(self, clicks: Sequence[tuple], outbox: dict[str, list[Row]] | None = None) -> int:
        """Click rows, their links' `clicks`/`last_clicked` counters, their rollups and the
        link.clicked outbox rows (by click id), each click with all of its own in one
        transaction; returns how many rows were inserted.

        Each click is a tuple in CLICK_COLUMNS order. Each transaction runs as one call on the
        write connection's thread (run_in_transaction): statement by statement, each await
        waited behind a full turn of a saturated event loop and the writer fell behind the
        redirects. Under load a batch holds thousands of clicks, a few hundred milliseconds of
        work: one transaction for the whole batch when no other write is waiting (the cheapest
        per click), else the batch yields the write lock after the statement in progress
        (_write_clicks: the rows not finished yet are rolled back) and goes on in a new
        transaction queued behind that write.
        """
        written = 0
        while clicks:
            inserted, taken = await self.run_in_transaction(_write_clicks, clicks, outbox, self._writes_waiting)
            written += inserted
            clicks = clicks[taken:]
        return written

    async def find_click(self, click_id: str) -> Row | None:
        return await self.read_one("SELECT * FROM clicks WHERE id = ?", (click_id,))

    async def clicks_of_link(self, link_id: str, *, limit: int = 10000) -> list[Row]:
        """A link's clicks, oldest first; clicks of one millisecond in the order they were
        written (their ids' random part would order them at random)."""
        return await self.read(
            "SELECT * FROM clicks WHERE link_id = ? ORDER BY timestamp, rowid LIMIT ?", (link_id, limit)
        )

    async def click_totals(self, link_id: str) -> Row:
        """Rows stored for a link next to its counters, for consistency checks (tests, bench)."""
        row = await self.read_one(
            "SELECT (SELECT COUNT(*) FROM clicks WHERE link_id = :id) AS rows, "
            "(SELECT clicks FROM links WHERE id = :id) AS clicks, "
            "(SELECT last_clicked FROM links WHERE id = :id) AS last_clicked",
            {"id": link_id},
        )
        assert row is not None
        return row

    async def count_all_clicks(self) -> int:
        row = await self.read_one("SELECT COUNT(*) AS n FROM clicks")
        return row["n"] if row else 0
