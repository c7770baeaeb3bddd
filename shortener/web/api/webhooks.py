"""API routes: webhooks."""
from __future__ import annotations

routes: list = []
