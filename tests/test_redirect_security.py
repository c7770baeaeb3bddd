"""Security regressions (security-history.md): escaping, open redirects, unlock cookies, forwarded headers."""
from __future__ import annotations

import ipaddress

import pytest
from itsdangerous import URLSafeTimedSerializer

from shortener.web.redirect import http_url
from redirect_support import DESKTOP, FACEBOOK, clicks, client_with, cookie_attrs, make_link

MARKUP = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def _run(c):
    return lambda fn, *a: c.portal.call(lambda: fn(*a))


def _assert_escaped(html: str) -> None:
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_link_values_with_markup_render_escaped_on_the_og_page(client, core, run):
    make_link(run, core, key="og", proxy=True, title=MARKUP[:100], description=MARKUP,
              url="https://example.com/?q=" + MARKUP, image="https://cdn.example.com/i.png?x=" + MARKUP)
    html = client.get("/og", headers={"user-agent": FACEBOOK}).text
    _assert_escaped(html)
    assert 'content="https://cdn.example.com/i.png?x=&#34;&gt;&lt;script&gt;' in html


def test_cloaking_page_escapes_the_url_and_title(client, core, run):
    make_link(run, core, key="cl", rewrite=True, title=MARKUP[:100], url="https://example.com/?q=1")
    r = client.get("/cl?x=" + '"><script>alert(1)</script>')
    _assert_escaped(r.text)
    assert 'src="https://example.com/?q=1&amp;x=%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E"' in r.text


def test_password_page_escapes_the_query_it_posts_back_to(client, core, run):
    make_link(run, core, key="pw", password="x")
    r = client.get("/pw?next=" + '"><script>alert(1)</script>')
    assert r.status_code == 200 and "<script>alert" not in r.text


def test_only_http_urls_reach_src_and_content_attributes():
    # The links API already refuses such images; the pages check again before writing a src.
    assert http_url("javascript:alert(1)") is None and http_url("data:text/html,x") is None
    assert http_url("//evil.example/x") is None and http_url("mailto:a@b.c") is None
    assert http_url("https://ok.example/x") == "https://ok.example/x"


def test_referer_with_markup_is_stored_as_data_only(client, core, run):
    link = make_link(run, core, key="ref")
    client.get("/ref", headers={"referer": "javascript:alert(1)//" + MARKUP, "user-agent": DESKTOP})
    [row] = clicks(run, core, link)
    assert row["referer_url"].startswith("javascript:alert(1)//")
    assert row["referer"] == "(direct)"  # no host: never shown as a clickable referer host


@pytest.mark.parametrize("value", [
    "https://evil.example/", "//evil.example", "evil.example", "javascript:alert(1)", "https:%2F%2Fevil.example",
])
def test_redir_url_is_ignored(client, core, run, value):
    make_link(run, core, key="r", url="https://example.com/safe")
    r = client.get("/r", params={"redir_url": value})
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/safe"


def test_location_header_cannot_be_split(client, core, run):
    make_link(run, core, key="s", url="https://example.com/a")
    r = client.get("/s?x=%0d%0aSet-Cookie:%20evil=1")
    assert "evil" not in r.headers.get("set-cookie", "")
    assert r.headers["location"] == "https://example.com/a?x=%0D%0ASet-Cookie%3A+evil%3D1"


def test_unlock_cookie_signed_with_another_key_is_refused(client, core, run):
    link = make_link(run, core, key="p", password="pw")
    good = cookie_attrs(client.post("/p", data={"password": "pw"}).headers["set-cookie"])[1]
    forged = URLSafeTimedSerializer(b"not-our-secret", salt="shortener.link-unlock").dumps([link["id"], "0" * 24])
    r = client.get("/p", headers={"cookie": f"dub_password_{link['id']}={forged}"})
    assert r.status_code == 200 and "Password required" in r.text
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    r = client.get("/p", headers={"cookie": f"dub_password_{link['id']}={tampered}"})
    assert r.status_code == 200 and "Password required" in r.text


def test_forwarded_for_is_ignored_from_untrusted_peers(settings):
    with client_with(settings, peer=("198.51.100.9", 4000), click_dedup_seconds=0) as c:
        run = _run(c)
        core = c.app_state["core"]
        link = make_link(run, core, key="x")
        c.get("/x", headers={"x-forwarded-for": "203.0.113.50"})
        c.get("/x", headers={"forwarded": "for=203.0.113.51"})
        rows = clicks(run, core, link)
        assert [r["ip"] for r in rows] == ["198.51.100.0", "198.51.100.0"]


def test_forwarded_for_is_believed_from_a_trusted_proxy(settings):
    trusted = (ipaddress.ip_network("10.0.0.0/8"),)
    with client_with(settings, peer=("10.1.2.3", 4000), trusted_proxies=trusted, click_dedup_seconds=0) as c:
        run = _run(c)
        core = c.app_state["core"]
        link = make_link(run, core, key="x")
        # the client's own claim (left) is skipped: the rightmost untrusted hop is the client
        c.get("/x", headers={"x-forwarded-for": "1.2.3.4, 203.0.113.50, 10.9.9.9"})
        c.get("/x", headers={"x-forwarded-for": "not-an-ip"})
        # only the configured header (x-forwarded-for by default) is read: no fallback
        c.get("/x", headers={"forwarded": 'for="[2001:db8:abcd:12::1]:443";proto=https'})
        # repeated lines are one list: a proxy that adds its own line still wins
        c.get("/x", headers=[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "203.0.114.8:5120")])
        rows = clicks(run, core, link)
        assert [r["ip"] for r in rows] == ["203.0.113.0", "10.1.2.0", "10.1.2.0", "203.0.114.0"]


@pytest.mark.parametrize("header, sent, expected", [
    # issue 14 item 6: the proxy sets Forwarded; the client's own X-Forwarded-For must not count
    ("forwarded", {"forwarded": "for=203.0.113.9", "x-forwarded-for": "6.6.6.6"}, "203.0.113.0"),
    ("forwarded", {"forwarded": 'for=6.6.6.6, for="[2001:db8:abcd:12::1]:443";proto=https'}, "2001:db8:abcd::"),
    ("forwarded", {"x-forwarded-for": "6.6.6.6"}, "10.1.2.0"),
    ("x-real-ip", {"x-real-ip": "203.0.113.9", "x-forwarded-for": "6.6.6.6", "forwarded": "for=6.6.6.7"}, "203.0.113.0"),
    ("x-real-ip", {"x-forwarded-for": "6.6.6.6"}, "10.1.2.0"),
    ("x-forwarded-for", {"x-forwarded-for": "203.0.113.9", "forwarded": "for=6.6.6.6", "x-real-ip": "6.6.6.7"},
     "203.0.113.0"),
])
def test_only_the_configured_forwarded_header_is_believed(settings, header, sent, expected):
    trusted = (ipaddress.ip_network("10.0.0.0/8"),)
    with client_with(settings, peer=("10.1.2.3", 4000), trusted_proxies=trusted, forwarded_header=header) as c:
        run = _run(c)
        core = c.app_state["core"]
        link = make_link(run, core, key="x")
        c.get("/x", headers=sent)
        assert [r["ip"] for r in clicks(run, core, link)] == [expected]


def test_a_spoofed_forwarded_for_does_not_reset_the_password_limit_behind_a_forwarded_proxy(settings):
    trusted = (ipaddress.ip_network("10.0.0.0/8"),)
    with client_with(settings, peer=("10.1.2.3", 4000), trusted_proxies=trusted, forwarded_header="forwarded",
                     password_attempts=2) as c:
        make_link(_run(c), c.app_state["core"], key="p", password="right")
        for n in range(2):
            r = c.post("/p", data={"password": "no"},
                       headers={"forwarded": "for=203.0.113.9", "x-forwarded-for": f"6.6.6.{n}"})
            assert r.status_code == 403
        r = c.post("/p", data={"password": "right"},
                   headers={"forwarded": "for=203.0.113.9", "x-forwarded-for": "6.6.6.99"})
        assert r.status_code == 429


def test_an_unknown_forwarded_header_setting_is_refused():
    from shortener.config import Settings

    with pytest.raises(SystemExit, match="SHORTENER_FORWARDED_HEADER"):
        Settings.from_env({"SHORTENER_FORWARDED_HEADER": "x-client-ip"})


def test_the_password_limit_follows_the_real_client_not_a_spoofed_header(settings):
    with client_with(settings, peer=("198.51.100.9", 4000), password_attempts=2) as c:
        run = _run(c)
        make_link(run, c.app_state["core"], key="p", password="right")
        for n in range(2):
            c.post("/p", data={"password": "no"}, headers={"x-forwarded-for": f"203.0.113.{n}"})
        r = c.post("/p", data={"password": "right"}, headers={"x-forwarded-for": "203.0.113.200"})
        assert r.status_code == 429
