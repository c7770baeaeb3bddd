"""The cookie-signing key file: created once, atomically, 0600; an empty or short one is refused."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading

import pytest

from conftest import ROOT
from shortener.config import load_secret_key


def test_first_start_creates_a_private_key_once(settings):
    key = load_secret_key(settings)
    path = settings.resolved_secret_key_file
    assert len(key) == 64 and path.read_bytes() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret_key(settings) == key
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temporary file left


def test_processes_starting_together_agree_on_one_key(settings):
    """issue 14 item 7: two first starts raced; the loser could read the file while it was still
    empty and sign with an empty key."""
    for attempt in range(20):
        s = settings.replace(data_dir=f"{settings.data_dir}-{attempt}")
        barrier = threading.Barrier(8)
        keys: list[bytes] = []

        def start() -> None:
            barrier.wait()
            keys.append(load_secret_key(s))

        threads = [threading.Thread(target=start) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) == 64, keys
        assert s.resolved_secret_key_file.read_bytes() == keys[0]


@pytest.mark.parametrize("content", [b"", b"\n", b"short-key\n"])
def test_an_empty_or_short_key_file_is_refused_at_start(settings, tmp_path, content):
    path = settings.resolved_secret_key_file
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(SystemExit, match="secret key"):
        load_secret_key(settings)
    assert path.read_bytes() == content  # never overwritten: the operator decides
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHORTENER_")}
    env["PYTHONPATH"] = str(ROOT)
    r = subprocess.run([sys.executable, "-m", "shortener", "--data-dir", settings.data_dir, "serve", "--port", "9"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and str(path) in r.stderr and "at least 32" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
