"""Benchmark of the links API on a real server: link creation (single and bulk) and GET /links/info.

    .venv/bin/python bench/bench_links.py [--links 100000] [--creates 1000] [--bulk 30] [--lookups 3000]
                                          [--synchronous full|normal]

Seeds --links links straight through the store (the API is what is measured, not the seeding),
starts `shortener serve` on a loopback port with a throwaway data dir and default settings
(SQLite `synchronous=full` unless --synchronous says otherwise), then
drives it with httpx over keep-alive connections and prints the figures.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import signal
import statistics
import tempfile
import time

import httpx

from common import create_key, free_port, seed_links, server_env, start_shortener

from shortener.ids import nanoid

DOMAIN = "bench.test"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def bench(base: str, key: str, keys: list[str], args) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        # warm-up: connections, caches, code paths
        for i in range(20):
            await client.post("/api/links", json={"url": f"https://warm.example.com/{i}"})

        t0 = time.perf_counter()
        for i in range(args.creates):
            r = await client.post("/api/links", json={"url": f"https://example.com/new/{i}", "tagNames": ["bench"]})
            assert r.status_code == 200, r.text
        single = args.creates / (time.perf_counter() - t0)

        async def worker(n: int, offset: int) -> None:
            for i in range(n):
                r = await client.post("/api/links", json={"url": f"https://example.com/c/{offset}/{i}"})
                assert r.status_code == 200, r.text

        t0 = time.perf_counter()
        per = args.creates // 8
        await asyncio.gather(*(worker(per, w) for w in range(8)))
        concurrent = per * 8 / (time.perf_counter() - t0)

        t0 = time.perf_counter()
        for b in range(args.bulk):
            batch = [{"url": f"https://example.com/bulk/{b}/{i}"} for i in range(100)]
            r = await client.post("/api/links/bulk", json=batch)
            assert r.status_code == 200 and all("id" in x for x in r.json()), r.text[:300]
        bulk = args.bulk * 100 / (time.perf_counter() - t0)

        total = (await client.get("/api/links/count")).json()
        sample = random.Random(1).choices(keys, k=args.lookups)
        latencies = []
        for k in sample:
            t = time.perf_counter()
            r = await client.get("/api/links/info", params={"domain": DOMAIN, "key": k})
            latencies.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text
        ids = [(await client.get("/api/links/info", params={"domain": DOMAIN, "key": k})).json()["id"]
               for k in sample[:200]]
        by_id = []
        for link_id in ids * 5:
            t = time.perf_counter()
            r = await client.get("/api/links/info", params={"linkId": link_id})
            by_id.append((time.perf_counter() - t) * 1000)
        list_ms = []
        for page in range(1, 21):
            t = time.perf_counter()
            r = await client.get("/api/links", params={"page": page, "pageSize": 100})
            list_ms.append((time.perf_counter() - t) * 1000)
        count_ms, upsert_ms = [], []
        for _ in range(20):
            t = time.perf_counter()
            await client.get("/api/links/count")
            count_ms.append((time.perf_counter() - t) * 1000)
        for i in random.Random(2).sample(range(len(keys)), 50):
            t = time.perf_counter()
            r = await client.put("/api/links/upsert", json={"url": f"https://example.com/page/{i}", "comments": "u"})
            upsert_ms.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text

    print(f"links stored: {total}")
    print(f"create, one request at a time:   {single:8.0f} links/s  ({args.creates} links)")
    print(f"create, 8 concurrent clients:    {concurrent:8.0f} links/s  ({per * 8} links)")
    print(f"create, bulk of 100 per request: {bulk:8.0f} links/s  ({args.bulk * 100} links)")
    print(f"GET /links/info?domain&key: p50 {statistics.median(latencies):6.2f} ms  "
          f"p99 {pct(latencies, 99):6.2f} ms  ({len(latencies)} lookups)")
    print(f"GET /links/info?linkId:     p50 {statistics.median(by_id):6.2f} ms  "
          f"p99 {pct(by_id, 99):6.2f} ms  ({len(by_id)} lookups)")
    print(f"GET /links (page of 100):   p50 {statistics.median(list_ms):6.2f} ms  p99 {pct(list_ms, 99):6.2f} ms")
    print(f"GET /links/count:           p50 {statistics.median(count_ms):6.2f} ms")
    print(f"PUT /links/upsert (match):  p50 {statistics.median(upsert_ms):6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=100_000, help="links stored before measuring")
    parser.add_argument("--creates", type=int, default=1000, help="links created one per request")
    parser.add_argument("--bulk", type=int, default=30, help="bulk requests of 100 links")
    parser.add_argument("--lookups", type=int, default=3000, help="GET /links/info requests")
    parser.add_argument("--synchronous", choices=("full", "normal"), default="full",
                        help="the server's SQLite synchronous setting")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="bench-links-")
    proc = None
    try:
        t0 = time.perf_counter()
        keys = asyncio.run(seed_links(data_dir, DOMAIN, args.links, key=lambda i: f"s{i}{nanoid(5)}",
                                      url=lambda i: f"https://example.com/page/{i}"))
        print(f"seeded {len(keys)} links in {time.perf_counter() - t0:.1f} s")
        env = server_env(DOMAIN, sqlite_synchronous=args.synchronous)
        api_key = create_key(data_dir, env)
        port = free_port()
        proc = start_shortener(data_dir, port, env)
        print(f"server: synchronous={args.synchronous}")
        asyncio.run(bench(f"http://127.0.0.1:{port}", api_key, keys, args))
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
