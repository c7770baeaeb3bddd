"""API routes: qr."""
from __future__ import annotations

routes: list = []
