"""The wheel carries templates, static files and migrations, and works outside the checkout."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import sys
from starlette.testclient import TestClient
import shortener
from shortener.config import Settings
from shortener.web import templating
from shortener.web.app import create_app
assert shortener.__file__.startswith(sys.argv[1]), shortener.__file__
assert str(templating.TEMPLATES_DIR).startswith(sys.argv[1]), templating.TEMPLATES_DIR
s = Settings(data_dir=sys.argv[2], domain="go.test")
with TestClient(create_app(s), base_url="http://go.test") as c:
    assert c.get("/_/health").json()["schemaVersion"] >= 2
    assert c.get("/_/static/style.css").status_code == 200
    r = c.get("/_/docs/errors")
    assert r.status_code == 200 and "unprocessable_entity" in r.text
print("ok")
"""


def test_wheel_works_outside_the_checkout(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    wheel = next(wheels.glob("shortener-*.whl"))
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        zf.extractall(site)
    assert "shortener/templates/base.html" in names
    assert "shortener/static/style.css" in names
    assert "shortener/static/charts.css" in names
    assert "shortener/store/sqlite/migrations/001_core.sql" in names
    assert "shortener/deploy/shortener.service" in names  # `shortener systemd-unit` prints it
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(site), str(tmp_path / "data")],
        cwd=str(tmp_path), env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
