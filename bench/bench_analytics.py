"""Analytics benchmark: GET /analytics query times on a large click table, per groupBy.

    .venv/bin/python bench/bench_analytics.py [--clicks 1000000] [--links 1000] [--runs 5]
        [--group-by countries,timeseries,...] [--data-dir DIR]

Seeds --links links and --clicks clicks spread over the last 400 days (time-ordered, random
country/device/browser/OS/referer/link), plus leads for 1 % and sales for 0.2 % of them, straight
through the store (store.record_click_batch, store.record_lead, store.record_sale: the seeding is
not measured), then asks the analytics service (shortener/analytics.py, the code behind the API,
without HTTP) for every groupBy over `30d` and `all`, without and with a link filter, --runs times
each, and prints p50 and p95 in milliseconds. Also prints the database's bytes per stored click.
--data-dir reuses a seeded folder (seeding 10M clicks takes a while).

These are the queries on today's tables (clicks, lead_events, sale_events with their indexes);
issue 10's storage item (rollups) is what is meant to bring them under 100 ms.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from common import seed_links

from shortener.analytics import GROUP_BYS
from shortener.config import Settings
from shortener.core import Core
from shortener.ids import ALPHANUM
from shortener.store.sqlite.clicks import CLICK_COLUMNS
from shortener.timeutil import iso, utcnow

DOMAIN = "bench.test"
DAYS = 400
COUNTRIES = ["US", "DE", "GB", "FR", "IN", "BR", "JP", "CA", "NL", "ES", None]
CONTINENTS = {"US": "NA", "DE": "EU", "GB": "EU", "FR": "EU", "IN": "AS", "BR": "SA", "JP": "AS", "CA": "NA",
              "NL": "EU", "ES": "EU"}
DEVICES = ["Desktop", "Mobile", "Tablet"]
BROWSERS = ["Chrome", "Safari", "Firefox", "Edge", "Mobile Safari", "Samsung Internet"]
OSES = ["Windows", "Mac OS X", "iOS", "Android", "Linux"]
REFERERS = ["(direct)", "google.com", "twitter.com", "news.ycombinator.com", "reddit.com", "bing.com"]
SEED_BATCH = 20_000


def _id(ms: int, rnd: random.Random) -> str:
    out = []
    for _ in range(7):
        ms, r = divmod(ms, 62)
        out.append(ALPHANUM[r])
    return "".join(reversed(out)) + "".join(rnd.choice(ALPHANUM) for _ in range(9))


async def seed(data_dir: str, n_links: int, n_clicks: int) -> None:
    keys = await seed_links(data_dir, DOMAIN, n_links, key=lambda i: f"k{i}", url=lambda i: f"https://dest.example/{i}")
    core = await Core.open(Settings.from_env({}, data_dir=data_dir, domain=DOMAIN, sqlite_synchronous="normal"))
    try:
        links = [await core.store.get_link_by_key(DOMAIN, k) for k in keys]
        rnd = random.Random(7)
        now = utcnow()
        start = now - timedelta(days=DAYS)
        span_ms = DAYS * 86_400_000
        t0 = time.perf_counter()
        picked: list[tuple[str, dict, str]] = []
        for base in range(0, n_clicks, SEED_BATCH):
            count = min(SEED_BATCH, n_clicks - base)
            offsets = sorted(rnd.randrange(span_ms) for _ in range(count))
            rows = []
            for off in offsets:
                # skewed link popularity, as real traffic is
                link = links[min(len(links) - 1, int(rnd.paretovariate(1.2)) - 1)]
                at = start + timedelta(milliseconds=off)
                country = rnd.choice(COUNTRIES)
                referer = rnd.choice(REFERERS)
                cid = _id(int(at.timestamp() * 1000), rnd)
                row = {
                    "id": cid, "link_id": link["id"], "domain": DOMAIN, "key": link["key"], "url": link["url"],
                    "timestamp": iso(at), "country": country, "device": rnd.choice(DEVICES),
                    "device_vendor": "Unknown", "device_model": "Unknown", "browser": rnd.choice(BROWSERS),
                    "browser_version": "120.0", "os": rnd.choice(OSES), "os_version": "10", "engine": "Blink",
                    "ua": "Mozilla/5.0", "referer": referer,
                    "referer_url": referer if referer == "(direct)" else f"https://{referer}/x",
                    "qr": 1 if rnd.random() < 0.05 else 0, "trigger": "link", "ip": "81.2.69.0",
                    "identity_hash": cid, "continent": CONTINENTS.get(country), "region": None, "city": None,
                }
                row["trigger"] = "qr" if row["qr"] else "link"
                rows.append(tuple(row[c] for c in CLICK_COLUMNS))
                if rnd.random() < 0.01:
                    picked.append((cid, link, row["timestamp"]))
            await core.store.record_click_batch(rows)
            done = base + count
            if done % 200_000 < SEED_BATCH or done == n_clicks:
                print(f"  seeded {done:,} clicks ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        # leads for 1 % of the clicks (100 customers' worth per transaction), sales for a fifth of those
        for i in range(0, len(picked), 100):
            chunk = picked[i:i + 100]
            who = f"cust{i}"
            cid, link, at = chunk[0]
            customer = {"id": f"cus_bench{i:020d}", "external_id": who, "name": who, "email": None, "avatar": None,
                        "stripe_customer_id": None, "country": None, "click_id": cid, "link_id": link["id"],
                        "clicked_at": at, "created_at": at, "updated_at": at}
            events = [{"id": f"ld{i:08d}{j:06d}", "customer_id": None, "click_id": c, "link_id": link["id"],
                       "event_name": "Sign up" if j % 3 else "Demo", "metadata": None, "timestamp": t}
                      for j, (c, _l, t) in enumerate(chunk)]
            await core.store.record_lead(customer=customer, event_key=f"bench{i}", key_since=at, events=events,
                                         link_id=link["id"], now=at)
            for j, (c, _l, t) in enumerate(chunk[::5]):
                sale = {"id": f"sl{i:08d}{j:06d}", "customer_id": customer["id"], "click_id": c,
                        "link_id": link["id"], "event_name": "Purchase", "amount": 1000 + j, "currency": "usd",
                        "payment_processor": "stripe", "invoice_id": None, "metadata": None, "timestamp": t}
                await core.store.record_sale(sale=sale, invoice_since=t, new_customer=None, direct_lead=None,
                                             now=t, respond=lambda c: {})
        print(f"  seeded {len(picked):,} leads and {sum(len(picked[i:i + 100][::5]) for i in range(0, len(picked), 100)):,}"
              f" sales ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    finally:
        await core.close()


async def measure(data_dir: str, runs: int, group_bys: list[str]) -> None:
    core = await Core.open(Settings.from_env({}, data_dir=data_dir, domain=DOMAIN), migrate=False)
    try:
        total = await core.store.count_all_clicks()
        db = Path(data_dir) / "shortener.db"
        size = db.stat().st_size + sum(p.stat().st_size for p in db.parent.glob("shortener.db-*"))
        top = await core.analytics.retrieve({"groupBy": "top_links", "interval": "all"})
        link_id = top[0]["id"]
        print(f"{total:,} clicks, {size / 2**20:,.0f} MiB, {size / max(1, total):,.0f} bytes per stored click "
              f"(whole database); link filter: the busiest link ({top[0]['clicks']:,} clicks)")
        print(f"{'groupBy':<16} {'interval':<8} {'link':<5} {'p50 ms':>9} {'p95 ms':>9}")
        for group_by in group_bys:
            for interval in ("30d", "all"):
                for with_link in (False, True):
                    params = {"groupBy": group_by, "interval": interval, "event": "clicks"}
                    if with_link:
                        params["linkId"] = link_id
                    times = []
                    for _ in range(runs):
                        t = time.perf_counter()
                        await core.analytics.retrieve(params)
                        times.append((time.perf_counter() - t) * 1000)
                    times.sort()
                    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
                    print(f"{group_by:<16} {interval:<8} {'yes' if with_link else 'no':<5} "
                          f"{statistics.median(times):>9.1f} {p95:>9.1f}", flush=True)
    finally:
        await core.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=1_000_000, help="clicks to seed (10000000 for 10M)")
    parser.add_argument("--links", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5, help="times each query runs")
    parser.add_argument("--group-by", default="", help="comma-separated groupBys (default: all)")
    parser.add_argument("--data-dir", help="a folder to seed into, or an already seeded one to reuse")
    args = parser.parse_args()
    group_bys = [g for g in args.group_by.split(",") if g] or list(GROUP_BYS)
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="bench-analytics-")
    if not (Path(data_dir) / "shortener.db").exists():
        print(f"seeding {args.clicks:,} clicks on {args.links:,} links into {data_dir}", file=sys.stderr)
        asyncio.run(seed(data_dir, args.links, args.clicks))
    asyncio.run(measure(data_dir, args.runs, group_bys))
    if not args.data_dir:
        print(f"(data left in {data_dir}; pass --data-dir to reuse it)", file=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
