"""Signed tokens (itsdangerous), one salt per purpose; a bad or expired token reads as None."""
from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer


class Signer:
    def __init__(self, secret_key: bytes) -> None:
        self._secret = secret_key
        self._serializers: dict[str, URLSafeTimedSerializer] = {}

    def _for(self, purpose: str) -> URLSafeTimedSerializer:
        s = self._serializers.get(purpose)
        if s is None:
            s = self._serializers[purpose] = URLSafeTimedSerializer(self._secret, salt=f"shortener.{purpose}")
        return s

    def dumps(self, purpose: str, value: Any) -> str:
        return self._for(purpose).dumps(value)

    def loads(self, purpose: str, token: str | None, *, max_age: int) -> Any:
        if not token:
            return None
        try:
            return self._for(purpose).loads(token, max_age=max_age)
        except BadSignature:  # includes SignatureExpired
            return None
