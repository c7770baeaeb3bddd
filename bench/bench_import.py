"""Import benchmark: links per second through `shortener import` for a 100k-link export.

    .venv/bin/python bench/bench_import.py [--links 100000] [--format dub]

Writes a file of --links links in the chosen format (Dub's links CSV by default; `ours` for our
JSON lines), then imports it into a fresh data folder in-process exactly as the command does
(read the format, validate every row through the link service's parser, bulk insert in batches
of 5,000) and prints the rate, split into reading the file and validating plus storing, in wall time and in
CPU time of the process (the steadier figure on a shared machine).
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import common  # noqa: F401  (puts the repository on sys.path)

from shortener import importformats
from shortener.config import Settings
from shortener.core import Core
from shortener.services.imports import Importer

DOMAIN = "bench.test"


def sample(fmt: str, n: int) -> str:
    if fmt == "dub":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["Link ID", "Short link", "Destination URL", "Title", "Clicks", "Created at", "Tags", "Archived"])
        for i in range(n):
            w.writerow([f"cl{i}", f"https://{DOMAIN}/k{i:06d}", f"https://example.com/page/{i}?utm_source=bench",
                        f"Page {i}", i % 1000, "2024-01-01T00:00:00.000Z", "bench, import" if i % 10 == 0 else "",
                        "false"])
        return buf.getvalue()
    lines = [json.dumps({"domain": DOMAIN, "key": f"k{i:06d}", "url": f"https://example.com/page/{i}",
                         "title": f"Page {i}", "clicks": i % 1000, "createdAt": "2024-01-01T00:00:00.000Z",
                         "tags": [{"name": "bench"}] if i % 10 == 0 else []}) for i in range(n)]
    return "\n".join(lines) + "\n"


async def run(data_dir: str, fmt: str, text: str) -> tuple[float, float, float, int, int]:
    core = await Core.open(Settings.from_env({}, data_dir=data_dir, domain=DOMAIN))
    try:
        await core.domains.ensure_configured()
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        rows = list(importformats.read(fmt, text))
        read_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = await Importer(core).run(rows)
        store_s = time.perf_counter() - t0
        return read_s, store_s, time.process_time() - cpu0, report.imported, len(report.rejected)
    finally:
        await core.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--format", choices=("dub", "ours"), default="dub")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        text = sample(args.format, args.links)
        read_s, store_s, cpu_s, imported, rejected = asyncio.run(run(str(tmp / "data"), args.format, text))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = read_s + store_s
    print(f"\nimport of {args.links:,} links ({args.format} format, {len(text) / 1e6:.1f} MB): "
          f"{imported:,} imported, {rejected} rejected")
    print(f"  reading the file:        {read_s:6.1f}s")
    print(f"  validating and storing:  {store_s:6.1f}s")
    print(f"  in all: {total:.1f}s -> {imported / total:,.0f} links/s")
    # On a machine shared with other work the wall time mostly measures the others: CPU time
    # (all threads of this process, SQLite's included) is the steadier figure.
    print(f"  CPU time: {cpu_s:.1f}s -> {imported / cpu_s:,.0f} links per CPU second")
    if rejected:
        sys.exit(1)


if __name__ == "__main__":
    main()
