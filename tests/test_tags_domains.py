"""Tags and domains through HTTP."""
from __future__ import annotations

import pytest

from conftest import record_link_changes

COLORS = {"red", "yellow", "green", "blue", "purple", "brown", "gray", "pink"}
DOMAIN_KEYS = {
    "id", "slug", "verified", "primary", "archived", "placeholder", "expiredUrl", "notFoundUrl", "logo",
    "assetLinks", "appleAppSiteAssociation", "cookieDomain", "registeredDomain", "createdAt", "updatedAt",
}


@pytest.fixture
def events(core, monkeypatch):
    """Every core.link_changed call as (event, link id, domain, previous domain)."""
    return record_link_changes(core, monkeypatch, "domain")


def code(r, status):
    assert r.status_code == status, r.text
    return r.json()["error"]["code"]


# -- tags ------------------------------------------------------------------------------------

def test_tag_lifecycle(api):
    r = api.post("/api/tags", json={"name": "Launch", "color": "blue"})
    assert r.status_code == 201
    tag = r.json()
    assert tag["name"] == "Launch" and tag["color"] == "blue" and tag["id"].startswith("tag_")
    random_colour = api.post("/api/tags", json={"name": "other"}).json()
    assert random_colour["color"] in COLORS
    deprecated = api.post("/api/tags", json={"tag": "old-style"})
    assert deprecated.status_code == 201 and deprecated.json()["name"] == "old-style"

    assert [t["name"] for t in api.get("/api/tags").json()] == ["Launch", "old-style", "other"]
    assert [t["name"] for t in api.get("/api/tags", params={"sortBy": "name", "sortOrder": "desc"}).json()] == [
        "other", "old-style", "Launch"]
    assert [t["name"] for t in api.get("/api/tags", params={"search": "LAUN"}).json()] == ["Launch"]
    assert [t["id"] for t in api.get("/api/tags", params={"ids": tag["id"]}).json()] == [tag["id"]]
    assert len(api.get("/api/tags", params={"pageSize": 1, "page": 3}).json()) == 1

    updated = api.patch(f"/api/tags/{tag['id']}", json={"name": "Launched", "color": "green"})
    assert updated.status_code == 200 and updated.json() == {"id": tag["id"], "name": "Launched", "color": "green"}
    assert api.delete(f"/api/tags/{tag['id']}").json() == {"id": tag["id"]}
    assert code(api.delete(f"/api/tags/{tag['id']}"), 404) == "not_found"
    assert code(api.patch("/api/tags/tag_nope", json={"name": "x"}), 404) == "not_found"


def test_tag_rules(api):
    api.post("/api/tags", json={"name": "Dup"})
    assert code(api.post("/api/tags", json={"name": "dup"}), 409) == "conflict"
    assert code(api.post("/api/tags", json={"name": "x", "color": "orange"}), 422) == "unprocessable_entity"
    assert code(api.post("/api/tags", json={"name": "x" * 51}), 422) == "unprocessable_entity"
    assert code(api.post("/api/tags", json={}), 422) == "unprocessable_entity"
    assert code(api.post("/api/tags", json={"name": 5}), 422) == "unprocessable_entity"
    other = api.post("/api/tags", json={"name": "Other"}).json()
    assert code(api.patch(f"/api/tags/{other['id']}", json={"name": "DUP"}), 409) == "conflict"
    assert len(api.get("/api/tags").json()) == 2


def test_deleting_a_tag_detaches_it_from_links(api):
    link = api.post("/api/links", json={"url": "https://a.com", "tagNames": ["gone", "kept"]}).json()
    gone = next(t for t in link["tags"] if t["name"] == "gone")
    api.delete(f"/api/tags/{gone['id']}")
    assert [t["name"] for t in api.get(f"/api/links/{link['id']}").json()["tags"]] == ["kept"]


# -- domains ---------------------------------------------------------------------------------

def test_configured_domains_exist_from_the_start(api):
    domains = api.get("/api/domains").json()
    assert [d["slug"] for d in domains] == ["go.test", "other.test"]
    assert set(domains[0]) == DOMAIN_KEYS
    assert domains[0]["primary"] is True and domains[1]["primary"] is False
    assert all(d["verified"] for d in domains)


def test_ensure_configured_is_idempotent(api, core, run):
    before = api.get("/api/domains").json()
    assert run(core.domains.ensure_configured) == []
    assert api.get("/api/domains").json() == before


def test_domain_lifecycle(api):
    r = api.post("/api/domains", json={
        "slug": "Go.Example.com", "expiredUrl": "https://example.com/expired",
        "notFoundUrl": "example.com/404", "placeholder": "https://example.com/landing",
        "cookieDomain": ".example.com", "assetLinks": "[]", "appleAppSiteAssociation": "{}",
    })
    assert r.status_code == 201, r.text
    dom = r.json()
    assert dom["slug"] == "go.example.com" and dom["notFoundUrl"] == "https://example.com/404"
    assert dom["cookieDomain"] == ".example.com" and dom["primary"] is False
    assert code(api.post("/api/domains", json={"slug": "GO.EXAMPLE.COM"}), 409) == "conflict"

    updated = api.patch("/api/domains/go.example.com", json={"notFoundUrl": None, "archived": True})
    assert updated.status_code == 200 and updated.json()["notFoundUrl"] is None
    assert "go.example.com" not in [d["slug"] for d in api.get("/api/domains").json()]
    assert [d["slug"] for d in api.get("/api/domains", params={"archived": "true"}).json()] == ["go.example.com"]
    assert [d["slug"] for d in api.get("/api/domains", params={"search": "other"}).json()] == ["other.test"]
    assert api.delete("/api/domains/go.example.com").json() == {"slug": "go.example.com"}
    assert code(api.delete("/api/domains/go.example.com"), 404) == "not_found"


@pytest.mark.parametrize("body", [
    {"slug": "not a domain"}, {"slug": "nodot"}, {"slug": "-bad.com"}, {"slug": 12}, {},
    {"slug": "x.com", "notFoundUrl": "javascript:alert(1)"},
    {"slug": "x.com", "cookieDomain": ".other.com"},
    {"slug": "x.com", "cookieDomain": ".com"},
    {"slug": "x.com", "assetLinks": "{not json"},
    {"slug": "x.com", "archived": "yes"},
])
def test_domain_validation(api, body):
    assert code(api.post("/api/domains", json=body), 422) == "unprocessable_entity"
    assert len(api.get("/api/domains", params={"archived": "true"}).json()) == 0
    assert len(api.get("/api/domains").json()) == 2


@pytest.mark.parametrize("slug, message", [
    ("go.example.com", "Must be go.example.com or a parent domain of it (e.g. .example.com)."),
    ("x.com", "Must be x.com."),  # `.com` would be refused: no parent to suggest
    ("127.0.0.1:8901", "Must be 127.0.0.1."),
])
def test_a_refused_cookie_domain_suggests_only_what_would_be_accepted(api, slug, message):
    r = api.post("/api/domains", json={"slug": slug, "cookieDomain": ".other.test"})
    assert r.status_code == 422 and r.json()["error"]["message"].endswith(message), r.text
    suggestion = message.split("e.g. ")[-1].rstrip(").") if "e.g." in message else slug.partition(":")[0]
    r = api.post("/api/domains", json={"slug": slug, "cookieDomain": suggestion})
    assert r.status_code in (200, 201) and r.json()["cookieDomain"] == suggestion, r.text


def test_the_default_domain_cannot_be_deleted_or_renamed(api):
    assert code(api.delete("/api/domains/go.test"), 403) == "forbidden"
    assert code(api.patch("/api/domains/go.test", json={"slug": "new.test"}), 403) == "forbidden"
    # its other settings can change
    r = api.patch("/api/domains/go.test", json={"notFoundUrl": "https://example.com/nf", "cookieDomain": "go.test"})
    assert r.status_code == 200 and r.json()["notFoundUrl"] == "https://example.com/nf"


def test_deleting_a_domain_deletes_its_links(api, events):
    a = api.post("/api/links", json={"url": "https://a.com", "domain": "other.test"}).json()
    b = api.post("/api/links", json={"url": "https://b.com", "domain": "other.test"}).json()
    keep = api.post("/api/links", json={"url": "https://c.com"}).json()
    events.clear()
    assert api.delete("/api/domains/other.test").status_code == 200
    assert sorted(events) == sorted([("link.deleted", a["id"], "other.test", None),
                                     ("link.deleted", b["id"], "other.test", None)])
    assert [l["id"] for l in api.get("/api/links").json()] == [keep["id"]]
    assert code(api.post("/api/links", json={"url": "https://d.com", "domain": "other.test"}), 403) == "forbidden"


def test_renaming_a_domain_moves_its_links(api, events):
    link = api.post("/api/links", json={"url": "https://a.com", "key": "k", "domain": "other.test"}).json()
    events.clear()
    r = api.patch("/api/domains/other.test", json={"slug": "renamed.test"})
    assert r.status_code == 200 and r.json()["slug"] == "renamed.test"
    moved = api.get(f"/api/links/{link['id']}").json()
    assert moved["domain"] == "renamed.test" and moved["shortLink"] == "http://renamed.test/k"
    assert events == [("link.updated", link["id"], "renamed.test", "other.test")]
    assert code(api.patch("/api/domains/renamed.test", json={"slug": "go.test"}), 409) == "conflict"


def test_a_domain_answers_as_soon_as_it_is_created(settings):
    # A visit before the domain existed is remembered as "unknown domain"; creating the domain
    # must end that at once, not at the next change-log sync (pushed an hour away here).
    from redirect_support import client_with

    with client_with(settings, cache_sync_seconds=3600) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        assert c.get("/promo", headers={"host": "Fresh.Example.com"}).status_code == 404
        assert c.get("/promo", headers={"host": "www.fresh.example.com"}).status_code == 404
        run(core.domains.create, {"slug": "fresh.example.com"})
        run(core.links.create, {"url": "https://example.com/promo", "domain": "fresh.example.com", "key": "promo"})
        for host in ("Fresh.Example.com", "www.fresh.example.com"):
            r = c.get("/promo", headers={"host": host})
            assert r.status_code == 302 and r.headers["location"] == "https://example.com/promo"
        run(core.domains.delete, "fresh.example.com")
        assert c.get("/promo", headers={"host": "Fresh.Example.com"}).status_code == 404
