"""A known set of links, clicks, leads and sales for the analytics tests, written through the store.

Times straddle two DST changes: New York springs forward on 2026-03-08 at 07:00Z (02:00 EST ->
03:00 EDT), Berlin on 2026-03-29 at 01:00Z (02:00 CET -> 03:00 CEST).
"""
from __future__ import annotations

import json

from shortener.store.sqlite.clicks import CLICK_COLUMNS

# The New York window: local 2026-03-07 00:00 (EST) to the end of local 2026-03-08 (EDT).
NY = {"start": "2026-03-07T00:00:00-05:00", "end": "2026-03-08T12:00:00-04:00", "timezone": "America/New_York"}

# (id, link, timestamp, country, region, city, device, browser, os, referer, qr)
CLICKS = [
    ("k01", "L1", "2026-03-07T06:30:00.000Z", "US", "NY", "New York", "Desktop", "Chrome", "Mac OS X", "google.com", 0),
    ("k02", "L1", "2026-03-07T06:45:00.000Z", "US", "NY", "New York", "Mobile", "Mobile Safari", "iOS", "google.com", 1),
    ("k03", "L1", "2026-03-08T06:30:00.000Z", "US", "CA", "Los Angeles", "Desktop", "Firefox", "Windows", "(direct)", 0),
    ("k04", "L1", "2026-03-08T07:30:00.000Z", "DE", "BE", "Berlin", "Desktop", "Chrome", "Windows", "twitter.com", 0),
    ("k05", "L2", "2026-03-08T07:45:00.000Z", "DE", "BE", "Berlin", "Mobile", "Chrome", "Android", "twitter.com", 0),
    ("k06", "L2", "2026-03-08T12:00:00.000Z", "FR", "IDF", "Paris", "Tablet", "Safari", "iOS", "(direct)", 1),
    ("k07", "L3", "2026-03-08T15:00:00.000Z", "JP", "13", "Tokyo", "Desktop", "Edge", "Windows", "bing.com", 0),
    ("k08", "L3", "2026-03-09T03:59:00.000Z", None, None, None, "Desktop", "Chrome", "Linux", "(direct)", 0),
    ("k09", "L4", "2026-03-08T20:00:00.000Z", "GB", "ENG", "London", "Mobile", "Chrome", "Android", "google.com", 0),
    # just outside the New York window, on either side
    ("k10", "L2", "2026-03-09T04:00:00.000Z", "US", "NY", "New York", "Desktop", "Chrome", "Mac OS X", "google.com", 0),
    ("k11", "L1", "2026-03-07T04:59:00.000Z", "US", "NY", "New York", "Desktop", "Chrome", "Mac OS X", "google.com", 0),
    # around Berlin's change
    ("k12", "L2", "2026-03-28T23:30:00.000Z", "DE", "BE", "Berlin", "Desktop", "Firefox", "Linux", "(direct)", 0),
    ("k13", "L2", "2026-03-29T22:30:00.000Z", "DE", "BE", "Berlin", "Desktop", "Firefox", "Linux", "(direct)", 0),
    ("k14", "L1", "2026-03-29T00:30:00.000Z", "AT", "9", "Vienna", "Mobile", "Chrome", "Android", "(direct)", 0),
    ("k15", "L1", "2026-03-29T01:30:00.000Z", "AT", "9", "Vienna", "Mobile", "Chrome", "Android", "(direct)", 0),
]

# (customer, click, event name, timestamp, metadata)
LEADS = [
    ("alice", "k01", "Sign up", "2026-03-07T07:00:00.000Z", {"plan": "pro"}),
    ("bob", "k05", "Sign up", "2026-03-08T08:00:00.000Z", {"plan": "free"}),
    ("carol", "k07", "Demo", "2026-03-08T16:00:00.000Z", None),
]
# (customer, click, amount, timestamp)
SALES = [
    ("alice", "k01", 5000, "2026-03-07T08:00:00.000Z"),
    ("alice", "k01", 2500, "2026-03-08T09:00:00.000Z"),
    ("bob", "k05", 1000, "2026-03-08T10:00:00.000Z"),
]

CONTINENT = {"US": "NA", "DE": "EU", "FR": "EU", "JP": "AS", "GB": "EU", "AT": "EU"}


def click_tuple(cid, link, at, country, region, city, device, browser, os_, referer, qr, links) -> tuple:
    row = {c: None for c in CLICK_COLUMNS}
    link_row = links[link]
    row.update({
        "id": cid, "link_id": link_row["id"], "domain": link_row["domain"], "key": link_row["key"],
        "url": link_row["url"] + (("&" if "?" in link_row["url"] else "?") + "via=qr" if qr else ""), "timestamp": at, "country": country,
        "device": device, "browser": browser, "os": os_, "referer": referer,
        "referer_url": "(direct)" if referer == "(direct)" else f"https://{referer}/page",
        "qr": qr, "trigger": "qr" if qr else "link", "ip": "81.2.69.0", "identity_hash": cid,
        "continent": CONTINENT.get(country), "region": region, "city": city,
    })
    return tuple(row[c] for c in CLICK_COLUMNS)


def seed(api, core, run) -> dict:
    """Create tags and links through the API, then clicks, leads and sales through the store."""
    tag_a = api.post("/api/tags", json={"name": "alpha"}).json()
    tag_b = api.post("/api/tags", json={"name": "beta"}).json()
    folders = {}
    for name in ("Spring", "Summer"):
        r = api.post("/api/folders", json={"name": name})
        assert r.status_code in (200, 201), r.text
        folders[name] = r.json()
    specs = {
        "L1": {"domain": "go.test", "key": "one", "url": "https://shop.example/one?ref=x",
               "tagIds": [tag_a["id"]], "utm_source": "news", "utm_medium": "email", "folderId": folders["Spring"]["id"]},
        "L2": {"domain": "go.test", "key": "two", "url": "https://shop.example/two",
               "tagIds": [tag_a["id"], tag_b["id"]], "utm_source": "ads", "folderId": folders["Summer"]["id"]},
        "L3": {"domain": "other.test", "key": "three", "url": "https://docs.example/three",
               "externalId": "ext3", "tenantId": "t1"},
        "L4": {"domain": "go.test", "key": "_root", "url": "https://home.example/"},
    }
    links = {}
    for name, body in specs.items():
        r = api.post("/api/links", json=body)
        assert r.status_code == 200, r.text
        links[name] = r.json()
    run(core.store.record_click_batch, [click_tuple(*c, links) for c in CLICKS])
    by_click = {c[0]: c for c in CLICKS}
    customers = {}
    for i, (who, cid, name, at, meta) in enumerate(LEADS):
        link = links[by_click[cid][1]]
        customer = {"id": f"cus_{who}", "external_id": who, "name": who.title(), "email": f"{who}@mail.test",
                    "avatar": None, "stripe_customer_id": None, "country": by_click[cid][3], "click_id": cid,
                    "link_id": link["id"], "clicked_at": by_click[cid][2], "created_at": at, "updated_at": at}
        customers[who] = customer
        event = {"id": f"lead{i:012d}", "customer_id": None, "click_id": cid, "link_id": link["id"],
                 "event_name": name, "metadata": json.dumps(meta) if meta else None, "timestamp": at}
        run(lambda **kw: core.store.record_lead(**kw), customer=customer, event_key=name.lower(), key_since=at,
            events=[event], link_id=link["id"], now=at)
    for i, (who, cid, amount, at) in enumerate(SALES):
        link = links[by_click[cid][1]]
        sale = {"id": f"sale{i:012d}", "customer_id": customers[who]["id"], "click_id": cid, "link_id": link["id"],
                "event_name": "Purchase", "amount": amount, "currency": "usd", "payment_processor": "stripe",
                "invoice_id": f"inv{i}", "metadata": None, "timestamp": at}
        run(lambda **kw: core.store.record_sale(**kw), sale=sale, invoice_since=at, new_customer=None,
            direct_lead=None, now=at, respond=lambda c: {})
    return {"links": links, "tags": {"alpha": tag_a, "beta": tag_b}, "folders": folders}
