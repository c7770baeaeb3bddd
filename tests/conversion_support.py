"""Helpers for the conversion and webhook tests: links through the API, clicks through real redirects."""
from __future__ import annotations

import itertools

DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0.0.0 Safari/537.36")
_visitor = itertools.count(1)


def new_link(api, key: str, **fields) -> dict:
    r = api.post("/api/links", json={"url": f"https://example.com/{key}", "key": key, **fields})
    assert r.status_code == 200, r.text
    return r.json()


def visit(client, key: str, *, host: str | None = None) -> str:
    """Follow the short link as a new visitor (its own user agent) and return the dub_id cookie."""
    ua = f"{DESKTOP} visitor/{next(_visitor)}"
    headers = {"user-agent": ua}
    if host:
        headers["host"] = host
    r = client.get(f"/{key}", headers=headers)
    assert r.status_code == 302, r.text
    client.cookies.clear()
    cookie = r.cookies.get("dub_id")
    assert cookie, r.headers
    return cookie


def link_counts(api, link_id: str) -> tuple[int, int, int, int]:
    link = api.get(f"/api/links/{link_id}").json()
    return link["leads"], link["conversions"], link["sales"], link["saleAmount"]


def lead(api, click_id: str, customer: str, event: str = "Sign up", **fields):
    return api.post("/api/track/lead", json={"clickId": click_id, "eventName": event,
                                             "customerExternalId": customer, **fields})


def sale(api, customer: str, amount: int, **fields):
    return api.post("/api/track/sale", json={"customerExternalId": customer, "amount": amount, **fields})


def all_events(api, kind: str, **params) -> list[dict]:
    r = api.get("/api/events", params={"event": kind, "interval": "all", **params})
    assert r.status_code == 200, r.text
    return r.json()


async def raw_post(port: int, path: str, body: dict, key: str) -> tuple[int, bytes]:
    """One POST on its own connection, without a client library: for tests that need hundreds of
    requests in flight at once (httpx's pool costs more than the server does)."""
    import asyncio
    import json

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        data = json.dumps(body).encode()
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
            + data
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, await reader.read()
    finally:
        writer.close()
