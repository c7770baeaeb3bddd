"""Redirects while /api/qr is flooded: the ratio of redirect throughput with and without the flood.

    .venv/bin/python bench/bench_qr_flood.py [--duration 5] [--connections 16] [--flooders 8]

One `shortener serve` on loopback with default settings and one link. In one process and on one
event loop, the client measures:
1. redirects alone: --connections clients GET the link back to back for --duration seconds;
2. the same while --flooders clients request the most expensive code allowed (2,048 characters
   at 2,000 px, ~0.4 s of drawing each) back to back, without waiting between requests.
It prints redirects/s and p50/p99 latency for both phases, their ratio, and what the flood got
(codes drawn, 429s). Before the QR pool (issue 14 item 2) drawing ran on the server's event
loop, so each code stopped every redirect for its whole drawing time.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

from common import create_key, free_port, server_env, start_shortener

HEAVY = {"url": "https://go.test/" + "a" * 2032, "size": "2000"}


async def _redirects(base: str, connections: int, duration: float) -> tuple[list[float], int]:
    """Latencies of the redirects answered within --duration, and how many timed out (10 s)."""
    latencies: list[float] = []
    timeouts = 0
    end = time.perf_counter() + duration

    async def one(client: httpx.AsyncClient) -> None:
        nonlocal timeouts
        while time.perf_counter() < end:
            t = time.perf_counter()
            try:
                r = await client.get("/flood")
            except httpx.TimeoutException:
                timeouts += 1
                continue
            if r.status_code != 302:
                raise SystemExit(f"redirect answered {r.status_code}")
            latencies.append(time.perf_counter() - t)

    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:
        await asyncio.gather(*(one(client) for _ in range(connections)))
    return latencies, timeouts


async def _flood(base: str, flooders: int, stop: asyncio.Event, counts: dict[int, int]) -> None:
    async def one(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            r = await client.get("/api/qr", params=HEAVY)
            counts[r.status_code] = counts.get(r.status_code, 0) + 1

    async with httpx.AsyncClient(base_url=base, limits=httpx.Limits(max_connections=flooders), timeout=300) as c:
        await asyncio.gather(*(one(c) for _ in range(flooders)))


def _summary(name: str, result: tuple[list[float], int], duration: float) -> float:
    latencies, timeouts = result
    rate = len(latencies) / duration
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    print(f"{name:<22} {rate:8.0f} redirects/s   p50 {q[49] * 1000:7.1f} ms   p99 {q[98] * 1000:7.1f} ms"
          f"   {timeouts} timed out (10 s)")
    return rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--flooders", type=int, default=8)
    args = parser.parse_args()

    port = free_port()
    domain = f"127.0.0.1:{port}"
    base = f"http://{domain}"
    with tempfile.TemporaryDirectory(prefix="bench-qr-") as data_dir:
        env = server_env(domain)
        key = create_key(data_dir, env)
        proc = start_shortener(data_dir, port, env, quiet=True)
        try:
            r = httpx.post(f"{base}/api/links", headers={"Authorization": f"Bearer {key}"},
                           json={"url": "https://example.com/landing", "key": "flood"}, timeout=30)
            r.raise_for_status()
            # Start the QR worker before measuring (the first code also starts the pool).
            httpx.get(f"{base}/api/qr", params={"url": "warm-up"}, timeout=60).raise_for_status()
            await _redirects(base, args.connections, 1.0)  # warm the link cache and connections

            alone = _summary("redirects alone", await _redirects(base, args.connections, args.duration),
                             args.duration)
            stop = asyncio.Event()
            counts: dict[int, int] = {}
            flood = asyncio.ensure_future(_flood(base, args.flooders, stop, counts))
            await asyncio.sleep(0.5)  # the flood is under way before measuring
            during = _summary(f"with {args.flooders} QR flooders",
                              await _redirects(base, args.connections, args.duration), args.duration)
            stop.set()
            await flood
            print(f"ratio (flooded / alone): {during / alone:.2f}")
            print("QR answers during the flood: " + ", ".join(f"{n} x {s}" for s, n in sorted(counts.items())))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
