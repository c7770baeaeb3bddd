"""Queries for API keys and the link change log."""
from __future__ import annotations

from .base import Row, SQLiteBase


class CoreQueries(SQLiteBase):
    # -- API keys ----------------------------------------------------------------------------

    async def insert_api_key(self, row: Row) -> None:
        await self.write(
            "INSERT INTO api_keys (id, name, hashed_key, partial_key, created_at, scopes, kind) "
            "VALUES (:id, :name, :hashed_key, :partial_key, :created_at, :scopes, :kind)",
            row,
        )

    async def find_api_key_by_hash(self, hashed_key: str) -> Row | None:
        # Every API request asks this: an index point lookup, read on the loop (read_now).
        return self.read_one_now("SELECT * FROM api_keys WHERE hashed_key = ? AND revoked_at IS NULL", (hashed_key,))

    async def list_api_keys(self) -> list[Row]:
        return await self.read("SELECT * FROM api_keys ORDER BY created_at")

    async def revoke_api_key(self, key_id: str, at: str) -> bool:
        n = await self.write(
            "UPDATE api_keys SET revoked_at = ? WHERE (id = ? OR name = ?) AND revoked_at IS NULL",
            (at, key_id, key_id),
        )
        return n > 0

    # -- link change log ---------------------------------------------------------------------

    def link_changes_since(self, seq: int) -> tuple[int, list[tuple[str, str]], bool]:
        """(newest seq, [(domain, key)...], gap) for changes logged after `seq`. Synchronous: one
        indexed range read. `gap` is true when rows right after `seq` were pruned before this
        reader saw them (sequence numbers are contiguous: only pruning deletes rows)."""
        rows = self.read_now(
            "SELECT seq, domain, key FROM link_changes WHERE seq > ? ORDER BY seq LIMIT 10000", (seq,)
        )
        if not rows:
            return seq, [], False
        return rows[-1]["seq"], [(r["domain"], r["key"]) for r in rows], rows[0]["seq"] > seq + 1

    def latest_link_change(self) -> int:
        rows = self.read_now("SELECT COALESCE(MAX(seq), 0) AS seq FROM link_changes")
        return rows[0]["seq"]

    async def prune_link_changes(self, keep: int) -> int:
        """Keep the newest `keep` entries of the change log; returns how many were deleted."""
        return await self.write(
            "DELETE FROM link_changes WHERE seq <= (SELECT COALESCE(MAX(seq), 0) FROM link_changes) - ?",
            (keep,),
        )
