"""Cost of one store call through a connection thread: ours (shortener.store.sqlite.base) against
aiosqlite's, on the same file, in the same process, alternating rounds. One command:

    .venv/bin/python bench/bench_store_calls.py [--calls 20000]

Prints microseconds per call (a point read, and a one-row write transaction) and the ratio
ours/aiosqlite. aiosqlite is not a dependency any more: it is measured only if installed.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from shortener.store.sqlite import SQLiteStore

import os
READERS = int(os.environ.get("READERS", "3"))


async def main(calls: int) -> None:
    folder = Path(tempfile.mkdtemp())
    store = SQLiteStore(f"sqlite:///{folder / 'b.db'}", synchronous="normal", readers=READERS)
    await store.open()
    await store.migrate()
    try:
        import aiosqlite
    except ImportError:
        aiosqlite = None
    other = None
    if aiosqlite is not None:
        other = await aiosqlite.connect(folder / "b.db", isolation_level=None)
    sql_read = "SELECT id FROM links WHERE id = ?"
    sql_write = "INSERT OR REPLACE INTO tags (id, name, color, created_at, updated_at) VALUES ('t', 't', 'red', 'x', 'x')"

    async def ours_read():
        await store.read(sql_read, ("x",))

    async def ours_write():
        await store.write(sql_write)

    async def theirs_read():
        await other.execute_fetchall(sql_read, ("x",))

    async def theirs_write():
        await other.execute("BEGIN IMMEDIATE")
        await other.execute(sql_write)
        await other.execute("COMMIT")

    async def per_call(fn) -> float:
        t = time.perf_counter()
        for _ in range(calls):
            await fn()
        return (time.perf_counter() - t) / calls * 1e6

    for name, ours, theirs in (("point read", ours_read, theirs_read), ("write tx", ours_write, theirs_write)):
        a, b = [], []
        for _ in range(3):
            a.append(await per_call(ours))
            if other is not None:
                b.append(await per_call(theirs))
        line = f"{name:10s} ours {statistics.median(a):7.1f} us/call"
        if b:
            line += f"  aiosqlite {statistics.median(b):7.1f} us/call  ratio {statistics.median(a) / statistics.median(b):.2f}"
        print(line)
    if other is not None:
        await other.close()
    await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    asyncio.run(main(parser.parse_args().calls))
