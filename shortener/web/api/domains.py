"""API routes: domains."""
from __future__ import annotations

routes: list = []
