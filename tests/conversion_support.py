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
