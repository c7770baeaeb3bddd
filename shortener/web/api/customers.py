"""API routes: customers."""
from __future__ import annotations

routes: list = []
