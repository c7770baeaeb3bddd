"""Lead ingestion: events/s and latency percentiles for POST /track/lead in wait mode, one server process.

    .venv/bin/python bench/bench_leads.py [--leads 3000] [--concurrency 32] [--synchronous normal]

Starts `python -m shortener serve` on a free loopback port with a fresh data dir, creates a link,
takes a click id from a real redirect, then posts leads for distinct customers over keep-alive
connections from a minimal asyncio client and prints the figures. Every lead is checked (200),
and the link's `leads` must equal the number posted. Client and server share the machine.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import tempfile
import time

import httpx
from common import create_key, free_port, server_env, start_shortener


class Connection:
    """A minimal keep-alive HTTP/1.1 client: httpx's own cost (~3 ms per request here) would
    otherwise be most of what is measured."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def open(self) -> "Connection":
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def post(self, path: str, body: bytes, key: str) -> tuple[int, bytes]:
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def run(port: int, key: str, leads: int, concurrency: int) -> tuple[float, list[float]]:
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(headers=auth, timeout=60) as client:
        await client.post(f"{base}/api/links", json={"url": "https://example.com", "key": "bench"})
        click_id = (await client.get(f"{base}/bench")).cookies["dub_id"]
    connections = [await Connection(port).open() for _ in range(concurrency)]
    latencies: list[float] = []
    todo = iter(range(leads))

    async def worker(conn: Connection) -> None:
        for i in todo:
            body = json.dumps({"clickId": click_id, "eventName": "Sign up", "customerExternalId": f"bench-{i}",
                               "mode": "wait"}).encode()
            t = time.perf_counter()
            status, answer = await conn.post("/api/track/lead", body, key)
            latencies.append(time.perf_counter() - t)
            assert status == 200, answer

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - started
    for c in connections:
        c.close()
    async with httpx.AsyncClient(headers=auth, timeout=60) as client:
        link = (await client.get(f"{base}/api/links/info", params={"domain": f"127.0.0.1:{port}", "key": "bench"})).json()
    assert link["leads"] == leads, link["leads"]
    return elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--synchronous", default="normal", choices=("normal", "full"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = server_env(f"127.0.0.1:{port}", sqlite_synchronous=args.synchronous)
        key = create_key(tmp, env)
        server = start_shortener(tmp, port, env, quiet=True)
        try:
            elapsed, lat = asyncio.run(run(port, key, args.leads, args.concurrency))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000  # noqa: E731
    print(f"leads: {args.leads}  concurrency: {args.concurrency}  synchronous={args.synchronous}  mode=wait")
    print(f"throughput: {args.leads / elapsed:,.0f} leads/s ({elapsed:.2f} s)")
    print(f"latency ms: p50 {pct(50):.1f}  p90 {pct(90):.1f}  p99 {pct(99):.1f}  max {lat[-1] * 1000:.1f}  "
          f"mean {statistics.mean(lat) * 1000:.1f}")


if __name__ == "__main__":
    main()
