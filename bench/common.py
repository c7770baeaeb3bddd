"""What the benchmarks share: a loopback port, a server started on a throwaway data dir, seeding.

Each bench stays one command (`.venv/bin/python bench/bench_x.py`); this module is imported from
beside them (a script's own folder is first on sys.path).
"""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shortener.config import Settings  # noqa: E402
from shortener.core import Core  # noqa: E402
from shortener.ids import new_id  # noqa: E402
from shortener.timeutil import now_iso  # noqa: E402

# Every column of a plain link other than id, domain, key, url and the dates, at its default.
_PLAIN_LINK = {
    "external_id": None, "tenant_id": None, "identifier": None, "track_conversion": 0,
    "archived": 0, "expires_at": None, "expired_url": None, "password_hash": None, "proxy": 0,
    "title": None, "description": None, "image": None, "video": None, "rewrite": 0,
    "do_index": 0, "ios": None, "android": None, "geo": None, "public_stats": 0, "comments": None,
    "utm_source": None, "utm_medium": None, "utm_campaign": None, "utm_term": None,
    "utm_content": None, "ref": None, "program_id": None, "partner_id": None, "folder_id": None,
    "user_id": None, "webhook_ids": "[]", "redirect_status": None, "disabled_at": None,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(domain: str, **settings: str) -> dict[str, str]:
    """This process's environment without SHORTENER_* leaking in, plus the given settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHORTENER_")}
    env.update({"SHORTENER_DOMAIN": domain, "SHORTENER_LOG_LEVEL": "warning", "PYTHONPATH": str(ROOT)})
    env.update({f"SHORTENER_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def shortener_cmd(data_dir: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "shortener", "--data-dir", data_dir, *args]


def create_key(data_dir: str, env: dict[str, str]) -> str:
    # `init` first: the CLI refuses to create a database on its own (an idempotent no-op if the
    # benchmark created one already).
    subprocess.run(shortener_cmd(data_dir, "init"), env=env, capture_output=True, text=True, check=True)
    return subprocess.run(shortener_cmd(data_dir, "keys", "create", "--name", "bench"), env=env,
                          capture_output=True, text=True, check=True).stdout.strip()


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def start_shortener(data_dir: str, port: int, env: dict[str, str], *, cpu: str | None = None,
                    quiet: bool = False) -> subprocess.Popen:
    cmd = shortener_cmd(data_dir, "serve", "--port", str(port))
    if cpu is not None:
        cmd = ["taskset", "-c", cpu, *cmd]
    out = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(cmd, env=env, cwd=str(ROOT), stdout=out, stderr=out)
    wait_ready(port, proc)
    return proc


async def seed_links(data_dir: str, domain: str, count: int, *, key: Callable[[int], str],
                     url: Callable[[int], str]) -> list[str]:
    """Insert `count` plain links straight through the store, 5,000 per transaction (the seeding
    is not what is measured); returns the keys stored (a rare random-key collision is skipped)."""
    core = await Core.open(Settings.from_env({}, data_dir=data_dir, domain=domain))
    keys: list[str] = []
    try:
        await core.domains.ensure_configured()
        for start in range(0, count, 5000):
            items = []
            for i in range(start, min(start + 5000, count)):
                now = now_iso()
                row = dict(_PLAIN_LINK, id=new_id("link_"), domain=domain, key=key(i), url=url(i),
                           created_at=now, updated_at=now)
                items.append({"link": row, "tag_ids": [], "new_tags": []})
            results = await core.store.create_links(items)
            keys.extend(item["link"]["key"] for item, r in zip(items, results) if r is None)
    finally:
        await core.close()
    return keys


# wrk scripts over a file of keys, one a line: random keys (a fixed seed), and a walk over every key
# once, then again (a warm-up that puts the whole working set in the link cache, as a long-running
# server would have it).
RANDOM_KEYS_LUA = """
local keys = {}
for line in io.lines("%s") do keys[#keys + 1] = line end
math.randomseed(%d)
request = function()
  return wrk.format("GET", "/" .. keys[math.random(#keys)])
end
"""
ALL_KEYS_LUA = """
local keys = {}
for line in io.lines("%s") do keys[#keys + 1] = line end
local i = 0
request = function()
  i = i %% #keys + 1
  return wrk.format("GET", "/" .. keys[i])
end
"""


@dataclass
class WrkKeys:
    keys: list[str]
    keys_file: Path
    random_script: Path  # RANDOM_KEYS_LUA, seed 42
    walk_script: Path  # ALL_KEYS_LUA


def seed_wrk_keys(folder: Path, data_dir: str, domain: str, count: int, url: str) -> WrkKeys:
    """`count` links with random 7-character keys (destination `url` formatted with i), their keys in
    folder/keys.txt and the two wrk scripts over them beside it."""
    from shortener.ids import nanoid

    t0 = time.perf_counter()
    keys = asyncio.run(seed_links(data_dir, domain, count, key=lambda i: nanoid(7), url=lambda i: url.format(i=i)))
    print(f"seeded {len(keys)} links in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    keys_file = folder / "keys.txt"
    keys_file.write_text("\n".join(keys) + "\n")
    random_script = folder / "random_keys.lua"
    random_script.write_text(RANDOM_KEYS_LUA % (keys_file, 42))
    walk_script = folder / "all_keys.lua"
    walk_script.write_text(ALL_KEYS_LUA % keys_file)
    return WrkKeys(keys, keys_file, random_script, walk_script)
