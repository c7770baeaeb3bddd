"""API keys: random, shown once, stored as SHA-256, checked in constant time.

Header handling follows Dub (reference/dub-behaviour.md 4.2): no header 401, a header that is
not `Bearer <key>` 400, an unknown or revoked key 401.
"""
from __future__ import annotations

import hashlib
import hmac

from shortener.errors import BadRequest, NotFound, Unauthorized
from shortener.ids import nanoid, new_id
from shortener.timeutil import now_iso

PREFIX = "dub_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def partial(key: str) -> str:
    return f"{key[:3]}...{key[-4:]}"


class ApiKeyService:
    def __init__(self, store) -> None:
        self.store = store

    async def create(self, name: str) -> tuple[dict, str]:
        name = (name or "").strip()
        if not name or len(name) > 100:
            raise BadRequest("A key needs a name of 1 to 100 characters.")
        key = PREFIX + nanoid(24)
        row = {
            "id": new_id("key_"),
            "name": name,
            "hashed_key": hash_key(key),
            "partial_key": partial(key),
            "created_at": now_iso(),
        }
        await self.store.insert_api_key(row)
        return row, key

    async def list(self) -> list[dict]:
        return await self.store.list_api_keys()

    async def revoke(self, id_or_name: str) -> None:
        if not await self.store.revoke_api_key(id_or_name, now_iso()):
            raise NotFound(f"No active API key {id_or_name!r}.")

    async def authenticate(self, authorization: str | None) -> dict:
        if authorization is None or not authorization.strip():
            raise Unauthorized("Missing Authorization header.")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise BadRequest(
                "Misconfigured authorization header. Did you forget to add 'Bearer '?"
            )
        hashed = hash_key(token)
        row = await self.store.find_api_key_by_hash(hashed)
        # The lookup is by hash; the compare below keeps the final check constant-time anyway.
        if row is None or not hmac.compare_digest(row["hashed_key"], hashed):
            raise Unauthorized("Unauthorized: Invalid API key.")
        return row
