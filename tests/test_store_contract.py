"""Store contract for links, tags and domains: what any backend must do, checked at the store level.

Parametrised over backends. Only "sqlite" exists; a PostgreSQL store adds "postgres" to BACKENDS
(opened from a DSN in an environment variable, skipped when it is not set) and must pass unchanged.
"""
from __future__ import annotations

import asyncio
import os

import pytest

from shortener.config import Settings
from shortener.ids import new_id
from shortener.store import open_store

BACKENDS = ["sqlite"]
T0 = "2026-01-01T00:00:00.000Z"


def settings_for(backend: str, tmp_path) -> Settings:
    if backend == "sqlite":
        return Settings(data_dir=str(tmp_path / "data"), sqlite_synchronous="normal")
    dsn = os.environ.get("SHORTENER_TEST_POSTGRES_URL")
    if not dsn:
        pytest.skip(f"{backend}: SHORTENER_TEST_POSTGRES_URL is not set")
    return Settings(data_dir=str(tmp_path / "data"), database_url=dsn)


@pytest.fixture(params=BACKENDS)
def use_store(request, tmp_path):
    """`use_store(async_fn)` runs `async_fn(store)` against a fresh, migrated store."""
    settings = settings_for(request.param, tmp_path)

    def run(body):
        async def main():
            store = await open_store(settings)
            try:
                await store.ensure_domains([domain_row("go.test"), domain_row("other.test")], "go.test")
                return await body(store)
            finally:
                await store.close()

        return asyncio.run(main())

    return run


def domain_row(slug: str, **over) -> dict:
    row = {
        "id": new_id("dom_"), "slug": slug, "verified": 1, "is_primary": 0, "archived": 0,
        "placeholder": None, "expired_url": None, "not_found_url": None, "cookie_domain": None,
        "logo": None, "assetlinks": None, "apple_app_site_association": None,
        "created_at": T0, "updated_at": T0,
    }
    row.update(over)
    return row


def link_row(key: str, domain: str = "go.test", **over) -> dict:
    row = {
        "id": new_id("link_"), "domain": domain, "key": key, "url": f"https://example.com/{key}",
        "external_id": None, "tenant_id": None, "identifier": None, "track_conversion": 0, "archived": 0,
        "expires_at": None, "expired_url": None, "password_hash": None, "proxy": 0, "title": None,
        "description": None, "image": None, "video": None, "rewrite": 0, "do_index": 0, "ios": None,
        "android": None, "geo": None, "public_stats": 0, "comments": None, "utm_source": None,
        "utm_medium": None, "utm_campaign": None, "utm_term": None, "utm_content": None, "ref": None,
        "program_id": None, "partner_id": None, "folder_id": None, "user_id": None, "webhook_ids": "[]",
        "redirect_status": None, "disabled_at": None, "created_at": T0, "updated_at": T0,
    }
    row.update(over)
    return row


def tag_row(name: str, color: str = "blue") -> dict:
    return {"id": new_id("tag_"), "name": name, "color": color, "created_at": T0, "updated_at": T0}


def item(row: dict, tag_ids=(), new_tags=()) -> dict:
    return {"link": row, "tag_ids": list(tag_ids), "new_tags": list(new_tags)}


# -- domains ---------------------------------------------------------------------------------

def test_ensure_domains_is_idempotent_and_moves_primary(use_store):
    async def body(store):
        assert await store.ensure_domains([domain_row("go.test")], "go.test") == []
        assert await store.ensure_domains([domain_row("new.test")], "new.test") == ["new.test"]
        rows = await store.list_domains(archived=False)
        assert [(r["slug"], r["is_primary"]) for r in rows] == [("new.test", 1), ("go.test", 0), ("other.test", 0)]

    use_store(body)


def test_domain_insert_get_update_delete(use_store):
    async def body(store):
        assert await store.insert_domain(domain_row("x.test", not_found_url="https://nf")) is True
        assert await store.insert_domain(domain_row("X.TEST")) is False
        assert (await store.get_domain("X.Test"))["not_found_url"] == "https://nf"
        assert await store.update_domain("nope.test", {"archived": 1}) == "missing"
        assert await store.update_domain("x.test", {"slug": "other.test"}) == "slug_taken"
        await store.create_links([item(link_row("k", "x.test"))])
        assert await store.update_domain("x.test", {"slug": "y.test", "updated_at": T0}) == "ok"
        assert await store.get_domain("x.test") is None
        assert (await store.get_link_by_key("y.test", "k"))["domain"] == "y.test"
        assert await store.link_ids_on_domain("y.test") != []
        assert await store.update_domain("y.test", {"archived": 1}) == "ok"
        assert [d["slug"] for d in await store.list_domains(archived=True)] == ["y.test"]
        assert [d["slug"] for d in await store.list_domains(search="OTHER")] == ["other.test"]
        assert len(await store.list_domains(limit=1, offset=1)) == 1
        ids = await store.delete_domain_and_links("y.test")
        assert len(ids) == 1 and await store.get_link(ids[0]) is None
        assert await store.delete_domain_and_links("y.test") is None
        with pytest.raises(ValueError):
            await store.update_domain("go.test", {"id": "dom_x"})

    use_store(body)


# -- tags ------------------------------------------------------------------------------------

def test_tags(use_store):
    async def body(store):
        a, b = tag_row("Alpha", "red"), tag_row("beta")
        assert await store.insert_tag(a) and await store.insert_tag(b)
        assert await store.insert_tag(tag_row("ALPHA")) is False
        assert [t["id"] for t in await store.tags_by_names(["alpha", "nope"])] == [a["id"]]
        assert {t["id"] for t in await store.tags_by_ids([a["id"], b["id"], "tag_x"])} == {a["id"], b["id"]}
        assert [t["name"] for t in await store.list_tags()] == ["Alpha", "beta"]
        assert [t["name"] for t in await store.list_tags(descending=True)] == ["beta", "Alpha"]
        assert [t["name"] for t in await store.list_tags(search="ET")] == ["beta"]
        assert [t["name"] for t in await store.list_tags(ids=[b["id"]])] == ["beta"]
        assert [t["name"] for t in await store.list_tags(sort_by="createdAt", limit=1, offset=1)] != []
        assert await store.update_tag("tag_x", {"name": "x"}) == "missing"
        assert await store.update_tag(b["id"], {"name": "alpha"}) == "name_taken"
        assert await store.update_tag(b["id"], {"name": "Beta", "color": "pink"}) == "ok"
        assert (await store.get_tag(b["id"]))["color"] == "pink"
        assert await store.delete_tag(b["id"]) is True and await store.delete_tag(b["id"]) is False

    use_store(body)


# -- links -----------------------------------------------------------------------------------

def test_create_links_reports_clashes_and_attaches_tags(use_store):
    async def body(store):
        existing = tag_row("old")
        await store.insert_tag(existing)
        first = link_row("Key", external_id="e1")
        results = await store.create_links([
            item(first, [existing["id"]], [tag_row("new"), tag_row("NEW")]),
            item(link_row("key")),                               # same key, other case
            item(link_row("other", external_id="e1")),           # same external id
            item(link_row("key", "other.test"), [], [tag_row("new")]),
        ])
        assert results == [None, "key", "external_id", None]
        tags = await store.tags_of_links([first["id"]])
        assert [t["name"] for t in tags[first["id"]]] == ["old", "new"]
        assert len(await store.list_tags()) == 2
        assert (await store.get_link_by_key("go.test", "KEY"))["id"] == first["id"]
        assert (await store.get_link_by_external_id("e1"))["id"] == first["id"]
        assert await store.link_key_taken("go.test", "kEy") and not await store.link_key_taken("go.test", "x")
        assert await store.get_link_by_key("go.test", "missing") is None

    use_store(body)


def test_update_links_outcomes(use_store):
    async def body(store):
        a, b = link_row("a", external_id="ea"), link_row("b")
        t = tag_row("t")
        await store.insert_tag(t)
        await store.create_links([item(a, [t["id"]]), item(b)])
        results = await store.update_links([
            {"id": "link_missing", "changes": {"title": "x"}},
            {"id": b["id"], "changes": {"key": "A"}},
            {"id": b["id"], "changes": {"external_id": "ea"}},
            {"id": a["id"], "changes": {"key": "A", "title": "own key, new case"}, "tag_ids": []},
            {"id": b["id"], "changes": {"domain": "other.test", "key": "a"}, "tag_ids": None},
        ])
        assert results == ["missing", "key", "external_id", None, None]
        row = await store.get_link(a["id"])
        assert row["key"] == "A" and row["title"] == "own key, new case"
        assert (await store.tags_of_links([a["id"]]))[a["id"]] == []
        assert (await store.get_link(b["id"]))["domain"] == "other.test"
        with pytest.raises(ValueError):
            await store.update_links([{"id": a["id"], "changes": {"clicks": 5}}])

    use_store(body)


def test_delete_links_returns_what_existed(use_store):
    async def body(store):
        a, b = link_row("a"), link_row("b")
        await store.create_links([item(a), item(b)])
        assert sorted(await store.delete_links([a["id"], b["id"], "link_none"])) == sorted([a["id"], b["id"]])
        assert await store.get_links([a["id"], b["id"]]) == []

    use_store(body)


def test_list_and_count_links(use_store):
    async def body(store):
        t = tag_row("T")
        await store.insert_tag(t)
        rows = [
            link_row("a", created_at="2026-01-01T00:00:01.000Z", url="https://alpha.com"),
            link_row("b", "other.test", created_at="2026-01-01T00:00:02.000Z", tenant_id="t1"),
            link_row("c", created_at="2026-01-01T00:00:03.000Z", archived=1, url="https://x.com/alpha"),
            link_row("d", created_at="2026-01-01T00:00:04.000Z", url="https://same.com"),
            link_row("e", created_at="2026-01-01T00:00:05.000Z", url="https://same.com"),
        ]
        rows.sort(key=lambda r: r["created_at"])
        for i, r in enumerate(rows):  # ids in creation order, as new_id makes them
            r["id"] = f"link_{i:025d}"
        await store.create_links([item(r, [t["id"]] if r["key"] in "ac" else []) for r in rows])
        keys = lambda found: [r["key"] for r in found]  # noqa: E731
        assert keys(await store.list_links({})) == ["e", "d", "b", "a"]
        assert keys(await store.list_links({"show_archived": True}, descending=False)) == ["a", "b", "c", "d", "e"]
        assert keys(await store.list_links({"domain": "OTHER.test"})) == ["b"]
        assert keys(await store.list_links({"search": "ALPHA", "show_archived": True})) == ["c", "a"]
        assert keys(await store.list_links({"search": "%"})) == []
        assert keys(await store.list_links({"tag_ids": [t["id"]]})) == ["a"]
        assert keys(await store.list_links({"tag_names": ["t"], "show_archived": True})) == ["c", "a"]
        assert keys(await store.list_links({"with_tags": True})) == ["a"]
        assert keys(await store.list_links({"tenant_id": "t1"})) == ["b"]
        assert keys(await store.list_links({}, limit=2, offset=1)) == ["d", "b"]
        assert keys(await store.list_links({}, starting_after=rows[3]["id"])) == ["b", "a"]
        assert keys(await store.list_links({}, ending_before=rows[1]["id"], limit=2)) == ["e", "d"]
        assert keys(await store.list_links({}, sort="lastClicked")) == ["e", "d", "b", "a"]
        assert keys(await store.list_links({}, sort="clicks", descending=False)) == ["a", "b", "d", "e"]
        assert (await store.get_link_by_url("https://same.com"))["key"] == "d"
        assert await store.get_link_by_url("https://same.com", "other.test") is None
        assert (await store.get_link_by_url("https://same.com", "GO.TEST"))["key"] == "d"
        assert await store.count_links({}) == 4
        assert await store.count_links({"show_archived": True, "tag_ids": [t["id"]]}) == 2
        assert await store.count_links({}, "domain") == [{"grp": "go.test", "n": 3}, {"grp": "other.test", "n": 1}]
        assert await store.count_links({"show_archived": True}, "tag_id") == [{"grp": t["id"], "n": 2}]

    use_store(body)


def test_link_by_url_compares_the_whole_url(use_store):
    async def body(store):
        long = "https://example.com/" + "p" * 200
        a, b = link_row("a", url=long + "/a"), link_row("b", url=long + "/b")
        await store.create_links([item(a), item(b)])
        assert (await store.get_link_by_url(long + "/b"))["key"] == "b"
        assert await store.get_link_by_url(long) is None

    use_store(body)


# -- dashboard sessions ------------------------------------------------------------------------

def test_dashboard_sessions_end_on_sign_out_expiry_and_owner_deletion(use_store):
    async def body(store):
        user = {"id": "user_1", "email": "o@example.com", "password_hash": "h", "created_at": T0, "updated_at": T0}
        assert await store.save_user(user)
        await store.start_session("a" * 64, "user_1", T0, "2026-01-15T00:00:00.000Z")
        await store.start_session("b" * 64, "user_1", T0, "2026-01-15T00:00:00.000Z")
        now = "2026-01-02T00:00:00.000Z"
        assert (await store.find_session_user("a" * 64, "user_1", now))["email"] == "o@example.com"
        assert await store.find_session_user("a" * 64, "user_2", now) is None  # another owner's id
        assert await store.find_session_user("a" * 64, "user_1", "2026-01-15T00:00:00.000Z") is None  # expired
        await store.end_session("a" * 64)
        assert await store.find_session_user("a" * 64, "user_1", now) is None
        assert await store.find_session_user("b" * 64, "user_1", now) is not None  # the other goes on
        # a new session clears those past their expiry
        await store.start_session("c" * 64, "user_1", "2026-02-01T00:00:00.000Z", "2026-02-15T00:00:00.000Z")
        assert await store.read("SELECT id_hash FROM dashboard_sessions") == [{"id_hash": "c" * 64}]
        # a new password ends them all; so does deleting the owner
        assert not await store.save_user({**user, "password_hash": "h2", "updated_at": "2026-02-02T00:00:00.000Z"})
        assert await store.find_session_user("c" * 64, "user_1", "2026-02-03T00:00:00.000Z") is None
        await store.start_session("d" * 64, "user_1", "2026-02-03T00:00:00.000Z", "2026-02-15T00:00:00.000Z")
        assert await store.delete_user("o@example.com")
        assert await store.read("SELECT id_hash FROM dashboard_sessions") == []

    use_store(body)
