from __future__ import annotations


class ConversionService:
    def __init__(self, core) -> None:
        self.core = core
