"""Identifiers in Dub's formats.

- Object ids: prefix + 25 chars of Crockford base32 over (48-bit ms timestamp, 80 random bits),
  so they sort by creation time like ULIDs.
- Click ids, event ids, random keys: characters of [0-9A-Za-z] (nanoid's alphabet).
"""
from __future__ import annotations

import os
import time

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ALPHANUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_LEN = 25


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    n = (ms << 80) | int.from_bytes(os.urandom(10), "big")
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


def click_id() -> str:
    return nanoid(16)
