"""POST /api/track/click (Dub's client-side click tracking): publishable key, CORS limited to the
allowed hostnames, a deduplicated click that shows in /events, and the landing-page script."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from starlette.testclient import TestClient

from shortener.web.app import create_app

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


@pytest.fixture
def shop(settings):
    """An app that lets pages on shop.example (and its subdomains) track clicks; a link `launch`."""
    app = create_app(settings.replace(track_allowed_hostnames=("shop.example", "*.blog.example")))
    with TestClient(app, base_url="http://go.test", follow_redirects=False) as c:
        core = c.app_state["core"]
        _, secret = c.portal.call(lambda: core.api_keys.create("backend"))
        _, c.pk = c.portal.call(lambda: core.api_keys.create("site", publishable=True))
        c.secret = {"Authorization": f"Bearer {secret}"}
        c.link = c.post("/api/links", headers=c.secret, json={"url": "https://shop.example/", "key": "launch"}).json()
        c.core = core
        yield c


def _post(c, origin: str | None, body: dict | None = None, *, key: str | None = "pk", ua: str = UA, ip=None):
    headers = {"user-agent": ua}
    if origin:
        headers["origin"] = origin
    if key == "pk":
        headers["authorization"] = f"Bearer {c.pk}"
    elif key:
        headers["authorization"] = key
    body = body if body is not None else {"domain": "go.test", "key": "launch",
                                          "url": "https://shop.example/pricing?via=launch"}
    return c.post("/api/track/click", headers=headers, json=body)


def test_allowed_origin_records_a_click_that_shows_in_events(shop):
    r = _post(shop, "https://shop.example", {"domain": "go.test", "key": "launch",
                                             "url": "https://shop.example/pricing?via=launch",
                                             "referrer": "https://news.example/post"})
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == "https://shop.example"
    assert r.headers["vary"] == "Origin" and "POST" in r.headers["access-control-allow-methods"]
    body = r.json()
    click_id = body["clickId"]
    assert len(click_id) == 16 and click_id.isalnum()
    assert body["link"] == {"id": shop.link["id"], "domain": "go.test", "key": "launch", "url": "https://shop.example/"}
    assert body["partner"] is None and body["discount"] is None

    # the same visitor again inside the dedup window: the same click, counted once
    assert _post(shop, "https://shop.example").json()["clickId"] == click_id
    # a subdomain allowed by *.blog.example, another visitor
    other = _post(shop, "https://www.en.blog.example", ua=UA + " other")
    assert other.status_code == 200 and other.json()["clickId"] != click_id

    shop.portal.call(shop.core.clicks.flush)
    events = shop.get("/api/events?event=clicks&linkId=" + shop.link["id"], headers=shop.secret).json()
    assert sorted(e["click"]["id"] for e in events) == sorted([click_id, other.json()["clickId"]])
    mine = next(e for e in events if e["click"]["id"] == click_id)
    assert mine["click"]["url"] == "https://shop.example/pricing?via=launch"
    assert mine["click"]["refererUrl"] == "https://news.example/post"
    assert shop.get(f"/api/links/{shop.link['id']}", headers=shop.secret).json()["clicks"] == 2

    # a lead on the client-side click attributes to the link
    lead = shop.post("/api/track/lead", headers=shop.secret, json={"clickId": click_id, "eventName": "Sign up",
                                                                   "customerExternalId": "u1"})
    assert lead.status_code == 200 and lead.json()["link"]["id"] == shop.link["id"]


def test_refused_origin_gets_403_without_cors_headers_and_records_nothing(shop):
    for origin in ("https://evil.example", "https://shop.example.evil.example", "https://blog.example", "null"):
        r = _post(shop, origin)
        assert r.status_code == 403, (origin, r.text)
        assert r.json()["error"]["code"] == "forbidden"
        assert "access-control-allow-origin" not in r.headers
        pre = shop.options("/api/track/click", headers={"origin": origin, "access-control-request-method": "POST"})
        assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers
    # no Origin and no Referer (not a browser page): refused as well
    assert _post(shop, None).status_code == 403
    shop.portal.call(shop.core.clicks.flush)
    assert shop.get("/api/events?event=clicks", headers=shop.secret).json() == []


def test_preflight_from_an_allowed_origin(shop):
    r = shop.options("/api/track/click", headers={"origin": "https://shop.example",
                                                  "access-control-request-method": "POST",
                                                  "access-control-request-headers": "content-type, authorization"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "https://shop.example"
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    assert r.headers["access-control-allow-methods"] == "POST, OPTIONS"


def test_publishable_key_is_the_only_key_accepted(shop):
    # no key at all is Dub's unmodified script: tests/test_track_click_keyless.py
    secret = shop.secret["Authorization"]
    r = _post(shop, "https://shop.example", key=secret)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
    r = _post(shop, "https://shop.example", key="Bearer dub_pk_" + "x" * 24)
    assert r.status_code == 401
    # errors to an allowed page carry CORS headers, so the page can read them
    assert r.headers["access-control-allow-origin"] == "https://shop.example"


def test_bad_bodies_and_unknown_links(shop):
    cases = [({"key": "launch"}, 422), ({"domain": "go.test"}, 422), ({"domain": 5, "key": "launch"}, 422),
             ({"domain": "go.test", "key": "nope"}, 404), ({"domain": "nowhere.test", "key": "launch"}, 404),
             ({"domain": "go.test", "key": "launch", "url": True}, 422)]
    for body, status in cases:
        r = _post(shop, "https://shop.example", body)
        assert r.status_code == status, (body, r.text)
    # a bot is answered but not counted
    r = _post(shop, "https://shop.example", ua="Googlebot/2.1 (+http://www.google.com/bot.html)")
    assert r.status_code == 200
    shop.portal.call(shop.core.clicks.flush)
    assert shop.get(f"/api/links/{shop.link['id']}", headers=shop.secret).json()["clicks"] == 0


def test_a_password_protected_or_expired_link_is_not_tracked_and_its_destination_not_shown(shop):
    """The answer carries the link's destination: a password protects it, and an expired link's
    redirect leads elsewhere (410 here). Both answer as an unknown link would, and count nothing."""
    secret = shop.post("/api/links", headers=shop.secret, json={
        "url": "https://shop.example/members", "key": "locked", "password": "hunter22"}).json()
    gone = shop.post("/api/links", headers=shop.secret, json={
        "url": "https://shop.example/sale", "key": "over", "expiresAt": "2020-01-01T00:00:00Z"}).json()
    assert shop.get("/over", headers={"user-agent": UA}).status_code == 410
    for key in ("locked", "over"):
        r = _post(shop, "https://shop.example", {"domain": "go.test", "key": key})
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "not_found" and "shop.example" not in r.text
    shop.portal.call(shop.core.clicks.flush)
    for link in (secret, gone):
        assert shop.get(f"/api/links/{link['id']}", headers=shop.secret).json()["clicks"] == 0
    assert _post(shop, "https://shop.example").status_code == 200  # the plain link still is


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the script")
def test_the_landing_page_script_tracks_via_and_keeps_the_click_id(shop):
    """The script on https://shop.example/?via=launch posts to /track/click (stubbed fetch, whose
    request is then replayed against the app) and stores the answer as the dub_id cookie."""
    script = shop.get("/_/script.js").text
    attrs = {"data-domain": "go.test", "data-publishable-key": shop.pk}
    harness = f"""
    const url = new URL("https://shop.example/pricing?via=launch");
    const attrs = {json.dumps(attrs)};
    let written = null, request = null;
    global.window = {{ location: {{ search: url.search, hostname: url.hostname, protocol: url.protocol,
                                    href: url.href, origin: url.origin }}, fetch: true }};
    global.document = {{
      currentScript: {{ src: "https://go.test/_/script.js", getAttribute: (n) => attrs[n] || null }},
      referrer: "https://news.example/",
      get cookie() {{ return ""; }},
      set cookie(v) {{ written = v; }},
    }};
    global.fetch = (u, init) => {{
      request = {{ url: u, init }};
      return Promise.resolve({{ ok: true, json: () => Promise.resolve({{ clickId: "FromServer123456" }}) }});
    }};
    {script}
    setTimeout(() => console.log(JSON.stringify({{ written, request }})), 50);
    """
    out = json.loads(subprocess.run(["node", "-e", harness], capture_output=True, text=True, check=True,
                                    timeout=30).stdout)
    request = out["request"]
    assert request["url"] == "https://go.test/api/track/click"
    assert request["init"]["method"] == "POST"
    assert request["init"]["headers"]["Authorization"] == f"Bearer {shop.pk}"
    sent = json.loads(request["init"]["body"])
    assert sent == {"domain": "go.test", "key": "launch", "url": "https://shop.example/pricing?via=launch",
                    "referrer": "https://news.example/"}
    assert out["written"].startswith("dub_id=FromServer123456; Path=/; SameSite=Lax;")
    assert out["written"].endswith("Domain=.shop.example; Secure")
    # the request the script made, as the browser would send it from that page
    r = shop.post("/api/track/click", json=sent, headers={**request["init"]["headers"], "origin": "https://shop.example",
                                                           "user-agent": UA})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://shop.example"
