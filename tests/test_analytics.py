"""GET /analytics and GET /events on a known data set (tests/analytics_support.py): exact figures for
every groupBy and event, time zones across DST changes, Dub's list and exclusion filters, and the
official SDK parsing every answer."""
from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from shortener.analytics import GROUP_BYS
from shortener.config import Settings
from shortener.timeutil import utcnow
from shortener.web.app import create_app

from analytics_support import NY, seed

ZERO = {"leads": 0, "sales": 0, "saleAmount": 0}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    settings = Settings(data_dir=str(tmp_path_factory.mktemp("analytics") / "data"), domain="go.test",
                        extra_domains=("other.test",), sqlite_synchronous="normal", click_flush_ms=20)
    with TestClient(create_app(settings), base_url="http://go.test", follow_redirects=False) as client:
        core = client.app_state["core"]

        def run(fn, *args, **kwargs):
            return client.portal.call(lambda: fn(*args, **kwargs))

        _, key = run(core.api_keys.create, "tests")
        client.headers["Authorization"] = f"Bearer {key}"
        data = seed(client, core, run)
        yield client, data, key


def get(client, path, **params):
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def analytics(client, **params):
    return get(client, "/api/analytics", **{**NY, **params})


def clicks(n):
    return {"clicks": n, **ZERO}


# --- figures per groupBy ---------------------------------------------------------------------------


def test_count_for_each_event(world):
    client, _, _ = world
    assert analytics(client) == clicks(9)
    assert analytics(client, event="leads") == {"clicks": 0, "leads": 3, "sales": 0, "saleAmount": 0}
    assert analytics(client, event="sales") == {"clicks": 0, "leads": 0, "sales": 3, "saleAmount": 8500}
    assert analytics(client, event="composite") == {"clicks": 9, "leads": 3, "sales": 3, "saleAmount": 8500}


def test_geo_groups(world):
    client, _, _ = world
    assert analytics(client, groupBy="countries") == [
        {"country": c, "region": "*", "city": "*", **clicks(n)}
        for c, n in [("US", 3), ("DE", 2), ("FR", 1), ("GB", 1), ("JP", 1), ("Unknown", 1)]]
    assert analytics(client, groupBy="continents") == [
        {"continent": c, **clicks(n)} for c, n in [("EU", 4), ("NA", 3), ("AS", 1)]]
    assert analytics(client, groupBy="regions") == [
        {"country": c, "region": r, "city": "*", **clicks(n)}
        for c, r, n in [("DE", "DE-BE", 2), ("US", "US-NY", 2), ("FR", "FR-IDF", 1), ("GB", "GB-ENG", 1),
                        ("JP", "JP-13", 1), ("US", "US-CA", 1)]]
    assert analytics(client, groupBy="cities") == [
        {"country": c, "region": r, "city": city, **clicks(n)}
        for c, r, city, n in [("DE", "DE-BE", "Berlin", 2), ("US", "US-NY", "New York", 2),
                              ("FR", "FR-IDF", "Paris", 1), ("GB", "GB-ENG", "London", 1),
                              ("JP", "JP-13", "Tokyo", 1), ("US", "US-CA", "Los Angeles", 1)]]


def test_visitor_groups(world):
    client, _, _ = world
    assert analytics(client, groupBy="devices") == [
        {"device": d, **clicks(n)} for d, n in [("Desktop", 5), ("Mobile", 3), ("Tablet", 1)]]
    assert analytics(client, groupBy="browsers") == [
        {"browser": b, **clicks(n)}
        for b, n in [("Chrome", 5), ("Edge", 1), ("Firefox", 1), ("Mobile Safari", 1), ("Safari", 1)]]
    assert analytics(client, groupBy="os") == [
        {"os": o, **clicks(n)} for o, n in [("Windows", 3), ("Android", 2), ("iOS", 2), ("Linux", 1), ("Mac OS X", 1)]]
    expected_triggers = [{"trigger": "link", **clicks(7)}, {"trigger": "qr", **clicks(2)}]
    assert analytics(client, groupBy="triggers") == expected_triggers
    assert analytics(client, groupBy="trigger") == expected_triggers
    assert analytics(client, groupBy="referers") == [
        {"referer": r, **clicks(n)} for r, n in [("(direct)", 3), ("google.com", 3), ("twitter.com", 2), ("bing.com", 1)]]
    assert analytics(client, groupBy="referer_urls") == [
        {"refererUrl": r, **clicks(n)} for r, n in [("(direct)", 3), ("https://google.com/page", 3),
                                                     ("https://twitter.com/page", 2), ("https://bing.com/page", 1)]]


def test_link_groups(world):
    client, data, _ = world
    links, tags = data["links"], data["tags"]
    top = analytics(client, groupBy="top_links")
    assert [(t["id"], t["clicks"]) for t in top] == [
        (links["L1"]["id"], 4), (links["L2"]["id"], 2), (links["L3"]["id"], 2), (links["L4"]["id"], 1)]
    assert top[0] == {"link": links["L1"]["id"], "id": links["L1"]["id"], "domain": "go.test", "key": "one",
                      "shortLink": "http://go.test/one", "url": links["L1"]["url"], "title": None, "comments": None,
                      "folderId": data["folders"]["Spring"]["id"], "partnerId": None, "createdAt": links["L1"]["createdAt"], **clicks(4)}
    u1, u2, u3, u4 = (links[n]["url"] for n in ("L1", "L2", "L3", "L4"))
    assert {(t["url"], t["clicks"]) for t in analytics(client, groupBy="top_urls")} == {
        (u1, 3), (u1 + "&via=qr", 1), (u2, 1), (u2 + ("&" if "?" in u2 else "?") + "via=qr", 1), (u3, 2), (u4, 1)}
    assert analytics(client, groupBy="top_base_urls") == [
        {"url": u, **clicks(n)} for u, n in [("https://shop.example/one", 4), ("https://docs.example/three", 2),
                                              ("https://shop.example/two", 2), ("https://home.example/", 1)]]
    assert analytics(client, groupBy="top_domains") == [
        {"domain": "go.test", "url": "go.test", **clicks(7)}, {"domain": "other.test", "url": "other.test", **clicks(2)}]
    a, b = tags["alpha"], tags["beta"]
    assert analytics(client, groupBy="top_link_tags") == [
        {"tagId": a["id"], "tag": {"id": a["id"], "name": "alpha", "color": a["color"]}, "url": a["id"], **clicks(6)},
        {"tagId": b["id"], "tag": {"id": b["id"], "name": "beta", "color": b["color"]}, "url": b["id"], **clicks(2)}]
    spring, summer = data["folders"]["Spring"]["id"], data["folders"]["Summer"]["id"]
    assert analytics(client, groupBy="top_folders") == [
        {"folderId": f, "folder": {"id": f, "name": name}, "url": f, **clicks(n)}
        for f, name, n in [(spring, "Spring", 4), (summer, "Summer", 2)]]
    assert analytics(client, groupBy="utm_sources") == [
        {"utm_source": s, "url": s, **clicks(n)} for s, n in [("news", 4), ("ads", 2)]]
    assert analytics(client, groupBy="utm_mediums") == [{"utm_medium": "email", "url": "email", **clicks(4)}]
    for empty in ("utm_campaigns", "utm_terms", "utm_contents", "top_partners", "top_groups", "top_partner_tags",
                  "event_names"):
        assert analytics(client, groupBy=empty) == [], empty


def test_leads_sales_and_composite_groups(world):
    client, data, _ = world
    assert analytics(client, event="leads", groupBy="countries") == [
        {"country": c, "region": "*", "city": "*", "clicks": 0, "leads": 1, "sales": 0, "saleAmount": 0}
        for c in ("DE", "JP", "US")]
    assert analytics(client, event="sales", groupBy="countries") == [
        {"country": "US", "region": "*", "city": "*", "clicks": 0, "leads": 0, "sales": 2, "saleAmount": 7500},
        {"country": "DE", "region": "*", "city": "*", "clicks": 0, "leads": 0, "sales": 1, "saleAmount": 1000}]
    assert [(r["country"], r["clicks"], r["leads"], r["sales"], r["saleAmount"])
            for r in analytics(client, event="composite", groupBy="countries")] == [
        ("US", 3, 1, 2, 7500), ("DE", 2, 1, 1, 1000), ("JP", 1, 1, 0, 0), ("FR", 1, 0, 0, 0), ("GB", 1, 0, 0, 0),
        ("Unknown", 1, 0, 0, 0)]
    assert analytics(client, event="leads", groupBy="event_names") == [
        {"eventName": "Sign up", "clicks": 0, "leads": 2, "sales": 0, "saleAmount": 0},
        {"eventName": "Demo", "clicks": 0, "leads": 1, "sales": 0, "saleAmount": 0}]
    assert analytics(client, event="sales", groupBy="event_names") == [
        {"eventName": "Purchase", "clicks": 0, "leads": 0, "sales": 3, "saleAmount": 8500}]
    assert [(t["key"], t["clicks"], t["leads"], t["sales"], t["saleAmount"])
            for t in analytics(client, event="composite", groupBy="top_links")] == [
        ("one", 4, 1, 2, 7500), ("two", 2, 1, 1, 1000), ("three", 2, 1, 0, 0), ("_root", 1, 0, 0, 0)]
    assert [(t["trigger"], t["leads"]) for t in analytics(client, event="leads", groupBy="triggers")] == [("link", 3)]


# --- time: buckets in the requested zone, across DST -----------------------------------------------


def test_hourly_timeseries_over_new_york_spring_forward(world):
    client, _, _ = world
    series = analytics(client, groupBy="timeseries")
    # local 2026-03-07 (24 hours EST) and 2026-03-08 (23 hours: 02:00 EST jumps to 03:00 EDT)
    assert len(series) == 47
    assert series[0]["start"] == "2026-03-07T05:00:00.000Z" and series[-1]["start"] == "2026-03-09T03:00:00.000Z"
    nonzero = {s["start"]: s["clicks"] for s in series if s["clicks"]}
    assert nonzero == {"2026-03-07T06:00:00.000Z": 2, "2026-03-08T06:00:00.000Z": 1, "2026-03-08T07:00:00.000Z": 2,
                       "2026-03-08T12:00:00.000Z": 1, "2026-03-08T15:00:00.000Z": 1, "2026-03-08T20:00:00.000Z": 1,
                       "2026-03-09T03:00:00.000Z": 1}
    assert all(set(s) == {"start", "clicks", "leads", "sales", "saleAmount"} for s in series)


def test_daily_timeseries_in_two_zones(world):
    client, _, _ = world
    series = get(client, "/api/analytics", groupBy="timeseries", event="composite", timezone="America/New_York",
                 start="2026-03-01T00:00:00-05:00", end="2026-03-31T12:00:00-04:00")
    assert len(series) == 31
    starts = [s["start"] for s in series]
    assert starts[0] == "2026-03-01T05:00:00.000Z" and starts[7] == "2026-03-08T05:00:00.000Z"
    assert starts[8] == "2026-03-09T04:00:00.000Z" and starts[-1] == "2026-03-31T04:00:00.000Z"
    by_day = {s["start"][:10]: (s["clicks"], s["leads"], s["sales"], s["saleAmount"]) for s in series if s["clicks"] or s["leads"]}
    assert by_day == {"2026-03-06": (1, 0, 0, 0), "2026-03-07": (2, 1, 1, 5000), "2026-03-08": (7, 2, 2, 3500),
                      "2026-03-09": (1, 0, 0, 0), "2026-03-28": (3, 0, 0, 0), "2026-03-29": (1, 0, 0, 0)}
    assert sum(s["clicks"] for s in series) == 15

    berlin = get(client, "/api/analytics", groupBy="timeseries", timezone="Europe/Berlin",
                 start="2026-03-27T00:00:00+01:00", end="2026-03-31T00:00:00+02:00")
    assert [(s["start"], s["clicks"]) for s in berlin] == [
        ("2026-03-26T23:00:00.000Z", 0), ("2026-03-27T23:00:00.000Z", 0), ("2026-03-28T23:00:00.000Z", 3),
        ("2026-03-29T22:00:00.000Z", 1), ("2026-03-30T22:00:00.000Z", 0)]
    # the same clicks by UTC day
    utc = get(client, "/api/analytics", groupBy="timeseries", timezone="UTC", start="2026-03-27", end="2026-03-30")
    assert [(s["start"], s["clicks"]) for s in utc] == [
        ("2026-03-27T00:00:00.000Z", 0), ("2026-03-28T00:00:00.000Z", 1), ("2026-03-29T00:00:00.000Z", 3),
        ("2026-03-30T00:00:00.000Z", 0)]
    # A day without a time is that day in the zone (it was UTC's: New York's March ran from
    # Feb 28 19:00 to Mar 30 20:00 local, and the 31st was missing).
    days = get(client, "/api/analytics", groupBy="timeseries", event="composite", timezone="America/New_York",
               start="2026-03-01", end="2026-03-31")
    assert days == series
    assert get(client, "/api/analytics", timezone="America/New_York", start="20260308", end="2026-03-08") == (
        get(client, "/api/analytics", timezone="America/New_York", start="2026-03-08T00:00:00-05:00",
            end="2026-03-08T12:00:00-04:00")) == {"clicks": 7, **ZERO}
    assert len(get(client, "/api/events", timezone="America/New_York", start="2026-03-08", end="2026-03-08")) == 7
    hourly = get(client, "/api/analytics", groupBy="timeseries", timezone="Europe/Berlin",
                 start="2026-03-29T00:00:00+01:00", end="2026-03-29T12:00:00+02:00")
    assert len(hourly) == 23  # 02:00 CET never happened
    assert [s["clicks"] for s in hourly[:4]] == [1, 1, 1, 0] and sum(s["clicks"] for s in hourly) == 3


def test_intervals_and_granularity(world):
    client, _, _ = world
    assert len(get(client, "/api/analytics", groupBy="timeseries")) in (24, 25)  # default 24h, hourly
    assert len(get(client, "/api/analytics", groupBy="timeseries", interval="7d")) in (7, 8)
    assert len(get(client, "/api/analytics", groupBy="timeseries", interval="90d")) in (90, 91)
    assert len(get(client, "/api/analytics", groupBy="timeseries", interval="1y")) in (12, 13)
    assert get(client, "/api/analytics", interval="all") == clicks(15)
    monthly = get(client, "/api/analytics", interval="all", groupBy="timeseries", timezone="Asia/Tokyo")
    assert monthly[0]["start"] == "2026-02-28T15:00:00.000Z"  # March 1st in Tokyo
    assert sum(m["clicks"] for m in monthly) == 15
    for interval in ("24h", "7d", "30d", "mtd", "qtd"):
        assert get(client, "/api/analytics", interval=interval) == clicks(0), interval
    assert get(client, "/api/analytics", interval="ytd") == clicks(15 if utcnow().year == 2026 else 0)


def test_bad_input_is_a_clear_422(world):
    client, _, _ = world
    for params in ({"groupBy": "planets"}, {"event": "views"}, {"interval": "2w"}, {"timezone": "Mars/Base"},
                   {"start": "yesterday"}, {"continent": "XX"}, {"trigger": "email"}, {"qr": "maybe"},
                   {"saleType": "old"}, {"query": "plan = pro"},
                   # 84,000 monthly buckets held the event loop (and every redirect) for seconds
                   {"groupBy": "timeseries", "start": "1970-01-01", "end": "9000-12-31"}):
        r = client.get("/api/analytics", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["code"] == "unprocessable_entity"
        r = client.get("/api/events", params=params)
        assert r.status_code == 422 or "groupBy" in params, (params, r.text)
    assert client.get("/api/analytics", headers={"authorization": ""}).status_code == 401
    r = client.get("/api/analytics", params={"groupBy": "timeseries", "start": "1970-01-01", "end": "9000-12-31"})
    assert r.json()["error"]["message"] == (
        "too_big: start: This range has 84,372 monthly buckets; a timeseries has at most 1,200 (100 years). "
        "Choose a later start or an earlier end.")
    # The same range counts fine (no buckets), and a century of months is still a timeseries.
    assert get(client, "/api/analytics", start="1970-01-01", end="9000-12-31") == clicks(15)
    century = get(client, "/api/analytics", groupBy="timeseries", start="1970-01-01", end="2069-12-31")
    assert len(century) == 1200 and sum(m["clicks"] for m in century) == 15


# --- filters: /events and /analytics through the same parser -----------------------------------------

ALL = {"start": "2026-03-01", "end": "2026-04-30"}


def _filter_cases(data):
    links, tags = data["links"], data["tags"]
    l1, l2 = links["L1"]["id"], links["L2"]["id"]
    spring = data["folders"]["Spring"]["id"]
    return [
        ({"country": "US"}, 5), ({"country": "us,DE"}, 9), ({"country": "-US"}, 10), ({"country": "-US,DE"}, 6),
        ({"linkId": f"{l1},{l2}"}, 12), ({"linkId": f"-{l1}"}, 8), ({"linkId": "ext_ext3"}, 2),
        ({"continent": "EU"}, 8), ({"continent": "-EU"}, 7), ({"region": "US-NY"}, 4), ({"city": "Berlin"}, 4),
        ({"city": "-Berlin,Vienna"}, 9), ({"device": "mobile"}, 5), ({"browser": "Chrome"}, 9),
        ({"os": "-Windows"}, 12), ({"referer": "google.com"}, 5), ({"refererUrl": "https://twitter.com/page"}, 2),
        ({"trigger": "qr"}, 2), ({"qr": "true"}, 2), ({"qr": "false"}, 13), ({"tagIds": tags["beta"]["id"]}, 5),
        ({"tagId": tags["alpha"]["id"]}, 12), ({"tagIds": "-" + tags["beta"]["id"]}, 10),
        ({"folderId": spring}, 7), ({"folderId": "-" + spring}, 8), ({"domain": "other.test"}, 2),
        ({"domain": "-other.test"}, 13), ({"domain": "OTHER.test."}, 2), ({"domain": "other.test.:"}, 0), ({"key": "three"}, 2), ({"key": "/three/"}, 2), ({"externalId": "ext_ext3"}, 2),
        ({"tenantId": "t1"}, 2), ({"root": "true"}, 1), ({"root": "false"}, 14), ({"utm_source": "news"}, 7),
        ({"utm_source": "-news"}, 8), ({"utm_medium": "email"}, 7), ({"url": links["L3"]["url"]}, 2),
        ({"customerId": "cus_alice"}, 1), ({"groupId": "grp_1"}, 0), ({"partnerTagId": "-pt_1"}, 15),
        ({"country": "US", "device": "Desktop", "referer": "-google.com"}, 1),
    ]


def test_event_filters_agree_with_analytics(world):
    client, data, _ = world
    assert len(get(client, "/api/events", **ALL, limit=1000)) == 15
    for params, expected in _filter_cases(data):
        events = get(client, "/api/events", **ALL, **params, limit=1000)
        assert len(events) == expected, params
        assert get(client, "/api/analytics", **ALL, **params)["clicks"] == expected, params


def test_every_breakdown_row_can_be_asked_for_as_a_filter(world):
    """A row's value used as the filter gives that row's figure, missing values included
    (`Unknown`, `(direct)`, `link`): country=Unknown found nothing while the group showed clicks."""
    client, _, _ = world
    checked = set()
    for group_by, field, param in (("countries", "country", "country"), ("devices", "device", "device"),
                                   ("browsers", "browser", "browser"), ("os", "os", "os"),
                                   ("referers", "referer", "referer"), ("referer_urls", "refererUrl", "refererUrl"),
                                   ("triggers", "trigger", "trigger")):
        for row in get(client, "/api/analytics", **ALL, groupBy=group_by):
            value = row[field]
            if "," in value or value.startswith("-"):
                continue  # no filter can name it (Dub's syntax)
            assert get(client, "/api/analytics", **ALL, **{param: value})["clicks"] == row["clicks"], (group_by, value)
            assert len(get(client, "/api/events", **ALL, **{param: value}, limit=1000)) == row["clicks"]
            excluded = get(client, "/api/analytics", **ALL, **{param: "-" + value})["clicks"]
            assert excluded == 15 - row["clicks"], (group_by, value)
            checked.add(value)
    assert {"Unknown", "(direct)", "link"} <= checked


def test_lead_and_sale_filters(world):
    client, _, _ = world
    cases = [
        ("leads", {"eventName": "Sign up"}, 2), ("leads", {"eventName": "-Sign up"}, 1),
        ("leads", {"query": "metadata['plan']:'pro'"}, 1),
        ("leads", {"query": "metadata['plan']:'pro' OR metadata.plan:free"}, 2),
        ("leads", {"customerId": "cus_bob"}, 1), ("leads", {"country": "DE"}, 1), ("leads", {"country": "-DE"}, 2),
        ("sales", {"saleType": "new"}, 2), ("sales", {"saleType": "recurring"}, 1),
        ("sales", {"customerId": "cus_alice"}, 2), ("sales", {"device": "Mobile"}, 1),
    ]
    for event, params, expected in cases:
        events = get(client, "/api/events", event=event, **ALL, **params)
        assert len(events) == expected, (event, params)
        figures = get(client, "/api/analytics", event=event, **ALL, **params)
        assert figures[event] == expected, (event, params)
    sale = get(client, "/api/events", event="sales", **ALL, saleType="recurring")[0]
    assert sale["saleAmount"] == 2500 and sale["click"]["region"] == "US-NY" and sale["click"]["continent"] == "NA"


# --- the official SDK ---------------------------------------------------------------------------------


def test_sdk_parses_every_answer(world):
    from dub import Dub
    from dub.models import components

    client, _, key = world
    sdk = Dub(token=key, server_url="http://go.test/api", client=client)
    window = {"start": NY["start"], "end": NY["end"], "timezone": NY["timezone"]}
    for event in ("clicks", "leads", "sales", "composite"):
        for group_by in GROUP_BYS:
            result = sdk.analytics.retrieve(request={"event": event, "group_by": group_by, **window})
            if group_by == "count":
                assert isinstance(result, components.AnalyticsCount)
            else:
                assert isinstance(result, list), (event, group_by)
    count = sdk.analytics.retrieve(request={"event": "composite", **window})
    assert (count.clicks, count.leads, count.sales, count.sale_amount) == (9, 3, 3, 8500)
    countries = sdk.analytics.retrieve(request={"group_by": "countries", "country": "-US", **window})
    assert [(c.country, c.clicks) for c in countries] == [("DE", 2), ("FR", 1), ("GB", 1), ("JP", 1), ("Unknown", 1)]
    series = sdk.analytics.retrieve(request={"group_by": "timeseries", **window})
    assert len(series) == 47 and sum(s.clicks for s in series) == 9
    events = sdk.events.list(request={"event": "clicks", "country": "US,DE", **window})
    assert len(events) == 5
