"""Scoped API keys: Dub's scope names, 403 forbidden without the scope, full access for old keys."""
from __future__ import annotations

import json
import os
import re

import pytest
from starlette.routing import Mount, Route

from shortener import scopes
from shortener.cli import main
from shortener.web.app import api_routes


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    for name in list(os.environ):
        if name.startswith("SHORTENER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SHORTENER_DOMAIN", "go.test")
    data_dir = str(tmp_path / "data")

    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exit_:
            main(["--data-dir", data_dir, *args])
        out, err = capsys.readouterr()
        return exit_.value.code, out, err

    assert run("init")[0] == 0  # the CLI creates a database only when asked to
    return run


def _endpoints() -> list[tuple[str, str, str]]:
    """(method, path under /api, scope) for every authenticated endpoint of the app."""
    out = []

    def walk(routes, prefix: str) -> None:
        for route in routes:
            if isinstance(route, Mount):
                walk(route.routes, prefix + route.path)
            elif isinstance(route, Route):
                scope = getattr(route.endpoint, "scope", None)
                for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                    out.append((method, prefix + route.path, scope))

    walk(api_routes(), "")
    return out


def _key(run, core, granted: list[str] | None) -> str:
    _, key = run(core.api_keys.create, "scoped", granted)
    return key


def _without(scope: str) -> list[str]:
    """Every scope except `scope` and those that grant it (x.write grants x.read)."""
    resource, access = scope.split(".")
    drop = {scope} | ({f"{resource}.write"} if access == "read" else set())
    return [s for s in scopes.SCOPES if s not in drop]


def test_every_authenticated_endpoint_names_a_scope():
    public = {(m, p) for m, p, s in _endpoints() if s is None}
    assert public == {("GET", "/qr"), ("GET", "/openapi.json"), ("POST", "/track/click"),
                      ("OPTIONS", "/track/click")}


def _documented() -> set[tuple[str, str]]:
    """(method, path) of every operation in our OpenAPI document."""
    from shortener.openapi import document

    return {(method.upper(), path) for path, ops in document()["paths"].items() for method in ops
            if method in ("get", "post", "put", "patch", "delete")}


def test_scope_matrix_every_endpoint_refuses_a_key_without_its_scope(client, core, run):
    checked: set[tuple[str, str]] = set()
    for method, path, scope in _endpoints():
        if scope is None:
            continue
        key = _key(run, core, _without(scope))
        url = "/api" + re.sub(r"\{[^}]+\}", "x", path)
        r = client.request(method, url, headers={"Authorization": f"Bearer {key}"},
                           json={} if method in ("POST", "PATCH", "PUT") else None)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        error = r.json()["error"]
        assert error["code"] == "forbidden" and f"'{scope}'" in error["message"], (method, path, error)
        assert error["doc_url"]
        checked.add((method, path))
    # the matrix is every operation of the OpenAPI document but the three that need no key
    public = {("GET", "/qr"), ("GET", "/openapi.json"), ("POST", "/track/click")}
    normal = lambda ops: {(m, re.sub(r"\{[^}]+\}", "{}", p)) for m, p in ops}  # noqa: E731
    assert normal(checked) == normal(_documented() - public)
    assert len(checked) >= 40 and normal(public) <= normal(_documented())


def test_conversions_key_tracks_leads_and_sales_but_cannot_touch_links(client, core, run, api):
    link = api.post("/api/links", json={"url": "https://example.com/shop", "key": "shop"}).json()
    visit = client.get("/shop", headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"})
    click_id = visit.cookies["dub_id"]
    run(core.clicks.flush)
    key = _key(run, core, ["conversions.write"])
    h = {"Authorization": f"Bearer {key}"}
    lead = client.post("/api/track/lead", headers=h, json={"clickId": click_id, "eventName": "Sign up",
                                                           "customerExternalId": "c-1"})
    assert lead.status_code == 200, lead.text
    assert lead.json()["link"]["id"] == link["id"]
    sale = client.post("/api/track/sale", headers=h, json={"customerExternalId": "c-1", "amount": 500})
    assert sale.status_code == 200 and sale.json()["sale"]["amount"] == 500
    for method, path in (("GET", "/api/links"), ("POST", "/api/links"), (("DELETE", f"/api/links/{link['id']}")),
                         ("PATCH", f"/api/links/{link['id']}"), ("GET", "/api/customers"), ("GET", "/api/events")):
        r = client.request(method, path, headers=h, json={"url": "https://example.com/x"} if method != "GET" and
                           method != "DELETE" else None)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", (method, path, r.text)
    assert api.get(f"/api/links/{link['id']}").json()["url"] == "https://example.com/shop"


def test_write_grants_read_and_aliases(client, core, run):
    writer = {"Authorization": f"Bearer {_key(run, core, ['links.write'])}"}
    assert client.post("/api/links", headers=writer, json={"url": "https://example.com/w"}).status_code == 200
    assert client.get("/api/links", headers=writer).status_code == 200
    assert client.get("/api/tags", headers=writer).status_code == 403
    reader = {"Authorization": f"Bearer {_key(run, core, ['apis.read'])}"}
    assert client.get("/api/links", headers=reader).status_code == 200
    assert client.get("/api/events", headers=reader).status_code == 200
    assert client.post("/api/links", headers=reader, json={"url": "https://example.com/r"}).status_code == 403
    everything = {"Authorization": f"Bearer {_key(run, core, ['apis.all'])}"}
    assert client.post("/api/tags", headers=everything, json={"name": "t"}).status_code == 201


def test_keys_from_before_scopes_keep_full_access(client, core, run):
    # A key row as migration 006 leaves an older one: scopes NULL.
    from shortener.services.apikeys import hash_key, partial

    key = "dub_" + "o" * 24
    run(core.store.insert_api_key, {"id": "key_old", "name": "old", "hashed_key": hash_key(key),
                                    "partial_key": partial(key), "created_at": "2026-01-01T00:00:00.000Z",
                                    "scopes": None, "kind": "secret"})
    h = {"Authorization": f"Bearer {key}"}
    assert client.post("/api/folders", headers=h, json={"name": "f"}).status_code == 201
    assert client.post("/api/webhooks", headers=h, json={"name": "w", "url": "https://example.com/hook",
                                                         "triggers": ["link.created"]}).status_code == 201
    assert client.get("/api/events", headers=h).status_code == 200


def test_a_publishable_key_cannot_call_the_api(client, core, run):
    _, key = run(lambda: core.api_keys.create("site", publishable=True))
    assert key.startswith("dub_pk_")
    r = client.get("/api/links", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_cli_creates_scoped_keys_and_lists_scopes(cli):
    code, out, err = cli("keys", "create", "--name", "leads", "--scope", "conversions.write",
                         "--scope", "links.read")
    assert code == 0 and out.strip().startswith("dub_") and "conversions.write links.read" in err
    code, out, _ = cli("keys", "create", "--name", "site", "--publishable")
    assert code == 0 and out.strip().startswith("dub_pk_")
    cli("keys", "create", "--name", "all")
    code, out, _ = cli("keys", "list", "--json")
    rows = {k["name"]: (k["kind"], k["scopes"]) for k in json.loads(out)}
    assert rows["leads"] == ("secret", "conversions.write links.read")
    assert rows["site"] == ("publishable", "track/click only")
    assert rows["all"] == ("secret", "all")
    code, out, _ = cli("keys", "list")
    assert out.splitlines()[0].split() == ["ID", "NAME", "KEY", "CREATED", "STATE", "KIND", "SCOPES"]
    code, _, err = cli("keys", "create", "--name", "bad", "--scope", "links.delete")
    assert code == 1 and "Unknown scope 'links.delete'" in err


@pytest.mark.parametrize("stored,expected", [
    (None, set(scopes.SCOPES)),
    ("links.write", {"links.write", "links.read"}),
    ("apis.read", {s for s in scopes.SCOPES if s.endswith(".read")}),
])
def test_granted(stored, expected):
    assert scopes.granted(stored) == expected
