"""Queries for customers, lead and sale events."""
from __future__ import annotations

from .base import Row, SQLiteBase


class ConversionQueries(SQLiteBase):
    pass
