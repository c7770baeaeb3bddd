"""The command line: every command, with `--json` output parsed; tables with headers; no
database created by accident; the CLI and the server agree on the domain."""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from shortener.cli import main
from shortener.config import Settings
from shortener.web.app import create_app

from redirect_support import DESKTOP

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("SHORTENER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SHORTENER_SQLITE_SYNCHRONOUS", "normal")


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def cli(clean_env, monkeypatch, capsys, data_dir):
    """`cli(*args)` -> (exit code, stdout, stderr), in-process, on an initialised data folder."""
    monkeypatch.setenv("SHORTENER_DOMAIN", "go.test")
    monkeypatch.setenv("SHORTENER_EXTRA_DOMAINS", "other.test")

    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exit_:
            main(["--data-dir", str(data_dir), *args])
        out, err = capsys.readouterr()
        return exit_.value.code, out, err

    code, _, err = run("init")
    assert code == 0, err
    return run


def ok_json(result: tuple[int, str, str]):
    code, out, err = result
    assert code == 0, err
    return json.loads(out)


def table(out: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in out.splitlines()]


def subprocess_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHORTENER_")}
    env.update({"PYTHONPATH": str(ROOT), "SHORTENER_SQLITE_SYNCHRONOUS": "normal", **extra})
    return env


# -- init, modes, refusing to create a database ----------------------------------------------

def test_init_creates_a_private_data_folder_and_config(cli, data_dir):
    result = ok_json(cli("init", "--json"))  # a second init changes nothing
    assert result["databaseCreated"] is False and result["configWritten"] is False
    assert result["dataDir"] == str(data_dir.resolve()) and result["schemaVersion"] >= 5
    assert result["domain"] == "go.test"
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(data_dir) == 0o700
    for name in ("shortener.db", "secret.key", "shortener.toml"):
        assert mode(data_dir / name) == 0o600, name
    assert "# domain = " in (data_dir / "shortener.toml").read_text()


def test_database_files_are_private_while_serving(tmp_path, clean_env):
    old = os.umask(0o022)  # the usual umask, which would make new files 0644
    try:
        settings = Settings(data_dir=str(tmp_path / "d"), domain="go.test")
        with TestClient(create_app(settings), base_url="http://go.test") as c:
            assert c.get("/_/health").status_code == 200
            files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "d").iterdir()}
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o700
    assert files == {"shortener.db": 0o600, "shortener.db-wal": 0o600, "shortener.db-shm": 0o600,
                     "shortener.db.lock": 0o600, "secret.key": 0o600}


def test_cli_from_another_folder_refuses_and_points_the_way(tmp_path, clean_env, monkeypatch, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = subprocess.run([sys.executable, "-m", "shortener", "keys", "create", "--name", "x"], cwd=str(elsewhere),
                       env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert f"no database at {elsewhere / 'data' / 'shortener.db'}" in r.stderr
    assert "default ./data" in r.stderr and str(elsewhere) in r.stderr
    assert "--data-dir" in r.stderr and "SHORTENER_DATA_DIR" in r.stderr and "shortener init" in r.stderr
    monkeypatch.chdir(elsewhere)
    for args in (("keys", "list"), ("links", "list"), ("migrate",), ("domains", "list", "--json")):
        with pytest.raises(SystemExit) as exit_:
            main(list(args))
        out, err = capsys.readouterr()
        assert exit_.value.code == 2 and out == "" and "no database at" in err, args
    assert list(elsewhere.iterdir()) == []  # nothing created: no database, no secret key
    monkeypatch.setenv("SHORTENER_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(SystemExit) as exit_:
        main(["keys", "list"])
    assert exit_.value.code == 2 and "from SHORTENER_DATA_DIR" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()


def test_config_file_is_read_by_the_cli_and_env_overrides_it(clean_env, capsys, tmp_path):
    data = str(tmp_path / "conf")

    def run(*args):
        with pytest.raises(SystemExit) as exit_:
            main(["--data-dir", data, *args])
        out, err = capsys.readouterr()
        assert exit_.value.code == 0, err
        return out

    result = json.loads(run("init", "--domain", "Go.Conf.Test", "--scheme", "https",
                            "--trusted-proxies", "10.0.0.0/8", "--json"))
    assert result["configWritten"] and result["domain"] == "go.conf.test"
    text = (Path(data) / "shortener.toml").read_text()
    assert 'domain = "Go.Conf.Test"' in text and 'trusted_proxies = ["10.0.0.0/8"]' in text
    s = Settings.from_env({}, data_dir=data)
    assert (s.domain, s.scheme, [str(n) for n in s.trusted_proxies]) == ("go.conf.test", "https", ["10.0.0.0/8"])
    assert Settings.from_env({"SHORTENER_SCHEME": "http"}, data_dir=data).scheme == "http"
    assert run("links", "create", "https://example.com/x", "--key", "x", "--short") == "https://go.conf.test/x\n"
    (Path(data) / "shortener.toml").write_text('domian = "typo.test"\n')
    with pytest.raises(SystemExit) as exit_:
        Settings.from_env({}, data_dir=data)
    assert "unknown setting 'domian'" in str(exit_.value)


# -- the domain: served address, the database's primary, rename ------------------------------

def test_serve_port_without_a_domain_redirects_on_that_port(live_server):
    server = live_server(SHORTENER_DOMAIN="")
    r = httpx.post(f"{server.api_url}/links", headers={"Authorization": f"Bearer {server.key}"},
                   json={"url": "https://example.com/p", "key": "hello"})
    assert r.status_code == 200 and r.json()["shortLink"] == f"http://127.0.0.1:{server.port}/hello"
    r = httpx.get(r.json()["shortLink"])
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/p"


def in_process(data_dir, capsys):
    """`run(*args)` -> (code, stdout, stderr) of the CLI in this process, on `data_dir`."""

    def run(*args: str, check: bool = True) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exit_:
            main(["--data-dir", str(data_dir), *args])
        out, err = capsys.readouterr()
        assert exit_.value.code == 0 or not check, err
        return exit_.value.code, out, err

    return run


def test_serve_on_every_address_without_a_domain_warns(clean_env, tmp_path):
    from shortener.cli import serve_warnings

    settings, given = Settings.load({}, data_dir=str(tmp_path), host="0.0.0.0", port=9100)
    assert settings.domain == "127.0.0.1:9100"
    [warning] = serve_warnings(settings, given)
    assert "short links say 127.0.0.1:9100" in warning and "SHORTENER_DOMAIN" in warning
    settings, given = Settings.load({"SHORTENER_DOMAIN": "go.example.com"}, data_dir=str(tmp_path), host="0.0.0.0")
    assert serve_warnings(settings, given) == []


def test_cli_and_server_agree_on_the_domain(live_server, clean_env, capsys):
    server = live_server()  # SHORTENER_DOMAIN=127.0.0.1:<port> in the server's environment only
    cli = in_process(server.data_dir, capsys)
    _, out, _ = cli("links", "create", "https://example.com/agree", "--key", "agree", "--short")
    assert out == f"http://127.0.0.1:{server.port}/agree\n"
    domains = json.loads(cli("domains", "list", "--json")[1])
    assert [d["slug"] for d in domains if d["primary"]] == [f"127.0.0.1:{server.port}"]


def test_domains_rename_moves_links_after_a_port_change(live_server, clean_env, capsys):
    import time

    from conftest import free_port

    server = live_server(SHORTENER_DOMAIN="")
    cli = in_process(server.data_dir, capsys)
    headers = {"Authorization": f"Bearer {server.key}"}
    for key in ("a", "b"):
        assert httpx.post(f"{server.api_url}/links", headers=headers, json={"url": "https://example.com/" + key,
                                                                             "key": key}).status_code == 200
    server.stop()
    old = f"127.0.0.1:{server.port}"
    # The same data folder served on another port: the links' domain is no longer served.
    server.port = free_port()
    server.start()
    new = f"127.0.0.1:{server.port}"
    log = server.log.read_text()
    assert f"2 link(s) sit on the domain {old}" in log and f"shortener domains rename {old} {new}" in log
    assert httpx.get(f"{server.url}/a").status_code == 404
    # A key on both sides is refused with the list, and nothing moves.
    assert httpx.post(f"{server.api_url}/links", headers=headers,
                      json={"url": "https://example.com/clash", "key": "b"}).status_code == 200
    code, _, err = cli("domains", "rename", old, new, check=False)
    assert code == 1 and "1 key(s) exist on both" in err and ": b" in err
    clash = json.loads(cli("links", "get", "--domain", new, "--key", "b")[1])
    cli("links", "delete", clash["id"])
    moved = json.loads(cli("domains", "rename", old, new, "--json")[1])
    assert moved == {**moved, "from": old, "to": new, "merged": True, "moved": 2}
    assert moved["domain"]["primary"] is True
    assert old not in [d["slug"] for d in json.loads(cli("domains", "list", "--json")[1])]
    deadline = time.monotonic() + 10
    while httpx.get(f"{server.url}/a").status_code != 302 and time.monotonic() < deadline:
        time.sleep(0.1)
    r = httpx.get(f"{server.url}/a")
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/a"


def test_rename_to_a_new_name(cli):
    ok_json(cli("links", "create", "https://example.com/r", "--key", "r", "--domain", "other.test", "--json"))
    result = ok_json(cli("domains", "rename", "other.test", "renamed.test", "--json"))
    assert (result["merged"], result["moved"], result["domain"]["slug"]) == (False, 1, "renamed.test")
    assert ok_json(cli("links", "get", "--domain", "renamed.test", "--key", "r", "--json"))["shortLink"] == \
        "http://renamed.test/r"
    code, _, err = cli("domains", "rename", "nope.test", "x.test")
    assert code == 1 and "Domain not found" in err
    code, _, err = cli("domains", "rename", "renamed.test", "renamed.test")
    assert code == 1 and "same" in err


# -- every command, with --json ---------------------------------------------------------------

def test_keys(cli):
    code, out, err = cli("keys", "list")
    assert code == 0 and out == "" and "no API keys yet" in err
    created = ok_json(cli("keys", "create", "--name", "ci", "--json"))
    assert created["key"].startswith("dub_") and created["name"] == "ci"
    code, out, _ = cli("keys", "create", "--name", "plain")
    assert code == 0 and out.startswith("dub_") and len(out.splitlines()) == 1
    keys = ok_json(cli("keys", "list", "--json"))
    assert [k["name"] for k in keys] == ["ci", "plain"] and created["key"] not in json.dumps(keys)
    rows = table(cli("keys", "list")[1])
    assert rows[0] == ["ID", "NAME", "KEY", "CREATED", "STATE", "KIND", "SCOPES"]
    assert rows[1][1] == "ci" and rows[1][4:] == ["active", "secret", "all"]
    assert ok_json(cli("keys", "revoke", "ci", "--json")) == {"revoked": "ci"}
    assert [k["revokedAt"] is not None for k in ok_json(cli("keys", "list", "--json"))] == [True, False]


def test_links_create_with_every_option_get_update_list_count_delete(cli):
    code, out, err = cli("links", "list")
    assert code == 0 and out == "" and "no links yet" in err
    assert ok_json(cli("links", "list", "--json")) == []
    hook = ok_json(cli("webhooks", "create", "https://hooks.example.com/in", "--name", "h", "--trigger",
                       "link.clicked", "--json"))
    tag = ok_json(cli("tags", "create", "Existing", "--color", "blue", "--json"))
    folder = ok_json(cli("folders", "create", "Campaigns", "--json"))
    link = ok_json(cli(
        "links", "create", "example.com/page", "--key", "promo", "--domain", "go.test", "--external-id", "c1",
        "--tenant-id", "t1", "--identifier", "i1", "--comments", "note", "--password", "pw",
        "--expires-at", "2099-01-01T00:00:00Z", "--expired-url", "https://example.com/gone",
        "--title", "T", "--description", "D", "--image", "https://example.com/i.png",
        "--video", "https://example.com/v.mp4", "--ios", "https://apps.apple.com/x",
        "--android", "https://play.google.com/x", "--utm-source", "cli", "--utm-medium", "m",
        "--utm-campaign", "c", "--utm-term", "t", "--utm-content", "ct", "--ref", "r",
        "--track-conversion", "--proxy", "--rewrite", "--do-index", "--public-stats", "--no-archived",
        "--redirect-status", "301", "--tag", "cli", "--tag-id", tag["id"], "--webhook-id", hook["id"],
        "--geo", "DE=https://example.de/", "--folder-id", folder["id"], "--data", '{"title": "T"}', "--json",
    ))
    assert link["shortLink"] == "http://go.test/promo" and link["externalId"] == "c1"
    assert link["url"].startswith("https://example.com/page?") and "utm_source=cli" in link["url"] and "ref=r" in link["url"]
    assert (link["tenantId"], link["identifier"], link["comments"], link["folderId"]) == ("t1", "i1", "note", folder["id"])
    assert link["passwordProtected"] is True and link["password"] is None and link["redirectStatus"] == 301
    assert link["expiresAt"].startswith("2099-01-01") and link["expiredUrl"] == "https://example.com/gone"
    assert (link["title"], link["description"], link["ios"], link["android"]) == \
        ("T", "D", "https://apps.apple.com/x", "https://play.google.com/x")
    assert (link["image"], link["video"]) == ("https://example.com/i.png", "https://example.com/v.mp4")
    assert all(link[f] for f in ("trackConversion", "proxy", "rewrite", "doIndex", "publicStats"))
    assert link["archived"] is False and link["geo"] == {"DE": "https://example.de/"}
    assert link["webhookIds"] == [hook["id"]] and [t["id"] for t in link["tags"]] == [tag["id"]]  # tagIds win
    assert (link["utm_medium"], link["utm_campaign"], link["utm_term"], link["utm_content"]) == ("m", "c", "t", "ct")

    short = cli("links", "create", "https://example.com/2", "--prefix", "gh", "--key-length", "5",
                "--domain", "other.test", "--short")[1]
    assert re.fullmatch(r"http://other\.test/gh/[0-9A-Za-z]{5}\n", short)

    assert ok_json(cli("links", "get", link["id"], "--json"))["id"] == link["id"]
    assert ok_json(cli("links", "get", "ext_c1"))["key"] == "promo"
    assert ok_json(cli("links", "get", "--domain", "go.test", "--key", "PROMO", "--json"))["id"] == link["id"]

    updated = ok_json(cli("links", "update", "ext_c1", "--url", "https://example.com/new", "--title", "T2",
                          "--no-proxy", "--archived", "--clear", "password", "--clear", "geo", "--json"))
    assert updated["url"] == "https://example.com/new" and updated["title"] == "T2" and updated["proxy"] is False
    assert updated["archived"] is True and updated["passwordProtected"] is False and updated["geo"] is None
    code, _, err = cli("links", "update", link["id"])
    assert code == 1 and "nothing to change" in err

    listed = ok_json(cli("links", "list", "--json"))
    assert [l["domain"] for l in listed] == ["other.test"]  # the archived one is hidden
    assert len(ok_json(cli("links", "list", "--archived", "--json"))) == 2
    assert [l["id"] for l in ok_json(cli("links", "list", "--archived", "--tag", "EXISTING", "--json"))] == [link["id"]]
    rows = table(cli("links", "list", "--archived")[1])
    assert rows[0] == ["ID", "SHORT LINK", "DESTINATION", "CLICKS", "LEADS", "CREATED"]
    assert rows[2][:5] == [link["id"], "http://go.test/promo", "https://example.com/new", "0", "0"]
    assert ok_json(cli("links", "count", "--archived", "--json")) == 2
    assert cli("links", "count")[1] == "1\n"
    groups = ok_json(cli("links", "count", "--archived", "--group-by", "domain", "--json"))
    assert sorted((g["domain"], g["_count"]) for g in groups) == [("go.test", 1), ("other.test", 1)]

    assert ok_json(cli("links", "delete", "ext_c1", "--json")) == [{"id": link["id"]}]
    code, out, err = cli("links", "delete", "link_nope")
    assert code == 1 and "link_nope: Link not found." in err


def test_errors_go_to_stderr_with_status_1(cli):
    code, out, err = cli("links", "create", "javascript:alert(1)")
    assert code == 1 and out == "" and "Invalid destination URL" in err
    cli("links", "create", "https://example.com", "--key", "taken")
    code, out, err = cli("links", "create", "https://example.com", "--key", "TAKEN")
    assert code == 1 and "Duplicate key" in err
    code, out, err = cli("links", "create", "https://example.com", "--geo", "nonsense")
    assert code == 1 and "COUNTRY=URL" in err


def test_tags(cli):
    assert ok_json(cli("tags", "list", "--json")) == []
    assert "no tags yet" in cli("tags", "list")[2]
    tag = ok_json(cli("tags", "create", "News", "--color", "red", "--json"))
    assert (tag["name"], tag["color"]) == ("News", "red")
    tag = ok_json(cli("tags", "update", tag["id"], "--name", "Press", "--color", "green", "--json"))
    assert (tag["name"], tag["color"]) == ("Press", "green")
    rows = table(cli("tags", "list")[1])
    assert rows == [["ID", "NAME", "COLOR"], [tag["id"], "Press", "green"]]
    assert ok_json(cli("tags", "delete", tag["id"], "--json")) == {"id": tag["id"]}
    assert ok_json(cli("tags", "list", "--json")) == []


def test_folders(cli):
    assert ok_json(cli("folders", "list", "--json")) == []
    assert "no folders yet" in cli("folders", "list")[2]
    folder = ok_json(cli("folders", "create", "Launch", "--description", "spring", "--json"))
    assert (folder["name"], folder["description"], folder["accessLevel"]) == ("Launch", "spring", "write")
    assert ok_json(cli("folders", "get", folder["id"], "--json"))["id"] == folder["id"]
    folder = ok_json(cli("folders", "update", folder["id"], "--name", "Summer", "--access-level", "read", "--json"))
    assert (folder["name"], folder["accessLevel"]) == ("Summer", "read")
    rows = table(cli("folders", "list")[1])
    assert rows == [["ID", "NAME", "ACCESS", "DESCRIPTION"], [folder["id"], "Summer", "read", "spring"]]
    assert ok_json(cli("folders", "delete", folder["id"], "--json")) == {"id": folder["id"]}
    code, _, err = cli("folders", "get", folder["id"])
    assert code == 1 and "not found" in err.lower()


def test_domains(cli):
    listed = ok_json(cli("domains", "list", "--json"))
    assert [(d["slug"], d["primary"], d["links"]) for d in listed] == [("go.test", True, 0), ("other.test", False, 0)]
    d = ok_json(cli("domains", "create", "new.test", "--not-found-url", "https://example.com/404", "--json"))
    assert d["slug"] == "new.test" and d["notFoundUrl"] == "https://example.com/404"
    d = ok_json(cli("domains", "update", "new.test", "--not-found-url", "", "--expired-url",
                    "https://example.com/exp", "--archived", "--json"))
    assert d["notFoundUrl"] is None and d["expiredUrl"] == "https://example.com/exp" and d["archived"] is True
    assert "new.test" not in cli("domains", "list")[1]
    rows = table(cli("domains", "list", "--all")[1])
    assert rows[0] == ["DOMAIN", "PRIMARY", "ARCHIVED", "LINKS", "ID"] and rows[1][:4] == ["go.test", "yes", "no", "0"]
    assert ok_json(cli("domains", "delete", "new.test", "--json")) == {"slug": "new.test"}
    code, _, err = cli("domains", "delete", "go.test")
    assert code == 1 and "default domain" in err


def _seed_conversions(data_dir: Path) -> dict:
    """A click (a browser following a link) and a lead, through the HTTP app on the same data."""
    settings = Settings(data_dir=str(data_dir), domain="go.test", extra_domains=("other.test",),
                        sqlite_synchronous="normal", click_flush_ms=20)
    with TestClient(create_app(settings), base_url="http://go.test", follow_redirects=False) as c:
        core = c.app_state["core"]
        _, key = c.portal.call(core.api_keys.create, "seed")
        c.headers["Authorization"] = f"Bearer {key}"
        assert c.post("/api/links", json={"url": "https://example.com/c", "key": "c"}).status_code == 200
        click_id = c.get("/c", headers={"user-agent": DESKTOP}).cookies["dub_id"]
        c.portal.call(core.clicks.flush)
        r = c.post("/api/track/lead", json={"clickId": click_id, "eventName": "Sign up",
                                            "customerExternalId": "u1", "customerEmail": "u1@example.com"})
        assert r.status_code == 200, r.text
        r = c.post("/api/track/sale", json={"customerExternalId": "u1", "amount": 4900, "invoiceId": "inv1"})
        assert r.status_code == 200, r.text
    return {"click_id": click_id}


def test_customers_and_events(cli, data_dir):
    assert "no customers yet" in cli("customers", "list")[2]
    seeded = _seed_conversions(data_dir)
    customers = ok_json(cli("customers", "list", "--json"))
    assert [(c["externalId"], c["email"]) for c in customers] == [("u1", "u1@example.com")]
    rows = table(cli("customers", "list")[1])
    assert rows[0] == ["ID", "EXTERNAL ID", "NAME", "EMAIL", "SALES", "SALE AMOUNT", "CREATED"]
    assert rows[1][1:4] == ["u1", customers[0]["name"], "u1@example.com"]
    got = ok_json(cli("customers", "get", "ext_u1", "--expanded", "--json"))
    assert got["id"] == customers[0]["id"] and got["link"]["key"] == "c"
    upd = ok_json(cli("customers", "update", "ext_u1", "--name", "Ada", "--country", "de", "--json"))
    assert (upd["name"], upd["country"]) == ("Ada", "DE")

    clicks = ok_json(cli("events", "--event", "clicks", "--json"))
    assert [e["click"]["id"] for e in clicks] == [seeded["click_id"]]
    leads = ok_json(cli("events", "--event", "leads", "--interval", "all", "--json"))
    assert [(e["eventName"], e["customer"]["externalId"]) for e in leads] == [("Sign up", "u1")]
    sales = ok_json(cli("events", "--event", "sales", "--customer-id", upd["id"], "--json"))
    assert [e["sale"]["amount"] for e in sales] == [4900]
    rows = table(cli("events", "--event", "sales")[1])
    assert rows[0] == ["TIME", "EVENT", "LINK", "CLICK", "CUSTOMER", "COUNTRY", "AMOUNT"] and rows[1][-1] == "4900"
    assert ok_json(cli("events", "--event", "leads", "--link-id", "link_nope", "--json")) == []
    assert "no clicks in this period" in cli("events", "--country", "FR")[2]

    # The tracking commands: another lead and a sale for the same customer.
    lead = ok_json(cli("track", "lead", "--click-id", seeded["click_id"], "--event-name", "Trial",
                       "--customer-external-id", "u1", "--metadata", '{"plan": "pro"}', "--json"))
    assert lead["click"]["id"] == seeded["click_id"] and lead["customer"]["externalId"] == "u1"
    sale = ok_json(cli("track", "sale", "--customer-external-id", "u1", "--amount", "1200", "--currency", "eur",
                       "--invoice-id", "inv2", "--json"))
    assert (sale["sale"]["amount"], sale["sale"]["currency"]) == (1200, "eur")
    code, _, err = cli("track", "lead", "--click-id", "nope", "--event-name", "x", "--customer-external-id", "u2")
    assert code == 1 and err.startswith("error: ")
    assert ok_json(cli("links", "get", "--domain", "go.test", "--key", "c"))["leads"] == 2

    assert ok_json(cli("customers", "delete", upd["id"], "--json")) == {"id": upd["id"]}
    assert ok_json(cli("customers", "list", "--json")) == []


def test_webhooks(cli):
    assert "no webhooks yet" in cli("webhooks", "list")[2]
    hook = ok_json(cli("webhooks", "create", "https://hooks.example.com/in", "--name", "w",
                       "--trigger", "lead.created", "--json"))
    assert hook["triggers"] == ["lead.created"] and hook["secret"].startswith("whsec_")
    assert ok_json(cli("webhooks", "get", hook["id"], "--json"))["name"] == "w"
    link = ok_json(cli("links", "create", "https://example.com/w", "--json"))
    hook2 = ok_json(cli("webhooks", "update", hook["id"], "--name", "w2", "--trigger", "sale.created",
                        "--trigger", "link.clicked", "--link-id", link["id"], "--json"))
    assert (hook2["name"], hook2["triggers"], hook2["linkIds"]) == ("w2", ["sale.created", "link.clicked"], [link["id"]])
    assert ok_json(cli("webhooks", "disable", hook["id"], "--json"))["disabledAt"] is not None
    rows = table(cli("webhooks", "list")[1])
    assert rows[0] == ["ID", "NAME", "URL", "TRIGGERS", "STATE"] and rows[1][-1].startswith("disabled ")
    assert ok_json(cli("webhooks", "enable", hook["id"], "--json"))["disabledAt"] is None
    assert ok_json(cli("webhooks", "update", hook["id"], "--disabled", "--json"))["disabledAt"] is not None
    rotated = ok_json(cli("webhooks", "rotate-secret", hook["id"], "--json"))
    assert rotated["secret"] != hook["secret"]
    assert ok_json(cli("webhooks", "deliveries", hook["id"], "--json")) == []
    assert "no deliveries yet" in cli("webhooks", "deliveries", hook["id"])[2]
    assert ok_json(cli("webhooks", "delete", hook["id"], "--json")) == [{"id": hook["id"]}]
    assert ok_json(cli("webhooks", "list", "--json")) == []


def test_migrate_and_systemd_unit(cli):
    result = ok_json(cli("migrate", "--json"))
    assert result["applied"] == [] and result["schemaVersion"] == result["schemaVersionBefore"] >= 5
    code, out, _ = cli("systemd-unit", "--exec", "/srv/venv/bin/shortener")
    assert code == 0
    assert "ExecStart=/srv/venv/bin/shortener serve" in out
    for line in ("User=shortener", "StateDirectory=shortener", "StateDirectoryMode=0700", "UMask=0077",
                 "NoNewPrivileges=yes", "ProtectSystem=strict", "Environment=SHORTENER_DATA_DIR=/var/lib/shortener"):
        assert line in out.splitlines(), line


def test_every_command_takes_json():
    """Each leaf command accepts --json, except those that print no data (serve, systemd-unit)."""
    from shortener.cli import build_parser

    def leaves(parser, path=()):
        for action in parser._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                for name, child in action.choices.items():
                    yield from leaves(child, path + (name,))
                return
        yield path, parser

    found = list(leaves(build_parser()))
    assert len(found) > 30
    missing = [" ".join(p) for p, parser in found
               if "--json" not in parser._option_string_actions and p not in (("serve",), ("systemd-unit",))]
    assert missing == []


def test_cli_refuses_text_that_cannot_be_stored(cli):
    """The CLI is an edge too: an argument that is not valid UTF-8 reaches Python as a lone
    surrogate (surrogateescape), and --data may carry one as a JSON escape. Both are refused with
    a message, and nothing is stored."""
    for args in (("links", "create", "https://example.com/s", "--title", "a\udcff"),
                 ("links", "create", "https://example.com/s", "--data", '{"comments": "\\ud800"}'),
                 ("links", "create", "https://example.com/s", "--comments", "nul\x00")):
        code, out, err = cli(*args)
        assert code != 0 and "invalid_string" in err and "Traceback" not in err, (args, err)
    code, out, err = cli("links", "list", "--json")
    assert code == 0 and json.loads(out) == []


def test_serve_access_log_flag_is_our_log_not_uvicorns(tmp_path, monkeypatch):
    """uvicorn's access log prints full client IPs and `?pw=` values: --access-log must turn on
    ours (SHORTENER_ACCESS_LOG=text) and leave uvicorn's off."""
    import uvicorn

    from shortener import cli
    from shortener.web import app as web_app

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    real_create = web_app.create_app
    monkeypatch.setattr(web_app, "create_app", lambda settings: seen.setdefault("settings", settings) and real_create(settings))
    for k in [k for k in __import__("os").environ if k.startswith("SHORTENER_")]:
        monkeypatch.delenv(k)
    args = cli.build_parser().parse_args(["--data-dir", str(tmp_path / "d"), "serve", "--port", "18999", "--access-log"])
    cli.cmd_serve(args)
    assert seen["access_log"] is False
    assert seen["settings"].access_log == "text"


def test_counts_the_api_refuses_are_refused_here_too(cli):
    """`--limit 0` printed "no links yet" next to 23 links; `--page 0` listed page 1."""
    ok_json(cli("links", "create", "https://example.com/a", "--key", "a", "--json"))
    for args, message in ((("links", "list", "--limit", "0"), "expected at least 1, got 0"),
                          (("links", "list", "--limit", "-1"), "expected at least 1, got -1"),
                          (("events", "--limit", "0"), "expected 1 to 1000, got 0"),
                          (("events", "--limit", "1001"), "expected 1 to 1000, got 1001"),
                          (("events", "--page", "0"), "expected at least 1, got 0"),
                          (("events", "--page", "x"), "expected a whole number, got 'x'"),
                          (("tags", "list", "--limit", "0"), "expected at least 1, got 0")):
        code, out, err = cli(*args)
        assert code == 2 and out == "" and message in err, (args, err)
    assert [link["key"] for link in ok_json(cli("links", "list", "--limit", "1", "--json"))] == ["a"]


def test_a_closed_pipe_ends_quietly(tmp_path, clean_env):
    """`shortener export | head -1` printed a BrokenPipeError traceback."""
    data = tmp_path / "pipe"
    env = {**os.environ, "SHORTENER_DOMAIN": "go.test"}
    cmd = [sys.executable, "-m", "shortener", "--data-dir", str(data)]
    subprocess.run([*cmd, "init"], check=True, capture_output=True, env=env, timeout=60)
    lines = "\n".join(json.dumps({"key": f"k{i}", "url": f"https://example.com/{i}"}) for i in range(3000))
    subprocess.run([*cmd, "import", "-", "--format", "ours", "--quiet"], input=lines, text=True, check=True,
                   capture_output=True, env=env, timeout=120)
    export = subprocess.Popen([*cmd, "export"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = export.stdout.readline()
    export.stdout.close()  # as `head -1` does
    err = export.stderr.read().decode()
    assert export.wait(timeout=60) == 1
    assert json.loads(first)["key"].startswith("k") and "Traceback" not in err and "BrokenPipe" not in err, err
