"""The least a short-link redirect can do under uvicorn, for bench_redirect.py.

Per request: read the Host and path, find the link in an in-memory dict of every key, make a
16-character click id, queue (click id, link, time), and answer 302 with the four headers the
issue requires of a redirect (Location, Content-Length, X-Robots-Tag, the dub_id cookie). A
thread writes the queue every 100 ms as three-column rows into a SQLite table with no index, no
key and no counters. No framework, no bot check, no dedup, no user-agent parse. What it reaches
against bare_asgi.py bounds what any implementation of a redirect that stores its click can
reach under this server and SQLite; GET /_floor/written says how many rows it has written.

Keys come from the file named by BENCH_KEYS (one per line); the i-th key's destination is
BENCH_URL with {i} filled in; rows go to the database file BENCH_DB.
"""
from __future__ import annotations

import base64
import os
import sqlite3
import threading
import time

from bare_asgi import lifespan

_keys = open(os.environ["BENCH_KEYS"]).read().split()
_url = os.environ.get("BENCH_URL", "https://example.com/page/{i}")
LINKS = {"/" + k: (str(i), _url.format(i=i).encode()) for i, k in enumerate(_keys)}
HOST = os.environ.get("BENCH_DOMAIN", "bench.test").encode()
COOKIE = b"; Path=/; Max-Age=7776000; SameSite=Lax"
NOT_FOUND = [(b"content-length", b"0")]
_random = [b"", 0]
_queue: list[tuple] = []
_written = [0]


def click_id() -> bytes:
    chars, used = _random
    if used + 16 > len(chars):
        chars, used = base64.b64encode(os.urandom(3072)).translate(None, b"+/"), 0
        _random[0] = chars
    _random[1] = used + 16
    return chars[used:used + 16]


def _writer() -> None:
    conn = sqlite3.connect(os.environ["BENCH_DB"], isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS clicks (id BLOB, link_id TEXT, timestamp REAL)")
    while True:
        time.sleep(0.1)
        while _queue:
            batch = _queue[:5000]
            del _queue[:len(batch)]
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO clicks VALUES (?, ?, ?)", batch)
            conn.execute("COMMIT")
            _written[0] += len(batch)


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        threading.Thread(target=_writer, daemon=True).start()
        await lifespan(receive, send)
        return
    if scope["path"] == "/_floor/written":
        body = str(_written[0]).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return
    link = LINKS.get(scope["path"]) if dict(scope["headers"]).get(b"host") == HOST else None
    if link is None:
        await send({"type": "http.response.start", "status": 404, "headers": NOT_FOUND})
    else:
        cid = click_id()
        _queue.append((cid, link[0], time.time()))
        await send({"type": "http.response.start", "status": 302, "headers": [
            (b"location", link[1]), (b"content-length", b"0"), (b"x-robots-tag", b"noindex"),
            (b"set-cookie", b"dub_id=" + cid + COOKIE)]})
    await send({"type": "http.response.body", "body": b""})
