"""Identifiers in Dub's formats.

- Object ids: prefix + 25 chars of Crockford base32 over (48-bit ms timestamp, 80 random bits),
  so they sort by creation time like ULIDs. Within one process they are monotonic (ULID's
  monotonic mode): an id made in the same millisecond as the previous one is the previous one
  plus one, so ids made in a row sort in the order they were made. Lists ordered by createdAt
  break ties on the id; with random low bits, a batch created in one millisecond came back in
  random order (and id cursors skipped around it).
- Event ids, random keys: characters of [0-9A-Za-z] (nanoid's alphabet). Click ids have the same
  format but are time-ordered (shortener/clicks.py fast_click_id: 7 characters of base62
  milliseconds, then 9 random ones, ~53 bits: the dub_id cookie stays unguessable).
"""
from __future__ import annotations

import os
import threading
import time

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ALPHANUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_LEN = 25
_RANDOM_BITS = 80
_last = 0                      # the previous id's number, for the monotonic mode
_last_lock = threading.Lock()  # ids are also made on the store's threads


def _next_number(ms: int) -> int:
    global _last
    n = (ms << _RANDOM_BITS) | int.from_bytes(os.urandom(10), "big")
    with _last_lock:
        # Same millisecond (or a clock that stepped back): one more than the last id. Running
        # out of random bits carries into the time part, which keeps the order.
        if n >> _RANDOM_BITS <= _last >> _RANDOM_BITS:
            n = _last + 1
        _last = n
    return n


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """A new id; `now_ms` (a given time, e.g. for backdated rows) skips the monotonic mode."""
    if now_ms is None:
        n = _next_number(int(time.time() * 1000))
    else:
        n = (now_ms << _RANDOM_BITS) | int.from_bytes(os.urandom(10), "big")
    out = []
    for _ in range(_ID_LEN):
        n, r = divmod(n, 32)
        out.append(CROCKFORD[r])
    return prefix + "".join(reversed(out))


def nanoid(size: int = 16) -> str:
    """`size` characters of [0-9A-Za-z]; 128 random bits per 16 chars keeps the modulo bias ~1e-10."""
    out = []
    while len(out) < size:
        n = int.from_bytes(os.urandom(16), "big")
        for _ in range(min(16, size - len(out))):
            n, r = divmod(n, 62)
            out.append(ALPHANUM[r])
    return "".join(out)

