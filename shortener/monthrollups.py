"""Per-link month rollups, built once a month has ended (migration 016).

The click writer adds per-link day rows only; a month's per-link rows are summed from its days
after it ends (store.compact_link_months), so an `all` or a year-long query about links reads
12 rows a year per value, not 365. Checked at start and then hourly: a month is built within an
hour of its end, and analytics read its days until then, so no answer waits for it.
"""
from __future__ import annotations

import asyncio
import logging

from shortener.tasks import cancel, every

log = logging.getLogger("shortener.rollups")

CHECK_EVERY = 3600.0


class MonthRollups:
    def __init__(self, core) -> None:
        self.store = core.store
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(every(CHECK_EVERY, self._build, log, "building per-link month rollups failed"),
                                         name="month-rollups")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def _build(self) -> None:
        months = await self.store.compact_link_months()
        if months:
            log.info("built per-link month rollups for %d ended month(s)", months)
