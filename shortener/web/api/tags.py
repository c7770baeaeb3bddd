"""API routes: tags."""
from __future__ import annotations

routes: list = []
