"""POST /api/track/click as Dub's unmodified @dub/analytics script calls it: no key at all.

The script (dubinc/analytics, packages/script/src/base.js) sends
`fetch(`${data-api-host}/track/click`, {method: "POST", headers: {"Content-Type": "application/json"},
body: JSON.stringify({domain, key, url: location.href, referrer: document.referrer})})`, so a
browser first sends a CORS preflight asking for `content-type`. Dub accepts it when the page's
hostname is in the workspace's allowed hostnames; we accept it when the page's hostname is in
SHORTENER_TRACK_ALLOWED_HOSTNAMES and the body's domain is one of ours. The publishable-key path
(tests/test_track_click.py) is unchanged.
"""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from starlette.testclient import TestClient

from shortener.web.app import create_app

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
PAGE = "https://shop.example/pricing?via=launch"


@pytest.fixture
def shop(settings):
    app = create_app(settings.replace(track_allowed_hostnames=("shop.example",)))
    with TestClient(app, base_url="http://go.test", follow_redirects=False) as c:
        core = c.app_state["core"]
        _, secret = c.portal.call(lambda: core.api_keys.create("backend"))
        _, c.pk = c.portal.call(lambda: core.api_keys.create("site", publishable=True))
        c.secret = {"Authorization": f"Bearer {secret}"}
        c.link = c.post("/api/links", headers=c.secret, json={"url": "https://shop.example/", "key": "launch"}).json()
        c.core = core
        yield c


def _preflight(c, origin: str):
    """What a browser sends before the script's POST (a JSON content type is not a simple request)."""
    return c.options("/api/track/click", headers={"origin": origin, "access-control-request-method": "POST",
                                                  "access-control-request-headers": "content-type",
                                                  "user-agent": UA})


def _script_post(c, origin: str | None, body: dict | None = None, *, referer: str | None = PAGE, ua: str = UA):
    """The script's POST as the browser sends it: Content-Type, Origin, the page as Referer, no key."""
    headers = {"content-type": "application/json", "user-agent": ua}
    if origin:
        headers["origin"] = origin
    if referer:
        headers["referer"] = referer
    body = body if body is not None else {"domain": "go.test", "key": "launch", "url": PAGE,
                                          "referrer": "https://news.example/post"}
    return c.post("/api/track/click", headers=headers, content=json.dumps(body))


def _clicks(c) -> list[dict]:
    c.portal.call(c.core.clicks.flush)
    return c.get("/api/events?event=clicks", headers=c.secret).json()


def test_the_unmodified_script_is_answered_from_an_allowed_page(shop):
    pre = _preflight(shop, "https://shop.example")
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "https://shop.example"
    assert "content-type" in pre.headers["access-control-allow-headers"].lower()
    assert "POST" in pre.headers["access-control-allow-methods"] and pre.headers["vary"] == "Origin"

    r = _script_post(shop, "https://shop.example")
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == "https://shop.example" and r.headers["vary"] == "Origin"
    body = r.json()
    click_id = body["clickId"]
    assert len(click_id) == 16 and click_id.isalnum()
    assert body["link"] == {"id": shop.link["id"], "domain": "go.test", "key": "launch", "url": "https://shop.example/"}
    # the same visitor again (e.g. a reload): the same click, counted once
    assert _script_post(shop, "https://shop.example").json()["clickId"] == click_id

    events = _clicks(shop)
    assert [e["click"]["id"] for e in events] == [click_id]
    assert events[0]["click"]["url"] == PAGE and events[0]["click"]["refererUrl"] == "https://news.example/post"
    assert events[0]["link"]["id"] == shop.link["id"]
    analytics = shop.get("/api/analytics?event=clicks&interval=all", headers=shop.secret).json()
    assert analytics["clicks"] == 1
    assert shop.get(f"/api/links/{shop.link['id']}", headers=shop.secret).json()["clicks"] == 1


def test_keyless_from_a_refused_page_gets_403_without_cors_and_records_nothing(shop):
    for origin in ("https://evil.example", "https://shop.example.evil.example", "null"):
        pre = _preflight(shop, origin)
        assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers, origin
        r = _script_post(shop, origin, referer=None)
        assert r.status_code == 403, (origin, r.text)
        assert r.json()["error"]["code"] == "forbidden" and "access-control-allow-origin" not in r.headers
    # no Origin, and a Referer on another site
    assert _script_post(shop, None, referer="https://evil.example/page").status_code == 403
    # neither header (not a browser page)
    assert _script_post(shop, None, referer=None).status_code == 403
    assert _clicks(shop) == []


def test_keyless_needs_one_of_our_domains(shop):
    for body in ({"domain": "dub.sh", "key": "launch"}, {"domain": "other.test.evil", "key": "launch"},
                 {"domain": "go.test", "key": "nope"}):
        r = _script_post(shop, "https://shop.example", body)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", (body, r.text)
        # the allowed page can read why
        assert r.headers["access-control-allow-origin"] == "https://shop.example"
    r = _script_post(shop, "https://shop.example", {"key": "launch"})
    assert r.status_code == 422 and r.headers["access-control-allow-origin"] == "https://shop.example"
    assert _clicks(shop) == []


def test_a_referer_alone_identifies_the_page(shop):
    """Dub reads the Referer first, then the Origin; a same-page POST may come without Origin."""
    r = _script_post(shop, None, referer=PAGE)
    assert r.status_code == 200, r.text
    assert "access-control-allow-origin" not in r.headers  # no Origin to echo
    assert len(_clicks(shop)) == 1


def test_the_publishable_key_path_is_unchanged(shop):
    base = {"origin": "https://shop.example", "content-type": "application/json", "user-agent": UA}
    body = json.dumps({"domain": "go.test", "key": "launch", "url": PAGE})
    ok = shop.post("/api/track/click", content=body, headers={**base, "authorization": f"Bearer {shop.pk}"})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://shop.example"
    # a key that is sent is checked: a secret key 400, an unknown one 401, even from an allowed page
    r = shop.post("/api/track/click", content=body, headers={**base, **shop.secret})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
    r = shop.post("/api/track/click", content=body, headers={**base, "authorization": "Bearer dub_pk_" + "x" * 24})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == "https://shop.example"
    # a valid key from a refused page is still refused
    r = shop.post("/api/track/click", content=body, headers={**base, "origin": "https://evil.example",
                                                             "authorization": f"Bearer {shop.pk}"})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    assert len(_clicks(shop)) == 1


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the script")
def test_our_script_without_a_publishable_key_sends_what_dubs_script_sends(shop):
    """Our `_/script.js` with Dub's attributes (data-short-domain, no key) makes the request
    Dub's script makes; replayed against the app, it is answered and becomes the cookie."""
    script = shop.get("/_/script.js").text
    attrs = {"data-short-domain": "go.test", "data-api-host": "https://go.test/api"}
    harness = f"""
    const url = new URL({json.dumps(PAGE)});
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
    assert request["init"]["headers"] == {"Content-Type": "application/json"}
    sent = json.loads(request["init"]["body"])
    assert sent == {"domain": "go.test", "key": "launch", "url": PAGE, "referrer": "https://news.example/"}
    assert out["written"].startswith("dub_id=FromServer123456; ")
    r = shop.post("/api/track/click", content=request["init"]["body"],
                  headers={**request["init"]["headers"], "origin": "https://shop.example", "user-agent": UA})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://shop.example"
