"""API routes: track."""
from __future__ import annotations

routes: list = []
