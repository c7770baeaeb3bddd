"""The links API through HTTP: Dub's fields, rules and status codes, and our documented choices."""
from __future__ import annotations

import re

import pytest

from conftest import record_link_changes
from shortener.passwords import verify_password

LINK_KEYS = {
    # dub-behaviour.md 3.4 "full key set" (Dub's expectedLink) ...
    "id", "domain", "key", "url", "shortLink", "qrCode", "trackConversion", "archived", "expiresAt",
    "expiredUrl", "disabledAt", "password", "proxy", "title", "description", "image", "video",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "rewrite", "doIndex", "ios",
    "android", "geo", "publicStats", "clicks", "lastClicked", "leads", "conversions", "sales",
    "saleAmount", "identifier", "tagId", "comments", "tags", "webhookIds", "createdAt", "updatedAt",
    "externalId", "tenantId", "programId", "partnerId", "folderId", "testVariants", "testStartedAt",
    "testCompletedAt", "userId", "projectId", "workspaceId", "linkRetentionCleanupDisabledAt",
    # ... and ours
    "passwordProtected", "redirectStatus",
}
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def events(core, monkeypatch):
    """Every core.link_changed call as (event, link id, key, previous key)."""
    return record_link_changes(core, monkeypatch, "key")


def create(api, **body):
    r = api.post("/api/links", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def error(r, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()["error"]
    assert body["code"] == code
    return body["message"]


# -- create ----------------------------------------------------------------------------------

def test_create_bare_link_has_every_field(api, events):
    link = create(api, url="https://example.com/page")
    assert set(link) == LINK_KEYS
    assert re.fullmatch(r"link_[0-9A-HJKMNP-TV-Z]{25}", link["id"])
    assert re.fullmatch(r"[0-9A-Za-z]{7}", link["key"])
    assert link["domain"] == "go.test"
    assert link["shortLink"] == f"http://go.test/{link['key']}"
    assert link["qrCode"] == f"http://go.test/api/qr?url=http://go.test/{link['key']}?qr=1"
    assert link["password"] is None and link["passwordProtected"] is False
    assert link["tags"] == [] and link["tagId"] is None and link["webhookIds"] == []
    assert link["clicks"] == 0 and link["saleAmount"] == 0 and link["lastClicked"] is None
    assert link["workspaceId"] == "ws_" + link["projectId"]
    assert ISO_MS.match(link["createdAt"]) and link["createdAt"] == link["updatedAt"]
    assert events == [("link.created", link["id"], link["key"], None)]


def test_create_with_every_field(api, core, run):
    # webhookIds must name existing webhooks; this one never fires (no sale happens here)
    hook = api.post("/api/webhooks", json={"name": "h", "url": "https://example.com/hook",
                                           "triggers": ["sale.created"]}).json()["id"]
    body = {
        "url": "https://example.com/landing?x=1&utm_source=old",
        "domain": "other.test",
        "key": "spring-sale",
        "externalId": "ext_order-42",
        "tenantId": "tenant-1",
        "identifier": "ident-1",
        "trackConversion": True,
        "archived": True,
        "publicStats": True,
        "tagNames": ["Promo", "spring"],
        "comments": "for the newsletter",
        "expiresAt": "2030-01-02T03:04:05+02:00",
        "expiredUrl": "https://example.com/expired",
        "password": "s3cret",
        "proxy": True,
        "title": "T" * 200,
        "description": "D" * 300,
        "image": "https://example.com/og.png",
        "video": "https://example.com/og.mp4",
        "rewrite": True,
        "ios": "itms-apps://apps.apple.com/app/id1",
        "android": "https://play.google.com/store/apps/details?id=x",
        "geo": {"de": "https://example.de", "FR": "https://example.fr"},
        "doIndex": True,
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": "spring",
        "utm_term": "shoes",
        "utm_content": "hero",
        "ref": "partner",
        "programId": "prog_1",
        "webhookIds": [hook],
        "redirectStatus": 307,
    }
    link = create(api, **body)
    assert link["domain"] == "other.test" and link["key"] == "spring-sale"
    assert link["shortLink"] == "http://other.test/spring-sale"
    assert link["externalId"] == "order-42"
    assert link["url"] == (
        "https://example.com/landing?x=1&utm_source=newsletter&utm_medium=email&utm_campaign=spring"
        "&utm_term=shoes&utm_content=hero&ref=partner"
    )
    assert (link["utm_source"], link["utm_medium"], link["utm_campaign"], link["utm_term"], link["utm_content"]) == (
        "newsletter", "email", "spring", "shoes", "hero")
    assert [t["name"] for t in link["tags"]] == ["Promo", "spring"]
    assert link["tagId"] == link["tags"][0]["id"]
    assert link["expiresAt"] == "2030-01-02T01:04:05.000Z"
    assert link["title"] == "T" * 120 and link["description"] == "D" * 240
    assert link["geo"] == {"DE": "https://example.de", "FR": "https://example.fr"}
    assert link["password"] is None and link["passwordProtected"] is True
    for name in ("trackConversion", "archived", "publicStats", "proxy", "rewrite", "doIndex"):
        assert link[name] is True, name
    assert link["ios"] == "itms-apps://apps.apple.com/app/id1"
    assert link["webhookIds"] == [hook] and link["redirectStatus"] == 307
    assert link["tenantId"] == "tenant-1" and link["identifier"] == "ident-1" and link["programId"] == "prog_1"
    row = run(core.store.get_link, link["id"])
    assert row["password_hash"] != "s3cret" and verify_password("s3cret", row["password_hash"])
    assert api.get(f"/api/links/{link['id']}").json() == link


def test_scheme_less_url_gets_https(api):
    assert create(api, url="example.com/a")["url"] == "https://example.com/a"
    assert create(api, url="https://example.com/a b")["url"] == "https://example.com/a%20b"


@pytest.mark.parametrize("url", [
    "mailto:hello@example.com", "tel:+4912345", "sms:+4912345", "itms-apps://apps.apple.com/app/id1",
    "market://details?id=com.example", "whatsapp://send?text=hi", "tg://resolve?domain=x",
])
def test_app_deep_links_are_allowed(api, url):
    assert create(api, url=url)["url"] == url


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "data:text/html,<b>x</b>",
    "vbscript:msgbox", "file:///etc/passwd", "ftp://example.com/x", "http://", "https:///nohost",
    "not a url", "nodots", "https://exa mple.com", "https://example.com:99999/",
])
def test_dangerous_or_broken_urls_are_422(api, url):
    message = error(api.post("/api/links", json={"url": url}), 422, "unprocessable_entity")
    assert "url" in message
    assert api.get("/api/links/count").json() == 0


def test_keys_are_normalised_like_dub(api):
    assert create(api, url="https://a.com", key="/gh/repo/")["key"] == "gh/repo"
    korean = create(api, url="https://a.com", key="한글링크테스트")
    assert korean["key"] == "xn--" + "한글링크테스트".encode("punycode").decode()
    assert create(api, url="https://a.com", key="a.ü")["key"] == "a.xn--tda"
    assert create(api, url="https://a.com", key="🔥")["key"].startswith("xn--")
    assert create(api, url="https://a.com", key="_root")["shortLink"] == "http://go.test"


@pytest.mark.parametrize("key, status", [
    ("_private", 422), ("/_/health", 422), ("a b", 422), ("a?b", 422), ("a#b", 422), ("x%20", 422),
    ("wp-login.php", 422), (".well-known/x", 422), ("k" * 191, 422),
    ("exe.\u202egnp", 422), ("pay\u200bpal", 422), ("\ufeffbom", 422),
    ("robots.txt", 403), ("favicon.ico", 403), ("api", 403), ("API/links", 403), ("sitemap.xml", 403),
])
def test_bad_and_reserved_keys(api, key, status):
    r = api.post("/api/links", json={"url": "https://a.com", "key": key})
    error(r, status, "unprocessable_entity" if status == 422 else "forbidden")


def test_duplicate_key_is_409_case_insensitively(api):
    create(api, url="https://a.com", key="Promo")
    message = error(api.post("/api/links", json={"url": "https://b.com", "key": "promo"}), 409, "conflict")
    assert message == "Duplicate key: This short link already exists."
    # the same key on another domain is fine
    assert create(api, url="https://b.com", key="promo", domain="other.test")["domain"] == "other.test"


def test_duplicate_external_id_is_409(api):
    create(api, url="https://a.com", externalId="abc")
    message = error(api.post("/api/links", json={"url": "https://b.com", "externalId": "ext_abc"}), 409, "conflict")
    assert "externalId" in message


def test_random_keys_length_and_prefix(api):
    assert len(create(api, url="https://a.com", keyLength=12)["key"]) == 12
    key = create(api, url="https://a.com", prefix="/gh/")["key"]
    assert re.fullmatch(r"gh/[0-9A-Za-z]{7}", key)
    keys = {create(api, url="https://a.com", keyLength=3)["key"] for _ in range(20)}
    assert len(keys) == 20


@pytest.mark.parametrize("prefix", ["ü", "a/ü", "한글"])
def test_a_random_key_under_a_unicode_prefix_redirects_from_its_unicode_path(api, prefix):
    """The whole key is encoded, as the redirect encodes the whole path it looks up (found by an
    outside tester: the prefix alone was encoded, and `/ü/random` answered 404)."""
    from urllib.parse import quote

    from shortener.keys import punycode

    link = create(api, url="https://dest.test/p", prefix=prefix)
    # Punycode keeps a label's ASCII characters, in order, before its last `-`.
    typed = f"{prefix}/{link['key'][len('xn--'):].rsplit('-', 1)[0][-7:]}"
    assert link["key"] == punycode(typed)
    r = api.get("/" + quote(typed), headers={"user-agent": "Mozilla/5.0 Firefox/128.0"})
    assert r.status_code == 302 and r.headers["location"] == "https://dest.test/p"


def test_keys_with_dot_segments_are_refused_since_no_client_can_reach_them(api):
    """Browsers and HTTP clients resolve `.` and `..` segments before sending (found by an outside
    tester: `..` and `../../etc/passwd` were accepted and stored). Dots inside a segment are fine."""
    for key in (".", "..", "../../etc/passwd", "a/./b", "a/..", "./a"):
        assert "not supported" in error(api.post("/api/links", json={"url": "https://a.com", "key": key}),
                                         422, "unprocessable_entity"), key
    for prefix in ("..", "a/."):
        assert "prefix" in error(api.post("/api/links", json={"url": "https://a.com", "prefix": prefix}),
                                 422, "unprocessable_entity"), prefix
    assert api.get("/api/links").json() == []
    assert [create(api, url="https://a.com", key=k)["key"] for k in ("a.b", "..a", ".a", "a../b")] == [
        "a.b", "..a", ".a", "a../b"]


def test_unknown_domain_is_403(api):
    error(api.post("/api/links", json={"url": "https://a.com", "domain": "nope.test"}), 403, "forbidden")


def test_tag_names_create_unknown_tags_and_tag_ids_must_exist(api):
    link = create(api, url="https://a.com", tagNames="alpha, Beta")
    tags = {t["name"]: t for t in api.get("/api/tags").json()}
    assert set(tags) == {"alpha", "Beta"}
    # case-insensitive match on an existing name, no duplicate tag
    again = create(api, url="https://b.com", tagNames=["ALPHA"])
    assert again["tags"] == [tags["alpha"]] and len(api.get("/api/tags").json()) == 2
    assert create(api, url="https://c.com", tagIds=[tags["Beta"]["id"]])["tags"] == [tags["Beta"]]
    message = error(api.post("/api/links", json={"url": "https://d.com", "tagIds": ["tag_nope", tags["Beta"]["id"]]}),
                    422, "unprocessable_entity")
    assert message == "Invalid tagIds detected: tag_nope"
    assert link["tags"][0]["color"] in ("red", "yellow", "green", "blue", "purple", "brown", "gray", "pink")


def test_root_link_may_have_no_url_but_others_must(api):
    assert create(api, url="", key="_root", domain="other.test")["url"] == ""
    error(api.post("/api/links", json={"url": "", "key": "x"}), 400, "bad_request")


# -- read --------------------------------------------------------------------------------------

def test_get_by_id_ext_and_domain_key(api):
    link = create(api, url="https://a.com", key="Find-Me", externalId="e1")
    assert api.get("/api/links/info", params={"linkId": link["id"]}).json() == link
    assert api.get("/api/links/info", params={"externalId": "ext_e1"}).json() == link
    assert api.get("/api/links/info", params={"domain": "GO.test", "key": "find-me"}).json() == link
    # the domain read as the analytics filters read it: the root's dot is the same name
    assert api.get("/api/links/info", params={"domain": "go.test.", "key": "find-me"}).json() == link
    assert api.get("/api/links/ext_e1").json() == link
    error(api.get("/api/links/info", params={"externalId": "nope"}), 400, "bad_request")
    error(api.get("/api/links/info", params={"linkId": "link_nope"}), 404, "not_found")
    error(api.get("/api/links/info", params={"domain": "go.test", "key": "nope"}), 404, "not_found")
    error(api.get("/api/links/info"), 400, "bad_request")


def test_list_filters_sort_and_pages(api, core, run):
    a = create(api, url="https://alpha.com", key="a", tagNames=["red-team"])
    b = create(api, url="https://beta.com", key="b", domain="other.test")
    c = create(api, url="https://gamma.com/alpha", key="c", archived=True, tagNames=["red-team"])
    ids = lambda r: [l["id"] for l in r.json()]  # noqa: E731
    assert ids(api.get("/api/links")) == [b["id"], a["id"]]
    assert ids(api.get("/api/links", params={"showArchived": "true"})) == [c["id"], b["id"], a["id"]]
    assert ids(api.get("/api/links", params={"domain": "other.test"})) == [b["id"]]
    assert ids(api.get("/api/links", params={"search": "alpha", "showArchived": "true"})) == [c["id"], a["id"]]
    assert ids(api.get("/api/links", params={"tagNames": "RED-team"})) == [a["id"]]
    assert ids(api.get("/api/links", params={"tagIds": a["tagId"], "showArchived": "true"})) == [c["id"], a["id"]]
    assert ids(api.get("/api/links", params={"withTags": "true"})) == [a["id"]]
    assert ids(api.get("/api/links", params={"sortOrder": "asc"})) == [a["id"], b["id"]]
    assert ids(api.get("/api/links", params={"sort": "createdAt", "sortOrder": "asc"})) == [a["id"], b["id"]]
    assert ids(api.get("/api/links", params={"pageSize": 1, "page": 2})) == [a["id"]]
    assert ids(api.get("/api/links", params={"startingAfter": b["id"]})) == [a["id"]]
    assert ids(api.get("/api/links", params={"endingBefore": a["id"]})) == [b["id"]]
    assert api.get("/api/links", params={"page": 3, "pageSize": 1}).json() == []
    assert api.get("/api/links/count").json() == 2
    assert api.get("/api/links/count", params={"showArchived": "true", "tagNames": "red-team"}).json() == 2
    assert api.get("/api/links/count", params={"groupBy": "domain"}).json() == [
        {"domain": "go.test", "_count": 1}, {"domain": "other.test", "_count": 1}]
    error(api.get("/api/links", params={"pageSize": 101}), 422, "unprocessable_entity")
    error(api.get("/api/links", params={"sortBy": "key"}), 422, "unprocessable_entity")


def test_sort_by_clicks(api, core, run):
    a = create(api, url="https://a.com", key="a")
    b = create(api, url="https://b.com", key="b")
    r = api.get("/api/links", params={"sortBy": "clicks", "sortOrder": "asc"})
    assert [l["id"] for l in r.json()] == [a["id"], b["id"]]


# -- update, upsert, delete --------------------------------------------------------------------

def test_update_fields_password_and_tags(api, core, run, events):
    link = create(api, url="https://a.com/x", key="old", password="one", tagNames=["t1"])
    hash1 = run(core.store.get_link, link["id"])["password_hash"]
    r = api.patch(f"/api/links/{link['id']}", json={"key": "new", "password": "two", "utm_medium": "cpc",
                                                     "tagNames": ["t2"], "redirectStatus": 308})
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["key"] == "new" and updated["url"] == "https://a.com/x?utm_medium=cpc"
    assert updated["utm_medium"] == "cpc" and [t["name"] for t in updated["tags"]] == ["t2"]
    assert updated["redirectStatus"] == 308 and updated["passwordProtected"] is True
    assert updated["createdAt"] == link["createdAt"] and updated["updatedAt"] >= link["updatedAt"]
    hash2 = run(core.store.get_link, link["id"])["password_hash"]
    assert hash2 != hash1 and verify_password("two", hash2) and not verify_password("one", hash2)
    assert events[-1] == ("link.updated", link["id"], "new", "old")

    cleared = api.patch(f"/api/links/{link['id']}", json={"password": None, "tagIds": [], "redirectStatus": None,
                                                          "utm_medium": None}).json()
    assert cleared["passwordProtected"] is False and cleared["tags"] == [] and cleared["redirectStatus"] is None
    assert cleared["url"] == "https://a.com/x" and cleared["utm_medium"] is None
    assert run(core.store.get_link, link["id"])["password_hash"] is None
    # PUT is accepted as PATCH, ext_ ids work for updates
    api.patch(f"/api/links/{link['id']}", json={"externalId": "e9"})
    assert api.put("/api/links/ext_e9", json={"title": "hi"}).json()["title"] == "hi"


def test_update_conflicts_and_missing(api):
    create(api, url="https://a.com", key="taken", externalId="x1")
    other = create(api, url="https://b.com", key="free")
    error(api.patch(f"/api/links/{other['id']}", json={"key": "TAKEN"}), 409, "conflict")
    error(api.patch(f"/api/links/{other['id']}", json={"externalId": "x1"}), 409, "conflict")
    error(api.patch("/api/links/link_missing", json={"key": "z"}), 404, "not_found")
    # changing only the case of its own key is not a conflict
    assert api.patch(f"/api/links/{other['id']}", json={"key": "FREE"}).json()["key"] == "FREE"


def test_upsert_matches_on_url(api, events):
    first = api.put("/api/links/upsert", json={"url": "https://up.com/page", "key": "up1", "password": "pw"}).json()
    assert first["key"] == "up1"
    unchanged = api.put("/api/links/upsert", json={"url": "https://up.com/page", "password": "pw"}).json()
    assert unchanged == first  # nothing to change: returned as it is, not written
    again = api.put("/api/links/upsert", json={"url": "https://up.com/page", "title": "Now titled"})
    assert again.status_code == 200
    assert again.json()["id"] == first["id"] and again.json()["title"] == "Now titled"
    other = api.put("/api/links/upsert", json={"url": "https://up.com/other"}).json()
    assert other["id"] != first["id"]
    # the match is on the requested domain
    elsewhere = api.put("/api/links/upsert", json={"url": "https://up.com/page", "domain": "other.test"}).json()
    assert elsewhere["id"] != first["id"] and elsewhere["domain"] == "other.test"
    assert [e[0] for e in events] == ["link.created", "link.updated", "link.created", "link.created"]


def test_delete_and_events(api, events):
    link = create(api, url="https://a.com", externalId="del")
    assert api.delete("/api/links/ext_del").json() == {"id": link["id"]}
    error(api.get(f"/api/links/{link['id']}"), 404, "not_found")
    error(api.delete(f"/api/links/{link['id']}"), 404, "not_found")
    assert events[-1] == ("link.deleted", link["id"], link["key"], None)


# -- bulk ------------------------------------------------------------------------------------

def test_bulk_create_mixes_links_and_errors(api, events):
    create(api, url="https://a.com", key="exists")
    r = api.post("/api/links/bulk", json=[
        {"url": "https://one.com", "key": "one"},
        {"url": "javascript:alert(1)"},
        {"url": "https://dup.com", "key": "EXISTS"},
        {"url": "https://two.com", "key": "one"},          # duplicate inside the batch
        {"url": "https://three.com", "tagNames": ["bulk"]},
        "not an object",
    ])
    assert r.status_code == 200
    out = r.json()
    assert out[0]["key"] == "one" and set(out[0]) == LINK_KEYS
    assert out[1]["code"] == "unprocessable_entity" and out[1]["link"] == {"url": "javascript:alert(1)"}
    assert out[2] == {"link": {"url": "https://dup.com", "key": "EXISTS"},
                      "error": "Duplicate key: This short link already exists.", "code": "conflict"}
    assert out[3]["code"] == "conflict"
    assert out[4]["tags"][0]["name"] == "bulk"
    assert out[5]["code"] == "unprocessable_entity"
    assert api.get("/api/links/count").json() == 3
    assert [e[0] for e in events] == ["link.created"] * 3


def test_bulk_update_and_delete(api, events):
    a = create(api, url="https://a.com", key="a", externalId="ea")
    b = create(api, url="https://b.com/p?q=1", key="b")
    r = api.patch("/api/links/bulk", json={"linkIds": [b["id"], "link_nope", "ext_ea"], "externalIds": ["ext_ea"],
                                           "data": {"utm_source": "bulk", "archived": True, "key": "ignored"}})
    assert r.status_code == 200, r.text
    by_id = {l["id"]: l for l in r.json()}
    assert set(by_id) == {a["id"], b["id"]}
    assert by_id[a["id"]]["url"] == "https://a.com/?utm_source=bulk"
    assert by_id[b["id"]]["url"] == "https://b.com/p?q=1&utm_source=bulk"
    assert by_id[b["id"]]["archived"] is True and by_id[b["id"]]["key"] == "b"
    r = api.delete("/api/links/bulk", params={"linkIds": f"{a['id']},{b['id']},link_nope"})
    assert r.json() == {"deletedCount": 2}
    assert api.get("/api/links/count", params={"showArchived": "true"}).json() == 0
    assert sorted(e[0] for e in events) == ["link.created"] * 2 + ["link.deleted"] * 2 + ["link.updated"] * 2


def test_bulk_limits(api):
    error(api.post("/api/links/bulk", json=[{"url": "https://a.com"}] * 101), 422, "unprocessable_entity")
    error(api.post("/api/links/bulk", json=[]), 400, "bad_request")
    ids = ",".join(f"link_{i}" for i in range(101))
    error(api.delete("/api/links/bulk", params={"linkIds": ids}), 422, "unprocessable_entity")
    error(api.patch("/api/links/bulk", json={"data": {"archived": True}}), 400, "bad_request")
    assert api.get("/api/links/count").json() == 0


def test_a_random_key_that_collides_is_drawn_again(api, monkeypatch):
    from shortener import keys

    create(api, url="https://a.com", key="Taken1")
    draws = iter(["taken1", "taken1", "fresh01", "fresh02"])
    monkeypatch.setattr(keys, "random_key", lambda length=7, prefix="": next(draws))
    assert create(api, url="https://b.com")["key"] == "fresh01"
    out = api.post("/api/links/bulk", json=[{"url": "https://c.com"}]).json()
    assert out[0]["key"] == "fresh02"


def test_bulk_update_sets_a_password_on_every_link(api, core, run):
    ids = [create(api, url=f"https://a.com/{i}")["id"] for i in range(3)]
    out = api.patch("/api/links/bulk", json={"linkIds": ids, "data": {"password": "shared", "tagNames": ["pw"]}}).json()
    assert [l["passwordProtected"] for l in out] == [True] * 3
    assert {l["tags"][0]["name"] for l in out} == {"pw"} and len(api.get("/api/tags").json()) == 1
    for link_id in ids:
        assert verify_password("shared", run(core.store.get_link, link_id)["password_hash"])


def test_concurrent_creates_of_one_key_yield_one_link(live_server):
    """Two clients racing for a key: the check runs inside the insert's write transaction."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    server = live_server()
    headers = {"Authorization": f"Bearer {server.key}"}

    def post(i: int) -> int:
        body = {"url": f"https://example.com/{i}", "key": "race", "externalId": f"race-{i % 2}"}
        return httpx.post(f"{server.api_url}/links", json=body, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(post, range(16)))
    assert statuses == [200] + [409] * 15
    links = httpx.get(f"{server.api_url}/links", headers=headers, timeout=30).json()
    assert [l["key"] for l in links] == ["race"]


def test_concurrent_upserts_of_one_url_yield_one_link(live_server):
    """20 upserts of one URL at once (found by an outside tester: up to 3 links, or a 409 for a
    key the first had just taken). Each answers 200 with the one link, as they would in turn."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    server = live_server()
    headers = {"Authorization": f"Bearer {server.key}"}
    cases = {"keys": lambda i: {"url": "https://up.test/keys", "key": f"k{i}"},
             "one key": lambda i: {"url": "https://up.test/same", "key": "same"},
             "no key": lambda i: {"url": "https://up.test/none"}}
    for name, body in cases.items():
        def put(i: int) -> tuple[int, str]:
            r = httpx.put(f"{server.api_url}/links/upsert", json=body(i), headers=headers, timeout=30)
            return r.status_code, r.json().get("id", r.text)

        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(put, range(20)))
        links = httpx.get(f"{server.api_url}/links", params={"search": body(0)["url"]}, headers=headers,
                          timeout=30).json()
        assert len(links) == 1, (name, links)
        assert answers == [(200, links[0]["id"])] * 20, name
        if name == "one key":
            assert links[0]["key"] == "same"


def test_upsert_locks_are_made_per_url_and_dropped_once_released():
    import asyncio

    from shortener.keyedlocks import KeyedLocks

    async def scenario():
        locks, order = KeyedLocks(), []

        async def user(key, name):
            async with locks.hold(key):
                order.append(f"{name} in")
                await asyncio.sleep(0.01)
                order.append(f"{name} out")

        task = asyncio.gather(user("a", "a1"), user("a", "a2"), user("b", "b1"))
        await asyncio.sleep(0.005)
        during = len(locks)
        await task
        return order, during, len(locks)

    order, during, after = asyncio.run(scenario())
    assert order.index("a1 out") < order.index("a2 in")  # one URL: in turn
    assert order.index("b1 in") < order.index("a1 out")  # another URL: meanwhile
    assert (during, after) == (2, 0)


def test_bulk_of_100_links_with_the_longest_urls_fits(api):
    url = "https://example.com/" + "a" * (32000 - len("https://example.com/"))
    r = api.post("/api/links/bulk", json=[{"url": url} for _ in range(100)])
    assert r.status_code == 200, r.text[:300]
    assert [len(l["url"]) for l in r.json()] == [32000] * 100
