"""What the fault tests share: a webhook receiver on loopback, reading every event back through the
API, the acknowledged writes and looking for them afterwards, the database's integrity check, and
the test for a clean error answer."""
from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from conftest import free_port

DESKTOP = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


class Receiver:
    """A webhook target on 127.0.0.1 that answers 200 and keeps every event it got."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.events.append(json.loads(body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def seen(self, event: str) -> list[dict]:
        with self.lock:
            return [e for e in self.events if e.get("event") == event]


def all_events(server, kind: str) -> list[dict]:
    """Every event of a kind (clicks, leads, sales), paged through GET /api/events."""
    auth = {"Authorization": f"Bearer {server.key}"}
    events, page = [], 1
    while True:
        r = httpx.get(f"{server.api_url}/events", headers=auth, timeout=60,
                      params={"event": kind, "interval": "all", "limit": 1000, "page": page})
        assert r.status_code == 200, r.text
        batch = r.json()
        events += batch
        if len(batch) < 1000:
            return events
        page += 1


@dataclass
class Acknowledged:
    """The writes a server answered 2xx for during a fault: every one must be found afterwards."""

    links: list[str] = field(default_factory=list)  # link ids
    leads: list[str] = field(default_factory=list)  # customer external ids
    clicks: list[str] = field(default_factory=list)  # click ids (the dub_id cookie)

    def missing(self, server) -> dict[str, list[str]]:
        """Those not found through the API: links by GET /links/{id}, leads and clicks in /events."""
        with httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {server.key}"},
                          timeout=60) as c:
            links = [i for i in self.links if c.get(f"/links/{i}").status_code != 200]
        lead_customers = {e["customer"]["externalId"] for e in all_events(server, "leads")}
        stored_clicks = {e["click"]["id"] for e in all_events(server, "clicks")}
        return {"links": links, "leads": [x for x in self.leads if x not in lead_customers],
                "clicks": [x for x in self.clicks if x not in stored_clicks]}

    def summary(self, missing: dict[str, list[str]]) -> str:
        checked = len(self.links) + len(self.leads) + len(self.clicks)
        return (f"{checked} acknowledged writes checked ({len(self.links)} links, {len(self.leads)} leads, "
                f"{len(self.clicks)} clicks), {checked - sum(map(len, missing.values()))} found")


NONE_MISSING = {"links": [], "leads": [], "clicks": []}


def integrity(server) -> str:
    """PRAGMA integrity_check on the server's database file (a second connection; WAL allows it)."""
    conn = sqlite3.connect(server.data_dir / "shortener.db", timeout=30)
    try:
        return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check").fetchall())
    finally:
        conn.close()


def is_dub_error(response: httpx.Response) -> bool:
    """Dub's error body and nothing that looks like a traceback."""
    if "traceback" in response.text.lower() or 'file "' in response.text.lower():
        return False
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(error, dict) and {"code", "message", "doc_url"} <= set(error) \
        and response.headers.get("content-type", "").startswith("application/json")


def make_server(data_dir, **env_overrides: str):
    """A LiveServer (tests/conftest.py) on a data dir of the caller's choosing, prepared and with an
    API key, logging warnings and up; not started. The log goes beside the data dir."""
    from conftest import prepared_server

    return prepared_server(data_dir, **{"SHORTENER_LOG_LEVEL": "warning", **env_overrides})
