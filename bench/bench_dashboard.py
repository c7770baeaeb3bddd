"""The dashboard's links page with 100k links stored: how long the server takes for a page of 100.

One server process on a throwaway data dir, 100k plain links seeded through the store, an owner
signed in over HTTP; then each page is fetched N times one at a time and the p50/p95 printed beside
a baseline measured the same way in the same run (`/_/health`: one tiny read, so the difference is
what rendering the page costs). The client runs on the same machine; its share is in the baseline.
The pages are the table's sorts and filters, which run the store queries GET /api/links runs.

`--against REV` also times REV's code (`git archive` into a temporary folder) in the same run:
the links are seeded with REV's code, and this tree's server starts on a copy of that database,
so its migrations run on 100k stored links (their time is printed). Both servers run at once and
each page is timed on one, then the other; printed: REV's p95, this tree's, and their ratio.

    .venv/bin/python bench/bench_dashboard.py [--links 100000] [--runs 30] [--against REV]

Issue 12's target: a page of 100 links in under 100 ms server-side (p95 here, client included).
"""
from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import httpx

from common import ROOT, free_port, seed_links, server_env, shortener_cmd, wait_ready

PAGES = {
    "links, newest first": "/_/links",
    "links, page 500": "/_/links?page=500",
    "links, by clicks": "/_/links?sort=clicks",
    "links, by clicks, page 500": "/_/links?sort=clicks&page=500",
    "links, by last click": "/_/links?sort=lastClicked",
    "links, by sales, oldest first": "/_/links?sort=saleAmount&order=asc",
    "links, archived too": "/_/links?archived=all",
    "links, archived too, by clicks": "/_/links?archived=all&sort=clicks",
    "links, search": "/_/links?q=item-4242",
    "links, search in every link": "/_/links?q=example.com",
    "links, search of 2 characters": "/_/links?q=k4",
}


def timed(client: httpx.Client, path: str, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(path)
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    return out


def p95(ms: list[float]) -> float:
    return sorted(ms)[int(.95 * len(ms)) - 1]


def seed(data_dir: str, domain: str, links: int) -> None:
    asyncio.run(seed_links(data_dir, domain, links, key=lambda i: f"k{i}",
                           url=lambda i: f"https://example.com/item-{i}?ref=bench"))


class Server:
    """The shortener of `tree` on `data_dir`, with the owner signed in."""

    def __init__(self, tree: Path, data_dir: str, port: int):
        domain = f"127.0.0.1:{port}"
        self.env = {**server_env(domain), "PYTHONPATH": str(tree)}
        self.tree, self.data_dir, self.port = tree, data_dir, port
        self.base = f"http://{domain}"

    def cli(self, *args: str, stdin: str | None = None) -> None:
        subprocess.run(shortener_cmd(self.data_dir, *args), input=stdin, env=self.env, cwd=self.tree,
                       text=True, check=True, capture_output=True)

    def start(self) -> httpx.Client:
        # cwd: `python -m` imports from the working directory first.
        self.proc = subprocess.Popen(shortener_cmd(self.data_dir, "serve", "--port", str(self.port)), env=self.env,
                                     cwd=self.tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(self.port, self.proc, timeout=600)
        client = httpx.Client(base_url=self.base, timeout=30)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/_/signin").text).group(1)
        r = client.post("/_/signin", data={"csrf": token, "email": "bench@example.com", "password": "bench password"},
                        headers={"origin": self.base})
        assert r.status_code == 303, r.text
        for path in PAGES.values():  # warm the caches and the templates
            timed(client, path, 2)
        return client

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--against", help="git revision to time too, e.g. the commit before a change")
    parser.add_argument("--seed", help=argparse.SUPPRESS)  # child: seed this data dir with PYTHONPATH's code
    args = parser.parse_args()
    if args.seed:
        seed(args.seed, os.environ["SHORTENER_DOMAIN"], args.links)
        return
    with tempfile.TemporaryDirectory() as folder:
        trees = {"this tree": ROOT}
        if args.against:
            old = Path(folder) / "old"
            old.mkdir()
            archive = subprocess.run(["git", "archive", args.against], cwd=ROOT, capture_output=True, check=True).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(old, filter="data")
            trees = {args.against: old, **trees}
        port = free_port()
        seeded = str(Path(folder) / "seeded")
        first = Server(next(iter(trees.values())), seeded, port)
        subprocess.run([sys.executable, __file__, "--seed", seeded, "--links", str(args.links)],
                       env=first.env, cwd=first.tree, check=True)
        first.cli("users", "create", "bench@example.com", stdin="bench password\n")
        servers, clients = {}, {}
        try:
            for name, tree in trees.items():
                data_dir = str(Path(folder) / f"data-{len(servers)}")
                shutil.copytree(seeded, data_dir)
                servers[name] = Server(tree, data_dir, port if not servers else free_port())
                t = time.perf_counter()
                clients[name] = servers[name].start()
                if len(servers) == 2:
                    print(f"this tree's server started on {args.against}'s database in "
                          f"{time.perf_counter() - t:.1f} s (its migrations and the page warm-up included)")
            print(f"{args.links:,} links stored; {args.runs} requests each, one at a time")
            results = {}
            for label, path in {"baseline /_/health": "/_/health", **PAGES}.items():
                results[label] = {name: timed(client, path, args.runs) for name, client in clients.items()}
            names = list(trees)
            head = "".join(f"{n[:14]:>16}" for n in names)
            print(f"{'':32}{head}   (p50 / p95 ms){'   p95 ratio' if len(names) == 2 else ''}")
            for label, by_tree in results.items():
                cells = "".join(f"{statistics.median(ms):7.1f} /{p95(ms):6.1f} " for ms in by_tree.values())
                ratio = f"   {p95(by_tree[names[1]]) / p95(by_tree[names[0]]):6.2f}" if len(names) == 2 else ""
                print(f"{label:32}{cells}{ratio}")
        finally:
            for client in clients.values():
                client.close()
            for server in servers.values():
                if getattr(server, "proc", None) is not None:
                    server.stop()


if __name__ == "__main__":
    main()
