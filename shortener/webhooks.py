from __future__ import annotations


class WebhookService:
    def __init__(self, core) -> None:
        self.core = core

    async def enqueue(self, event: str, data: dict) -> None:
        pass
