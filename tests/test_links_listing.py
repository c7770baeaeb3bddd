"""GET /api/links sorted and searched gives the answers of reading every row.

014_links_listing.sql adds an index per sort and a trigram index for search; the list must not
change because of them. A few hundred links with varied keys and URLs (case, %, _, quotes,
non-ASCII), counters and archived states; every sort, order and search term is compared, page by
page and with its count, against a reference computed here from the rows themselves: the search
reference is the query the store ran before the trigram index (LIKE on every row).
"""
from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from schema_support import UNDO_014, UNDO_015, UNDO_016, UNDO_017, UNDO_018
from starlette.testclient import TestClient

import shortener.store.sqlite.base as store_base
import shortener.store.sqlite.links as store_links
from shortener.config import Settings
from shortener.store.sqlite.clicks import CLICK_COLUMNS
from shortener.web.app import create_app

WORDS = ["Café", "CAFÉ", "straße", "STRASSE", "日本語", "100%", "50%off", "a_b", "aXb", "Path_One",
         "path%20one", "KELVIN-\u212a", "\u0130stanbul", "quote\"d", "back\\slash", "ÉTÉ", "été", "x y",
         "NEAR", "AND(1)", "star*", "^caret", "k1", "K12"]
TERMS = ["k1", "K1", "k12", "a", "A", "é", "É", "ca", "café", "CAFÉ", "Café", "straße", "STRASSE", "ß",
         "日本", "日本語", "本語", "100%", "%", "%%", "0%o", "_", "a_b", "A_B", "a%b", "axb", "path_one",
         "PATH_ONE", "%20", "\\", "\\s", "back\\slash", '"', 'quote"d', '""', "kelvin-k", "KELVIN-\u212a",
         "\u212a", "istanbul", "\u0130stanbul", "ét", "été", "ÉTÉ", "x y", " ", "near", "and(1)", "star*",
         "*", "^caret", "(", "https", "site3.test/", "site3.test/p", "?w=", "w=near", "nothing-like-this",
         "o", "oo", "ooo", "-1", "/p1", "/P1", "   ", "x  y", "\ufffd", "é" * 3]
SORTS = {"createdAt": "created_at", "clicks": "clicks", "lastClicked": "last_clicked", "saleAmount": "sale_amount"}


def _client(data_dir: Path) -> TestClient:
    settings = Settings(data_dir=str(data_dir), domain="go.test", extra_domains=("other.test",),
                        sqlite_synchronous="normal", click_flush_ms=20)
    return TestClient(create_app(settings), base_url="http://go.test", follow_redirects=False)


def _authorize(client: TestClient) -> None:
    core = client.app_state["core"]
    _, key = client.portal.call(lambda: core.api_keys.create("tests"))
    client.headers["Authorization"] = f"Bearer {key}"


def _seed(client: TestClient, count: int, seed: int) -> list[dict]:
    """`count` links in bulk calls, some archived, some on other.test; clicks on two thirds."""
    rnd = random.Random(seed)
    links = []
    for start in range(0, count, 100):
        body = []
        for i in range(start, min(start + 100, count)):
            word = rnd.choice(WORDS)
            body.append({
                "url": f"https://site{i % 5}.test/p{i}/{word}?w={rnd.choice(WORDS)}",
                "key": rnd.choice(["k", "K", "Key_", "a_b", "X-y", "pct", "ooo"]) + str(i),
                "domain": "other.test" if i % 7 == 0 else "go.test",
                "archived": i % 9 == 0,
            })
        r = client.post("/api/links/bulk", json=body)
        assert r.status_code == 200, r.text
        links += r.json()
    assert all("id" in link for link in links), [link for link in links if "id" not in link][:1]
    core = client.app_state["core"]
    clicks = []
    for n, link in enumerate(links):
        if n % 3 == 2:
            continue
        for c in range(rnd.randint(1, 4)):
            row = {col: None for col in CLICK_COLUMNS}
            # Few distinct times, so lastClicked has ties that the id must break.
            row.update({"id": f"c{seed}x{n}x{c}", "link_id": link["id"], "domain": link["domain"],
                        "key": link["key"], "url": link["url"], "qr": 0, "trigger": "link",
                        "timestamp": f"2026-11-{rnd.randint(10, 14)}T10:00:00.000Z", "identity_hash": f"h{n}x{c}"})
            clicks.append(tuple(row[col] for col in CLICK_COLUMNS))
    assert client.portal.call(lambda: core.store.record_click_batch(clicks)) == len(clicks)
    return links


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("listing") / "data"
    with _client(data_dir) as client:
        _authorize(client)
        _seed(client, 300, seed=1)
        yield client, data_dir / "shortener.db"


def _rows(db: Path) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(
            "SELECT id, domain, key, url, archived, clicks, last_clicked, sale_amount, created_at FROM links")]
    finally:
        conn.close()


def _like_matches(db: Path, term: str) -> set[str]:
    """The ids the store's search found before the trigram index: LIKE on every row."""
    pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute(
            "SELECT id FROM links NOT INDEXED WHERE url LIKE ? ESCAPE '\\' OR key LIKE ? ESCAPE '\\'",
            (pattern, pattern))}
    finally:
        conn.close()


def _expected(rows: list[dict], *, sort: str, desc: bool, archived: bool, domain: str | None = None,
              ids: set[str] | None = None) -> list[str]:
    column = SORTS[sort]
    chosen = [r for r in rows if (archived or not r["archived"]) and (domain is None or r["domain"] == domain)
              and (ids is None or r["id"] in ids)]
    present = sorted((r for r in chosen if r[column] is not None), key=lambda r: (r[column], r["id"]), reverse=desc)
    # lastClicked: links never clicked come last in both orders.
    absent = sorted((r for r in chosen if r[column] is None), key=lambda r: r["id"], reverse=desc)
    return [r["id"] for r in present + absent]


def _listed(client: TestClient, page_size: int = 100, **params) -> list[str]:
    out, page = [], 1
    while True:
        r = client.get("/api/links", params={**params, "page": page, "pageSize": page_size})
        assert r.status_code == 200, r.text
        ids = [link["id"] for link in r.json()]
        out += ids
        if len(ids) < page_size:
            return out
        page += 1


def _count(client: TestClient, **params) -> int:
    r = client.get("/api/links/count", params=params)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("sort", list(SORTS))
def test_every_sort_and_order_lists_what_sorting_the_rows_gives(world, sort):
    client, db = world
    rows = _rows(db)
    assert len({r["clicks"] for r in rows}) > 3 and sum(r["last_clicked"] is None for r in rows) > 50
    for desc in (True, False):
        for archived in (False, True):
            params = {"sortBy": sort, "sortOrder": "desc" if desc else "asc"}
            if archived:
                params["showArchived"] = "true"
            expected = _expected(rows, sort=sort, desc=desc, archived=archived)
            assert len(expected) == (300 if archived else 300 - 34)
            assert _listed(client, page_size=40, **params) == expected, params
            assert _count(client, **({"showArchived": "true"} if archived else {})) == len(expected)
    expected = _expected(rows, sort=sort, desc=True, archived=False, domain="other.test")
    assert _listed(client, page_size=15, sortBy=sort, domain="other.test") == expected


@pytest.mark.parametrize("share", [1, 10**9], ids=["trigram", "scan"])
def test_search_finds_what_like_on_every_row_finds(world, monkeypatch, share):
    """Every term, through the trigram index (3+ characters) and through the row scan (what a
    term with too many candidates takes), for the default list, by clicks, with archived links
    and on one domain."""
    monkeypatch.setattr(store_links, "_SEARCH_INDEX_SHARE", share)
    client, db = world
    rows = _rows(db)
    found_some = 0
    for term in TERMS:
        ids = _like_matches(db, term)
        found_some += bool(ids)
        expected = _expected(rows, sort="createdAt", desc=True, archived=False, ids=ids)
        assert _listed(client, search=term) == expected, term
        assert _count(client, search=term) == len(expected), term
        expected = _expected(rows, sort="clicks", desc=True, archived=True, ids=ids)
        assert _listed(client, search=term, sortBy="clicks", showArchived="true") == expected, term
        assert _count(client, search=term, showArchived="true") == len(expected), term
        expected = _expected(rows, sort="lastClicked", desc=False, archived=False, ids=ids, domain="other.test")
        assert _listed(client, search=term, sortBy="lastClicked", sortOrder="asc", domain="other.test") == expected
    assert found_some > len(TERMS) // 2   # the terms do hit the data
    # Case: LIKE folds ASCII only, the trigram index folds more; the answers are LIKE's.
    assert _like_matches(db, "café") and _like_matches(db, "CAFÉ") != _like_matches(db, "café")


def test_search_with_a_cursor_pages_like_the_rows(world):
    client, db = world
    expected = _expected(_rows(db), sort="createdAt", desc=True, archived=False, ids=_like_matches(db, "site3"))
    assert len(expected) > 30
    r = client.get("/api/links", params={"search": "site3", "startingAfter": expected[9], "pageSize": 20})
    assert r.status_code == 200, r.text
    assert [link["id"] for link in r.json()] == expected[10:30]


def test_search_follows_edits_and_deletes(world):
    """The trigram index is kept by triggers: a new URL or key is found, the old one no longer,
    and a deleted link is gone."""
    client, db = world
    created = client.post("/api/links", json={"url": "https://edit.test/first-Destination", "key": "EditMe"})
    assert created.status_code == 200, created.text
    link = created.json()
    assert _listed(client, search="first-destination") == [link["id"]]
    r = client.patch(f"/api/links/{link['id']}", json={"url": "https://edit.test/second-destination",
                                                       "key": "Renamed"})
    assert r.status_code == 200, r.text
    assert _listed(client, search="first-destination") == []
    assert _listed(client, search="editme") == []
    assert _listed(client, search="SECOND-dest") == [link["id"]]
    assert _listed(client, search="renamed") == [link["id"]]
    assert client.delete(f"/api/links/{link['id']}").status_code == 200
    assert _listed(client, search="second-destination") == [] and _count(client, search="renamed") == 0
    assert _like_matches(db, "second-destination") == set()


def test_the_migration_indexes_links_stored_before_it(tmp_path):
    """A database that already holds links when 014 runs: its search finds them."""
    every = store_base.migrations()
    assert any(number == 14 for number, _, _ in every)
    data_dir = tmp_path / "data"
    with _client(data_dir) as client:
        _authorize(client)
        _seed(client, 120, seed=2)
        assert client.app_state["core"].store is not None
    db = data_dir / "shortener.db"
    conn = sqlite3.connect(db)
    conn.executescript(UNDO_018 + UNDO_017 + UNDO_016 + UNDO_015 + UNDO_014 + "PRAGMA user_version = 13;")
    assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'links_search'").fetchone()[0] == 0
    conn.close()
    with _client(data_dir) as client:
        _authorize(client)
        rows = _rows(db)
        for term in ("site2", "KEY_1", "café", "100%", "a_b", "ooo1"):
            expected = _expected(rows, sort="createdAt", desc=True, archived=False, ids=_like_matches(db, term))
            assert expected, term
            assert _listed(client, search=term) == expected, term
        expected = _expected(rows, sort="clicks", desc=True, archived=False)
        assert _listed(client, sortBy="clicks") == expected
