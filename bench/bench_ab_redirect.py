"""Redirect cost of a link without A/B variants, against the code before A/B destinations existed
(issue 11: "the redirect hot path for links without variants is unchanged"), and of an A/B link.

    .venv/bin/python bench/bench_ab_redirect.py [--against 4f099d3^] [--requests 20000] [--rounds 3]

The app is called as an ASGI callable in-process (no socket, no uvicorn, no HTTP parsing), so only
our own redirect path is timed, with a repeat visitor (no click row to write):
- `plain`: a link with no options, no query string (the fast path);
- `plain?q`: the same link with a query string (the full path, where the A/B branch sits);
- `a/b`: a link with two variants (this tree only; the old one has none).
`--against REV` exports REV (`git archive`) into a temporary folder; each round times REV's app
and then this tree's, each in a fresh subprocess, and the best of the rounds is kept. Printed:
microseconds per request and the ratio this/REV (1.00 = unchanged; on a shared machine rounds
differ by about 10 %, so read ratios within 0.9-1.1 as unchanged).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UA = b"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
VARIANTS = [{"url": "https://example.com/a", "percentage": 50}, {"url": "https://example.com/b", "percentage": 50}]


def child(tree: str, requests: int) -> None:
    """Runs in a subprocess with `tree` first on sys.path: prints {case: microseconds per request}."""
    sys.path.insert(0, tree)
    from starlette.testclient import TestClient

    from shortener.config import Settings
    from shortener.web.app import create_app

    settings = Settings(data_dir=tempfile.mkdtemp() + "/data", domain="go.test", sqlite_synchronous="normal")
    app = create_app(settings)
    with TestClient(app, base_url="http://go.test", follow_redirects=False) as client:
        core = client.app_state["core"]
        _, key = client.portal.call(lambda: core.api_keys.create("bench"))
        auth = {"Authorization": f"Bearer {key}"}
        client.post("/api/links", headers=auth, json={"url": "https://example.com/p", "key": "plain"})
        cases = {"plain": ("/plain", b""), "plain?q": ("/plain", b"utm_source=x")}
        ab = client.post("/api/links", headers=auth, json={
            "url": "https://example.com/a", "key": "ab", "testVariants": VARIANTS,
            "testCompletedAt": "2099-01-01T00:00:00.000Z"}).json()
        if ab.get("testVariants"):
            cases["a/b"] = ("/ab", b"")

        async def run(path: str, qs: bytes, n: int) -> float:
            statuses: list[int] = []

            async def receive():
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message):
                if message["type"] == "http.response.start":
                    statuses.append(message["status"])

            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                     "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": qs,
                     "root_path": "", "headers": [(b"host", b"go.test"), (b"user-agent", UA)],
                     "client": ("10.0.0.1", 40000), "server": ("go.test", 80), "state": client.app_state}
            start = time.perf_counter()
            for _ in range(n):
                await app(dict(scope), receive, send)
            elapsed = time.perf_counter() - start
            assert statuses == [302] * n, statuses[:3]  # a redirect every time, nothing else
            return elapsed / n * 1e6

        out = {}
        for name, (path, qs) in cases.items():
            client.portal.call(run, path, qs, 1000)  # warm: the link cache, the visitor's click id
            out[name] = min(client.portal.call(run, path, qs, requests) for _ in range(3))
    print(json.dumps(out))


def measure(tree: Path, requests: int) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", str(tree), "--requests", str(requests)],
                          capture_output=True, text=True, check=True, cwd=tree)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="4f099d3^", help="git revision to compare with (default: "
                        "the commit before A/B destinations)")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.requests)
        return
    with tempfile.TemporaryDirectory() as folder:
        old = Path(folder) / "old"
        old.mkdir()
        archive = subprocess.run(["git", "archive", args.against], cwd=ROOT, capture_output=True, check=True).stdout
        with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
            tar.extractall(old, filter="data")
        best: dict[str, dict[str, float]] = {"old": {}, "new": {}}
        for _ in range(args.rounds):
            for name, tree in (("old", old), ("new", ROOT)):
                for case, us in measure(tree, args.requests).items():
                    best[name][case] = min(us, best[name].get(case, us))
    print(f"in-process redirect, repeat visitor, best of {args.rounds} rounds x 3 x {args.requests} requests")
    print(f"{'case':10} {args.against:>12} {'this tree':>10} {'ratio':>6}")
    for case, us in best["new"].items():
        before = best["old"].get(case)
        ratio = f"{us / before:6.2f}" if before else "     -"
        shown = f"{before:.1f}" if before else "-"
        print(f"{case:10} {shown:>12} {us:10.1f} {ratio}   us/request")


if __name__ == "__main__":
    main()
