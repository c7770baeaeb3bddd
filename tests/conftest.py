"""Shared fixtures.

- `settings`: a fresh data dir per test, default domain `go.test` plus `other.test`.
- `client`: Starlette TestClient on the in-process app (lifespan running), base URL http://go.test,
  redirects not followed. `core` is the running Core; `run(coro_fn, *args)` calls async code on
  the app's loop (e.g. `run(core.clicks.flush)`).
- `api`: the same client with a valid API key in its Authorization header; `api_key` is that key.
- `live_server`: a factory starting `python -m shortener serve` on a free loopback port, for
  tests that need a real server (SDK, concurrency, crash tests); `server` is one such server
  with defaults and `dub` the official SDK pointed at it. `module_server` is one for a whole
  module, for tests that do not need an empty database (a module overrides `server` with it).
- `shortener_cli`: the CLI's `main` in this process, answering like subprocess.run.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from shortener.config import Settings
from shortener.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
RAM_TMP = Path("/dev/shm")


def pytest_configure(config):
    """Test data folders on a RAM disk (/dev/shm) where there is one and no --basetemp was given.

    Every test opens a fresh database, and on a disk each open paid ~50-150 ms of fsyncs (the
    secret key, SQLite turning on WAL): most of the suite's time. fsync is still called, only
    free; no test pulls the power, and the full-disk test mounts a tmpfs of its own anyway.
    Set TESTS_TMP_ON_DISK=1 to keep them on disk. The folder is removed after a run that
    passed, and named at the end of one that did not."""
    if config.option.basetemp or os.environ.get("TESTS_TMP_ON_DISK") or not (
            RAM_TMP.is_dir() and os.access(RAM_TMP, os.W_OK)):
        return
    import tempfile

    config.option.basetemp = tempfile.mkdtemp(prefix="shortener-tests-", dir=RAM_TMP)
    config._ram_basetemp = config.option.basetemp


def pytest_sessionfinish(session, exitstatus):
    basetemp = getattr(session.config, "_ram_basetemp", None)
    if basetemp is None:
        return
    if exitstatus == 0:
        import shutil

        shutil.rmtree(basetemp, ignore_errors=True)
    else:
        session.config.get_terminal_writer().line(f"test data folders kept in {basetemp} (RAM: remove when done)")


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        data_dir=str(tmp_path / "data"),
        domain="go.test",
        extra_domains=("other.test",),
        sqlite_synchronous="normal",
        click_flush_ms=20,
    )


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings), base_url="http://go.test", follow_redirects=False) as c:
        yield c


@pytest.fixture
def core(client):
    return client.app_state["core"]


@pytest.fixture
def run(client):
    def call(fn, *args, **kwargs):
        return client.portal.call(lambda: fn(*args, **kwargs))

    return call


@pytest.fixture
def api_key(core, run) -> str:
    _, key = run(core.api_keys.create, "tests")
    return key


@pytest.fixture
def api(client, api_key):
    client.headers["Authorization"] = f"Bearer {api_key}"
    return client


@pytest.fixture
def shortener_cli(monkeypatch, capsys):
    """`shortener_cli(data_dir, **env)` -> `run(*args, stdin=None)`: the CLI's `main` in this process
    (a command as a subprocess paid a Python start-up, ~0.3-1 s, each), answering a
    CompletedProcess as subprocess.run would. `env` holds the SHORTENER_* settings it runs with;
    the rest of the SHORTENER_* environment is removed."""
    import io

    from shortener.cli import main

    def runner(data_dir, **env: str):
        for name in list(os.environ):
            if name.startswith("SHORTENER_"):
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, str(value))

        def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
            argv = ["--data-dir", str(data_dir), *args]
            capsys.readouterr()
            with monkeypatch.context() as m:
                m.setattr(sys, "stdin", io.StringIO(stdin or ""))
                try:
                    main(argv)
                    code = 0
                except SystemExit as exit_:
                    code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
                    if isinstance(exit_.code, str):
                        print(exit_.code, file=sys.stderr)  # as the interpreter prints it
            out, err = capsys.readouterr()
            return subprocess.CompletedProcess(["shortener", *argv], code, out, err)

        return run

    return runner


def record_link_changes(core, monkeypatch, field: str) -> list[tuple]:
    """From now on, every core.link_changed call as (event, link id, link[field], the previous
    link's field or None)."""
    seen: list[tuple] = []
    original = core.link_changed

    async def record(event, link, previous=None):
        seen.append((event, link["id"], link[field], previous[field] if previous else None))
        await original(event, link, previous)

    monkeypatch.setattr(core, "link_changed", record)
    return seen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    data_dir: Path
    port: int
    env: dict
    key: str = ""
    proc: subprocess.Popen | None = None
    log: Path = field(default=None)  # type: ignore[assignment]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "shortener", "--data-dir", str(self.data_dir), *args],
            env=self.env, capture_output=True, text=True, check=check, timeout=60,
        )

    def start(self) -> "LiveServer":
        self.log = self.data_dir.parent / f"server-{self.port}.log"
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shortener", "--data-dir", str(self.data_dir), "serve", "--port", str(self.port)],
            env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=str(ROOT),
        )
        deadline = time.monotonic() + 30
        # One client for the polling: each httpx.get builds a client and its TLS context (~30 ms).
        with httpx.Client(timeout=1) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: {self.log.read_text()}")
                try:
                    if http.get(f"{self.url}/_/health").status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.log.read_text()}")

    def stop(self) -> None:
        """Graceful stop (SIGTERM): queues are flushed."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)

    def kill(self) -> None:
        """Crash (SIGKILL): nothing is flushed."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def _prepare_data_dir(settings: Settings) -> str:
    """What `shortener init` and `shortener keys create` do, in this process (two fewer Python
    start-ups per live server); returns the new API key."""
    import asyncio

    from shortener.core import Core

    async def prepare() -> str:
        core = await Core.open(settings)
        try:
            await core.domains.ensure_configured()
            return (await core.api_keys.create("tests"))[1]
        finally:
            await core.close()

    return asyncio.run(prepare())


def prepared_server(data_dir: Path, port: int | None = None, **env_overrides: str) -> LiveServer:
    """A LiveServer on `data_dir` with these SHORTENER_* settings (none from this process's
    environment), its database made and an API key in `.key`; not started."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHORTENER_")}
    env.update({
        "SHORTENER_DOMAIN": f"127.0.0.1:{port}",
        "SHORTENER_SQLITE_SYNCHRONOUS": "normal",
        "PYTHONPATH": str(ROOT),
    })
    env.update({k: str(v) for k, v in env_overrides.items()})
    server = LiveServer(data_dir=Path(data_dir), port=port, env=env)
    server.key = _prepare_data_dir(Settings.from_env(env, data_dir=str(data_dir), port=port))
    return server


@pytest.fixture
def live_server(tmp_path):
    """Factory: `live_server(**env)` starts a server with SHORTENER_* overrides and an API key."""
    servers: list[LiveServer] = []

    def start(**env_overrides: str) -> LiveServer:
        port = free_port()
        server = prepared_server(tmp_path / f"live-{port}", port, **env_overrides)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory):
    """One live server with default settings for a whole module (starting one costs about a
    second), for tests that need no empty database: each works on its own links, keys, customers
    and folders. A module opts in by overriding `server` with it."""
    server = prepared_server(tmp_path_factory.mktemp("module-server") / "data").start()
    yield server
    server.stop()


@pytest.fixture
def server(live_server):
    """One live server with default settings (the SDK tests' server)."""
    return live_server()


@pytest.fixture
def dub(server):
    """The official Dub SDK pointed at `server`."""
    from dub import Dub

    return Dub(token=server.key, server_url=server.api_url)
