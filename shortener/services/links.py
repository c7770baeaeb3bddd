from __future__ import annotations


class LinkService:
    def __init__(self, core) -> None:
        self.core = core
