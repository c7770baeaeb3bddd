"""The dashboard's analytics pages (in-process): figures from the analytics service, the
browser's time zone, breakdown rows that add filters, and visitor values shown escaped."""
from __future__ import annotations

import re
from html import unescape

from tests.conversion_support import DESKTOP, lead, new_link
from tests.test_dashboard import owner, sign_in  # noqa: F401  (fixture and helper)

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")


def visits(api, key: str, agents: list[str], referer: str | None = None) -> list[str]:
    ids = []
    for n, ua in enumerate(agents):
        headers = {"user-agent": f"{ua} v/{n}"}
        if referer:
            headers["referer"] = referer
        r = api.get(f"/{key}", headers=headers)
        assert r.status_code == 302
        ids.append(r.cookies["dub_id"])
        api.cookies.clear()
    return ids


def breakdown(html: str, title: str) -> dict[str, str]:
    """{row value: clicks} of one breakdown table."""
    section = re.search(rf'<h2 id="bd-\d+">{title}</h2>(.*?)</section>', html, re.S).group(1)
    rows = re.findall(r'<a href="[^"]*" title="Filter by this">([^<]*)</a></td>\s*<td data-label="Clicks" class="num">(\d+)<',
                      section)
    return {unescape(v): n for v, n in rows}


def test_workspace_and_link_analytics(api, core, run, owner):  # noqa: F811
    a = new_link(api, "alpha", utm_source="news")
    new_link(api, "beta")
    clicks = visits(api, "alpha", [DESKTOP, DESKTOP, IPHONE], referer="https://ref.test/<b>x</b>")
    visits(api, "beta", [DESKTOP])
    run(core.clicks.flush)
    assert lead(api, clicks[0], "cust-1").status_code == 200
    del api.headers["Authorization"]
    sign_in(api)

    html = api.get("/_/analytics?interval=24h").text
    assert re.search(r'id="total-clicks">4<', html)
    buckets = re.findall(r'<rect class="chart-hit"[^>]*><title>[^<]*: (\d+)</title>', html)
    assert len(buckets) >= 24 and sum(int(n) for n in buckets) == 4
    links = breakdown(html, "Top links")
    assert links == {"http://go.test/alpha": "3", "http://go.test/beta": "1"}
    assert breakdown(html, "Devices") == {"Desktop": "3", "Mobile": "1"}
    assert breakdown(html, "Referers") == {"ref.test": "3", "(direct)": "1"}
    assert breakdown(html, "UTM sources") == {"news": "3"}
    assert "<b>x</b>" not in html

    # A click on a row adds its filter; filters combine and each chip removes one.
    href = unescape(re.search(r'<a href="([^"]*)" title="Filter by this">Mobile</a>', html).group(1))
    assert "device=Mobile" in href
    filtered = api.get(href).text
    assert re.search(r'id="total-clicks">1<', filtered)
    assert "device: Mobile" in filtered
    both = api.get("/_/analytics?interval=24h&device=Desktop&referer=ref.test").text
    assert re.search(r'id="total-clicks">2<', both)

    page = api.get(f"/_/links/{a['id']}/analytics?interval=7d").text
    assert re.search(r'id="total-clicks">3<', page)
    assert "Top links" not in page
    assert re.search(r"<dt>Leads</dt><dd>1</dd>", page)

    # Leads (and sales, revenue) over time too: the chart picker keeps the period and filters.
    href = unescape(re.search(r'<nav class="chart-pick"[^>]*>.*?<a href="([^"]*)">Leads</a>', html).group(1))
    assert "chart=leads" in href and "interval=24h" in href
    leads = api.get(href + "&device=Desktop").text
    assert "Leads over time (1 in the period)" in leads
    assert sum(int(n) for n in re.findall(r'<rect class="chart-hit"[^>]*><title>[^<]*: (\d+)</title>', leads)) == 1
    row = unescape(re.search(r'<a href="([^"]*)" title="Filter by this">Chrome</a>', leads).group(1))
    assert "chart=leads" in row and "device=Desktop" in row
    assert "Revenue over time (0.00 in the period)" in api.get("/_/analytics?interval=24h&chart=saleAmount").text
    assert "Clicks over time" in api.get("/_/analytics?interval=24h&chart=bogus").text


def test_time_zone_from_the_browser_cookie(api, core, run, owner):  # noqa: F811
    del api.headers["Authorization"]
    sign_in(api)
    assert 'data-tz="UTC"' in api.get("/_/analytics").text
    api.cookies.set("shortener_tz", "Asia/Tokyo", domain="go.test", path="/_/")
    assert 'data-tz="Asia/Tokyo"' in api.get("/_/analytics").text
    assert 'data-tz="Europe/Paris"' in api.get("/_/analytics?timezone=Europe/Paris").text
    api.cookies.set("shortener_tz", "Not/AZone", domain="go.test", path="/_/")
    assert 'data-tz="UTC"' in api.get("/_/analytics").text


def test_a_malformed_filter_is_a_message_not_a_500(api, owner):  # noqa: F811
    del api.headers["Authorization"]
    sign_in(api)
    r = api.get("/_/analytics?qr=maybe")
    assert r.status_code == 422 and 'role="alert"' in r.text
    assert api.get("/_/analytics?interval=bogus").status_code == 200


def test_values_no_filter_can_name_are_shown_but_not_linked(api, core, run, owner):  # noqa: F811
    """Dub's filter syntax splits on commas and reads a leading `-` as "not": a row link for
    `news,letter` showed 0 clicks, and one for `-neg` showed every click but those."""
    for key, source in (("c1", "news,letter"), ("c2", "-neg"), ("c3", "plain")):
        new_link(api, key, utm_source=source)
        visits(api, key, [DESKTOP])
    run(core.clicks.flush)
    del api.headers["Authorization"]
    sign_in(api)
    html = api.get("/_/analytics?interval=24h").text
    assert breakdown(html, "UTM sources") == {"plain": "1"}  # the only linked row
    section = re.search(r'<h2 id="bd-\d+">UTM sources</h2>(.*?)</section>', html, re.S).group(1)
    shown = [unescape(v) for v in re.findall(r'<span title="A value with a comma[^"]*">([^<]*)</span>', section)]
    assert sorted(shown) == ["-neg", "news,letter"]
    assert "utm_source=news%2Cletter" not in html and "utm_source=-neg" not in html
