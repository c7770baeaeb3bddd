"""Dashboard owners: an email and a scrypt password hash. All owners share one workspace.

scrypt (n=2**14, r=8: 16 MiB per hash) is memory-hard, so a stolen database is costly to guess
against; hashing runs off the event loop because it takes tens of milliseconds by design.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import secrets
from datetime import timedelta

from shortener.errors import NotFound, Unprocessable
from shortener.ids import new_id
from shortener.passwords import hash_password, verify_password
from shortener.timeutil import iso, now_iso, utcnow

MIN_PASSWORD = 8
MAX_PASSWORD = 1000
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so a wrong email costs as long as a wrong
    password. Made at the first sign-in attempt, not at import: a scrypt hash there cost every
    process ~70 ms, each CLI command included."""
    return hash_password("not a password of anyone")


def normalise_email(value: str) -> str:
    email = (value or "").strip()
    if not _EMAIL.match(email) or len(email) > 254:
        raise Unprocessable("Enter an email address such as owner@example.com.", field="email", issue="invalid_string")
    return email


def _session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class UserService:
    def __init__(self, store) -> None:
        self.store = store

    async def set(self, email: str, password: str) -> tuple[dict, bool]:
        """Create the owner, or set a new password for an existing one. Returns (user, created)."""
        email = normalise_email(email)
        if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise Unprocessable(
                f"A password has {MIN_PASSWORD} to {MAX_PASSWORD} characters.", field="password", issue="too_small"
            )
        now = now_iso()
        row = {"id": new_id("user_"), "email": email, "password_hash": await asyncio.to_thread(hash_password, password),
               "created_at": now, "updated_at": now}
        created = await self.store.save_user(row)
        return await self.store.find_user_by_email(email), created

    async def authenticate(self, email: str, password: str) -> dict | None:
        """The owner for this email and password, or None. Unknown emails take as long."""
        email = (email or "").strip()
        row = await self.store.find_user_by_email(email) if email and len(email) <= 254 else None
        # Asked for on both paths, so the first attempt costs the same for a known and an unknown email.
        dummy = await asyncio.to_thread(_dummy_hash)
        stored = row["password_hash"] if row else dummy
        ok = await asyncio.to_thread(verify_password, password or "", stored)
        if row is None or not ok:
            return None
        await self.store.user_signed_in(row["id"], now_iso())
        return row

    async def start_session(self, user_id: str, seconds: int) -> str:
        """A new session id for the owner, valid for `seconds` unless ended sooner."""
        session_id = secrets.token_urlsafe(18)
        now = utcnow()
        await self.store.start_session(_session_hash(session_id), user_id, iso(now), iso(now + timedelta(seconds=seconds)))
        return session_id

    async def session_user(self, session_id: str, user_id: str) -> dict | None:
        """The owner whose open session this is, or None (signed out, expired, owner deleted)."""
        return await self.store.find_session_user(_session_hash(session_id), user_id, now_iso())

    async def end_session(self, session_id: str) -> None:
        await self.store.end_session(_session_hash(session_id))

    async def get(self, user_id: str) -> dict | None:
        return await self.store.find_user(user_id)

    async def list(self) -> list[dict]:
        return await self.store.list_users()

    async def delete(self, email: str) -> None:
        if not await self.store.delete_user((email or "").strip()):
            raise NotFound(f"No owner {email!r}.")
