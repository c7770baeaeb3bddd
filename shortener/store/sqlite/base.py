"""Connections, transactions and migrations for the SQLite store.

Three connections, each for a reason:
- one aiosqlite write connection; every write runs inside `transaction()`, which holds an asyncio
  lock so coroutines never interleave statements of different transactions;
- one aiosqlite read connection for API reads (WAL lets it read while a write is in progress);
- one plain sqlite3 connection used synchronously on the event loop for the redirect path's
  primary-key lookups: ~7.5 us direct versus ~67 us through aiosqlite's thread hop
  (reference/performance-notes.md). Only index point lookups may use it.
"""
from __future__ import annotations

import asyncio
import sqlite3
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterable, Sequence

import aiosqlite

Row = dict[str, Any]

MIGRATIONS_PACKAGE = "shortener.store.sqlite"


def _path_from_url(url: str) -> str:
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///"):]
    if url.startswith("sqlite://"):
        return url[len("sqlite://"):]
    raise ValueError(f"not a sqlite URL: {url!r}")


def _dict_factory(cursor: sqlite3.Cursor, row: tuple) -> Row:
    return {d[0]: v for d, v in zip(cursor.description, row)}


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


class SQLiteBase:
    def __init__(self, url: str, *, synchronous: str = "full") -> None:
        self.url = url
        self.path = _path_from_url(url)
        self.synchronous = synchronous
        self._w: aiosqlite.Connection | None = None
        self._r: aiosqlite.Connection | None = None
        self._sync: sqlite3.Connection | None = None
        self._wlock = asyncio.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._w = await self._connect()
        await self._w.execute_fetchall("PRAGMA journal_mode=WAL")
        self._r = await self._connect()
        self._sync = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._configure(self._sync)
        self._sync.row_factory = _dict_factory

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = _dict_factory
        # execute_fetchall, not execute: a pragma's unread cursor keeps its statement (and lock) open.
        for pragma in ("busy_timeout=5000", "foreign_keys=ON", f"synchronous={self.synchronous.upper()}"):
            await conn.execute_fetchall(f"PRAGMA {pragma}")
        return conn

    def _configure(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA foreign_keys=ON")

    async def close(self) -> None:
        """Close every connection; safe to call twice."""
        for attr in ("_w", "_r"):
            conn = getattr(self, attr)
            if conn is not None:
                setattr(self, attr, None)
                await conn.close()
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def migrate(self) -> list[str]:
        """Apply pending migrations in order; returns the names applied."""
        assert self._w is not None
        applied = []
        async with self._wlock:
            current = (await self._w.execute_fetchall("PRAGMA user_version"))[0]["user_version"]
            for number, name, sql in migrations():
                if number <= current:
                    continue
                # executescript runs the whole file; the version bump is in the same transaction.
                await self._w.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version={number};\nCOMMIT;")
                applied.append(name)
        return applied

    async def schema_version(self) -> int:
        rows = await self.read("PRAGMA user_version")
        return rows[0]["user_version"]

    # -- primitives --------------------------------------------------------------------------

    async def read(self, sql: str, params: Sequence[Any] | dict = ()) -> list[Row]:
        assert self._r is not None, "store is not open"
        return list(await self._r.execute_fetchall(sql, params))

    async def read_one(self, sql: str, params: Sequence[Any] | dict = ()) -> Row | None:
        rows = await self.read(sql, params)
        return rows[0] if rows else None

    def read_now(self, sql: str, params: Sequence[Any] | dict = ()) -> list[Row]:
        """Synchronous read for index point lookups on the redirect path (see module doc)."""
        assert self._sync is not None, "store is not open"
        return self._sync.execute(sql, params).fetchall()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["Tx"]:
        """One write transaction (BEGIN IMMEDIATE); commits on exit, rolls back on error."""
        assert self._w is not None, "store is not open"
        async with self._wlock:
            await self._w.execute_fetchall("BEGIN IMMEDIATE")
            try:
                yield Tx(self._w)
            except BaseException:
                await self._w.rollback()
                raise
            else:
                await self._w.commit()

    async def write(self, sql: str, params: Sequence[Any] | dict = ()) -> int:
        """One statement in its own transaction; returns the rows changed."""
        async with self.transaction() as tx:
            return await tx.execute(sql, params)

    # -- whole units of work on a connection's own thread ------------------------------------
    # Under load every aiosqlite call waits for a full turn of a busy event loop before its
    # result comes back; a transaction of eight statements held the write lock across eight such
    # waits and cut lead and click throughput by two thirds. The hot writers therefore hand the
    # whole unit of work to the connection's thread as one call. aiosqlite has no public API for
    # that, so both go through its `_execute` here, in one place.

    async def run_in_transaction(self, fn: Callable[[sqlite3.Connection], Any], *args: Any) -> Any:
        """`fn(conn, *args)` inside BEGIN IMMEDIATE ... COMMIT on the write connection's thread."""
        assert self._w is not None, "store is not open"
        conn = self._w

        def run() -> Any:
            raw = conn._conn
            raw.execute("BEGIN IMMEDIATE")
            try:
                result = fn(raw, *args)
            except BaseException:
                raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")
            return result

        async with self._wlock:
            return await conn._execute(run)

    async def run_on_reader(self, fn: Callable[[sqlite3.Connection], Any], *args: Any) -> Any:
        """`fn(conn, *args)` on the read connection's thread, for a group of lookups."""
        assert self._r is not None, "store is not open"
        conn = self._r
        return await conn._execute(lambda: fn(conn._conn, *args))


class Tx:
    """The write connection inside a transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[Any] | dict = ()) -> int:
        cur = await self.conn.execute(sql, params)
        n = cur.rowcount
        await cur.close()
        return n

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any] | dict]) -> int:
        cur = await self.conn.executemany(sql, rows)
        n = cur.rowcount
        await cur.close()
        return n

    async def fetchall(self, sql: str, params: Sequence[Any] | dict = ()) -> list[Row]:
        return list(await self.conn.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Sequence[Any] | dict = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None
