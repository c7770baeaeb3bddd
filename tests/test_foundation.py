"""Settings, ids, auth and the error body: the pieces everything else stands on."""
from __future__ import annotations

import dataclasses
import os
import re
import stat
from pathlib import Path

import pytest

from shortener.config import SETTINGS, Settings
from shortener.ids import new_id, nanoid

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_in_the_readme_table():
    text = README.read_text()
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in text]
    assert missing == []


def test_settings_defaults_match_the_table():
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    assert set(defaults) == {s.name for s in SETTINGS}
    for s in SETTINGS:
        assert defaults[s.name] == s.default, s.name


def test_env_then_overrides():
    s = Settings.from_env({"SHORTENER_PORT": "9001", "SHORTENER_DOMAIN": "Go.Example.COM"}, port=9002)
    assert s.port == 9002 and s.domain == "go.example.com"
    with pytest.raises(SystemExit):
        Settings.from_env({"SHORTENER_REDIRECT_STATUS": "200"})


def test_ids_have_dub_shapes():
    a, b = new_id("link_", now_ms=1_700_000_000_000), new_id("link_", now_ms=1_700_000_000_001)
    assert re.fullmatch(r"link_[0-9A-HJKMNP-TV-Z]{25}", a) and a < b
    assert re.fullmatch(r"[0-9A-Za-z]{16}", nanoid(16))
    assert len({nanoid(16) for _ in range(1000)}) == 1000


def test_secret_key_file_is_created_private(client, settings):
    path = Path(settings.data_dir) / "secret.key"
    assert path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(path.read_bytes().strip()) == 64


def test_health(client):
    r = client.get("/_/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


@pytest.mark.parametrize("headers, status, code, message", [
    ({}, 401, "unauthorized", "Missing Authorization header."),
    ({"Authorization": "Token abc"}, 400, "bad_request", "Misconfigured authorization header"),
    ({"Authorization": "Bearer dub_nope"}, 401, "unauthorized", "Unauthorized: Invalid API key."),
])
def test_auth_errors_have_dubs_shape(client, headers, status, code, message):
    r = client.get("/api/links", headers=headers)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert err["code"] == code and message in err["message"]
    assert err["doc_url"] == f"http://go.test/_/docs/errors#{code.replace('_', '-')}"


def test_revoked_key_is_refused(api, core, run):
    assert api.get("/api/tags").status_code == 200
    run(core.api_keys.revoke, "tests")
    assert api.get("/api/tags").status_code == 401


def test_unknown_api_route_is_json_404(api):
    r = api.get("/api/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_api_host_serves_the_api_at_its_root(tmp_path, settings):
    from starlette.testclient import TestClient
    from shortener.web.app import create_app

    s = settings.replace(api_host="api.go.test")
    with TestClient(create_app(s), base_url="http://api.go.test") as c:
        r = c.get("/links")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_ci_runs_exactly_the_readmes_test_command():
    ci = (README.parent / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert f"```sh\n{ci}\n```" in README.read_text()


def test_every_429_outside_the_redirector_carries_retry_after(settings):
    """Whichever endpoint answers 429 (a limiter in the API or our pages), the dispatcher adds
    Retry-After when the endpoint did not set one; the password limit sets its own."""

    from starlette.routing import Route
    from starlette.responses import JSONResponse as Plain

    from shortener.errors import RateLimited
    from shortener.web import app as app_module
    from shortener.web.app import create_app

    async def limited(request):
        raise RateLimited("Too many requests.")

    async def own(request):
        return Plain({}, status_code=429, headers={"Retry-After": "7"})

    routes = app_module.api_routes
    app_module.api_routes = lambda: [Route("/limited", limited), Route("/own", own), *routes()]
    try:
        app = create_app(settings)
    finally:
        app_module.api_routes = routes
    from starlette.testclient import TestClient

    with TestClient(app, base_url="http://go.test") as c:
        r = c.get("/api/limited")
        assert r.status_code == 429 and r.headers["retry-after"] == "60"
        assert r.json()["error"]["code"] == "rate_limit_exceeded"
        r = c.get("/api/own")
        assert r.status_code == 429 and r.headers.get_list("retry-after") == ["7"]
