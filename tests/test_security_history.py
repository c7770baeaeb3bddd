"""The security history of peer shorteners (shared/reference/security-history.md): one test (or
more) per item, named `test_sec_NN_...` after the item it covers.

The items about admin pages (stored XSS on stats pages, CSRF, SameSite on the session) are tested
on the dashboard under /_/ and on the API, which accepts only a Bearer key, never a cookie. Some
behaviours are also tested elsewhere in more depth (test_dashboard.py, test_redirect_security.py,
test_password.py, test_webhooks.py); these tests pin the item.
"""
from __future__ import annotations

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import free_port
from redirect_support import (
    DESKTOP, FACEBOOK, GOOGLEBOT, client_with, clicks, cookie_attrs, make_link,
)
from shortener.bots import looks_like_bot
from shortener.web.dashboard.session import COOKIE as SESSION_COOKIE
from test_dashboard import ORIGIN, csrf_of, sign_in

MARKUP = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def _run(c):
    return lambda fn, *a: c.portal.call(lambda: fn(*a))


class _Target:
    """A loopback HTTP server that counts the requests it gets; optionally answers a redirect."""

    def __init__(self, redirect_to: str | None = None) -> None:
        self.hits: list[str] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                target.hits.append(self.path)
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                if redirect_to:
                    self.send_response(302)
                    self.send_header("location", redirect_to)
                else:
                    self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            do_GET = do_POST = do_HEAD = _answer

            def log_message(self, *args) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def dash(client, core, run):
    """The in-process client signed in to the dashboard as an owner."""
    from test_dashboard import EMAIL, PASSWORD

    run(core.users.set, EMAIL, PASSWORD)
    assert sign_in(client).status_code == 303
    return client


@pytest.fixture
def target():
    t = _Target()
    yield t
    t.close()


# 1. YOURLS stored XSS through the Referer header --------------------------------------------------


def test_sec_01_referer_with_markup_is_returned_as_json_data_never_as_html(api, core, run):
    """There is no stats page yet; the API is the only consumer and answers JSON (not HTML)."""
    link = make_link(run, core, key="r1")
    api.get("/r1", headers={"referer": "https://evil.example/" + MARKUP, "user-agent": DESKTOP})
    run(core.clicks.flush)
    r = api.get("/api/events", params={"event": "clicks", "interval": "all", "linkId": link["id"]})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    [event] = r.json()
    assert event["click"]["refererUrl"] == "https://evil.example/" + MARKUP  # data, unchanged
    assert "<script>" not in r.text.split('"refererUrl"')[0]  # nowhere else


def test_sec_01_referer_with_markup_is_escaped_on_the_dashboard_events_page(dash, core, run):
    make_link(run, core, key="r1d")
    dash.get("/r1d", headers={"referer": "https://evil.example/" + MARKUP, "user-agent": DESKTOP})
    dash.cookies.delete("dub_id")
    run(core.clicks.flush)
    html = dash.get("/_/events?event=clicks&interval=all").text
    assert "evil.example" in html
    assert "<script>alert(1)" not in html and "<img src=x" not in html


# 2. YOURLS server-side title fetch probing internal hosts -----------------------------------------


def test_sec_02_webhook_targets_on_metadata_and_link_local_addresses_are_refused(api):
    for url in ("http://169.254.169.254/latest/meta-data", "http://[fe80::1]/x", "http://100.100.100.200/",
                "http://[fd00:ec2::254]/"):
        r = api.post("/api/webhooks", json={"name": "x", "url": url, "triggers": ["link.created"]})
        assert r.status_code == 422, (url, r.text)
    assert api.get("/api/webhooks").json() == []


def test_sec_02_private_webhook_targets_need_the_setting(api, target):
    r = api.post("/api/webhooks", json={"name": "x", "url": target.url + "/h", "triggers": ["link.created"]})
    assert r.status_code == 422
    assert target.hits == []


def test_sec_02_webhook_redirects_are_not_followed(settings):
    """Every hop would need the address check again; we follow none."""
    final = _Target()
    hop = _Target(redirect_to=final.url + "/internal")
    try:
        with client_with(settings, webhook_allow_private=True, webhook_timeout=2.0) as c:
            core = c.app_state["core"]
            _, key = c.portal.call(core.api_keys.create, "t")
            c.headers["Authorization"] = f"Bearer {key}"
            r = c.post("/api/webhooks", json={"name": "x", "url": hop.url + "/h", "triggers": ["link.created"]})
            assert r.status_code == 201, r.text
            c.post("/api/links", json={"url": "https://example.com/x", "key": "hop"})
            deadline = time.monotonic() + 10
            while not hop.hits and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
            deliveries = c.get(f"/api/webhooks/{r.json()['id']}/deliveries").json()
        assert hop.hits == ["/h"] and final.hits == []
        assert deliveries[0]["responseStatus"] == 302 and deliveries[0]["status"] == "pending"
    finally:
        hop.close()
        final.close()


# 3. YOURLS CSRF on admin actions, XSS via long URL ------------------------------------------------


def test_sec_03_the_api_never_accepts_a_cookie_instead_of_a_key(client, core, run):
    """The API reads the Authorization header only, so a cross-site request carrying the
    visitor's cookies (even a dashboard session) cannot act."""
    link = make_link(run, core, key="c3", url="https://example.com/ok")
    cookies = {"session": "x", "dub_id": "abc", f"dub_password_{link['id']}": "x"}
    for method, path, body in (("PATCH", f"/api/links/{link['id']}", {"url": "https://evil.example/"}),
                               ("DELETE", f"/api/links/{link['id']}", None),
                               ("POST", "/api/links", {"url": "https://evil.example/"})):
        r = client.request(method, path, json=body, cookies=cookies, headers={"origin": "https://evil.example"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert client.get("/c3").headers["location"] == "https://example.com/ok"


def test_sec_03_a_long_url_with_markup_is_escaped_on_every_page(client, core, run):
    long_url = "https://example.com/?q=" + MARKUP + "x" * 30000
    make_link(run, core, key="l3", url=long_url, password="pw", title=MARKUP[:100])
    make_link(run, core, key="l3c", url=long_url, rewrite=True, title=MARKUP[:100])
    make_link(run, core, key="l3o", url=long_url, proxy=True, title=MARKUP[:100], description=MARKUP)
    for path, ua in (("/l3", DESKTOP), ("/l3c", DESKTOP), ("/l3o", FACEBOOK)):
        html = client.get(path, headers={"user-agent": ua}).text
        assert "<script>alert" not in html and "<img src=x" not in html, path


def test_sec_03_a_cross_site_post_cannot_repoint_a_link_from_the_dashboard(dash, core, run):
    link = make_link(run, core, key="c3d", url="https://example.com/ok")
    token = csrf_of(dash.get(f"/_/links/{link['id']}").text)
    for headers, data in (({"origin": "https://evil.example"}, {"csrf": token}),  # another site
                          (ORIGIN, {}), (ORIGIN, {"csrf": "forged"})):        # no or a forged token
        r = dash.post(f"/_/links/{link['id']}", data={**data, "url": "https://evil.example/", "key": "c3d"},
                      headers=headers)
        assert r.status_code == 403
    assert dash.get("/c3d").headers["location"] == "https://example.com/ok"


# 4. YOURLS JSONP callback -------------------------------------------------------------------------


def test_sec_04_no_jsonp_a_callback_parameter_changes_nothing(api):
    for path in ("/api/links?callback=alert", "/api/tags?callback=x.y&jsonp=z", "/api/openapi.json?callback=f"):
        r = api.get(path)
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        assert r.text[:1] in "[{"


# 5. Dub's ?redir_url= open redirect ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["https://evil.example/", "//evil.example/x", "http:/\\evil.example"])
def test_sec_05_redir_url_is_ignored_and_not_forwarded(client, core, run, value):
    make_link(run, core, key="r5", url="https://example.com/safe?a=1")
    r = client.get("/r5", params={"redir_url": value, "b": "2"})
    assert r.status_code == 302
    assert r.headers["location"] == "https://example.com/safe?a=1&b=2"


# 6. Dub's plaintext link passwords, cookie and ?pw= -----------------------------------------------


def test_sec_06_link_password_is_stored_hashed_never_echoed_nor_put_in_a_cookie(settings, api, core, run):
    secret = "correct-horse-battery-6f1c"
    r = api.post("/api/links", json={"url": "https://example.com/p", "key": "p6", "password": secret})
    assert r.status_code == 200 and r.json()["password"] is None and r.json()["passwordProtected"] is True
    assert secret not in api.get(f"/api/links/{r.json()['id']}").text
    unlock = api.post("/p6", data={"password": secret})
    assert unlock.status_code == 302
    assert secret not in unlock.headers["set-cookie"]
    run(core.clicks.flush)
    from pathlib import Path

    stored = b"".join(p.read_bytes() for p in Path(settings.data_dir).iterdir() if p.is_file())
    assert secret.encode() not in stored


def test_sec_06_pw_query_is_limited_per_link_and_ip_and_stripped(settings):
    with client_with(settings, password_attempts=3) as c:
        make_link(_run(c), c.app_state["core"], key="q6", url="https://example.com/t", password="right")
        assert [c.get("/q6", params={"pw": f"wrong{n}"}).status_code for n in range(3)] == [403, 403, 403]
        assert c.get("/q6", params={"pw": "right"}).status_code == 429  # even the right one, once limited
    with client_with(settings, password_attempts=3) as c:
        r = c.get("/q6", params={"pw": "right", "x": "1"})
        assert r.status_code == 302 and r.headers["location"] == "https://example.com/t?x=1"


# 7. Kutt: session cookie without SameSite ---------------------------------------------------------


def test_sec_07_every_cookie_we_set_has_samesite_and_the_unlock_cookie_is_httponly(client, core, run):
    make_link(run, core, key="s7", password="pw")
    make_link(run, core, key="t7")
    _, _, unlock = cookie_attrs(client.post("/s7", data={"password": "pw"}).headers["set-cookie"])
    assert unlock["samesite"].lower() in ("lax", "strict") and unlock["httponly"] is True
    _, _, dub_id = cookie_attrs(client.get("/t7", headers={"user-agent": DESKTOP}).headers["set-cookie"])
    assert dub_id["samesite"].lower() in ("lax", "strict")


def test_sec_07_the_dashboard_session_cookie_is_samesite_httponly(client, core, run):
    from test_dashboard import EMAIL, PASSWORD

    run(core.users.set, EMAIL, PASSWORD)
    r = sign_in(client)
    [session] = [cookie_attrs(v) for k, v in r.headers.multi_items()
                 if k == "set-cookie" and v.startswith(SESSION_COOKIE + "=")]
    assert session[2]["samesite"].lower() in ("lax", "strict") and session[2]["httponly"] is True


def test_sec_07_a_cross_origin_form_post_to_the_api_creates_nothing(client, api_key):
    """The API would be an admin route: a browser form from another site cannot send the key."""
    r = client.post("/api/links", data={"url": "https://evil.example/"},
                    headers={"origin": "https://evil.example", "content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 401
    assert client.get("/api/links", headers={"authorization": f"Bearer {api_key}"}).json() == []


# 8. Forwarded headers trusted from anyone ---------------------------------------------------------


def test_sec_08_spoofed_forwarded_for_without_a_proxy_is_ignored(settings):
    with client_with(settings, peer=("198.51.100.9", 4000), click_dedup_seconds=0) as c:
        run, core = _run(c), c.app_state["core"]
        link = make_link(run, core, key="x8")
        c.get("/x8", headers={"x-forwarded-for": "6.6.6.6", "forwarded": "for=6.6.6.7", "x-real-ip": "6.6.6.8",
                              "user-agent": DESKTOP})
        assert [r["ip"] for r in clicks(run, core, link)] == ["198.51.100.0"]


def test_sec_08_behind_a_trusted_proxy_the_clients_own_claim_is_skipped(settings):
    import ipaddress

    trusted = (ipaddress.ip_network("10.0.0.0/8"),)
    with client_with(settings, peer=("10.1.2.3", 4000), trusted_proxies=trusted, click_dedup_seconds=0) as c:
        run, core = _run(c), c.app_state["core"]
        link = make_link(run, core, key="y8")
        c.get("/y8", headers={"x-forwarded-for": "6.6.6.6, 203.0.113.50", "user-agent": DESKTOP})
        assert [r["ip"] for r in clicks(run, core, link)] == ["203.0.113.0"]


# 9. Shlink: preview bots consume limits -----------------------------------------------------------


def test_sec_09_bots_and_head_redirect_but_never_count(client, core, run):
    """Decision (decisions.md): bots and HEAD are redirected and never counted; there is no visit
    limit, so nothing else for them to consume."""
    link = make_link(run, core, key="b9")
    assert client.head("/b9", headers={"user-agent": DESKTOP}).status_code == 302
    for ua in (FACEBOOK, GOOGLEBOT, "Slackbot-LinkExpanding 1.0", "WhatsApp/2.23.20.0 A"):
        assert client.get("/b9", headers={"user-agent": ua}).status_code == 302
    assert clicks(run, core, link) == []
    assert run(core.links.get, link["id"])["clicks"] == 0


# 10. Shlink: title fetches without limits ---------------------------------------------------------


def test_sec_10_creating_a_link_never_fetches_its_target(api, target):
    """No title, image or safe-browsing fetch happens at all, so a slow or hostile target cannot
    stall creation; the only server-side fetch, webhooks, has SHORTENER_WEBHOOK_TIMEOUT."""
    r = api.post("/api/links", json={"url": target.url + "/page", "key": "f10"})
    assert r.status_code == 200 and r.json()["title"] is None
    api.patch(f"/api/links/{r.json()['id']}", json={"url": target.url + "/other"})
    time.sleep(0.2)
    assert target.hits == []


# 11. Dub's bot signals behind an early return -----------------------------------------------------


@pytest.mark.parametrize("signal", ["user-agent", "full-parse", "bot-query", "head"])
def test_sec_11_each_bot_signal_works_on_its_own(client, core, run, signal):
    link = make_link(run, core, key="s11")
    person = DESKTOP
    if signal == "user-agent":
        assert looks_like_bot(FACEBOOK) and not looks_like_bot(person)
        client.get("/s11", headers={"user-agent": FACEBOOK})
    elif signal == "full-parse":
        # a spider the cheap regex does not name; the click writer's full parse drops it
        ua = "sitebot"
        assert not looks_like_bot(ua)
        client.get("/s11", headers={"user-agent": ua})
    elif signal == "bot-query":
        client.get("/s11", params={"bot": "1"}, headers={"user-agent": person})
    else:
        client.head("/s11", headers={"user-agent": person})
    assert clicks(run, core, link) == []
    client.get("/s11", headers={"user-agent": person})
    assert len(clicks(run, core, link)) == 1  # and a person still counts


# 12. Reduced.to: unsalted SHA-256 of the visitor IP -----------------------------------------------


def test_sec_12_ips_are_truncated_and_the_identity_hash_is_salted(settings, tmp_path):
    ip, ua = "198.51.100.77", DESKTOP
    hashes = []
    for n in range(2):
        with client_with(settings.replace(data_dir=str(tmp_path / f"d{n}")), peer=(ip, 4000)) as c:
            run, core = _run(c), c.app_state["core"]
            link = make_link(run, core, key="h12")
            c.get("/h12", headers={"user-agent": ua})
            [row] = clicks(run, core, link)
            assert row["ip"] == "198.51.100.0"
            assert ip not in str(row)
            hashes.append(row["identity_hash"])
    plain = {hashlib.sha256(v.encode()).hexdigest() for v in (ip, ip + ua, ua + ip, f"{ip}|{ua}")}
    assert hashes[0] != hashes[1] and not (set(hashes) & plain)  # a salt per installation


# 13. Polr admin CSRF ------------------------------------------------------------------------------


def test_sec_13_a_cross_site_request_cannot_delete_a_link(client, core, run):
    """Same as #3 for Polr: the API ignores cookies."""
    link = make_link(run, core, key="d13")
    r = client.delete(f"/api/links/{link['id']}", headers={"origin": "https://evil.example",
                                                           "cookie": "session=stolen; dub_id=x"})
    assert r.status_code == 401
    assert client.get("/d13").status_code == 302


def test_sec_13_a_cross_site_post_cannot_delete_a_link_from_the_dashboard(dash, core, run):
    link = make_link(run, core, key="d13d")
    token = csrf_of(dash.get(f"/_/links/{link['id']}/delete").text)
    r = dash.post(f"/_/links/{link['id']}/delete", data={"csrf": token},
                  headers={"origin": "https://evil.example"})
    assert r.status_code == 403
    assert dash.get("/d13d").status_code == 302


# 14. Phishing through anonymous creation ----------------------------------------------------------


def test_sec_14_there_is_no_anonymous_link_creation(client):
    for headers in ({}, {"authorization": "Bearer "}, {"authorization": "Bearer dub_unknown"}):
        r = client.post("/api/links", json={"url": "https://phish.example/login"}, headers=headers)
        assert r.status_code in (400, 401)
        assert "error" in r.json()
    assert client.get("/api/links").status_code == 401


def test_sec_14_a_disabled_link_stops_redirecting(client, core, run):
    """The per-link switch (disabledAt, set by moderation through the store) answers 404."""
    link = make_link(run, core, key="x14", url="https://phish.example/")
    run(core.store.update_links, [{"id": link["id"], "changes": {"disabled_at": "2026-01-01T00:00:00.000Z"},
                                   "tag_ids": None, "new_tags": []}])
    core.link_cache.sync()
    assert client.get("/x14").status_code == 404


# 15. Scanner traffic polluting stats --------------------------------------------------------------


def test_sec_15_scanner_paths_and_unknown_keys_record_nothing(api, core, run):
    make_link(run, core, key="real15")
    for path in ("/wp-admin.php", "/wp-login.php", "/.env", "/xmlrpc.php", "/cgi-bin/test.cgi", "/unknown-key"):
        assert api.get(path, headers={"user-agent": DESKTOP}).status_code == 404
    run(core.clicks.flush)
    assert api.get("/api/events", params={"event": "clicks", "interval": "all"}).json() == []
