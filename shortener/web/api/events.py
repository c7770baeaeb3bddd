"""API routes: events."""
from __future__ import annotations

routes: list = []
