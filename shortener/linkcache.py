from __future__ import annotations


class LinkCache:
    def __init__(self, core) -> None:
        self.core = core

    def invalidate(self, domain: str, key: str) -> None:
        pass
