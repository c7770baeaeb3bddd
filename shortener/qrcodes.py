"""QR codes, drawn off the event loop in a small pool of worker processes.

segno encodes and renders in pure Python: about 0.4 s for 2,048 characters at 2,000 px, holding
the GIL all along. On the event loop that stopped every redirect; on a thread it would still
starve the loop, which waits for the GIL after every I/O wake-up (measured: ~10x fewer loop
wake-ups per second with two rendering threads). Worker processes have their own GIL.

At most `max_pending` codes are being drawn or waiting for a worker at once; past that `Busy` is
raised (the API answers 429 with Retry-After) rather than letting a queue grow without bound.
"""
from __future__ import annotations

import asyncio
import io
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial

import segno

RETRY_AFTER = 1  # seconds: a code takes well under a second to draw
WORKER_NICENESS = 10


class Busy(Exception):
    """Every rendering slot is taken."""

    retry_after = RETRY_AFTER


class DataTooLong(Exception):
    """The data does not fit in a QR code at the requested error correction level."""


def draw(data: str, *, size: int, margin: int, level: str, dark: str, light: str, kind: str) -> bytes | None:
    """The image bytes, or None when the data does not fit (segno's DataOverflowError).

    Runs in a worker process. The largest whole-pixel scale that fits in `size` is used: exact
    sizes would need resampling, which blurs module edges.
    """
    try:
        qr = segno.make(data, error=level, micro=False, boost_error=False)
    except segno.DataOverflowError:
        return None
    modules = qr.symbol_size(scale=1, border=margin)[0]
    scale = max(1, size // modules)
    out = io.BytesIO()
    if kind == "svg":
        qr.save(out, kind="svg", scale=scale, border=margin, dark=dark, light=light, xmldecl=False,
                svgns=True, title=None, unit=None)
    else:
        qr.save(out, kind="png", scale=scale, border=margin, dark=dark, light=light)
    return out.getvalue()


def _worker_init() -> None:
    # Ctrl-C reaches the whole process group; the server shuts the pool down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # When the cores are busy, redirects go first: drawing is the work that can wait.
    try:
        os.nice(WORKER_NICENESS)
    except OSError:
        pass


class QrRenderer:
    def __init__(self, workers: int, max_pending: int) -> None:
        self.workers = max(1, int(workers))
        self.max_pending = max(1, int(max_pending))
        self.pending = 0
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the server has threads (SQLite, executors) that fork would copy
            # mid-flight. Workers start on the first request, not with every server.
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_worker_init)
        return self._pool

    async def render(self, data: str, **options) -> bytes:
        """Draw a code (see `draw` for the options); raises Busy or DataTooLong."""
        if self.pending >= self.max_pending:
            raise Busy()
        self.pending += 1
        try:
            loop = asyncio.get_running_loop()
            try:
                image = await loop.run_in_executor(self._executor(), partial(draw, data, **options))
            except BrokenProcessPool:
                # A worker died (killed, out of memory): start a fresh pool and try once more.
                self._discard_pool()
                image = await loop.run_in_executor(self._executor(), partial(draw, data, **options))
        finally:
            self.pending -= 1
        if image is None:
            raise DataTooLong()
        return image

    def _discard_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    async def stop(self) -> None:
        """Let a code being drawn finish (well under a second), drop the waiting ones, and wait
        for the workers to exit, so none outlives the server."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
