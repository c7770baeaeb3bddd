"""Queries for webhooks and their delivery outbox."""
from __future__ import annotations

from .base import Row, SQLiteBase


class WebhookQueries(SQLiteBase):
    pass
