"""The click dedup window: which (link, visitor) pairs clicked recently, and with which click id.

A visitor who clicks the same link again inside the window gets the click id of the first visit
and no new click row. This is per-process state behind a small interface (`seen`, `remember`,
`sweep`), which a shared store can replace when several instances serve one database.

How it is kept, and why:
- plain dicts of int -> str. A dict holding only such atoms is never tracked by the garbage
  collector; the OrderedDict of tuples this replaces was, and each full collection walked all of
  its entries (400k entries: 50 ms with the event loop stopped, every couple of seconds under a
  redirect load);
- SHARDS dicts per generation, so that no single dict grows past a few thousand entries: a dict
  that doubles copies every entry at once (24-49 ms at 700k entries);
- two generations, `new` and `old`. Entries go into `new`; every `window` seconds `new` becomes
  `old` and the former `old` is dropped. An entry dropped that way is older than the window,
  so it had expired: no per-entry expiry list to keep in order, and no dict scanned from the
  front (a dict finds its first live entry by walking every slot deleted before it);
- at the cap, `new` is rotated early once it holds half the cap: the oldest half is forgotten
  at once (those visitors' next clicks count again) and memory stays bounded;
- dropped shards are freed a few at a time by `sweep` (freeing 500k strings at once would be a
  stall of its own);
- the expiry of an entry is read from its click id, which begins with its creation time in
  milliseconds (clicks.fast_click_id), so a value is one string and nothing else.
"""
from __future__ import annotations

from typing import Callable

SHARDS = 64
_MASK = SHARDS - 1
# Shards freed per sweep: each holds at most cap / 2 / SHARDS entries (~8k at the default cap).
_FREE_PER_SWEEP = 4


def _empty() -> list[dict[int, str]]:
    return [{} for _ in range(SHARDS)]


class ClickDedup:
    """`seen(key, now)` -> the click id remembered for `key` within `window` seconds, or None;
    `remember(key, click_id, now)`; `sweep(now)` from a periodic task. `key` is an int (a hash
    of the link and the visitor); `created(click_id)` gives a click id's creation time."""

    def __init__(self, window: float, cap: int, created: Callable[[str], float], now: float) -> None:
        self.window = window
        self.created = created
        self._half = max(1, cap // 2)
        self._new = _empty()
        self._old = _empty()
        self._new_count = 0
        self._rotate_at = now + window
        self._retired: list[dict[int, str]] = []

    def __len__(self) -> int:
        return sum(map(len, self._new)) + sum(map(len, self._old))

    def seen(self, key: int, now: float) -> str | None:
        shard = key & _MASK
        click_id = self._new[shard].get(key)
        if click_id is None:
            click_id = self._old[shard].get(key)
            if click_id is None:
                return None
        return click_id if self.created(click_id) + self.window > now else None

    def remember(self, key: int, click_id: str, now: float) -> None:
        if now >= self._rotate_at or self._new_count >= self._half:
            self._rotate(now)
        self._new[key & _MASK][key] = click_id
        self._new_count += 1  # (a key written twice counts twice: the cap is approximate)

    def sweep(self, now: float) -> None:
        """Rotate when the window has passed (an idle server frees its memory too) and free a
        few of the shards dropped before."""
        if now >= self._rotate_at:
            self._rotate(now)
        for _ in range(min(_FREE_PER_SWEEP, len(self._retired))):
            self._retired.pop()

    def _rotate(self, now: float) -> None:
        self._retired.extend(shard for shard in self._old if shard)
        self._old, self._new, self._new_count = self._new, _empty(), 0
        self._rotate_at = now + self.window
