"""Soak (issue 13): clicks, link writes, leads, webhook deliveries and cancelled requests together
against a real server on loopback, then the books are checked.

In the suite it runs SOAK_SECONDS, 20 s by default: long enough for every kind of load to overlap
many times (thousands of clicks, hundreds of link writes, leads, cancellations and webhook
deliveries) while keeping the suite under its budget. For a long run, either of:

    SOAK_SECONDS=600 .venv/bin/python -m pytest -q tests/test_soak.py
    .venv/bin/python tests/test_soak.py --seconds 600

It prints: requests by kind, acknowledged writes checked and found, per-link click counters
against stored rows, connections left in a transaction, webhook deliveries received, and the
process's memory before and after the load.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import sqlite3
import tempfile
import time
from pathlib import Path

import httpx
import uvicorn

from shortener.config import Settings
from shortener.web.app import create_app

DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
           "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
MEMORY_BOUND_MB = 150  # growth of the whole process (server and load) allowed over the run


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _receiver(counts: dict) -> asyncio.AbstractServer:
    """A webhook receiver on loopback: reads one request per connection, answers 200."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            counts["webhooks"] += 1
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def soak(seconds: float, data_dir: Path) -> dict:
    port = _free_port()
    settings = Settings(data_dir=str(data_dir), domain=f"127.0.0.1:{port}", sqlite_synchronous="normal",
                        webhook_allow_private=True, click_flush_ms=50).normalised()
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on"))
    serving = asyncio.ensure_future(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    counts = {"clicks": 0, "links": 0, "leads": 0, "cancelled": 0, "errors": 0, "webhooks": 0, "5xx": 0}
    receiver = await _receiver(counts)
    hook_port = receiver.sockets[0].getsockname()[1]
    from shortener.core import Core  # the API key is made the way the CLI makes it

    admin = await Core.open(settings)
    _, key = await admin.api_keys.create("soak")
    await admin.close()
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {key}"}
    acked_links: dict[str, str] = {}  # id -> key
    acked_leads: list[str] = []  # customer external ids
    click_ids: list[str] = []
    limits = httpx.Limits(max_connections=40)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        r = await http.post("/api/webhooks", headers=auth, json={
            "name": "soak", "url": f"http://127.0.0.1:{hook_port}/hook", "triggers": ["link.clicked", "lead.created"]})
        assert r.status_code in (200, 201), r.text
        hook = r.json()["id"]
        for i in range(20):
            r = await http.post("/api/links", headers=auth, json={
                "url": f"https://dest.test/{i}", "key": f"s{i}", "webhookIds": [hook] if i % 4 == 0 else []})
            assert r.status_code == 200, r.text
            acked_links[r.json()["id"]] = f"s{i}"
        rss_before = _rss_mb()
        deadline = time.monotonic() + seconds
        n = [0]

        def note(status: int) -> None:
            if status >= 500:
                counts["5xx"] += 1

        async def clicker() -> None:
            while time.monotonic() < deadline:
                n[0] += 1
                r = await http.get(f"/s{random.randrange(20)}", headers={"user-agent": f"{DESKTOP} v{n[0]}"})
                note(r.status_code)
                counts["clicks"] += 1
                cookie = r.cookies.get("dub_id")
                if cookie:
                    click_ids.append(cookie)

        async def linker() -> None:
            i = 0
            while time.monotonic() < deadline:
                i += 1
                r = await http.post("/api/links", headers=auth, json={"url": f"https://dest.test/w{i}"})
                note(r.status_code)
                if r.status_code == 200:
                    acked_links[r.json()["id"]] = r.json()["key"]
                    counts["links"] += 1
                await asyncio.sleep(0.01)

        async def leader() -> None:
            i = 0
            while time.monotonic() < deadline:
                if not click_ids:
                    await asyncio.sleep(0.05)
                    continue
                i += 1
                ext = f"cust_{i}"
                r = await http.post("/api/track/lead", headers=auth, json={
                    "clickId": random.choice(click_ids), "eventName": "Sign up", "customerExternalId": ext})
                note(r.status_code)
                if r.status_code == 200:
                    acked_leads.append(ext)
                    counts["leads"] += 1
                await asyncio.sleep(0.02)

        async def canceller() -> None:
            # Requests dropped by the client mid-flight: their handlers are cancelled.
            async with httpx.AsyncClient(base_url=base, timeout=0.003) as impatient:
                i = 0
                while time.monotonic() < deadline:
                    i += 1
                    try:
                        if i % 2:
                            await impatient.post("/api/links", headers=auth, json={"url": f"https://dest.test/c{i}"})
                        else:
                            await impatient.post("/api/track/lead", headers=auth, json={
                                "clickId": random.choice(click_ids) if click_ids else "x",
                                "eventName": "Cancelled", "customerExternalId": f"cx_{i}"})
                    except httpx.HTTPError:
                        counts["cancelled"] += 1
                    await asyncio.sleep(0.01)

        await asyncio.gather(*(clicker() for _ in range(6)), linker(), leader(), canceller())
        await asyncio.sleep(1.5)  # the last webhooks and counters
        rss_after = _rss_mb()
        # The lifespan's state: the running Core, as requests see it.
        idle = await server.lifespan.state["core"].store.connections_idle()
    server.should_exit = True
    await serving
    receiver.close()
    await receiver.wait_closed()

    conn = sqlite3.connect(data_dir / "shortener.db")
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        mismatched = conn.execute(
            "SELECT l.id, l.clicks, COUNT(c.id) FROM links l LEFT JOIN clicks c ON c.link_id = l.id "
            "GROUP BY l.id HAVING l.clicks != COUNT(c.id)").fetchall()
        stored_rows = conn.execute("SELECT COUNT(*) FROM clicks").fetchone()[0]
        ids = set(r[0] for r in conn.execute("SELECT id FROM links"))
        customers = set(r[0] for r in conn.execute(
            "SELECT c.external_id FROM customers c JOIN lead_events e ON e.customer_id = c.id"))
    finally:
        conn.close()
    return {
        "seconds": seconds, "requests": dict(counts), "click_rows": stored_rows,
        "links_checked": len(acked_links), "links_found": len(set(acked_links) & ids),
        "leads_checked": len(acked_leads), "leads_found": len(set(acked_leads) & customers),
        "counter_mismatches": mismatched, "integrity": integrity, "connections_idle": idle,
        "rss_before_mb": round(rss_before, 1), "rss_after_mb": round(rss_after, 1),
    }


def _check(report: dict) -> None:
    print("soak:", report)
    assert report["requests"]["5xx"] == 0
    assert report["integrity"] == "ok"
    assert report["counter_mismatches"] == []
    assert report["links_found"] == report["links_checked"]
    assert report["leads_found"] == report["leads_checked"]
    assert report["connections_idle"] is True
    assert report["rss_after_mb"] - report["rss_before_mb"] < MEMORY_BOUND_MB
    assert report["requests"]["clicks"] > 0 and report["requests"]["leads"] > 0
    assert report["requests"]["webhooks"] > 0 and report["requests"]["cancelled"] > 0


def test_soak(tmp_path, capsys):
    seconds = float(os.environ.get("SOAK_SECONDS", "20"))
    report = asyncio.run(soak(seconds, tmp_path / "data"))
    with capsys.disabled():
        _check(report)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    _check(asyncio.run(soak(args.seconds, Path(tempfile.mkdtemp()) / "data")))
