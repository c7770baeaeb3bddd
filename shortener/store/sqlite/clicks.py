"""Queries for the redirect path's lookups and click batches."""
from __future__ import annotations

import asyncio
import functools
import itertools
import sqlite3
import time
from typing import Iterable, Sequence

from .base import Row, SQLiteBase, StoppableUnits, Tx
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


# Rows per transaction of a click batch. Each unit commits on its own, and a write that queues
# behind the batch stops the unit in progress at once (rolled back, written again after that
# write), so the write waits for neither the rest of the batch nor the COMMIT of a large
# transaction (bench_analytics --parts load, one 20,000-click transaction with savepoints: a
# queued write waited p50 65-114 ms, ~55 ms of it the batch's COMMIT). When the batch has
# committed nothing for a while (EMPTY_CALLS_BEFORE_GUARANTEE, STARVED_S), its next unit is a
# single statement that cannot be stopped, so the clicks always make progress. Larger units
# cost less per click (a page a unit touches is written to the WAL once per COMMIT); this
# bounds the work thrown away when a write arrives.
# A unit doubles after each one committed, up to MAX_UNIT_ROWS, and falls back to UNIT_ROWS when
# a write stopped one: with many links every click touches pages of its own, and committed every
# 2,400 clicks the writer stored 8,357 clicks/s against 11,133 in transactions of up to 20,000
# (bench_redirect, 100k links, same hour); writes that keep coming keep the units small, and
# what a stop throws away with them.
# A batch whose last EMPTY_CALLS_BEFORE_GUARANTEE calls committed nothing, or that committed
# nothing for STARVED_S, writes its next unit (FIRST_UNIT_ROWS) whatever waits, so a stream of
# writes cannot starve the clicks. After every stop instead, one write in ten waited for such a
# unit under a saturating redirect load, the slowest writes. Such a unit is short but slow: the
# writer thread waits for the GIL at each statement next to a saturated loop, so 400 clicks took
# 105-145 ms at p50 (at most 221) and 100 clicks 39-48 ms (at most 65; bench_analytics --parts
# load, 80 s phases, three pairs in the same hour); a write that came meanwhile waited for it. So it holds 100 clicks, and doubles (up to
# MAX_FIRST_UNIT_ROWS) only while writes keep starving the batch call after call: a storm of
# writes still lets 400 clicks through every few of them.
FIRST_UNIT_ROWS = 100
MAX_FIRST_UNIT_ROWS = _ROWS_PER_STATEMENT
EMPTY_CALLS_BEFORE_GUARANTEE = 3
STARVED_S = 0.5
# Units grow past UNIT_ROWS only when no write stopped one for this long. A unit's COMMIT cannot
# be stopped, and a write that comes during it waits for it: 20-60 ms for units of 2,400 to
# 19,200 clicks on 10k links next to a saturated loop (a unit of 400 clicks writes ~750 pages).
CALM_S = 5.0
STOPPED_PAUSE_S = 0.002
UNIT_ROWS = 6 * _ROWS_PER_STATEMENT
MAX_UNIT_ROWS = 48 * _ROWS_PER_STATEMENT


class _Stopped(Exception):
    """A write is waiting: the click unit in progress gives the lock up."""


class _UnitTx(Tx):
    """A click unit's statements: each first asks whether a write is waiting, since SQLite
    forgets an interrupt that lands between two statements."""

    __slots__ = ("units",)

    def __init__(self, conn: sqlite3.Connection, units: StoppableUnits | None) -> None:
        super().__init__(conn)
        self.units = units

    def check(self) -> None:
        if self.units is not None and self.units.waiting():
            raise _Stopped

    def execute(self, sql: str, params: Sequence | dict = ()) -> int:
        self.check()
        return super().execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence | dict]) -> int:
        self.check()
        return super().executemany(sql, rows)

    def fetchall(self, sql: str, params: Sequence | dict = ()) -> list[Row]:
        self.check()
        return super().fetchall(sql, params)

    def fetchone(self, sql: str, params: Sequence | dict = ()) -> Row | None:
        self.check()
        return super().fetchone(sql, params)


def _finish_rows(tx: Tx, inserted: list[tuple], first_rowid: int, outbox: dict[str, list[Row]] | None) -> None:
    """Counters, rollups and outbox rows of the rows just inserted (rowids after first_rowid)."""
    for sql, params in _counter_statements(_click_counters(inserted)):
        tx.execute(sql, params)
    last = tx.fetchone("SELECT COALESCE(MAX(rowid), 0) AS last FROM clicks")["last"]
    if inserted:
        roll_up_click_rows(tx, first_rowid, last)
    if outbox:
        insert_outbox(tx, [entry for row in inserted for entry in outbox.get(row[_ID], ())])


def _write_unit(conn: sqlite3.Connection, cur: sqlite3.Cursor, unit: Sequence[tuple],
                outbox: dict[str, list[Row]] | None, units: StoppableUnits | None) -> int | None:
    """One transaction: the rows, then their counters, rollups and outbox rows (only the rows
    inserted: a click id already stored is ignored and must not count twice). Returns how many
    were inserted, or None when a write started waiting: the unit is then rolled back at once,
    inside the statement in progress (`units` interrupts it; a rollup statement over a unit's
    rows takes tens of milliseconds next to a saturated event loop). Without `units` the unit
    cannot be stopped."""
    stoppable = units
    tx = _UnitTx(conn, stoppable)
    if stoppable is not None and not stoppable.start(conn):
        return None
    try:
        conn.execute("BEGIN IMMEDIATE").close()
        # The unit's rows get the rowids after the largest (one writer at a time): the rollups
        # are made from that range.
        first_rowid = tx.fetchone("SELECT COALESCE(MAX(rowid), 0) AS last FROM clicks")["last"]
        inserted: list[tuple] = []
        for sql, params, _ in _click_statements(unit):
            tx.check()
            inserted += cur.execute(sql + _RETURNING, params).fetchall()
        _finish_rows(tx, inserted, first_rowid, outbox)
        if stoppable is not None:
            done, stoppable, tx.units = stoppable, None, None
            if not done.finish():  # from here on no interrupt can reach the COMMIT
                raise _Stopped
        conn.execute("COMMIT").close()
        return len(inserted)
    except BaseException as exc:
        interruptible = stoppable is not None
        if interruptible:
            stoppable.finish()  # nor the ROLLBACK
        if conn.in_transaction:
            conn.execute("ROLLBACK").close()
        if isinstance(exc, _Stopped) or (
                interruptible and isinstance(exc, sqlite3.OperationalError) and "interrupt" in str(exc)):
            return None
        raise


def _write_clicks(conn: sqlite3.Connection, clicks: Sequence[tuple], outbox: dict[str, list[Row]] | None,
                  units: StoppableUnits, must_progress: bool, size: int,
                  max_size: int = MAX_UNIT_ROWS, first: int = FIRST_UNIT_ROWS) -> tuple[int, int, int]:
    """Write `clicks` in units, a transaction each (`size` rows to start with, doubling up to
    `max_size`), until done or until another write (an API call) waits: then the unit in
    progress is rolled back at once and the call returns, so that write goes next. With
    `must_progress` (nothing committed for a while) the first unit is `first` rows and cannot
    be stopped, so a stream of writes cannot starve the clicks. Returns the rows inserted, how
    many of `clicks` were taken (the caller writes the rest in its next call) and the size of
    the next unit."""
    # Click inserts touch the (link_id, timestamp) index at one page per link: with many links
    # the default 2 MB page cache thrashes and each batch rewrites pages it just evicted. 64 MB
    # keeps a few million clicks' index pages hot. (Per batch: a pragma costs microseconds.)
    conn.execute(f"PRAGMA cache_size=-{_WRITER_CACHE_KIB}").close()
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: thousands of rows per batch
    written = taken = 0
    try:
        while taken < len(clicks):
            guaranteed = must_progress and not taken
            if not guaranteed and units.waiting():
                size = UNIT_ROWS
                break
            unit = clicks[taken:taken + (first if guaranteed else size)]
            inserted = _write_unit(conn, cur, unit, outbox, None if guaranteed else units)
            if inserted is None:
                size = UNIT_ROWS
                break
            written += inserted
            taken += len(unit)
            if not guaranteed:
                size = min(2 * size, max_size)
    finally:
        cur.close()
    return written, taken, size


class ClickQueries(SQLiteBase):
    _click_unit_rows: int | None = None  # the click writer's next unit (_write_clicks)
    _click_stopped_at = float("-inf")  # when a write last stopped a click unit (monotonic)

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
        transaction (_write_clicks: units of UNIT_ROWS to MAX_UNIT_ROWS clicks); returns how
        many rows were inserted.

        Each click is a tuple in CLICK_COLUMNS order. The transactions run in one call on the
        write connection's thread (run_on_writer): statement by statement, each await waited
        behind a full turn of a saturated event loop and the writer fell behind the redirects.
        Under load a batch holds thousands of clicks, a few hundred milliseconds of work: one
        call commits unit after unit while no other write is waiting; a write that queues stops
        the unit in progress (rolled back) and goes next, and the batch goes on in a new call
        queued behind it.
        """
        written = 0
        progressed = time.monotonic()
        empty_calls = 0
        first = FIRST_UNIT_ROWS
        while clicks:
            now = time.monotonic()
            must_progress = empty_calls >= EMPTY_CALLS_BEFORE_GUARANTEE or now - progressed > STARVED_S
            # While writes keep coming, units stay at UNIT_ROWS: a write waits for the COMMIT in
            # progress, which cannot be stopped and grows with the unit.
            max_size = UNIT_ROWS if now - self._click_stopped_at < CALM_S else MAX_UNIT_ROWS
            size = min(self._click_unit_rows or UNIT_ROWS, max_size)
            inserted, taken, self._click_unit_rows = await self.run_on_writer(
                _write_clicks, clicks, outbox, self.units, must_progress, size, max_size, first)
            if taken:
                # Starved again right after a guaranteed unit: the next one is larger.
                still_starved = must_progress and taken <= first and taken < len(clicks)
                first = min(2 * first, MAX_FIRST_UNIT_ROWS) if still_starved else FIRST_UNIT_ROWS
            written += inserted
            if taken < len(clicks):
                self._click_stopped_at = time.monotonic()
            clicks = clicks[taken:]
            if taken:
                progressed, empty_calls = time.monotonic(), 0
            else:
                empty_calls += 1
                # Stopped before a unit committed: the write that stopped it goes first (one
                # waiting on the loop takes the lock in the next few turns).
                await asyncio.sleep(STOPPED_PAUSE_S)
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
