"""Click retention: raw click rows older than SHORTENER_CLICK_RETENTION_DAYS are deleted.

Analytics keep their figures: the rollups (shortener/store/sqlite/rollups.py) hold every click's
counts and are never pruned. Clicks a customer, lead or sale refers to stay, so /events rows of
conversions still carry their click. Deleted in chunks of 2,000, each its own short transaction
with a pause between, so the click writer and API writes never wait long; once an hour. Nothing
is pruned while the rollups are still being built from stored rows (after the migration).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from shortener.tasks import cancel, every
from shortener.timeutil import iso, utcnow

log = logging.getLogger("shortener.retention")

PRUNE_EVERY = 3600.0
CHUNK = 2000
PAUSE = 0.05  # seconds between chunks


class ClickRetention:
    def __init__(self, core) -> None:
        self.store = core.store
        self.days = max(0, int(core.settings.click_retention_days))
        self._task: asyncio.Task | None = None
        self.pruned = 0  # clicks deleted by this process

    async def start(self) -> None:
        if self.days:
            self._task = asyncio.create_task(every(PRUNE_EVERY, self._prune_and_log, log, "pruning old clicks failed"),
                                             name="click-retention")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def prune(self, now=None) -> int:
        """Delete the clicks past the retention window (none when it is 0); returns how many."""
        if not self.days or not await self.store.rollups_ready():
            return 0
        before = iso((now or utcnow()) - timedelta(days=self.days))
        after, total = "", 0
        while True:
            deleted, seen, last = await self.store.prune_clicks_chunk(before, after, CHUNK)
            total += deleted
            self.pruned += deleted
            # A chunk short of CHUNK reached `before`; one with nothing deleted and no progress is
            # CHUNK kept clicks in one millisecond (move on next hour rather than loop).
            if seen < CHUNK or (deleted == 0 and last == after):
                return total
            after = last
            await asyncio.sleep(PAUSE)

    async def _prune_and_log(self) -> None:
        n = await self.prune()
        if n:
            log.info("deleted %d clicks older than %d days (their rollups stay)", n, self.days)
