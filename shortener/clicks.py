from __future__ import annotations


class ClickRecorder:
    def __init__(self, core) -> None:
        self.core = core
