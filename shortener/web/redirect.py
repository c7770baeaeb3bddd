"""The redirect hot path (pure ASGI)."""
from __future__ import annotations


class Redirector:
    def __init__(self, settings) -> None:
        self.settings = settings

    async def __call__(self, scope, receive, send) -> None:
        raise NotImplementedError
