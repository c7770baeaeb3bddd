"""API keys: random, shown once, stored as SHA-256, checked in constant time.

Header handling follows Dub (reference/dub-behaviour.md 4.2): no header 401, a header that is
not `Bearer <key>` 400, an unknown or revoked key 401.
"""
from __future__ import annotations

import hashlib
import hmac

from shortener import scopes as scoperules
from shortener.errors import BadRequest, NotFound, Unauthorized
from shortener.ids import nanoid, new_id
from shortener.timeutil import now_iso

PREFIX = "dub_"
# Publishable keys (Dub: dub_pk_...) may only call the client-side /track/click; they are meant to
# be seen by browsers, so they grant nothing else.
PUBLISHABLE_PREFIX = "dub_pk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def partial(key: str) -> str:
    return f"{key[:3]}...{key[-4:]}"


class ApiKeyService:
    def __init__(self, store) -> None:
        self.store = store

    async def create(self, name: str, scopes: list[str] | None = None, *,
                     publishable: bool = False) -> tuple[dict, str]:
        """A new key and its row. `scopes` None means every scope; a publishable key has none."""
        name = (name or "").strip()
        if not name or len(name) > 100:
            raise BadRequest("A key needs a name of 1 to 100 characters.")
        if publishable and scopes:
            raise BadRequest("A publishable key only tracks client-side clicks; it takes no scopes.")
        key = (PUBLISHABLE_PREFIX if publishable else PREFIX) + nanoid(24)
        row = {
            "id": new_id("key_"),
            "name": name,
            "hashed_key": hash_key(key),
            "partial_key": partial(key),
            "created_at": now_iso(),
            "scopes": None if publishable else scoperules.normalise(scopes),
            "kind": "publishable" if publishable else "secret",
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
        row = await self._find(token)
        if row is None or row.get("kind", "secret") != "secret":
            raise Unauthorized("Unauthorized: Invalid API key.")
        return row

    async def authenticate_publishable(self, authorization: str | None) -> dict:
        """The publishable key of a client-side request, checked as Dub's withPublishableKey does."""
        if authorization is None or not authorization.strip():
            raise Unauthorized("Missing publishable key.")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token.startswith(PUBLISHABLE_PREFIX):
            raise BadRequest("Invalid or missing publishable key.")
        row = await self._find(token)
        if row is None or row.get("kind") != "publishable":
            raise Unauthorized("Invalid publishable key.")
        return row

    async def _find(self, token: str) -> dict | None:
        hashed = hash_key(token)
        row = await self.store.find_api_key_by_hash(hashed)
        # The lookup is by hash; the compare below keeps the final check constant-time anyway.
        if row is None or not hmac.compare_digest(row["hashed_key"], hashed):
            return None
        return row
