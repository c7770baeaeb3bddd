"""Whether a server is using a database: a lock file next to it (`shortener.db.lock`).

Every serving process holds a shared lock on it for as long as it runs; `shortener restore`
takes it exclusively, so a restore cannot start under a running server and a server cannot start
during a restore. The kernel drops the lock when a process dies, so a crash never leaves a stale
one behind.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path


def lock_file(db_path: str) -> Path:
    return Path(db_path + ".lock")


def _take(db_path: str, mode: int) -> int | None:
    if db_path == ":memory:":
        return None
    fd = os.open(lock_file(db_path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise
    return fd


def hold_for_server(db_path: str) -> int | None:
    """The shared lock of a serving process; SystemExit when a restore holds the database."""
    try:
        return _take(db_path, fcntl.LOCK_SH)
    except BlockingIOError:
        raise SystemExit(f"a restore is running on {db_path}; start the server when it has finished") from None


def hold_exclusive(db_path: str) -> int | None:
    """The exclusive lock, or None when a server (or another restore) holds the database."""
    try:
        fd = _take(db_path, fcntl.LOCK_EX)
    except BlockingIOError:
        return None
    return fd if fd is not None else -1


def release(fd: int | None) -> None:
    if fd is not None and fd >= 0:
        os.close(fd)
