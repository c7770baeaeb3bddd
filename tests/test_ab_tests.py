"""A/B destinations (Dub's testVariants): stored and returned as in Dub, a weighted and sticky
pick per visitor, the variant's URL on the click, and the winner after testCompletedAt."""
from __future__ import annotations

import datetime as dt

import pytest

from shortener.services.abtests import winner

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
VARIANTS = [{"url": "https://example.com/a", "percentage": 50},
            {"url": "https://example.com/b", "percentage": 30},
            {"url": "https://example.com/c?v=3", "percentage": 20}]


def _iso(delta: dt.timedelta) -> str:
    return (dt.datetime.now(dt.timezone.utc) + delta).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _visit(client, run, key: str, visitors) -> list[tuple[str, str]]:
    """(Location, dub_id) per visitor (ip, user agent), straight through the ASGI app: fast enough
    for 10,000 visitors."""
    app, core = client.app, client.app_state["core"]

    async def go():
        out = []
        for ip, ua in visitors:
            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                     "scheme": "http", "path": f"/{key}", "raw_path": f"/{key}".encode(), "query_string": b"",
                     "root_path": "", "headers": [(b"host", b"go.test"), (b"user-agent", ua.encode())],
                     "client": (ip, 40000), "server": ("go.test", 80), "state": {"core": core}}
            sent = []

            async def receive():
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message):
                sent.append(message)

            await app(scope, receive, send)
            headers = dict(sent[0]["headers"])
            cookie = headers.get(b"set-cookie", b"").decode()
            out.append((headers[b"location"].decode(), cookie.split(";")[0].partition("=")[2]))
        return out

    return run(go)


def test_variants_are_stored_and_returned_as_in_dub(api):
    r = api.post("/api/links", json={"url": "https://example.com/a", "key": "ab", "testVariants": VARIANTS,
                                     "testCompletedAt": "2031-01-01T00:00:00Z"})
    assert r.status_code == 200, r.text
    link = r.json()
    assert link["testVariants"] == VARIANTS
    assert link["testCompletedAt"] == "2031-01-01T00:00:00.000Z"
    assert link["testStartedAt"] is not None and link["testStartedAt"] <= _iso(dt.timedelta(0))
    assert api.get(f"/api/links/{link['id']}").json()["testVariants"] == VARIANTS

    bad = [
        ({"testVariants": VARIANTS[:1]}, "testVariants"),
        ({"testVariants": VARIANTS * 2}, "testVariants"),
        ({"testVariants": [{"url": "https://example.com/x", "percentage": 50},
                           {"url": "https://example.com/y", "percentage": 40}]}, "testVariants"),
        ({"testVariants": [{"url": "https://example.com/x", "percentage": 95},
                           {"url": "https://example.com/y", "percentage": 5}]}, "testVariants.0.percentage"),
        ({"testVariants": [{"url": "javascript:alert(1)", "percentage": 50},
                           {"url": "https://example.com/y", "percentage": 50}]}, "testVariants.0.url"),
        ({"testVariants": "a,b"}, "testVariants"),
        ({"testCompletedAt": "soon"}, "testCompletedAt"),
        ({"testCompletedAt": "2020-01-01T00:00:00Z"}, "testCompletedAt"),  # before testStartedAt
        ({"testVariants": VARIANTS, "testCompletedAt": None}, "testCompletedAt"),
    ]
    for body, field in bad:
        r = api.patch(f"/api/links/{link['id']}", json=body)
        assert r.status_code == 422, (body, r.text)
        assert f": {field}:" in r.json()["error"]["message"], (body, r.json())
    r = api.post("/api/links", json={"url": "https://example.com/n", "testVariants": VARIANTS})
    assert r.status_code == 422 and ": testCompletedAt:" in r.json()["error"]["message"]
    assert api.get(f"/api/links/{link['id']}").json()["testVariants"] == VARIANTS

    cleared = api.patch(f"/api/links/{link['id']}", json={"testVariants": None}).json()
    assert (cleared["testVariants"], cleared["testStartedAt"], cleared["testCompletedAt"]) == (None, None, None)
    plain = api.post("/api/links", json={"url": "https://example.com/p"}).json()
    assert (plain["testVariants"], plain["testStartedAt"], plain["testCompletedAt"]) == (None, None, None)


def test_ten_thousand_visitors_split_by_weight_and_repeat_visitors_stay(api, client, core, run):
    link = api.post("/api/links", json={"url": "https://example.com/a", "key": "split", "testVariants": VARIANTS,
                                        "testStartedAt": _iso(-dt.timedelta(hours=1)),
                                        "testCompletedAt": _iso(dt.timedelta(days=1))}).json()
    visitors = [(f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}", f"{UA} v{i}") for i in range(10_000)]
    answers = _visit(client, run, "split", visitors)
    counts = {v["url"]: 0 for v in VARIANTS}
    for location, _ in answers:
        counts[location.split("&dub_id")[0]] += 1
    for v in VARIANTS:
        share = counts[v["url"]] / len(visitors) * 100
        assert abs(share - v["percentage"]) <= 2, (v, share, counts)
    assert len({cid for _, cid in answers}) == 10_000

    # the same visitor again (inside the dedup window): the same click id, the same variant
    again = _visit(client, run, "split", visitors[:200] * 3)
    assert again == answers[:200] * 3

    # each click records the URL of its variant (the analytics' top_urls compare the variants)
    run(core.clicks.flush)
    clicks, _ = run(core.store.ab_test_results, link["id"], "", "9999")
    assert sorted(clicks) == sorted(counts.items())
    assert api.get(f"/api/links/{link['id']}").json()["clicks"] == 10_000
    # ... as the analytics API shows them: one top_urls row per variant
    top = api.get("/api/analytics", params={"event": "clicks", "groupBy": "top_urls", "linkId": link["id"],
                                            "interval": "all"}).json()
    assert sorted((row["url"], row["clicks"]) for row in top) == sorted(counts.items())


def test_the_winner_is_served_after_completion(api, client, core, run):
    link = api.post("/api/links", json={"url": "https://example.com/a", "key": "win", "testVariants": VARIANTS,
                                        "testStartedAt": _iso(-dt.timedelta(hours=1)),
                                        "testCompletedAt": _iso(dt.timedelta(days=1))}).json()
    answers = _visit(client, run, "win", [(f"10.9.0.{i}", UA) for i in range(200)])
    by_variant: dict[str, list[str]] = {}
    for location, cid in answers:
        by_variant.setdefault(location, []).append(cid)
    # variant c gets fewer clicks than a and b but the most leads
    c_clicks = by_variant["https://example.com/c?v=3"]
    a_clicks = by_variant["https://example.com/a"]
    for i, cid in enumerate(c_clicks[:3] + a_clicks[:2]):
        r = api.post("/api/track/lead", json={"clickId": cid, "eventName": "Sign up", "customerExternalId": f"u{i}"})
        assert r.status_code == 200, r.text

    api.patch(f"/api/links/{link['id']}", json={"testCompletedAt": _iso(dt.timedelta(0))})
    location, _ = _visit(client, run, "win", [("10.8.0.1", UA)])[0]
    assert location == "https://example.com/c?v=3"
    after = api.get(f"/api/links/{link['id']}").json()
    assert after["url"] == "https://example.com/c?v=3"
    assert after["testVariants"] == VARIANTS and after["testCompletedAt"] is not None
    # later visitors, old and new, all get the winner
    assert {loc for loc, _ in _visit(client, run, "win", [(f"10.9.0.{i}", UA) for i in range(50)])} == {
        "https://example.com/c?v=3"}


@pytest.mark.parametrize("clicks,leads,expected", [
    ([("https://example.com/a", 5), ("https://example.com/b", 9)], [], 1),            # most clicks
    ([("https://example.com/a", 5), ("https://example.com/b", 9)], [("https://example.com/a?x=1&dub_id=q", 1)], 0),
    ([("https://example.com/a", 4), ("https://example.com/b", 4)], [], 0),            # a tie goes to the first
    ([], [], 0),
    ([("https://example.com/b/?utm=1", 3), ("https://other.example/b", 7)], [], 1),   # query and slash ignored
])
def test_winner_rule(clicks, leads, expected):
    assert winner(["https://example.com/a", "https://example.com/b"], clicks, leads) == expected


def test_links_without_variants_keep_the_plain_path(api, core, run):
    link = api.post("/api/links", json={"url": "https://example.com/fast", "key": "fast"}).json()
    cached = core.link_cache.link("go.test", "fast")
    assert cached.plain and cached.variants is None
    api.patch(f"/api/links/{link['id']}", json={"testVariants": [
        {"url": "https://example.com/x", "percentage": 50}, {"url": "https://example.com/y", "percentage": 50}],
        "testCompletedAt": _iso(dt.timedelta(days=1))})
    cached = core.link_cache.link("go.test", "fast")
    assert not cached.plain and cached.variants == (("https://example.com/x", 5000), ("https://example.com/y", 10000))
