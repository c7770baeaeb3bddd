"""Device and geo targeting, the OG proxy page for crawlers, cloaking, and how each visitor is recorded."""
from __future__ import annotations

import pytest

from shortener.bots import looks_like_bot

from redirect_support import (ANDROID, ANDROID_TABLET, CUBOT, CURL, DESKTOP, FACEBOOK, GOOGLEBOT, IPAD,
                              IPAD_DESKTOP, IPHONE, SLACK, TWITTER, WHATSAPP, clicks, client_with, make_link)

TARGETED = dict(url="https://example.com/web", ios="https://apps.apple.com/app/id1", android="https://play.google.com/store/apps/details?id=x")


@pytest.mark.parametrize("ua, location, device, os_name", [
    (IPHONE, "https://apps.apple.com/app/id1", "Mobile", "iOS"),
    (IPAD, "https://apps.apple.com/app/id1", "Tablet", "iOS"),
    (IPAD_DESKTOP, "https://example.com/web", "Desktop", "Mac OS X"),
    (ANDROID, "https://play.google.com/store/apps/details?id=x", "Mobile", "Android"),
    (ANDROID_TABLET, "https://play.google.com/store/apps/details?id=x", "Tablet", "Android"),
    (DESKTOP, "https://example.com/web", "Desktop", "Windows"),
])
def test_device_targeting_and_the_recorded_device(client, core, run, ua, location, device, os_name):
    link = make_link(run, core, key="app", **TARGETED)
    r = client.get("/app", headers={"user-agent": ua})
    assert r.status_code == 302 and r.headers["location"] == location
    [row] = clicks(run, core, link)
    assert (row["device"], row["os"], row["url"]) == (device, os_name, location)


def test_targeting_keeps_query_passthrough(client, core, run):
    make_link(run, core, key="app", **TARGETED)
    r = client.get("/app?campaign=spring", headers={"user-agent": IPHONE})
    assert r.headers["location"] == "https://apps.apple.com/app/id1?campaign=spring"


def test_cubot_phone_is_a_person_not_a_bot(client, core, run):
    link = make_link(run, core, key="c", url="https://example.com/c")
    client.get("/c", headers={"user-agent": CUBOT})
    [row] = clicks(run, core, link)
    assert (row["device"], row["os"]) == ("Mobile", "Android")


def test_geo_targeting_from_the_country_header(settings):
    # Behind a CDN that sets the header on every request (SHORTENER_COUNTRY_HEADER_FROM_CDN).
    with client_with(settings, country_header_from_cdn=True) as client:
        core = client.app_state["core"]
        run = lambda fn, *a: client.portal.call(lambda: fn(*a))  # noqa: E731
        link = make_link(run, core, key="geo", url="https://example.com/world",
                         geo={"DE": "https://example.de/", "FR": "https://example.fr/"})
        assert client.get("/geo", headers={"cf-ipcountry": "de"}).headers["location"] == "https://example.de/"
        assert client.get("/geo", headers={"cf-ipcountry": "FR", "user-agent": "x"}).headers["location"] == "https://example.fr/"
        assert client.get("/geo", headers={"cf-ipcountry": "US", "user-agent": "y"}).headers["location"] == "https://example.com/world"
        assert client.get("/geo", headers={"user-agent": "z"}).headers["location"] == "https://example.com/world"
        rows = clicks(run, core, link)
        assert [r["country"] for r in rows] == ["DE", "FR", "US", None]


def test_a_country_header_from_a_direct_client_is_ignored(client, core, run):
    # No trusted proxy and no CDN setting: anyone could send cf-ipcountry and pick a target.
    link = make_link(run, core, key="geo", url="https://example.com/world", geo={"DE": "https://example.de/"})
    r = client.get("/geo", headers={"cf-ipcountry": "DE"})
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/world"
    r = client.get("/geo?x=1", headers={"cf-ipcountry": "DE", "user-agent": "other"})
    assert r.headers["location"] == "https://example.com/world?x=1"
    assert [row["country"] for row in clicks(run, core, link)] == [None, None]


def test_country_header_is_believed_from_a_trusted_proxy_only(settings):
    import ipaddress

    trusted = (ipaddress.ip_network("10.0.0.0/8"),)
    for peer, expected in ((("10.0.0.5", 4000), "https://example.de/"), (("192.0.2.7", 4000), "https://example.com/world")):
        with client_with(settings, peer=peer, trusted_proxies=trusted) as c:
            core = c.app_state["core"]
            run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
            if run(core.links.list, {}) == []:
                make_link(run, core, key="geo", url="https://example.com/world", geo={"DE": "https://example.de/"})
            assert c.get("/geo", headers={"cf-ipcountry": "DE"}).headers["location"] == expected


def test_country_header_is_configurable(settings):
    with client_with(settings, country_header="X-Country", country_header_from_cdn=True) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        make_link(run, core, key="geo", url="https://example.com/world", geo={"JP": "https://example.jp/"})
        assert c.get("/geo", headers={"x-country": "JP"}).headers["location"] == "https://example.jp/"
        assert c.get("/geo", headers={"cf-ipcountry": "JP"}).headers["location"] == "https://example.com/world"


@pytest.mark.parametrize("ua", [GOOGLEBOT, FACEBOOK, SLACK, TWITTER, WHATSAPP, CURL])
def test_crawlers_are_redirected_but_not_counted(client, core, run, ua):
    link = make_link(run, core, key="b", url="https://example.com/b")
    r = client.get("/b", headers={"user-agent": ua})
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/b"
    assert "set-cookie" not in r.headers
    assert clicks(run, core, link) == []


def test_bot_query_param_marks_a_bot(client, core, run):
    link = make_link(run, core, key="b", url="https://example.com/b")
    r = client.get("/b?bot=1", headers={"user-agent": DESKTOP})
    assert r.status_code == 302 and "set-cookie" not in r.headers
    assert clicks(run, core, link) == []


def test_a_crawler_only_the_full_parse_knows_is_dropped_by_the_writer(client, core, run):
    # Not in the request-path list, but ua-parser classifies it as a Spider.
    ua = "sitebot"
    assert not looks_like_bot(ua)
    link = make_link(run, core, key="b", url="https://example.com/b")
    client.get("/b", headers={"user-agent": ua})
    assert clicks(run, core, link) == []


def test_proxy_link_shows_crawlers_the_og_page_and_redirects_people(client, core, run):
    link = make_link(run, core, key="og", url="https://example.com/article", proxy=True,
                     title="Spring sale", description="Half off everything",
                     image="https://cdn.example.com/card.png", video="https://cdn.example.com/v.mp4")
    for ua in (FACEBOOK, TWITTER, SLACK):
        r = client.get("/og", headers={"user-agent": ua})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "set-cookie" not in r.headers and r.headers["x-robots-tag"] == "noindex"
        html = r.text
        assert '<meta property="og:title" content="Spring sale">' in html
        assert '<meta property="og:description" content="Half off everything">' in html
        assert '<meta property="og:image" content="https://cdn.example.com/card.png">' in html
        assert '<meta property="og:video" content="https://cdn.example.com/v.mp4">' in html
        assert '<meta name="twitter:card" content="summary_large_image">' in html
        assert '<meta name="twitter:title" content="Spring sale">' in html
        assert '<meta property="og:url" content="http://go.test/og">' in html
    r = client.get("/og", headers={"user-agent": IPHONE})
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/article"
    [row] = clicks(run, core, link)
    assert row["device"] == "Mobile"


def test_proxy_link_with_a_crawler_known_only_to_the_full_parse(client, core, run):
    make_link(run, core, key="og", url="https://example.com/article", proxy=True, title="T")
    assert client.get("/og", headers={"user-agent": "Nutch-1.19"}).status_code == 200


def test_rewrite_link_serves_the_cloaking_page_and_counts(client, core, run):
    link = make_link(run, core, key="cl", url="https://example.com/app?x=1", rewrite=True, title="My app")
    r = client.get("/cl?y=2", headers={"user-agent": DESKTOP})
    assert r.status_code == 200 and r.headers["x-robots-tag"] == "noindex"
    assert "x-frame-options" not in r.headers
    assert '<iframe class="cloak" src="https://example.com/app?x=1&amp;y=2" title="My app">' in r.text
    assert "<title>My app</title>" in r.text
    assert r.headers["set-cookie"].startswith("dub_id=")
    [row] = clicks(run, core, link)
    assert row["url"] == "https://example.com/app?x=1&y=2"


@pytest.mark.parametrize("ua", ["curl", "Wget", "curl/8.5.0", "wget/1.21"])
def test_http_tools_without_a_version_are_not_visitors(client, core, run, ua):
    link = make_link(run, core, key="t", url="https://example.com/t")
    r = client.get("/t", headers={"user-agent": ua})
    assert r.status_code == 302 and "set-cookie" not in r.headers
    assert clicks(run, core, link) == []
