"""What metrics and the access log cost on the redirect path: bench_redirect's load, three ways.

    .venv/bin/python bench/bench_observe.py [--links 100000] [--duration 10] [--connections 64] [--runs 2]

Same machinery as bench/bench_redirect.py (wrk pinned to CPU 0, the server to CPU 1, random keys
after a warm-up that walks every key, a click row written per request): the server is started
with metrics and the access log off (the default), with `SHORTENER_METRICS_TOKEN` set, and with
`SHORTENER_ACCESS_LOG=json` (lines to /dev/null, so the figure is our formatting and logging,
not a terminal), then with both. The configurations are measured in turn, `--runs` rounds, and
the medians are printed with their ratio to the default.

On a machine shared with other work the wrk figures swing by tens of percent between runs, so
the script first measures the same thing in-process, where it is stable: the app is called
directly with a redirect request (no socket, no uvicorn) 20,000 times per configuration, in
turns, best of seven rounds, and the extra microseconds per request are printed. `--no-wrk` stops there.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_redirect import DOMAIN, SERVER_CPU, URL, need_tools, stop, wrk
from common import ROOT, free_port, seed_links, seed_wrk_keys, server_env, shortener_cmd, wait_ready


CONFIGS = {
    "default (both off)": {},
    "metrics on": {"metrics_token": "bench-token"},
    "json access log": {"access_log": "json"},
    "metrics + json log": {"metrics_token": "bench-token", "access_log": "json"},
}


def start(data_dir: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    cmd = ["taskset", "-c", SERVER_CPU, *shortener_cmd(data_dir, "serve", "--port", str(port))]
    proc = subprocess.Popen(cmd, env=env, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, proc)
    return proc


async def in_process(configs: dict, requests: int = 20_000, rounds: int = 7) -> dict[str, float]:
    """Microseconds per redirect, calling the ASGI app directly, for each configuration. The
    configurations take turns within every round (so a slower patch of the machine hits them
    all), and each keeps its best round."""
    from shortener.config import Settings
    from shortener.web.app import create_app

    tmp = Path(tempfile.mkdtemp(prefix="bench-observe-inproc-"))
    stderr = sys.stderr
    # the log's formatting and write, not a terminal (line-buffered like a real stderr)
    sys.stderr = open(os.devnull, "w", buffering=1)
    stop_event = asyncio.Event()
    tasks = []
    try:
        data_dir = str(tmp / "data")
        keys = await seed_links(data_dir, DOMAIN, 1000, key=lambda i: f"k{i}", url=lambda i: URL.format(i=i))
        apps = {}
        for name, extra in configs.items():
            app = create_app(Settings(data_dir=data_dir, domain=DOMAIN, click_dedup_seconds=3600, **extra))
            state: dict = {}
            started = asyncio.Event()
            sent = []

            async def lreceive(sent=sent):
                if not sent:
                    sent.append(1)
                    return {"type": "lifespan.startup"}
                await stop_event.wait()
                return {"type": "lifespan.shutdown"}

            async def lsend(message, started=started):
                if message["type"] == "lifespan.startup.complete":
                    started.set()

            tasks.append(asyncio.create_task(app({"type": "lifespan", "state": state, "asgi": {"version": "3.0"}},
                                                 lreceive, lsend)))
            await started.wait()
            apps[name] = (app, state)
        headers = [(b"host", DOMAIN.encode()), (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0")]

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            pass

        best = {name: float("inf") for name in configs}
        for _ in range(rounds):
            for name, (app, state) in apps.items():
                t0 = time.perf_counter()
                for i in range(requests):
                    key = keys[i % len(keys)]
                    scope = {"type": "http", "method": "GET", "path": "/" + key, "raw_path": ("/" + key).encode(),
                             "query_string": b"", "headers": headers, "client": ("203.0.113.7", 5000),
                             "state": dict(state), "scheme": "http", "http_version": "1.1"}
                    await app(scope, receive, send)
                best[name] = min(best[name], (time.perf_counter() - t0) / requests * 1e6)
        return best
    finally:
        stop_event.set()
        for task in tasks:
            await task
        sys.stderr.close()
        sys.stderr = stderr
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--runs", type=int, default=2, help="rounds over the configurations")
    parser.add_argument("--no-wrk", action="store_true", help="only the in-process measurement")
    args = parser.parse_args()
    us = asyncio.run(in_process(CONFIGS))
    base_us = us["default (both off)"]
    print("in-process, per redirect (best of 7 rounds x 20,000 calls of the ASGI app, no socket):")
    for name, value in us.items():
        print(f"  {name:24}{value:>8.1f} us  (+{value - base_us:.1f} us)")
    if args.no_wrk:
        return
    need_tools()
    tmp = Path(tempfile.mkdtemp(prefix="bench-observe-"))
    results: dict[str, list[dict]] = {name: [] for name in CONFIGS}
    try:
        data_dir = str(tmp / "data")
        seeded = seed_wrk_keys(tmp, data_dir, DOMAIN, args.links, URL)
        script, warm_script = seeded.random_script, seeded.walk_script
        for round_ in range(args.runs):
            for name, extra in CONFIGS.items():
                port = free_port()
                proc = start(data_dir, port, server_env(DOMAIN, click_dedup_seconds=0, **extra))
                try:
                    wrk(port, str(warm_script), args)
                    result = wrk(port, str(script), args)
                finally:
                    stop(proc)
                results[name].append(result)
                print(f"round {round_ + 1} {name}: {result['rps']:.0f} req/s, p99 {result['p99']:.2f} ms",
                      file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    base = statistics.median(r["rps"] for r in results["default (both off)"])
    print(f"\nmetrics and access log on the redirect path: {args.links} links, {args.connections} connections, "
          f"{args.duration}s x {args.runs} round(s), a click row per request")
    print(f"{'':24}{'req/s':>10}{'p99 ms':>10}{'ratio':>8}")
    for name, rs in results.items():
        rps = statistics.median(r["rps"] for r in rs)
        p99 = statistics.median(r["p99"] for r in rs)
        print(f"{name:24}{rps:>10.0f}{p99:>10.2f}{rps / base:>8.2f}")


if __name__ == "__main__":
    os.environ.pop("SHORTENER_METRICS_TOKEN", None)
    main()
