"""Connections, transactions and migrations for the SQLite store.

We own the connection threads (plain `sqlite3`, no aiosqlite). Every unit of work is one call
on the thread that owns its connection, and that is what keeps a connection from being left in a
wrong state:
- a write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any error) is a single call on the
  writer thread. A coroutine cancelled while awaiting it cannot split it: the call either never
  starts or runs to its end, and nothing after it finds a transaction left open;
- reads run on a small pool of reader threads, each with its own connection, so a slow listing
  does not hold up authentication. Every cursor is closed in `finally` (an unclosed cursor of a
  failed fetch kept its WAL snapshot until the garbage collector came, seconds later), a reader
  that raised is reopened, and API reads have a deadline (a progress handler);
- one connection is used synchronously on the event loop for the redirect path's primary-key
  lookups: ~7.5 us direct versus ~67 us through a thread hop (reference/performance-notes.md).
  An API request's lookups of one row by a unique column (its API key, a link, a domain, one
  link's tags) use it too: under a saturated redirect load each hop waited a turn of the loop.
  Only index point lookups may use it, and its busy timeout is short: the loop must never sleep
  for seconds on a lock;
- a second connection on the event loop writes an API call's few rows (run_small_transaction),
  BEGIN IMMEDIATE ... COMMIT in one synchronous call: a click unit gives the lock up for it in a
  few milliseconds, and two hops to the writer thread and back cost a saturated loop two turns.
  When the lock stays taken (another process, a bulk job) the write goes to the writer thread.

Why not aiosqlite: the hot writers need a whole transaction as one call on the connection's
thread, which aiosqlite offers only through private APIs (`_execute`, `_conn`). Owning the
threads costs ~150 lines. bench/bench_store_calls.py (2 loaded cores): a one-row write
transaction 0.6-0.8 ms against aiosqlite's 3.0-5.3 ms (one thread hop instead of three); a
point read 0.6-1.2 ms against 0.3 ms (the pool's hand-off; worth trimming later).
"""
from __future__ import annotations

import asyncio
import bisect
import contextlib
import functools
import logging
import sqlite3
import threading
import traceback
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Iterator, Sequence

from shortener.errors import StoreUnavailable
from shortener.tasks import cancel, every

Row = dict[str, Any]

MIGRATIONS_PACKAGE = "shortener.store.sqlite"
log = logging.getLogger("shortener.store")

# The writer waits this long for another process's lock (the CLI, a backup) before giving up.
WRITE_BUSY_MS = 5000
# The redirect path's connection runs on the event loop: it may wait only briefly. In WAL mode a
# reader is blocked only while another connection recovers or restarts the WAL, which is short.
REDIRECT_BUSY_MS = 100
# An API write runs on the event loop's own write connection (SQLiteBase.run_small_transaction).
# It asks the click unit in progress to stop (StoppableUnits: interrupted, rolled back) and waits
# for the lock, first on the loop itself for up to LOOP_WRITE_SPIN_S, retrying every
# LOOP_WRITE_RETRY_S with the GIL released so the writer thread rolls back at once (measured
# under a saturating redirect load, 10k links: free 2.5 ms after the interrupt at p50, 3.9 ms at
# p90). Past that the writer is in a unit's COMMIT (20-40 ms there: the unit's pages go to the
# WAL) or another job holds the lock: the write then awaits it a loop turn at a time, the loop
# free meanwhile, and after LOOP_WRITE_WAIT_S goes to the writer thread (another process holds
# the lock: that thread waits WRITE_BUSY_MS as any write does).
LOOP_WRITE_SPIN_S = 0.004
LOOP_WRITE_RETRY_S = 0.0002
LOOP_WRITE_WAIT_S = 0.25
# The most items (links, in a bulk call) a transaction may hold to run on the loop: Dub's bulk
# endpoints take up to 100; an import's batches of thousands go to the writer thread.
SMALL_WRITE_ITEMS = 100
# Progress-handler granularity: the deadline is checked every N virtual-machine steps (~1 ms).
# The handler runs Python, so each call takes the GIL from the event loop and gives it back: at
# 4,000 steps (tens of us) a long query next to a saturated loop made both crawl. The handler
# is installed only for a job with a deadline.
PROGRESS_STEPS = 100_000


def _path_from_url(url: str) -> str:
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///"):]
    if url.startswith("sqlite://"):
        return url[len("sqlite://"):]
    raise ValueError(f"not a sqlite URL: {url!r}")


def _dict_factory(cursor: sqlite3.Cursor, row: tuple) -> Row:
    return {d[0]: v for d, v in zip(cursor.description, row)}


# The schema needs FTS5's trigram tokenizer (SQLite 3.34+, links search) and the JSON functions
# (rollup values are json_array()s). Probed before migrating, so a library without them is one
# clear start-up error instead of a migration failing partway through the list.
_NEEDED_FEATURES = ("CREATE VIRTUAL TABLE temp.probe USING fts5(x, tokenize='trigram')", "SELECT json_array(1)")


# A click batch's rollups group its rows in a temp table and sorters; in a temp file (the
# default) they cost the writer ~17 % more per click with every click on a different link
# (bench_click_writer, 100k links, batches of 20,000: 83 -> 69 us). They hold one batch at most
# (a few MB). Readers keep the default: a raw GROUP BY over millions of rows may spill; so do
# migrations (an index built over every click sorts them all).
WRITER_TEMP_STORE = "MEMORY"

# The writer never checkpoints the WAL itself (SQLite's default is to do it in the COMMIT that
# takes the WAL past 1,000 pages): under a click load almost every batch's COMMIT did, copying
# the WAL into the database and syncing it, and every write queued on the writer thread waited
# for that. A connection of its own checkpoints every CHECKPOINT_SECONDS instead (PASSIVE: it
# copies what no reader still needs and never blocks a writer), so the WAL holds about that many
# seconds of writes before it starts over. The last connection to close still checkpoints it all.
CHECKPOINT_SECONDS = 1.0


def _temp_store(conn: sqlite3.Connection, mode: str) -> None:
    """Outside a transaction only; it drops the connection's temp tables."""
    conn.execute(f"PRAGMA temp_store={mode}").close()


def check_sqlite_features(conn: sqlite3.Connection | None = None) -> None:
    probe = conn or sqlite3.connect(":memory:")
    try:
        for sql in _NEEDED_FEATURES:
            try:
                probe.execute(sql).close()
            except sqlite3.OperationalError as exc:
                raise RuntimeError(
                    f"SQLite {sqlite3.sqlite_version} lacks a feature shortener needs ({exc}): it needs "
                    "3.34 or newer with FTS5 and JSON (Python's sqlite3 uses the system library; "
                    "Debian 12, Ubuntu 22.04 and python.org builds of Python 3.11 have them)"
                ) from None
    finally:
        if conn is None:
            probe.close()


def migrations() -> list[tuple[int, str, str]]:
    """(number, name, sql) of every migration file, in order."""
    folder = resources.files(MIGRATIONS_PACKAGE).joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"two migrations share a number: {numbers}")
    return found


def split_statements(script: str) -> list[str]:
    """The statements of an SQL script, each complete (triggers with their BEGIN ... END whole)."""
    out, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                out.append(current)
            current = ""
    if current.strip() and not all(l.strip().startswith("--") or not l.strip() for l in current.splitlines()):
        raise ValueError("the script ends inside a statement")
    return out


def _fetchall(conn: sqlite3.Connection, sql: str, params: Sequence[Any] | dict) -> list[Row]:
    cur = conn.execute(sql, params)
    try:
        return cur.fetchall()
    finally:
        cur.close()


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def fetchall(conn: sqlite3.Connection, sql: str, params: Sequence[Any] | dict = ()) -> list[Row]:
    """Run a query and return its rows; the cursor is closed whatever happens.

    Text that is not UTF-8 (written behind our back, or produced by SQLite itself: json_each
    turns an escaped lone surrogate into such bytes) must not make a row unreadable for ever,
    so such a query is read again with U+FFFD in place of the bad bytes. Only that query pays
    for the Python-level decoder.
    """
    try:
        return _fetchall(conn, sql, params)
    except sqlite3.OperationalError as exc:
        if not str(exc).startswith("Could not decode to UTF-8"):
            raise
        log.warning("undecodable text in the database (%s); read with replacement characters", exc)
        conn.text_factory = _lenient_text
        try:
            return _fetchall(conn, sql, params)
        finally:
            conn.text_factory = str


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _unavailable(exc: sqlite3.OperationalError) -> StoreUnavailable | None:
    """The store errors that are the environment's, not a bug: say so to the client (503)."""
    text = str(exc).lower()
    if _is_busy(exc):
        return StoreUnavailable("The database is busy (locked by another process). Try again shortly.")
    if "interrupted" in text:
        return StoreUnavailable("The query took too long and was stopped.")
    if "disk is full" in text or "disk i/o" in text:
        return StoreUnavailable("The server cannot write to its database right now (disk full or failing).")
    return None


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    """SQLite errors that are the environment's (busy, stopped, disk) become StoreUnavailable."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        unavailable = _unavailable(exc)
        if unavailable is None:
            raise
        raise unavailable from exc


def _commit(conn: sqlite3.Connection, fn: Callable[..., Any], args: tuple) -> Any:
    """`fn(conn, *args)` then COMMIT, inside a transaction already begun; any error (or
    BaseException) rolls back."""
    try:
        result = fn(conn, *args)
        conn.execute("COMMIT").close()
    except BaseException as exc:
        # A failed fn's frames can hold its cursors, whose statements keep the transaction's
        # snapshot (see ConnectionThread._run): cleared, they are finalized now.
        traceback.clear_frames(exc.__traceback__)
        if conn.in_transaction:
            conn.execute("ROLLBACK").close()
        raise
    return result


class Tx:
    """A connection on its own thread (inside a write transaction, or a reader's), with helpers
    that always close their cursors. `conn` is the plain sqlite3 connection."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] | dict = ()) -> int:
        cur = self.conn.execute(sql, params)
        try:
            return cur.rowcount
        finally:
            cur.close()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any] | dict]) -> int:
        cur = self.conn.executemany(sql, rows)
        try:
            return cur.rowcount
        finally:
            cur.close()

    def fetchall(self, sql: str, params: Sequence[Any] | dict = ()) -> list[Row]:
        return fetchall(self.conn, sql, params)

    def fetchone(self, sql: str, params: Sequence[Any] | dict = ()) -> Row | None:
        rows = fetchall(self.conn, sql, params)
        return rows[0] if rows else None


def with_tx(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Adapt `fn(tx, *args)`, written against Tx, to the plain connection that
    run_in_transaction and run_on_reader hand over."""

    @functools.wraps(fn)
    def run(conn: sqlite3.Connection, *args: Any) -> Any:
        return fn(Tx(conn), *args)

    return run


class ConnectionThread:
    """One sqlite3 connection and the one thread that ever touches it.

    `call(fn)` runs `fn(conn)` on that thread. When the awaiting coroutine is cancelled the call
    still either never starts or runs to completion (the executor does not interrupt a job), so
    a unit of work is never split. After a job that raised, the connection is put right before
    the next one: a transaction left open is rolled back, and a reader is reopened, which
    finalizes every statement (and so releases its snapshot).
    """

    def __init__(self, name: str, connect: Callable[[], sqlite3.Connection], *, reopen_on_error: bool) -> None:
        self.name = name
        self._connect = connect
        self._reopen_on_error = reopen_on_error
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._conn: sqlite3.Connection | None = None
        self._deadline: float | None = None
        self.busy = False  # a job is running or queued (read by the pool on the loop thread)
        # Jobs handed to the thread and jobs it has started: one writer each (the loop thread,
        # the connection's thread), so neither count needs a lock; the difference is the queue.
        # (A job cancelled before it started never starts: counted by the loop thread, which is
        # where asyncio cancels it.)
        self._submitted = 0
        self._started = 0
        self._cancelled = 0
        self.on_queued: Callable[[], None] | None = None  # called on the loop after each job is handed over

    def _count_cancelled(self, job: Any) -> None:
        if job.cancelled():
            self._cancelled += 1

    def others_waiting(self) -> bool:
        """True when a job is queued behind the running one (callable from the running job)."""
        return self._submitted - self._started - self._cancelled > 0

    def _progress(self) -> int:
        deadline = self._deadline
        return 1 if deadline is not None and time.monotonic() > deadline else 0

    def _open(self) -> sqlite3.Connection:
        return self._connect()

    def _run(self, fn: Callable[..., Any], args: tuple, timeout: float | None) -> Any:
        self._started += 1
        if self._conn is None:
            self._conn = self._open()
        conn = self._conn
        if timeout is not None:
            self._deadline = time.monotonic() + timeout
            conn.set_progress_handler(self._progress, PROGRESS_STEPS)
        try:
            return fn(conn, *args)
        except BaseException as exc:
            # The failed job's frames can hold its cursors, and a statement stopped mid-fetch holds
            # the WAL snapshot: closing the connection does not finalize it (sqlite3_close_v2
            # waits for the statement), and the exception that holds the frames lives on in the
            # future and the caller until the garbage collector's next pass. Cleared here, the
            # statements are finalized now.
            traceback.clear_frames(exc.__traceback__)
            self._repair()
            raise
        finally:
            if self._deadline is not None:
                self._deadline = None
                if self._conn is conn:
                    conn.set_progress_handler(None, 0)

    def _repair(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK").close()
            if not self._reopen_on_error:
                return
        except sqlite3.Error:
            log.warning("%s: rollback after an error failed; reopening the connection", self.name)
        self._conn = None
        try:
            conn.close()
        except sqlite3.Error:
            log.exception("%s: closing a failed connection", self.name)

    async def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        job = self._executor.submit(self._run, fn, args, timeout)
        self._submitted += 1
        job.add_done_callback(self._count_cancelled)
        if self.on_queued is not None:
            self.on_queued()
        with _store_errors():
            return await asyncio.wrap_future(job)

    def in_transaction(self) -> bool:
        """For checks (tests, the soak): asks on the connection's own thread."""
        return self._executor.submit(lambda: bool(self._conn and self._conn.in_transaction)).result()

    def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        self._executor.submit(shut).result()
        self._executor.shutdown(wait=True)


class StoppableUnits:
    """Lets a queued write stop the writer thread's long unit of work (a click unit) inside its
    statement: sqlite3_interrupt() on the writer's connection, called from the loop while a unit
    has marked itself stoppable. SQLite then rolls the unit's transaction back.

    An interrupt acts within microseconds, with no GIL: a progress handler (asked every
    ~100,000 steps, needing the GIL for each question) took 3-20 ms to stop a unit next to a
    saturated loop, and its questions slowed the writer. The lock makes the mark and the
    interrupt exclusive, so an interrupt can never reach the unit's COMMIT: `finish()` takes the
    mark away first. SQLite forgets an interrupt that lands between two statements, so the unit
    also asks `waiting()` between its statements and before it commits.
    """

    def __init__(self, waiting: Callable[[], bool]) -> None:
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self.waiting = waiting

    def start(self, conn: sqlite3.Connection) -> bool:
        """Writer thread, before the unit's BEGIN: mark it stoppable; False if a write waits."""
        with self._lock:
            if self.waiting():
                return False
            self._conn = conn
            return True

    def finish(self) -> bool:
        """Writer thread, before the unit's COMMIT: unmark it; True if it may commit."""
        with self._lock:
            self._conn = None
            return not self.waiting()

    def interrupt(self) -> None:
        """Loop thread, after a write started waiting: stop the unit in progress, if any."""
        with self._lock:
            if self._conn is not None:
                self._conn.interrupt()


# Bounds (seconds) of the histogram of API writes' waits for the write lock: the part of a
# write's latency the click writer decides (a unit being stopped, a COMMIT that cannot be).
WAIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class WaitStats:
    """Bucket counts (the last is +Inf) and the sum of observed waits: /_/metrics exports them."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float] = WAIT_BUCKETS) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.total += seconds


class ReaderPool:
    """A few reader threads; a call goes to an idle one, else to the least recently used."""

    def __init__(self, readers: list[ConnectionThread]) -> None:
        self._readers = readers
        self._idle: asyncio.Queue[ConnectionThread] = asyncio.Queue()
        for r in readers:
            self._idle.put_nowait(r)

    async def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None) -> Any:
        reader = await self._idle.get()
        try:
            return await reader.call(fn, *args, timeout=timeout)
        finally:
            # Back in the queue even if this caller was cancelled: a job still running on the
            # thread only delays the next call on that reader, it cannot leak into it.
            self._idle.put_nowait(reader)

    @property
    def readers(self) -> list[ConnectionThread]:
        return self._readers


class SQLiteBase:
    def __init__(self, url: str, *, synchronous: str = "full", readers: int = 3,
                 query_timeout: float | None = 10.0) -> None:
        self.url = url
        self.path = _path_from_url(url)
        self.synchronous = synchronous
        self.reader_count = max(1, int(readers))
        self.query_timeout = query_timeout if query_timeout and query_timeout > 0 else None
        self._writer: ConnectionThread | None = None
        self._pool: ReaderPool | None = None
        self._sync: sqlite3.Connection | None = None
        self._loop_writer: sqlite3.Connection | None = None
        # Writes on the loop waiting for the lock: the click writer's stop check reads it from
        # its thread (a plain attribute read; a stale value costs one unit at most).
        self._loop_writes_waiting = 0
        # The click writer's units, which a waiting write stops (late-bound: tests replace it).
        self.units = StoppableUnits(lambda: self._writes_waiting())
        self.write_waits = WaitStats()  # run_small_transaction's wait for the lock
        self._checkpointer: ConnectionThread | None = None
        self._checkpoints: asyncio.Task | None = None
        if self.path == ":memory:":
            raise ValueError("the SQLite store needs a file: several connections share it")

    # -- lifecycle -------------------------------------------------------------------------

    def _new_connection(self, busy_ms: int) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.row_factory = _dict_factory
            for pragma in (f"busy_timeout={busy_ms}", "foreign_keys=ON", f"synchronous={self.synchronous.upper()}"):
                conn.execute(f"PRAGMA {pragma}").close()
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect_writer(self) -> sqlite3.Connection:
        conn = self._new_connection(WRITE_BUSY_MS)
        try:
            fetchall(conn, "PRAGMA journal_mode=WAL")
            fetchall(conn, "PRAGMA wal_autocheckpoint=0")
            _temp_store(conn, WRITER_TEMP_STORE)
        except BaseException:
            conn.close()
            raise
        return conn

    async def open(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = ConnectionThread("sqlite-writer", self._connect_writer, reopen_on_error=False)
        self._writer.on_queued = self.units.interrupt
        # The first call opens the file (and switches it to WAL) before any reader starts.
        await self._writer.call(lambda conn: None)
        self._pool = ReaderPool([
            ConnectionThread(f"sqlite-reader-{i}", lambda: self._new_connection(WRITE_BUSY_MS), reopen_on_error=True)
            for i in range(self.reader_count)
        ])
        self._sync = self._new_connection(REDIRECT_BUSY_MS)
        self._loop_writer = self._new_connection(WRITE_BUSY_MS)
        # As for the writer: a COMMIT that took the WAL past 1,000 pages would checkpoint it
        # there, on the loop (30-60 ms under a click load). Then no busy handler: _begin_within
        # retries on its own (set last: a process starting next to this one may hold the file
        # for a moment, and the setup must wait for it as the other connections do).
        fetchall(self._loop_writer, "PRAGMA wal_autocheckpoint=0")
        fetchall(self._loop_writer, "PRAGMA busy_timeout=0")
        self._checkpointer = ConnectionThread("sqlite-checkpointer", lambda: self._new_connection(WRITE_BUSY_MS),
                                              reopen_on_error=True)
        self._checkpoints = asyncio.create_task(
            every(CHECKPOINT_SECONDS, self.checkpoint, log, "checkpointing the WAL failed"), name="sqlite-checkpoints")

    async def checkpoint(self) -> tuple[int, int]:
        """Copy the WAL's frames that no reader still needs into the database (PASSIVE); returns
        (frames in the WAL, frames checkpointed)."""
        assert self._checkpointer is not None, "store is not open"
        row = (await self._checkpointer.call(fetchall, "PRAGMA wal_checkpoint(PASSIVE)"))[0]
        return row["log"], row["checkpointed"]

    async def close(self) -> None:
        """Close every connection; safe to call twice."""
        loop = asyncio.get_running_loop()
        await cancel(self._checkpoints)
        self._checkpoints = None
        threads = ([self._writer] if self._writer else []) + (self._pool.readers if self._pool else [])
        threads += [self._checkpointer] if self._checkpointer else []
        self._writer = self._pool = self._checkpointer = None
        for thread in threads:
            await loop.run_in_executor(None, thread.close)
        for name in ("_sync", "_loop_writer"):
            conn = getattr(self, name)
            if conn is not None:
                conn.close()
                setattr(self, name, None)

    async def migrate(self, chunked: Sequence[Callable[[], Awaitable[None]]] = ()) -> list[str]:
        """Apply pending migrations in order, then run `chunked` (the work some leave to be done
        in short transactions: a table rebuild, a backfill); returns the names applied.

        Safe with several processes starting at once on one file: each migration takes the write
        lock (BEGIN IMMEDIATE) and only then reads the version, so the second process finds the
        work done; any error rolls the whole migration back. All of it runs with the default
        temp store: an index built over every click sorts them all, which in memory took ~1 GB
        at 10M clicks.
        """
        check_sqlite_features()
        assert self._writer is not None, "store is not open"
        await self._writer.call(_temp_store, "DEFAULT")
        try:
            applied = await self._apply_migrations()
            for job in chunked:
                await job()
            return applied
        finally:
            await self._writer.call(_temp_store, WRITER_TEMP_STORE)

    async def _apply_migrations(self) -> list[str]:
        applied: list[str] = []
        for number, name, sql in migrations():
            statements = split_statements(sql)

            @with_tx
            def apply(tx: Tx) -> bool:
                if tx.fetchone("PRAGMA user_version")["user_version"] >= number:
                    return False
                for statement in statements:
                    tx.execute(statement)
                tx.execute(f"PRAGMA user_version={number}")
                return True

            if await self.run_in_transaction(apply):
                applied.append(name)
        return applied

    async def schema_version(self) -> int:
        rows = await self.read("PRAGMA user_version")
        return rows[0]["user_version"]

    # -- primitives --------------------------------------------------------------------------

    async def read(self, sql: str, params: Sequence[Any] | dict = ()) -> list[Row]:
        return await self.run_on_reader(fetchall, sql, params)

    async def read_one(self, sql: str, params: Sequence[Any] | dict = ()) -> Row | None:
        rows = await self.read(sql, params)
        return rows[0] if rows else None

    def read_one_now(self, sql: str, params: Sequence[Any] | dict = ()) -> Row | None:
        rows = self.read_now(sql, params)
        return rows[0] if rows else None

    def read_now(self, sql: str, params: Sequence[Any] | dict = ()) -> list[Row]:
        """Synchronous read, on the event loop, for index point lookups only (see module doc)."""
        assert self._sync is not None, "store is not open"
        with _store_errors():
            return fetchall(self._sync, sql, params)

    async def write(self, sql: str, params: Sequence[Any] | dict = ()) -> int:
        """One statement in its own transaction; returns the rows changed."""
        return await self.run_in_transaction(lambda conn: Tx(conn).execute(sql, params))

    async def run_in_transaction(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(conn, *args)` inside BEGIN IMMEDIATE ... COMMIT, as one call on the writer thread.

        `conn` is the plain sqlite3 connection (close every cursor; `with_tx` adapts a function
        written against Tx). Any error (or BaseException) rolls back. `fn` must not await: the
        whole unit runs on the thread, so a cancelled caller can neither split the transaction
        nor leave it open.
        """
        assert self._writer is not None, "store is not open"

        def run(conn: sqlite3.Connection) -> Any:
            conn.execute("BEGIN IMMEDIATE").close()
            return _commit(conn, fn, args)

        return await self._writer.call(run)

    async def run_small_transaction(self, fn: Callable[..., Any], *args: Any) -> Any:
        """As run_in_transaction, for a short write (one API call's few rows): on the event loop's
        own write connection, synchronously, with no thread hop.

        Under a saturated redirect load every hop to the writer thread and back cost two turns
        of the loop (~15 ms) on top of the wait for the click unit in progress to stop. Here the
        loop stops the unit and takes the lock itself (see LOOP_WRITE_SPIN_S for how it waits).
        Never for a bulk job: the loop serves nothing while `fn` runs.
        """
        conn = self._loop_writer
        assert conn is not None, "store is not open"
        asked = time.perf_counter()
        self._loop_writes_waiting += 1
        try:
            self.units.interrupt()
            locked = not self._begin_within(conn, LOOP_WRITE_SPIN_S)
            give_up = time.monotonic() + LOOP_WRITE_WAIT_S
            while locked and time.monotonic() < give_up:
                # While this write waits the click writer starts no unit, so the lock comes free
                # once the COMMIT in progress ends. (A timer, not sleep(0): on an idle loop that
                # would spin and take the core from the very COMMIT it waits for.)
                await asyncio.sleep(0.001)
                locked = not self._begin_within(conn, 0)
        finally:
            self._loop_writes_waiting -= 1
        # Counted when the lock is taken, or when the write goes to the writer thread instead
        # (it waited at least that long; another process holds the lock).
        self.write_waits.observe(time.perf_counter() - asked)
        if locked:
            return await self.run_in_transaction(fn, *args)
        with _store_errors():
            return _commit(conn, fn, args)

    @staticmethod
    def _begin_within(conn: sqlite3.Connection, seconds: float) -> bool:
        """BEGIN IMMEDIATE, retried every LOOP_WRITE_RETRY_S until `seconds` have passed; False if
        the lock stayed taken. (SQLite's own busy handler sleeps 1, 2, 5, 10 ms between tries: a
        lock given up 1.1 ms in was taken 3 ms in, with the loop asleep all that time.)"""
        deadline = time.monotonic() + seconds
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE").close()
                return True
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or conn.in_transaction:
                    with _store_errors():
                        raise
            if time.monotonic() >= deadline:
                return False
            time.sleep(LOOP_WRITE_RETRY_S)  # the GIL is released: the writer thread rolls back

    def transaction_for(self, items: int) -> Callable[..., Awaitable[Any]]:
        """run_small_transaction for an API call's few items, run_in_transaction for more."""
        return self.run_small_transaction if items <= SMALL_WRITE_ITEMS else self.run_in_transaction

    async def run_on_writer(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(conn, *args)` as one call on the writer thread, for work that runs several
        transactions of its own (a click batch in units). `fn` must not await, and must leave
        no transaction open: one left open by an error is rolled back before the next job."""
        assert self._writer is not None, "store is not open"
        return await self._writer.call(fn, *args)

    def _writes_waiting(self) -> bool:
        """For a long write transaction (a click batch), on the writer thread: another write is
        queued behind it."""
        if self._loop_writes_waiting:
            return True
        writer = self._writer
        return writer is not None and writer.others_waiting()

    async def run_on_reader(self, fn: Callable[..., Any], *args: Any, timeout: float | None = -1) -> Any:
        """`fn(conn, *args)` on a reader thread, for a group of lookups (`conn` as in
        run_in_transaction, without a transaction). Stopped after `timeout` seconds (default:
        the store's query timeout)."""
        assert self._pool is not None, "store is not open"
        if timeout == -1:
            timeout = self.query_timeout
        return await self._pool.call(fn, *args, timeout=timeout)

    async def connections_idle(self) -> bool:
        """True when no connection is inside a transaction (soak and fault tests)."""
        loop = asyncio.get_running_loop()
        threads = ([self._writer] if self._writer else []) + (self._pool.readers if self._pool else [])
        for thread in threads:
            if await loop.run_in_executor(None, thread.in_transaction):
                return False
        return not any(conn is not None and conn.in_transaction for conn in (self._sync, self._loop_writer))
