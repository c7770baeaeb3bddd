"""Per-process locks by key, for a check-then-act that spans awaits (a lookup, then a create).

Kept behind this small interface so that several processes on one database can swap in a shared
lock (an advisory lock) without touching the callers."""
from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator, Hashable


class KeyedLocks:
    """An asyncio.Lock per key, made on first use and dropped once no one holds or awaits it, so
    the map holds only keys in use."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = (asyncio.Lock(), [0])
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)
