"""The public stats page (/_/stats/{domain}/{key}) and `shortener stats`: the same figures as
GET /api/analytics, rendered as server-side SVG or as a terminal table with a sparkline."""
from __future__ import annotations

import json
import re
from datetime import timedelta

from shortener.charts import bar_chart, timeseries_chart
from shortener.cli import build_parser
from shortener.cli_stats import sparkline
from shortener.store.sqlite.clicks import CLICK_COLUMNS
from shortener.timeutil import iso, utcnow


def _seed(api, core, run) -> dict:
    public = api.post("/api/links", json={"url": "https://example.org/p", "key": "pub", "publicStats": True}).json()
    private = api.post("/api/links", json={"url": "https://example.org/q", "key": "priv"}).json()
    now = utcnow()
    rows = []
    visits = [("DE", "Mobile", "Chrome", "Android", "news.example<script>", 1), ("DE", "Desktop", "Firefox", "Linux",
              "(direct)", 2), ("US", "Desktop", "Chrome", "Windows", "(direct)", 3)]
    for n, (country, device, browser, os_, referer, days_ago) in enumerate(visits):
        for link in (public, private):
            row = {c: None for c in CLICK_COLUMNS}
            row.update({"id": f"s{n}{link['key']}".ljust(16, "x"), "link_id": link["id"], "domain": "go.test",
                        "key": link["key"], "url": link["url"], "timestamp": iso(now - timedelta(days=days_ago)),
                        "country": country, "device": device, "browser": browser, "os": os_, "referer": referer,
                        "referer_url": referer, "qr": 0, "trigger": "link", "identity_hash": "h"})
            rows.append(tuple(row[c] for c in CLICK_COLUMNS))
    run(core.store.record_click_batch, rows)
    return {"public": public, "private": private}


def test_public_stats_page(api, core, run, client):
    _seed(api, core, run)
    r = client.get("/_/stats/go.test/pub", headers={"authorization": ""})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    page = r.text
    assert "<script" not in page.replace("&lt;script&gt;", "")  # the referer is shown escaped, no script
    assert "news.example&lt;script&gt;" in page
    assert re.search(r"<strong>3</strong> clicks", page)
    for title in ("Countries", "Devices", "Browsers", "Operating systems", "Referers"):
        assert f"<h2>{title}</h2>" in page
    assert "<title>DE: 2</title>" in page and "<title>US: 1</title>" in page
    assert page.count('class="chart-hit"') == 31  # 30d, daily buckets, partial ends included
    assert "example.org" not in page  # the destination is not shown
    week = client.get("/_/stats/go.test/pub?interval=24h").text
    assert re.search(r"<strong>0</strong> clicks", week)
    # a link without publicStats, an unknown link, an unknown domain: 404
    for path in ("/_/stats/go.test/priv", "/_/stats/go.test/nope", "/_/stats/nowhere.test/pub"):
        assert client.get(path).status_code == 404, path
    # the public page counts what the API counts
    assert api.get("/api/analytics", params={"linkId": _link_id(api, "pub"), "interval": "30d"}).json()["clicks"] == 3


def _link_id(api, key):
    return api.get("/api/links/info", params={"domain": "go.test", "key": key}).json()["id"]


def test_charts_escape_and_scale():
    svg = str(timeseries_chart([("a<b", 1), ("c", 3)], label='x"y'))
    assert svg.startswith("<svg") and "a&lt;b: 1" in svg and 'aria-label="x&#34;y over time"' in svg
    bars = str(bar_chart([("<i>", 4), ("b", 2)], label="L"))
    assert "&lt;i&gt;" in bars and 'width="304"' in bars and 'width="152"' in bars
    assert "No data yet" in str(bar_chart([], label="L"))
    assert sparkline([0, 1, 3, 6]) == "▁▃▅█"


def _cli(capsys, settings, *argv) -> str:
    args = build_parser().parse_args(["--data-dir", settings.data_dir, *argv])
    assert args.func(args) == 0
    return capsys.readouterr().out


def test_cli_stats(api, core, run, client, settings, capsys):
    links = _seed(api, core, run)
    client.__exit__(None, None, None)  # the CLI opens the database itself
    out = _cli(capsys, settings, "stats", "go.test/pub", "--interval", "7d")
    lines = out.splitlines()
    assert lines[0] == "http://go.test/pub: clicks, last 7d (UTC)"
    assert lines[1] == "clicks 3"
    assert set(lines[2]) <= set("▁▂▃▄▅▆▇█") and len(lines[2]) in (7, 8)
    out = _cli(capsys, settings, "stats", links["public"]["id"], "--by", "countries")
    assert out.splitlines()[1:] == ["countries  clicks", "---------  ------", "DE              2", "US              1"]
    data = json.loads(_cli(capsys, settings, "stats", "--by", "devices", "--json"))
    assert data == [{"device": "Desktop", "clicks": 4, "leads": 0, "sales": 0, "saleAmount": 0},
                    {"device": "Mobile", "clicks": 2, "leads": 0, "sales": 0, "saleAmount": 0}]
    both = json.loads(_cli(capsys, settings, "stats", "--json", "--interval", "30d"))
    assert both["count"]["clicks"] == 6 and sum(s["clicks"] for s in both["timeseries"]) == 6


def test_a_unicode_key_is_found_as_the_api_finds_it(api, core, run, client, settings, capsys, monkeypatch):
    """`emoji🎉` is stored as `xn--emoji-xz93d`: GET /links/info found it, while the analytics and
    events filters and `shortener stats` answered 0 or "no link"."""
    link = api.post("/api/links", json={"url": "https://example.org/e", "key": "emoji🎉"}).json()
    assert link["key"] == "xn--emoji-xz93d"
    row = {c: None for c in CLICK_COLUMNS}
    row.update({"id": "uni1".ljust(16, "x"), "link_id": link["id"], "url": link["url"], "timestamp": iso(utcnow()),
                "country": "DE", "device": "Desktop", "qr": 0, "trigger": "link", "identity_hash": "h"})
    run(core.store.record_click_batch, [tuple(row[c] for c in CLICK_COLUMNS)])
    for params in ({"key": "emoji🎉"}, {"key": "/emoji🎉/", "domain": "GO.test"}, {"key": "xn--emoji-xz93d"}):
        r = api.get("/api/analytics", params={**params, "interval": "24h"})
        assert r.json()["clicks"] == 1, params
        assert len(api.get("/api/events", params={**params, "interval": "24h"}).json()) == 1, params
    client.__exit__(None, None, None)  # the CLI opens the database itself
    monkeypatch.setenv("SHORTENER_DOMAIN", "go.test")
    for name in ("go.test/emoji🎉", "http://go.test/emoji🎉", "emoji🎉", "GO.TEST/xn--emoji-xz93d"):
        lines = _cli(capsys, settings, "stats", name, "--interval", "all").splitlines()
        assert lines[0] == f"{link['shortLink']}: clicks, all time (UTC)", name
        assert lines[1] == "clicks 1", name
    args = build_parser().parse_args(["--data-dir", settings.data_dir, "stats", "go.test/nothing-here"])
    assert args.func(args) == 1
    assert "error: no link 'go.test/nothing-here'" in capsys.readouterr().err
