"""The SQLite store: one class assembled from query groups, one file per area."""
from __future__ import annotations

from typing import Awaitable, Callable

from .abtests import ABTestQueries
from .analytics import AnalyticsQueries
from .base import Row, SQLiteBase, Tx
from .clickrebuild import ClickRebuild
from .clicks import ClickQueries
from .conversions import ConversionQueries
from .core import CoreQueries
from .folders import FolderQueries
from .links import LinkQueries
from .maintenance import MaintenanceQueries
from .rollups import RollupQueries
from .users import UserQueries
from .webhooks import WebhookQueries


class SQLiteStore(LinkQueries, ClickQueries, ConversionQueries, WebhookQueries, FolderQueries, AnalyticsQueries,
                  ABTestQueries,
                  CoreQueries, UserQueries, MaintenanceQueries, RollupQueries, ClickRebuild):
    """Every method named for a use case; nothing outside shortener/store holds SQL."""

    async def migrate(self, progress: Callable[[str, int, int], None] | None = None) -> list[str]:
        """Apply pending migrations, then finish what they leave to be done in chunks, calling
        progress(what, done, total) after each: the lean click rows (017) first, since the rollup
        backfill (010) reads the clicks."""
        def reporting(what: str, job: Callable[..., Awaitable[None]]) -> Callable[[], Awaitable[None]]:
            return lambda: job(None if progress is None else (lambda done, total: progress(what, done, total)))

        return await SQLiteBase.migrate(self, (
            reporting("moving stored clicks to lean rows", self.rebuild_clicks),
            reporting("rolling up stored clicks and events", self.backfill_rollups),
        ))


__all__ = ["SQLiteStore", "Row", "Tx"]
