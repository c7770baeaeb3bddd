"""Background tasks owned by services (click writer, cache sync, webhook delivery, pruning)."""
from __future__ import annotations

import asyncio


async def cancel(task: asyncio.Task | None) -> None:
    """Cancel a service's background task and wait until it has unwound; None is a no-op."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
