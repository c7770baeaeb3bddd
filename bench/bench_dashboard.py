"""The dashboard's links page with 100k links stored: how long the server takes for a page of 100.

One server process on a throwaway data dir, 100k plain links seeded through the store, an owner
signed in over HTTP; then each page is fetched N times one at a time and the p50/p95 printed beside
a baseline measured the same way in the same run (`/_/health`: one tiny read, so the difference is
what rendering the page costs). The client runs on the same machine; its share is in the baseline.

    .venv/bin/python bench/bench_dashboard.py [--links 100000] [--runs 30]
"""
from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import tempfile
import time

import httpx

from common import free_port, seed_links, server_env, shortener_cmd, start_shortener

PAGES = {
    "links, newest first": "/_/links",
    "links, page 500": "/_/links?page=500",
    "links, by clicks": "/_/links?sort=clicks",
    "links, archived too": "/_/links?archived=all",
    "links, search (full scan)": "/_/links?q=item-4242",
}


def timed(client: httpx.Client, path: str, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(path)
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        domain = f"127.0.0.1:{port}"
        env = server_env(domain)
        asyncio.run(seed_links(data_dir, domain, args.links, key=lambda i: f"k{i}",
                               url=lambda i: f"https://example.com/item-{i}?ref=bench"))
        subprocess.run(shortener_cmd(data_dir, "users", "create", "bench@example.com"), input="bench password\n",
                       env=env, text=True, check=True, capture_output=True)
        proc = start_shortener(data_dir, port, env, quiet=True)
        try:
            base = f"http://{domain}"
            with httpx.Client(base_url=base, timeout=30) as client:
                token = re.search(r'name="csrf" value="([^"]+)"', client.get("/_/signin").text).group(1)
                r = client.post("/_/signin", data={"csrf": token, "email": "bench@example.com",
                                                   "password": "bench password"}, headers={"origin": base})
                assert r.status_code == 303, r.text
                for path in PAGES.values():  # warm the caches and the templates
                    timed(client, path, 2)
                baseline = timed(client, "/_/health", args.runs)
                b50 = statistics.median(baseline)
                print(f"{args.links:,} links stored; {args.runs} requests each, one at a time")
                print(f"{'baseline /_/health':32} p50 {b50:7.1f} ms  p95 {sorted(baseline)[int(.95 * len(baseline)) - 1]:7.1f} ms")
                for label, path in PAGES.items():
                    ms = timed(client, path, args.runs)
                    p50, p95 = statistics.median(ms), sorted(ms)[int(.95 * len(ms)) - 1]
                    print(f"{label:32} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
                          f"(p50 minus baseline {p50 - b50:6.1f} ms, ratio {p50 / b50:5.1f})")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
