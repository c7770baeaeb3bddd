"""Background tasks owned by services (click writer, cache sync, webhook delivery, pruning)."""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable


async def cancel(task: asyncio.Task | None) -> None:
    """Cancel a service's background task and wait until it has unwound; None is a no-op."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


async def every(seconds: float, job: Callable[[], Awaitable[object]], log: logging.Logger, failed: str) -> None:
    """Run `job()` now and then every `seconds`, for ever (a service's periodic upkeep: pruning,
    building rollups). A failure is logged as `failed` and the next run comes as planned."""
    while True:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(failed)
        await asyncio.sleep(seconds)
