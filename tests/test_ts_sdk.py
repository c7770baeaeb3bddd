"""The unmodified official Dub TypeScript SDK (npm `dub`, exact version in tests/ts_sdk/package-lock.json)
against a real server on loopback: tests/ts_sdk/sdk.mjs walks links, QR codes, folders, domains,
A/B links, tags, track, analytics, events and customers, and prints each call as `ok` or `FAIL`
with the reason (for an answer the SDK's zod schemas refuse, the paths that do not fit). The QR
PNG the SDK received is written out and decoded here (zxing-cpp): it must read as the short link.

`npm ci` installs the pinned packages into tests/ts_sdk/node_modules once; a stamp holding the
lock file's hash skips the install while it still matches. The test is skipped only when node or
npm is missing or the npm registry cannot be reached; any other install error fails it.
"""
from __future__ import annotations

import fcntl
import hashlib
import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

HERE = Path(__file__).resolve().parent / "ts_sdk"
STAMP = HERE / "node_modules" / ".shortener-lock-sha256"
# What npm prints when it cannot reach the registry (DNS, refused, unreachable, offline, timeout).
_OFFLINE = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ENETUNREACH", "EHOSTUNREACH",
            "ETIMEDOUT", "ERR_SOCKET_TIMEOUT", "network request to", "request to https://", "offline")


def _lock_hash() -> str:
    return hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()


def _install() -> None:
    """npm ci into tests/ts_sdk unless node_modules already holds this lock file's packages."""
    want = _lock_hash()
    lock_path = Path(tempfile.gettempdir()) / f"shortener-ts-sdk-{hashlib.sha256(bytes(HERE)).hexdigest()[:12]}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes never install at once
        if STAMP.exists() and STAMP.read_text().strip() == want and (HERE / "node_modules" / "dub").is_dir():
            return
        try:
            done = subprocess.run(
                ["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--fetch-retries=1",
                 "--fetch-timeout=20000"],
                cwd=HERE, capture_output=True, text=True, timeout=120,
            )
        except subprocess.TimeoutExpired:
            pytest.skip("npm ci did not finish in 120 s: is the npm registry reachable?")
        if done.returncode != 0:
            output = done.stdout + done.stderr
            if any(marker in output for marker in _OFFLINE):
                pytest.skip(f"the npm registry is unreachable, so the TypeScript SDK cannot be installed:\n{output[-1500:]}")
            pytest.fail(f"npm ci failed in {HERE}:\n{output[-3000:]}")
        STAMP.write_text(want)


@pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                    reason="node and npm are needed to run the official Dub TypeScript SDK")
def test_the_typescript_sdk_against_a_real_server(live_server, tmp_path):
    _install()
    # The CDN country header is believed, so the clicks the script makes have a country.
    server = live_server(SHORTENER_COUNTRY_HEADER_FROM_CDN="1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHORTENER_")}
    qr = tmp_path / "qr"
    env.update({"SHORTENER_URL": server.url, "SHORTENER_TOKEN": server.key, "SHORTENER_QR_OUT": str(qr)})
    run = subprocess.run(["node", "sdk.mjs"], cwd=HERE, env=env, capture_output=True, text=True, timeout=120)
    report = run.stdout + (f"\nstderr:\n{run.stderr}" if run.stderr.strip() else "")
    failures = [line for line in report.splitlines() if not line.startswith("ok ")]
    assert run.returncode == 0 and "all steps passed" in run.stdout, (
        "the TypeScript SDK failed against the server:\n" + "\n".join(failures))
    # the PNG that qrCodes.get received decodes to the short link it was asked for
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.with_suffix(".png").read_bytes())))
    assert [b.text for b in found] == [qr.with_suffix(".txt").read_text()]
