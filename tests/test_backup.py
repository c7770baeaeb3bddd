"""`shortener backup` while a live server takes redirects and leads, and `shortener restore`."""
from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import threading
import time

import httpx
import pytest

from conversion_support import DESKTOP
from shortener.store.sqlite.maintenance import integrity_errors


def _load(server, stop: threading.Event, clicks: list, leads: list, errors: list) -> list[threading.Thread]:
    """A redirect loop and a lead loop; each acknowledged write is appended with its time."""

    def redirects() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as c:
            n = 0
            while not stop.is_set():
                n += 1
                r = c.get("/loaded", headers={"user-agent": f"{DESKTOP} v/{n}"})
                if r.status_code != 302:
                    errors.append(r.text)
                    return
                clicks.append((time.monotonic(), r.cookies["dub_id"]))
                c.cookies.clear()

    def track() -> None:
        with httpx.Client(base_url=server.api_url, timeout=10,
                          headers={"authorization": f"Bearer {server.key}"}) as c:
            n = 0
            while not stop.is_set():
                if len(clicks) < 5:
                    time.sleep(0.01)
                    continue
                n += 1
                r = c.post("/track/lead", json={"clickId": clicks[-3][1], "eventName": "Sign up",
                                                "customerExternalId": f"cust-{n}", "mode": "wait"})
                if r.status_code != 200:
                    errors.append(r.text)
                    return
                leads.append((time.monotonic(), f"cust-{n}"))

    threads = [threading.Thread(target=redirects), threading.Thread(target=track)]
    for t in threads:
        t.start()
    return threads


def test_backup_under_redirect_and_lead_load_holds_every_acknowledged_write(live_server, tmp_path):
    server = live_server(SHORTENER_CLICK_DEDUP_SECONDS="0", SHORTENER_CLICK_FLUSH_MS="20")
    r = httpx.post(f"{server.api_url}/links", json={"url": "https://example.com/x", "key": "loaded"},
                   headers={"authorization": f"Bearer {server.key}"})
    assert r.status_code == 200
    stop, clicks, leads, errors = threading.Event(), [], [], []
    threads = _load(server, stop, clicks, leads, errors)
    try:
        # Enough leads, and clicks older than the 1 s allowance below (leads can come faster).
        while (len(leads) < 20 or not clicks or time.monotonic() - clicks[0][0] < 1.5) and not errors:
            time.sleep(0.05)
        backup = tmp_path / "backup.db"
        started = time.monotonic()
        # one page per step with pauses: the copy spans many writes of the server
        done = server.cli("backup", str(backup), "--pages", "1", "--pause", "0.01")
        finished = time.monotonic()
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:3]
    assert "integrity check ok" in done.stderr
    assert integrity_errors(backup) == []
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    acked_leads = [cust for at, cust in leads if at < started]
    # a click is acknowledged by the 302; its row follows within the flush window (20 ms here)
    acked_clicks = [cid for at, cid in clicks if at < started - 1.0]
    during = [cust for at, cust in leads if started <= at <= finished]
    assert acked_leads and acked_clicks and during, (len(acked_leads), len(acked_clicks), len(during))

    db = sqlite3.connect(backup)
    stored_customers = {r[0] for r in db.execute("SELECT external_id FROM customers")}
    stored_clicks = {r[0] for r in db.execute("SELECT id FROM clicks")}
    lead_rows = db.execute("SELECT COUNT(*) FROM lead_events").fetchone()[0]
    (link_leads,) = db.execute("SELECT leads FROM links WHERE key = 'loaded'").fetchone()
    db.close()
    assert set(acked_leads) <= stored_customers
    assert set(acked_clicks) <= stored_clicks
    # one snapshot: the counters agree with the events copied alongside them
    assert link_leads == lead_rows == len(stored_customers)


def test_restore_round_trips_and_keeps_the_old_database(live_server, tmp_path):
    server = live_server()
    auth = {"authorization": f"Bearer {server.key}"}
    http = httpx.Client(timeout=60)  # generous: CI machines are shared
    for key in ("kept", "deleted-later"):
        assert http.post(f"{server.api_url}/links", json={"url": f"https://example.com/{key}", "key": key},
                          headers=auth).status_code == 200
    backup = tmp_path / "b.db"
    summary = json.loads(server.cli("backup", str(backup), "--json").stdout)
    assert summary["file"] == str(backup) and summary["integrity"] == "ok" and summary["pages"] > 0
    later = http.get(f"{server.api_url}/links/info", params={"domain": f"127.0.0.1:{server.port}",
                                                              "key": "deleted-later"}, headers=auth).json()
    assert http.delete(f"{server.api_url}/links/{later['id']}", headers=auth).status_code == 200
    assert http.post(f"{server.api_url}/links", json={"url": "https://example.com/new", "key": "after-backup"},
                      headers=auth).status_code == 200

    refused = server.cli("restore", str(backup), check=False)
    assert refused.returncode == 1 and "a server is running" in refused.stderr

    server.stop()
    not_a_db = tmp_path / "junk.db"
    not_a_db.write_bytes(b"this is not sqlite" * 100)
    bad = server.cli("restore", str(not_a_db), check=False)
    assert bad.returncode == 1 and "not a usable backup" in bad.stderr

    done = server.cli("restore", str(backup))
    assert "restored" in done.stderr
    server.start()
    keys = {link["key"] for link in http.get(f"{server.api_url}/links", headers=auth).json()}
    assert keys == {"kept", "deleted-later"}
    assert http.get(f"{server.url}/deleted-later").status_code == 302
    assert http.get(f"{server.url}/after-backup").status_code == 404

    old = sqlite3.connect(server.data_dir / "shortener.db.bak")
    assert {r[0] for r in old.execute("SELECT key FROM links")} == {"kept", "after-backup"}
    old.close()


def test_backup_refuses_a_missing_database_and_an_existing_file(tmp_path, shortener_cli):
    def cli(data: str, *args: str) -> subprocess.CompletedProcess:
        return shortener_cli(data)(*args)

    assert cli(str(tmp_path / "data"), "init").returncode == 0
    target = tmp_path / "exists.db"
    target.write_text("x")
    r = cli(str(tmp_path / "data"), "backup", str(target))
    assert r.returncode != 0 and "exists" in r.stderr
    r = cli(str(tmp_path / "nowhere"), "backup", str(tmp_path / "x.db"))
    assert r.returncode != 0 and "no database" in r.stderr
    assert not (tmp_path / "nowhere").exists()


def test_backup_to_a_folder_or_nowhere_says_so_and_leaves_nothing(tmp_path, shortener_cli):
    cli = shortener_cli(str(tmp_path / "data"))
    assert cli("init").returncode == 0
    folder = tmp_path / "emptydir"
    folder.mkdir()
    for args, message in (((str(folder),), "is a folder: name the backup file"),
                          ((str(folder), "--force"), "is a folder: name the backup file"),
                          ((str(tmp_path / "no" / "such" / "x.db"),), "does not exist: create it first")):
        r = cli("backup", *args)
        assert r.returncode != 0 and message in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    assert list(folder.iterdir()) == [] and not (tmp_path / "emptydir.partial").exists()
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() != 0:  # root may write anywhere
        r = cli("backup", str(locked / "x.db"))
        assert r.returncode != 0 and "cannot write the backup" in r.stderr
        assert list(locked.iterdir()) == []
    r = cli("backup", str(folder / "ok.db"))
    assert r.returncode == 0 and [p.name for p in folder.iterdir()] == ["ok.db"]


def test_a_failed_copy_leaves_no_partial_file(tmp_path):
    from shortener.store.sqlite.maintenance import copy_database

    source = tmp_path / "source.db"
    sqlite3.connect(source).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(IsADirectoryError):
        copy_database(str(source), tmp_path)  # the destination is a folder: the rename fails
    assert not (tmp_path.parent / (tmp_path.name + ".partial")).exists()
