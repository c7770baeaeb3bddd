from __future__ import annotations


class TagService:
    def __init__(self, core) -> None:
        self.core = core
