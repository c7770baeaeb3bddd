"""`shortener links create|list|delete`: the link service from the command line."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shortener.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    for name in list(os.environ):
        if name.startswith("SHORTENER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SHORTENER_DOMAIN", "go.test")
    monkeypatch.setenv("SHORTENER_EXTRA_DOMAINS", "other.test")
    monkeypatch.setenv("SHORTENER_SQLITE_SYNCHRONOUS", "normal")
    data_dir = str(tmp_path / "data")

    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exit_:
            main(["--data-dir", data_dir, *args])
        out, err = capsys.readouterr()
        return exit_.value.code, out, err

    return run


def test_create_list_delete(cli):
    code, out, _ = cli("links", "create", "example.com/page", "--key", "promo", "--tag", "cli", "--tag", "Two",
                       "--external-id", "c1", "--password", "pw", "--redirect-status", "301")
    assert code == 0
    link = json.loads(out)
    assert link["shortLink"] == "http://go.test/promo" and link["url"] == "https://example.com/page"
    assert sorted(t["name"] for t in link["tags"]) == ["Two", "cli"]
    assert link["passwordProtected"] is True and link["password"] is None and link["redirectStatus"] == 301

    code, out, _ = cli("links", "create", "https://example.com/2", "--prefix", "gh", "--domain", "other.test", "--short")
    assert code == 0 and re.fullmatch(r"http://other\.test/gh/[0-9A-Za-z]{7}\n", out)

    code, out, _ = cli("links", "list")
    rows = [line.split("\t") for line in out.splitlines()]
    assert [r[1] for r in rows] == [out.split("\t")[1], "http://go.test/promo"] and rows[1][0] == link["id"]
    assert rows[1][2:] == ["https://example.com/page", "0"]
    code, out, _ = cli("links", "list", "--domain", "other.test", "--json")
    assert [l["domain"] for l in json.loads(out)] == ["other.test"]
    code, out, _ = cli("links", "list", "--tag", "CLI", "--limit", "5")
    assert len(out.splitlines()) == 1

    code, _, err = cli("links", "delete", "ext_c1")
    assert code == 0 and "deleted ext_c1" in err
    code, out, _ = cli("links", "list", "--search", "promo")
    assert out == ""


def test_errors_go_to_stderr_with_status_1(cli):
    code, out, err = cli("links", "create", "javascript:alert(1)")
    assert code == 1 and out == "" and "Invalid destination URL" in err
    cli("links", "create", "https://example.com", "--key", "taken")
    code, out, err = cli("links", "create", "https://example.com", "--key", "TAKEN")
    assert code == 1 and "Duplicate key" in err
    code, out, err = cli("links", "delete", "link_nope")
    assert code == 1 and "link_nope: Link not found." in err
    code, out, _ = cli("links", "list")
    assert len(out.splitlines()) == 1


def test_cli_as_a_process_prints_only_the_short_link(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHORTENER_")}
    env.update({"SHORTENER_DOMAIN": "go.test", "PYTHONPATH": str(ROOT)})
    result = subprocess.run(
        [sys.executable, "-m", "shortener", "--data-dir", str(tmp_path / "d"), "links", "create",
         "https://example.com", "--key", "proc", "--short"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "http://go.test/proc\n"
