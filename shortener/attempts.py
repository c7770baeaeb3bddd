"""Limits on failed attempts (link passwords, dashboard sign-in): a small interface and its
in-process implementation.

An attempt is reserved, and counted, before the slow check (scrypt) is awaited, and credited back
only when it succeeds. Checking the count first and recording the failure after the await let
60 concurrent guesses all through a limit of 10 (issue 14 item 4).

The interface is async so that a shared implementation (Redis, PostgreSQL) can replace the
in-memory one when several processes serve the same links; the in-memory one never awaits.
"""
from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Protocol

MAX_KEYS = 100_000


@dataclass(frozen=True)
class Reservation:
    allowed: bool
    retry_after: int = 0     # whole seconds until an attempt may be allowed again (when refused)
    token: float = 0.0       # identifies the reservation to release


class AttemptLimiter(Protocol):
    """What the link-password and sign-in limits need; the only place their state lives."""

    async def reserve(self, key: str) -> Reservation:
        """Count one attempt for `key` if the limit allows it; otherwise say when to retry."""

    async def release(self, key: str, reservation: Reservation) -> None:
        """Credit back an allowed attempt that succeeded."""


@dataclass(frozen=True)
class Attempt:
    """One attempt counted against several keys at once (all of them, or none)."""
    allowed: bool
    refused_key: str = ""    # the first key whose limit was reached (when refused)
    retry_after: int = 0
    held: tuple[tuple[str, Reservation], ...] = ()


async def reserve_all(limiter: AttemptLimiter, keys: list[str]) -> Attempt:
    """Count one attempt against every key, or against none when one key's limit is reached:
    an attempt refused for one key was never made, so the keys already counted get it back."""
    held: list[tuple[str, Reservation]] = []
    for key in keys:
        reservation = await limiter.reserve(key)
        if not reservation.allowed:
            for done, earlier in held:
                await limiter.release(done, earlier)
            return Attempt(False, refused_key=key, retry_after=reservation.retry_after)
        held.append((key, reservation))
    return Attempt(True, held=tuple(held))


async def release_all(limiter: AttemptLimiter, attempt: Attempt) -> None:
    """Credit back an attempt that succeeded, on every key it was counted against."""
    for key, reservation in attempt.held:
        await limiter.release(key, reservation)


def attempt_key(scope: str, ip: str) -> str:
    """`scope` plus the client's network: the address for IPv4, its /64 for IPv6 (one subscriber
    usually holds a whole /64, so per-address limits would give them 2^64 tries)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return f"{scope}|{ip}"
    if addr.version == 6:
        if addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        else:
            return f"{scope}|{ipaddress.IPv6Network((int(addr) >> 64 << 64, 64))}"
    return f"{scope}|{addr}"


class MemoryAttemptLimiter:
    """`limit` attempts per key in a fixed window of `window` seconds from the key's first attempt.

    Bounded: at most `max_keys` keys, kept in least-recently-used order. Every call does O(1)
    work: keys whose window has passed are dropped from the old end as new ones arrive, and past
    `max_keys` the least recently used key is dropped even if still counting (a client with that
    many addresses already has more tries than the dropped count).
    """

    def __init__(self, limit: int, window: float, *, max_keys: int = MAX_KEYS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = max(1, int(limit))
        self.window = float(window)
        self.max_keys = max(1, int(max_keys))
        self._clock = clock
        self._keys: OrderedDict[str, list] = OrderedDict()   # key -> [window start, count]

    def __len__(self) -> int:
        return len(self._keys)

    def _trim(self, now: float) -> None:
        keys = self._keys
        # Two at most per call: enough to keep pace with one new key per call, and O(1).
        for _ in range(2):
            if not keys:
                return
            oldest = next(iter(keys.values()))
            if oldest[0] + self.window > now:
                return
            keys.popitem(last=False)

    async def reserve(self, key: str) -> Reservation:
        now = self._clock()
        self._trim(now)
        entry = self._keys.get(key)
        if entry is None or entry[0] + self.window <= now:
            if entry is None and len(self._keys) >= self.max_keys:
                self._keys.popitem(last=False)
            entry = self._keys[key] = [now, 0]
        self._keys.move_to_end(key)
        if entry[1] >= self.limit:
            return Reservation(False, retry_after=max(1, math.ceil(entry[0] + self.window - now)))
        entry[1] += 1
        return Reservation(True, token=entry[0])

    async def release(self, key: str, reservation: Reservation) -> None:
        entry = self._keys.get(key)
        # Only within the window the attempt was counted in; a new window starts from zero.
        if reservation.allowed and entry is not None and entry[0] == reservation.token and entry[1] > 0:
            entry[1] -= 1
