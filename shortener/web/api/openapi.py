"""API routes: openapi."""
from __future__ import annotations

routes: list = []
