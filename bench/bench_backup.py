"""Backup benchmark: how long `shortener backup` takes on a database with 1M clicks.

    .venv/bin/python bench/bench_backup.py [--links 10000] [--clicks 1000000]

Seeds --links links, then --clicks clicks straight through the store (ClickRecorder's rows, the
same path as the server's writer, in transactions of 5,000), then times the copy with the
defaults of `shortener backup` (2048 pages per step, 2 ms pause) and separately the integrity
check it runs on the copy. Also times the copy with no pauses, to show what the pauses cost.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import seed_links

from shortener.clicks import ClickRecorder, fast_click_id, pending_click
from shortener.config import Settings
from shortener.core import Core
from shortener.ids import nanoid
from shortener.store.sqlite.maintenance import copy_database, integrity_errors

DOMAIN = "bench.test"
USER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/124.0.0.0 Safari/537.36")


async def seed_clicks(data_dir: str, clicks: int) -> str:
    core = await Core.open(Settings.from_env({}, data_dir=data_dir, domain=DOMAIN))
    try:
        link_ids = [link["id"] for link in await core.store.recent_redirect_links(10_000_000)]
        recorder = ClickRecorder(core)
        rnd = random.Random(1)
        done = 0
        while done < clicks:
            n = min(5000, clicks - done)
            now = time.time()
            await recorder._write([
                pending_click(fast_click_id(), rnd.choice(link_ids), DOMAIN, "k", "https://example.com/x", now, "DE",
                             USER_AGENT, "https://news.example/item", False, f"10.{i % 200}.{i % 256}.{i % 250}", False)
                for i in range(n)
            ])
            done += n
        return core.store.path
    finally:
        await core.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--clicks", type=int, default=1_000_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    try:
        data = str(tmp / "data")
        t0 = time.perf_counter()
        asyncio.run(seed_links(data, DOMAIN, args.links, key=lambda i: nanoid(7),
                               url=lambda i: f"https://example.com/page/{i}"))
        path = asyncio.run(seed_clicks(data, args.clicks))
        print(f"seeded {args.links} links and {args.clicks} clicks in {time.perf_counter() - t0:.0f}s",
              file=sys.stderr)
        size = Path(path).stat().st_size + (Path(path + "-wal").stat().st_size if Path(path + "-wal").exists() else 0)

        t0, c0 = time.perf_counter(), time.process_time()
        pages = copy_database(path, tmp / "backup.db")
        copy_s, copy_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0 = time.perf_counter()
        errors = integrity_errors(tmp / "backup.db")
        check_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        copy_database(path, tmp / "fast.db", pages=-1, pause=0)
        fast_s = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nbackup of {args.clicks:,} clicks on {args.links:,} links: database {size / 1e6:.0f} MB, {pages:,} pages")
    print(f"  copy (2048 pages per step, 2 ms pauses): {copy_s:.1f}s ({copy_cpu:.1f}s of CPU)")
    print(f"  integrity check of the copy:            {check_s:.1f}s")
    print(f"  `shortener backup` in all:              {copy_s + check_s:.1f}s")
    print(f"  copy in one step, no pauses:            {fast_s:.1f}s")
    print(f"  integrity: {'ok' if not errors else errors[:3]}")


if __name__ == "__main__":
    main()
