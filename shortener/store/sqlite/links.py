"""Queries for links, tags and domains (CRUD, listing, counting)."""
from __future__ import annotations

from .base import Row, SQLiteBase


class LinkQueries(SQLiteBase):
    pass
