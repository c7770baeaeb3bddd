"""Link passwords: salted scrypt hashes, verified in constant time. Plaintext is never stored.

scrypt runs on its own two threads, not the event loop's default pool: that pool also serves the
webhook worker's DNS lookups, and a burst of guesses must not queue ahead of them (or the other
way round). Two threads also bound scrypt's memory (16 MiB per call) under a flood.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
from concurrent.futures import ThreadPoolExecutor

_N, _R, _P, _LEN = 2**14, 8, 1, 32
SCRYPT_THREADS = 2

_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=SCRYPT_THREADS, thread_name_prefix="scrypt")
    return _pool


async def hash_password_async(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_executor(), hash_password, password)


async def verify_password_async(password: str, stored: str | None) -> bool:
    return await asyncio.get_running_loop().run_in_executor(_executor(), verify_password, password, stored)


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_LEN)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def _parts(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    """(n, r, p, salt, digest) of a hash whose parameters cost at most ours, else None.

    A hash can arrive from outside (`shortener import` keeps an export's hashes), and its
    parameters set the price of every guess: p=40 made each attempt take two seconds of CPU, and
    a large n takes gigabytes. So the work (n*r*p) and the memory (n*r) are held to ours.
    """
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if not all(x.isascii() and x.isdigit() for x in (n, r, p)):  # int() also reads "１６"
            return None
        n, r, p = int(n), int(r), int(p)
        salt_bytes, digest_bytes = _unb64(salt), _unb64(digest)
    except (ValueError, TypeError):
        return None
    # At least 1/128 of our memory cost too: n=2 would make a stolen database free to guess.
    if (algo != "scrypt" or n < 2 or n & (n - 1) or r < 1 or p < 1 or n * r > _N * _R or n * r * p > _N * _R * _P
            or n * r < _N * _R // 128 or not 8 <= len(salt_bytes) <= 64 or not 16 <= len(digest_bytes) <= 64):
        return None
    return n, r, p, salt_bytes, digest_bytes


def is_password_hash(value: object) -> bool:
    """A hash verify_password can check at no more than our own cost."""
    return isinstance(value, str) and _parts(value) is not None


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not isinstance(password, str):
        return False
    parts = _parts(stored)
    if parts is None:
        return False
    n, r, p, salt, expected = parts
    try:
        actual = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)
