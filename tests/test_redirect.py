"""The redirect branches through HTTP: status, Location, headers, cookie, and the click written."""
from __future__ import annotations

import asyncio
import re

import pytest

from shortener.core import Core
from redirect_support import DESKTOP, clicks, client_with, cookie_attrs, make_link, totals


def test_plain_redirect_sets_dub_id_cookie_and_records_the_click(client, core, run):
    link = make_link(run, core, url="https://example.com/landing?a=1", key="hello")
    r = client.get("/hello", headers={"user-agent": DESKTOP, "referer": "https://www.news.example/item?id=3"})
    assert r.status_code == 302
    assert r.headers["location"] == "https://example.com/landing?a=1"
    assert r.headers["x-robots-tag"] == "noindex"
    name, value, attrs = cookie_attrs(r.headers["set-cookie"])
    assert name == "dub_id" and re.fullmatch(r"[0-9A-Za-z]{16}", value)
    assert attrs == {"path": "/", "max-age": "7776000", "samesite": "Lax"}
    [row] = clicks(run, core, link)
    assert row["id"] == value and row["link_id"] == link["id"]
    assert row["url"] == "https://example.com/landing?a=1"
    assert (row["device"], row["browser"], row["os"]) == ("Desktop", "Chrome", "Windows")
    assert (row["referer"], row["referer_url"]) == ("news.example", "https://www.news.example/item?id=3")
    assert row["qr"] == 0 and row["trigger"] == "link" and row["ua"] == DESKTOP
    assert re.fullmatch(r"[0-9a-f]{32}", row["identity_hash"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row["timestamp"])
    t = totals(run, core, link)
    assert (t["rows"], t["clicks"], t["last_clicked"]) == (1, 1, row["timestamp"])


def test_key_is_case_insensitive_trailing_slash_ignored_multi_segment(client, core, run):
    make_link(run, core, url="https://example.com/one", key="CamelCase")
    make_link(run, core, url="https://example.com/two", key="gh/repo/issues")
    for path in ("/CamelCase", "/camelcase", "/CAMELCASE/", "/camelCase//"):
        r = client.get(path)
        assert r.status_code == 302 and r.headers["location"] == "https://example.com/one", path
    assert client.get("/gh/repo/issues/").headers["location"] == "https://example.com/two"
    assert client.get("/GH/Repo/Issues").headers["location"] == "https://example.com/two"
    assert client.get("/gh/repo").status_code == 404


def test_unicode_key_is_looked_up_in_its_punycode_form(client, core, run):
    link = make_link(run, core, url="https://example.com/ko", key="한글링크")
    assert link["key"].startswith("xn--")
    r = client.get("/%ED%95%9C%EA%B8%80%EB%A7%81%ED%81%AC")
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/ko"


def test_a_fully_qualified_host_with_its_root_dot_is_the_same_domain(client, core, run):
    make_link(run, core, url="https://example.com/fq", key="fq")
    for host in ("go.test.", "GO.TEST.", "www.go.test."):
        r = client.get("/fq", headers={"host": host})
        assert r.status_code == 302 and r.headers["location"] == "https://example.com/fq", host
    for host in ("go.test..", "go.tes.", "."):
        assert client.get("/fq", headers={"host": host}).status_code == 404, host
    run(core.domains.create, {"slug": "ported.test:8080"})
    make_link(run, core, url="https://example.com/port", key="fq", domain="ported.test:8080")
    assert client.get("/fq", headers={"host": "ported.test.:8080"}).headers["location"] == "https://example.com/port"


def test_host_only_destination_gains_its_slash(client, core, run):
    make_link(run, core, url="https://www.checklyhq.com", key="bare")
    assert client.get("/bare").headers["location"] == "https://www.checklyhq.com/"


def test_root_link_answers_301_and_other_links_302(client, core, run):
    make_link(run, core, url="https://example.com/home", key="_root")
    r = client.get("/")
    assert r.status_code == 301 and r.headers["location"] == "https://example.com/home"
    make_link(run, core, url="https://example.com/x", key="x")
    assert client.get("/x").status_code == 302


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_per_link_redirect_status(client, core, run, status):
    make_link(run, core, url="https://example.com/s", key=f"s{status}", redirectStatus=status)
    r = client.get(f"/s{status}")
    assert r.status_code == status and r.headers["location"] == "https://example.com/s"


def test_server_default_status_applies_but_not_to_the_root_or_a_link_status(settings):
    with client_with(settings, redirect_status=307) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        make_link(run, core, url="https://example.com/a", key="a")
        make_link(run, core, url="https://example.com/b", key="b", redirectStatus=301)
        make_link(run, core, url="https://example.com/r", key="_root")
        assert c.get("/a").status_code == 307
        assert c.get("/b").status_code == 301
        assert c.get("/").status_code == 301


def test_not_found_is_a_404_page_without_a_click(client, core, run):
    r = client.get("/missing")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Link not found" in r.text and r.headers["x-robots-tag"] == "noindex"
    assert "set-cookie" not in r.headers
    run(core.clicks.flush)
    assert run(core.store.count_all_clicks) == 0


def test_not_found_redirects_to_the_domains_not_found_url(client, core, run):
    run(core.domains.update, "go.test", {"notFoundUrl": "https://example.com/404"})
    r = client.get("/missing")
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/404"
    assert "set-cookie" not in r.headers
    # other domains keep the page
    assert client.get("/missing", headers={"host": "other.test"}).status_code == 404


def test_unknown_host_gets_the_not_found_page(client, core, run):
    make_link(run, core, url="https://example.com/h", key="h")
    r = client.get("/h", headers={"host": "evil.example"})
    assert r.status_code == 404 and "Link not found" in r.text
    assert client.get("/h", headers={"host": "GO.TEST"}).status_code == 302
    assert client.get("/h", headers={"host": "other.test"}).status_code == 404


def test_root_without_a_link_goes_to_the_domain_placeholder(client, core, run):
    assert client.get("/").status_code == 404
    run(core.domains.update, "go.test", {"placeholder": "https://example.com/welcome"})
    r = client.get("/")
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/welcome"


def test_expired_link_uses_its_own_expired_url(client, core, run):
    link = make_link(run, core, url="https://example.com/live", key="old",
                     expiresAt="2020-01-01T00:00:00.000Z", expiredUrl="https://example.com/gone")
    r = client.get("/old")
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/gone"
    assert "set-cookie" not in r.headers
    assert clicks(run, core, link) == []


def test_expired_link_falls_back_to_the_domain_then_a_410_page(client, core, run):
    link = make_link(run, core, url="https://example.com/live", key="old", expiresAt="2020-01-01T00:00:00.000Z")
    r = client.get("/old")
    assert r.status_code == 410 and "Link expired" in r.text and r.headers["x-robots-tag"] == "noindex"
    run(core.domains.update, "go.test", {"expiredUrl": "https://example.com/domain-expired"})
    r = client.get("/old")
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/domain-expired"
    assert clicks(run, core, link) == []


def test_link_expiring_in_the_future_still_redirects(client, core, run):
    link = make_link(run, core, url="https://example.com/live", key="soon", expiresAt="2999-01-01T00:00:00.000Z")
    assert client.get("/soon").headers["location"] == "https://example.com/live"
    assert len(clicks(run, core, link)) == 1


def test_archived_link_still_redirects_and_counts(client, core, run):
    link = make_link(run, core, url="https://example.com/arch", key="arch", archived=True)
    r = client.get("/arch")
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/arch"
    assert totals(run, core, link)["clicks"] == 1


def test_query_passthrough_uses_set_semantics_and_strips_our_params(client, core, run):
    link = make_link(run, core, url="https://example.com/p?utm_source=site&keep=1&dup=a&dup=b", key="p")
    r = client.get("/p?utm_source=checkly&dup=c&new=x%20y&pw=secret&qr=1&dub-no-track=0&redir_url=https://evil.example")
    assert r.status_code == 302
    assert r.headers["location"] == "https://example.com/p?utm_source=checkly&keep=1&dup=c&new=x+y"
    # dub-no-track=0 means track; qr=1 marks the click
    [row] = clicks(run, core, link)
    assert row["qr"] == 1 and row["trigger"] == "qr"
    assert row["url"] == r.headers["location"]


def test_query_without_value_and_fragment(client, core, run):
    make_link(run, core, url="https://example.com/blog?emptyquery#top", key="frag")
    assert client.get("/frag").headers["location"] == "https://example.com/blog?emptyquery#top"
    assert client.get("/frag?a=1").headers["location"] == "https://example.com/blog?emptyquery=&a=1#top"


def test_redir_url_never_changes_the_destination(client, core, run):
    make_link(run, core, url="https://example.com/safe", key="r")
    for q in ("redir_url=https://evil.example/", "redir_url=evil.example", "REDIR_URL=x&redir_url=//evil.example"):
        loc = client.get(f"/r?{q}").headers["location"]
        assert loc.startswith("https://example.com/safe") and "evil" not in loc.split("?")[0]
        assert "redir_url=" not in loc


def test_track_conversion_appends_dub_id_and_ours_wins(client, core, run):
    link = make_link(run, core, url="https://shop.example/buy?ref=x", key="tc", trackConversion=True)
    r = client.get("/tc?dub_id=forged&utm_medium=email")
    _, cid, _ = cookie_attrs(r.headers["set-cookie"])
    assert r.headers["location"] == f"https://shop.example/buy?ref=x&dub_id={cid}&utm_medium=email"
    [row] = clicks(run, core, link)
    assert row["id"] == cid and row["url"] == r.headers["location"]


def test_ordinary_links_do_not_leak_the_click_id(client, core, run):
    make_link(run, core, url="https://example.com/n", key="n")
    assert "dub_id" not in client.get("/n").headers["location"]


def test_head_answers_like_get_and_records_nothing(client, core, run):
    link = make_link(run, core, url="https://example.com/h", key="h")
    r = client.head("/h")
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/h"
    assert "set-cookie" not in r.headers and r.content == b""
    assert client.head("/missing").status_code == 404
    assert clicks(run, core, link) == []


@pytest.mark.parametrize("how", ["header", "param"])
def test_dub_no_track_redirects_without_a_click(client, core, run, how):
    link = make_link(run, core, url="https://example.com/nt", key="nt")
    if how == "header":
        r = client.get("/nt", headers={"dub-no-track": "1"})
        assert r.headers["location"] == "https://example.com/nt"
    else:
        r = client.get("/nt?dub-no-track=1&x=2")
        assert r.headers["location"] == "https://example.com/nt?x=2"
    assert r.status_code == 302 and "set-cookie" not in r.headers
    assert clicks(run, core, link) == []


def test_do_index_drops_the_noindex_header(client, core, run):
    make_link(run, core, url="https://example.com/i", key="i", doIndex=True)
    assert "x-robots-tag" not in client.get("/i").headers


def test_https_and_cookie_domain_shape_the_dub_id_cookie(settings):
    with client_with(settings, scheme="https") as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        make_link(run, core, url="https://example.com/c", key="c")
        run(core.domains.update, "go.test", {"cookieDomain": ".go.test"})
        name, _, attrs = cookie_attrs(c.get("/c").headers["set-cookie"])
        assert name == "dub_id"
        assert attrs == {"path": "/", "max-age": "7776000", "samesite": "Lax", "secure": True, "domain": ".go.test"}


@pytest.mark.parametrize("path", [
    "/wp-login.php", "/admin/config.php7", "/.well-known/security.txt", "/_internal", "/_root",
    "/%ff%fe", "/a%00b", "/%E0%A4%A", "/" + "k" * 5000,
])
def test_scanner_and_malformed_paths_are_not_found_without_a_500(client, core, run, path):
    r = client.get(path)
    assert r.status_code == 404
    run(core.clicks.flush)
    assert run(core.store.count_all_clicks) == 0


def test_robots_favicon_and_health_are_answered_not_looked_up(client, core, run):
    assert client.get("/robots.txt").text.startswith("User-agent")
    assert client.get("/favicon.ico").status_code == 204
    assert client.get("/_/health").json()["status"] == "ok"


def test_other_methods_are_refused(client, core, run):
    make_link(run, core, url="https://example.com/m", key="m")
    assert client.post("/m").status_code == 405
    assert client.delete("/m").status_code == 405


def test_updating_a_link_takes_effect_on_the_next_redirect(client, core, run):
    link = make_link(run, core, url="https://example.com/v1", key="upd")
    assert client.get("/upd").headers["location"] == "https://example.com/v1"
    run(core.links.update, link["id"], {"url": "https://example.com/v2"})
    assert client.get("/upd").headers["location"] == "https://example.com/v2"
    run(core.links.update, link["id"], {"key": "moved"})
    assert client.get("/upd").status_code == 404
    assert client.get("/moved").headers["location"] == "https://example.com/v2"
    run(core.links.delete, link["id"])
    assert client.get("/moved").status_code == 404
    assert client.get("/never").status_code == 404  # cached miss ...
    make_link(run, core, url="https://example.com/new", key="never")
    assert client.get("/never").status_code == 302  # ... dropped when the link appears


def test_writes_by_another_process_reach_the_cache_through_the_change_log(settings):
    with client_with(settings, cache_sync_seconds=0.05) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        link = make_link(run, core, url="https://example.com/one", key="shared")
        assert c.get("/shared").headers["location"] == "https://example.com/one"

        async def other_process_update():
            other = await Core.open(settings.replace(cache_sync_seconds=0.05))
            try:
                await other.links.update(link["id"], {"url": "https://example.com/two"})
            finally:
                await other.close()
            await asyncio.sleep(0.3)

        c.portal.call(other_process_update)
        assert c.get("/shared").headers["location"] == "https://example.com/two"


def test_links_stored_before_start_are_preloaded_and_still_invalidated(settings):
    with client_with(settings) as c:
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        link = make_link(run, c.app_state["core"], url="https://example.com/before", key="Early")
    with client_with(settings) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        assert c.get("/early").headers["location"] == "https://example.com/before"
        assert core.link_cache.loads == 0  # answered from the preloaded cache, no lookup
        run(core.links.update, link["id"], {"url": "https://example.com/after"})
        assert c.get("/EARLY").headers["location"] == "https://example.com/after"


def test_preload_pages_through_the_newest_links_ties_in_created_at_included(settings, monkeypatch):
    import shortener.linkcache as linkcache

    with client_with(settings) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        # Six links share one created_at (as a bulk request's can): pages must not skip ties.
        for i in range(8):
            stamp = "2026-01-01T00:00:00.000Z" if i < 6 else f"2026-01-01T00:00:0{i}.000Z"
            monkeypatch.setattr("shortener.services.links.now_iso", lambda stamp=stamp: stamp)
            make_link(run, core, url=f"https://example.com/{i}", key=f"p{i}")
        monkeypatch.undo()
        newest_first = [r["key"] for r in run(core.store.recent_redirect_links, 100)]
        assert newest_first[:2] == ["p7", "p6"] and sorted(newest_first) == [f"p{i}" for i in range(8)]
    monkeypatch.setattr(linkcache, "PRELOAD_PAGE", 3)
    with client_with(settings) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        for i in range(8):
            assert c.get(f"/p{i}").headers["location"] == f"https://example.com/{i}"
        assert core.link_cache.loads == 0  # all 8 came in pages of 3
        core.link_cache.clear()
        assert run(core.link_cache.preload, 5) == 5
        for key in newest_first[:5]:
            c.get("/" + key)
        assert core.link_cache.loads == 0
        c.get("/" + newest_first[5])
        assert core.link_cache.loads == 1


def test_disabled_link_is_not_found(client, core, run):
    # No API sets disabledAt (nor does Dub's); moderation would, through the store.
    link = make_link(run, core, url="https://example.com/d", key="dis")
    assert client.get("/dis").status_code == 302
    run(core.store.update_links, [{"id": link["id"], "changes": {"disabled_at": "2026-01-01T00:00:00.000Z"},
                                   "tag_ids": None, "new_tags": []}])
    core.link_cache.sync()  # what the change-log follower does every cache_sync_seconds
    r = client.get("/dis")
    assert r.status_code == 404 and "Link not found" in r.text and "set-cookie" not in r.headers
    run(core.domains.update, "go.test", {"notFoundUrl": "https://example.com/nf"})
    assert client.get("/dis").headers["location"] == "https://example.com/nf"
    assert len(clicks(run, core, link)) == 1


def test_dub_id_script_for_destination_sites(client):
    r = client.get("/_/script.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert "dub_id" in r.text and "SameSite=Lax" in r.text and "Path=/" in r.text
    assert client.get("/_/static/dub-id.js").text == r.text


@pytest.mark.skipif(__import__("shutil").which("node") is None, reason="needs node to run the script")
@pytest.mark.parametrize("href, model, existing, expected", [
    ("https://www.shop.example/p?dub_id=AbC123", "", "", "dub_id=AbC123; Path=/; SameSite=Lax; Expires=*; Domain=.shop.example; Secure"),
    ("http://localhost:3000/?dub_id=AbC123", "", "", "dub_id=AbC123; Path=/; SameSite=Lax; Expires=*"),
    ("https://shop.example/?dub_id=New", "first-click", "dub_id=Old", None),
    ("https://shop.example/?dub_id=New", "", "dub_id=Old", "dub_id=New; Path=/; SameSite=Lax; Expires=*; Domain=.shop.example; Secure"),
    ("https://shop.example/?dub_id=%3Cx%3E", "", "", None),
    ("https://shop.example/", "", "", None),
])
def test_dub_id_script_sets_the_first_party_cookie(client, href, model, existing, expected):
    import json
    import subprocess

    script = client.get("/_/script.js").text
    harness = f"""
    const url = new URL({json.dumps(href)});
    let written = null;
    global.window = {{ location: {{ search: url.search, hostname: url.hostname, protocol: url.protocol }} }};
    global.document = {{
      currentScript: {{ getAttribute: (n) => n === "data-attribution-model" ? ({json.dumps(model)} || null) : null }},
      get cookie() {{ return {json.dumps(existing)}; }},
      set cookie(v) {{ written = v; }},
    }};
    {script}
    console.log(JSON.stringify(written));
    """
    out = json.loads(subprocess.run(["node", "-e", harness], capture_output=True, text=True, check=True, timeout=30).stdout)
    if expected is None:
        assert out is None
    else:
        assert re.fullmatch(re.escape(expected).replace(r"\*", r"[^;]+"), out), out


def test_a_change_log_pruned_past_a_process_clears_its_cache_instead_of_missing_changes(settings):
    with client_with(settings) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        link = make_link(run, core, url="https://example.com/one", key="pruned")
        core.link_cache.sync()
        assert c.get("/pruned").headers["location"] == "https://example.com/one"

        async def other_process_updates_then_prunes():
            other = await Core.open(settings)
            try:
                await other.links.update(link["id"], {"url": "https://example.com/two"})
                await other.links.create({"url": "https://example.com/x", "key": "later"})
                deleted = await other.store.prune_link_changes(1)  # keep only the newest entry
                assert deleted >= 1
            finally:
                await other.close()

        c.portal.call(other_process_updates_then_prunes)
        assert c.get("/pruned").headers["location"] == "https://example.com/one"  # stale until sync
        core.link_cache.sync()  # sees the gap: clears everything
        assert c.get("/pruned").headers["location"] == "https://example.com/two"
        assert c.get("/later").headers["location"] == "https://example.com/x"
