from __future__ import annotations


class DomainService:
    def __init__(self, core) -> None:
        self.core = core
