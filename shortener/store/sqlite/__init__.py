"""The SQLite store: one class assembled from query groups, one file per area."""
from __future__ import annotations

from .abtests import ABTestQueries
from .analytics import AnalyticsQueries
from .base import Row, Tx
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
                  CoreQueries, UserQueries, MaintenanceQueries, RollupQueries):
    """Every method named for a use case; nothing outside shortener/store holds SQL."""


__all__ = ["SQLiteStore", "Row", "Tx"]
