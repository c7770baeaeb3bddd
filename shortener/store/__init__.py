"""Storage. `open_store` picks the implementation from the database URL.

Services depend on the methods of the store (named for use cases), never on SQL or a backend.
A PostgreSQL store will be a second class with the same methods, held to the same contract tests
(tests/test_store_contract.py).
"""
from __future__ import annotations

import os
from pathlib import Path

from shortener.config import Settings, ensure_private_dir


def sqlite_path(url: str) -> str | None:
    """The file of a sqlite: URL (None for other URLs and for :memory:)."""
    for prefix in ("sqlite:///", "sqlite://"):
        if url.startswith(prefix):
            path = url[len(prefix):]
            return None if path in ("", ":memory:") else path
    return None


def database_exists(settings: Settings) -> bool:
    path = sqlite_path(settings.resolved_database_url)
    return path is None or Path(path).exists()


def create_private_database_file(path: str) -> None:
    """Create the database file 0600 in a 0700 folder before SQLite opens it. SQLite gives the
    -wal and -shm files it creates later the database file's own mode, so all three stay
    private whatever the umask (the database holds customer emails)."""
    ensure_private_dir(Path(path).parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.fchmod(fd, 0o600)
    os.close(fd)


async def open_store(settings: Settings, *, migrate: bool = True):
    url = settings.resolved_database_url
    if url.startswith("sqlite:"):
        from .sqlite import SQLiteStore

        path = sqlite_path(url)
        if path is not None:
            create_private_database_file(path)

        store = SQLiteStore(url, synchronous=settings.sqlite_synchronous, readers=settings.sqlite_readers,
                            query_timeout=settings.query_timeout)
    else:
        raise SystemExit(f"unsupported database URL {url!r}: only sqlite:/// is available yet")
    await store.open()
    if migrate:
        await store.migrate()
    return store
