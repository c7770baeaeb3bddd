"""Storage. `open_store` picks the implementation from the database URL.

Services depend on the methods of the store (named for use cases), never on SQL or a backend.
A PostgreSQL store will be a second class with the same methods, held to the same contract tests
(tests/test_store_contract.py).
"""
from __future__ import annotations

from shortener.config import Settings


async def open_store(settings: Settings, *, migrate: bool = True):
    url = settings.resolved_database_url
    if url.startswith("sqlite:"):
        from .sqlite import SQLiteStore

        store = SQLiteStore(url, synchronous=settings.sqlite_synchronous)
    else:
        raise SystemExit(f"unsupported database URL {url!r}: only sqlite:/// is available yet")
    await store.open()
    if migrate:
        await store.migrate()
    return store
