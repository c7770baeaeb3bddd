"""API write wait behind the click writer, through the real store: batches that yield, or not.

    .venv/bin/python bench/bench_write_wait.py [--links 10000] [--stored 500000] [--seconds 15]
        [--api-every-ms 20] [--batch 20000] [--dir /tmp]

One process, one event loop, the app's Core (no HTTP: bench_analytics.py --parts load measures
the server end to end, where a saturated event loop adds its own queueing). --links links and
--stored clicks are written first (not measured). Then three phases on that database, in turn:

- alone: API writes only;
- yielding: the click writer writes --batch-click transactions flat out through
  store.record_click_batch (fresh time-ordered ids, random links, time "now", built before the
  phase), as the server's
  writer does under a saturating redirect load, while API writes arrive; a click batch commits
  what it has and yields the write lock when another write is queued behind it (the store today);
- whole batches: the same, with that yield turned off (each batch one transaction, as before).

API writes are the link service's create and update (a POST and a PATCH of /api/links), at
random times --api-every-ms apart on average (open loop: each timed from its arrival, so a write
that waits behind a batch does not delay the next one's start). Prints p50/p95/p99/max of the
write latency in ms, the ratio of each phase's p99 to the alone phase's, and the clicks/s the
writer kept up in each phase. The default --dir is on disk with the server's default
synchronous=full.

Measured 2026-11-27 (main after "a click batch yields", 2,000 links, 200k stored, batches of
20,000, a batch's counters and rollups added every 2,500 rows, 10 s phases, shared 2-core
machine): p99 alone 3.2 ms; yielding p50 57.5, p99 160.9 ms (14,780 clicks/s written); whole
batches p50 427, p99 793 ms (24,938 clicks/s). With the counters and rollups added every 1,200
rows: p99 117 ms, 11,438 clicks/s. Then (rows not finished yet rolled back at a yield and
written again after the write): yielding p50 30.0, p99 86.4 ms, 9,686 clicks/s (on /dev/shm:
p50 18.3, p99 75.4 ms, 15,210 clicks/s); alone p99 2.7 ms. What is left of the wait is the
statement in progress, the COMMIT and the GIL (the goal, 50 ms, needs clicks in their own
database file); the price is the click work thrown away, which grows with the rate of writes.
Then (a finish of counters and rollups stopped between its statements too): yielding p50 31.4,
p99 58.9 ms, 9,203 clicks/s; whole batches p99 858 ms.
Later the same day, on a slower machine, with the COMMITs of the click transactions timed: with
SQLite's autocheckpoint in the writer's COMMIT, click COMMITs p50 65, p90 270 ms; with the WAL
checkpointed by a connection of its own (base.py CHECKPOINT_SECONDS), p50 39, p90 109 ms.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import seed_links

from shortener.clicks import fast_click_id
from shortener.config import Settings
from shortener.core import Core
from shortener.store.sqlite.clicks import CLICK_COLUMNS

DOMAIN = "bench.test"


def click_rows(links: list[dict], n: int, rnd: random.Random) -> list[tuple]:
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"
    rows = []
    for _ in range(n):
        link = rnd.choice(links)
        row = dict.fromkeys(CLICK_COLUMNS)
        row.update(id=fast_click_id(), link_id=link["id"], domain=DOMAIN, key=link["key"], url=link["url"],
                   timestamp=at, country=rnd.choice(("US", "DE", "FR", "IN", "BR")), continent="NA",
                   device=rnd.choice(("Desktop", "Mobile")), browser=rnd.choice(("Chrome", "Safari", "Firefox")),
                   os=rnd.choice(("Windows", "Mac OS", "iOS", "Android")), referer="(direct)", qr=0,
                   trigger="link", ip="10.0.0.1", identity_hash="h")
        rows.append(tuple(row[c] for c in CLICK_COLUMNS))
    return rows


async def phase(core: Core, links: list[dict], seconds: float, every_ms: float, batch: int | None,
                rnd: random.Random) -> tuple[list[float], float]:
    """API write latencies (ms) over `seconds`, with the click writer flat out unless batch is None;
    and the clicks/s it wrote."""
    stop = asyncio.Event()
    written = 0
    # Built before the phase: building them during it would hold the event loop (and so the API
    # writes) for ~50 ms a batch, which the server does not do (it builds rows 500 at a time).
    supply = click_rows(links, int(seconds * 40_000), rnd) if batch else []

    async def click_writer() -> None:
        nonlocal written
        taken = 0
        while not stop.is_set() and taken < len(supply):
            rows = supply[taken:taken + batch]  # type: ignore[operator]
            taken += len(rows)
            written += await core.store.record_click_batch(rows)

    latencies: list[float] = []
    made: list[str] = []

    async def api_write(i: int) -> None:
        t = time.perf_counter()
        if i % 2 == 0 or not made:
            link = await core.links.create({"url": f"https://dest.test/api/{i}"})
            made.append(link["id"])
        else:
            await core.links.update(rnd.choice(made), {"url": f"https://dest.test/api/{i}/edit"})
        latencies.append((time.perf_counter() - t) * 1000)

    writer = asyncio.ensure_future(click_writer()) if batch else None
    t0 = time.perf_counter()
    tasks = []
    i = 0
    while time.perf_counter() - t0 < seconds:
        await asyncio.sleep(rnd.expovariate(1000 / every_ms))
        tasks.append(asyncio.ensure_future(api_write(i)))
        i += 1
    await asyncio.gather(*tasks)
    stop.set()
    if writer is not None:
        await writer
    return latencies, written / (time.perf_counter() - t0)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def main_async(args: argparse.Namespace, data: Path) -> None:
    await seed_links(str(data), DOMAIN, args.links, key=lambda i: f"k{i}", url=lambda i: f"https://dest.test/{i}")
    core = await Core.open(Settings.from_env({}, data_dir=str(data), domain=DOMAIN))
    try:
        links = [dict(row) for row in await core.store.recent_redirect_links(args.links)]
        rnd = random.Random(3)
        for _ in range(0, args.stored, 50_000):
            await core.store.record_click_batch(click_rows(links, 50_000, rnd))
        print(f"{args.links:,} links, {args.stored:,} stored clicks, API writes every {args.api_every_ms:g} ms "
              f"on average, click batches of {args.batch:,}, {args.seconds:g} s per phase")
        results = []
        store = core.store
        yielding = store._writes_waiting
        for name, batch, yields in (("alone", None, True), ("yielding", args.batch, True),
                                    ("whole batches", args.batch, False)):
            store._writes_waiting = yielding if yields else (lambda: False)  # type: ignore[method-assign]
            latencies, rate = await phase(core, links, args.seconds, args.api_every_ms, batch, rnd)
            results.append((name, latencies, rate))
        store._writes_waiting = yielding  # type: ignore[method-assign]
    finally:
        await core.close()
    base_p99 = pct(results[0][1], 99)
    print(f"{'phase':>14}{'writes':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'p99/alone':>11}"
          f"{'clicks/s':>10}")
    for name, latencies, rate in results:
        print(f"{name:>14}{len(latencies):>8}{statistics.median(latencies):>9.1f}{pct(latencies, 95):>9.1f}"
              f"{pct(latencies, 99):>9.1f}{max(latencies):>9.1f}{pct(latencies, 99) / base_p99:>11.1f}"
              f"{rate:>10,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--stored", type=int, default=500_000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--api-every-ms", type=float, default=20)
    parser.add_argument("--batch", type=int, default=20_000, help="the server's SHORTENER_CLICK_BATCH_SIZE")
    parser.add_argument("--dir", default=None, help="where the throwaway data dir goes (default: the temp dir)")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-write-wait-", dir=args.dir))
    try:
        asyncio.run(main_async(args, data / "data"))
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
