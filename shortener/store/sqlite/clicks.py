"""Queries for the redirect path's lookups and click batches."""
from __future__ import annotations

from .base import Row, SQLiteBase


class ClickQueries(SQLiteBase):
    pass
