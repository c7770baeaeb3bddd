"""Click writer benchmark: what one click row costs to store, by transaction size and table size.

    .venv/bin/python bench/bench_click_writer.py [--links 100000] [--clicks 200000] [--batches 5000,20000]

No HTTP and no event-loop contention: the click writer's own work, pinned to CPU 1 where the OS
allows it. Seeds --links links once, then for each transaction size copies that database and
writes --clicks clicks on random links exactly as the server's writer does (ClickRecorder's rows:
user agent parse, identity hash, the row tuple; then store.record_click_batch, which inserts the
rows and updates the links' `clicks`/`last_clicked` and the rollups, in transactions of 2,400
clicks doubling up to 19,200). Prints wall and CPU
microseconds per click for each quarter of the run, so growth with the clicks table shows.

Why transaction size matters: each transaction's counter UPDATE dirties about one page of `links`
per distinct link it touches, and the (link_id, timestamp) index one page per click; a larger
transaction dirties each page once for many clicks, so it costs less per click (and its rollups
aggregate more clicks per row).

Measured 2026-11-27 (shared 2-core machine, 200k clicks, us per click, batches of 5,000 /
20,000): 2,000 links 36.5 / 26.7 with the rollups of that day (per-link months then written per
click), 26.4 at 20,000 once months were built at month end; 100k links 117.8 / 73.0, then 64.3.
With the rollups left out: 15.7 and 30.0 at 20,000.
Later (a faster machine), 100k links, batches of 20,000: 60.1 us per click for one transaction a
batch with savepoints, 53.8 for units of 2,400 doubling to 19,200 (no savepoints, and no
progress handler taking the GIL every 4,000 SQLite steps), same hour. Where a unit's time goes
there (100k clicks on 100k links, statements timed): per-link rollups upsert 29 %, the links'
counters UPDATE 22 % (a fat `links` row and the links_archived_clicks_id index entry per
link), the COMMITs ~25 %, the click INSERTs 12 %, workspace rollups 9 %, the rollup batch 4 %.
"""
from __future__ import annotations

import argparse
import asyncio
import os
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

DOMAIN = "bench.test"
USER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/124.0.0.0 Safari/537.36")


async def run(data_dir: str, clicks: int, batch: int) -> list[tuple[int, float, float]]:
    """Write `clicks` clicks in transactions of `batch`; (clicks so far, wall us, cpu us) per quarter."""
    core = await Core.open(Settings.from_env({}, data_dir=data_dir, domain=DOMAIN))
    try:
        link_ids = [link["id"] for link in await core.store.recent_redirect_links(10_000_000)]
        recorder = ClickRecorder(core)
        rnd = random.Random(1)
        quarter = max(batch, clicks // 4)
        out = []
        done, mark_wall, mark_cpu = 0, time.perf_counter(), time.process_time()
        while done < clicks:
            n = min(batch, clicks - done)
            now = time.time()
            pending = [pending_click(fast_click_id(), rnd.choice(link_ids), DOMAIN, "k", "https://example.com/x",
                                    now, None, USER_AGENT, "", False, f"10.0.{i % 256}.{i % 200}", False)
                       for i in range(n)]
            await recorder._write(pending)
            done += n
            if done % quarter == 0 or done == clicks:
                wall, cpu = time.perf_counter(), time.process_time()
                span = done - (out[-1][0] if out else 0)
                out.append((done, (wall - mark_wall) / span * 1e6, (cpu - mark_cpu) / span * 1e6))
                mark_wall, mark_cpu = wall, cpu
        return out
    finally:
        await core.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--clicks", type=int, default=200_000)
    parser.add_argument("--batches", default="5000,20000", help="transaction sizes to compare")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})

    tmp = Path(tempfile.mkdtemp(prefix="bench-clicks-"))
    try:
        seed = tmp / "seed"
        t0 = time.perf_counter()
        asyncio.run(seed_links(str(seed), DOMAIN, args.links, key=lambda i: nanoid(7),
                               url=lambda i: f"https://example.com/page/{i}"))
        print(f"seeded {args.links} links in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        print(f"\nclick writer: {args.clicks} clicks on {args.links} links, one core")
        print(f"{'clicks per transaction':>24}{'clicks so far':>15}{'wall us/click':>15}{'cpu us/click':>14}")
        for batch in (int(b) for b in args.batches.split(",")):
            data = tmp / f"b{batch}"
            shutil.copytree(seed, data)
            results = asyncio.run(run(str(data), args.clicks, batch))
            for done, wall, cpu in results:
                print(f"{batch:>24}{done:>15}{wall:>15.1f}{cpu:>14.1f}")
            total_wall = sum(w * (d - (results[i - 1][0] if i else 0)) for i, (d, w, _) in enumerate(results))
            print(f"{batch:>24}{'all':>15}{total_wall / args.clicks:>15.1f}"
                  f"{'':>14}  -> at most {1e6 * args.clicks / total_wall:,.0f} clicks/s with the whole core")
            shutil.rmtree(data)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
