"""Queries for dashboard owners."""
from __future__ import annotations

import sqlite3

from .base import Row, SQLiteBase


def _upsert_user(conn: sqlite3.Connection, row: Row) -> bool:
    """Insert the owner, or replace the password of the one with that email. True if created."""
    cur = conn.execute("SELECT id FROM users WHERE email = ?", (row["email"],))
    existing = cur.fetchone()
    cur.close()
    if existing is None:
        conn.execute(
            "INSERT INTO users (id, email, password_hash, created_at, updated_at) "
            "VALUES (:id, :email, :password_hash, :created_at, :updated_at)",
            row,
        ).close()
        return True
    conn.execute(
        "UPDATE users SET password_hash = ?, updated_at = ? WHERE email = ?",
        (row["password_hash"], row["updated_at"], row["email"]),
    ).close()
    # A new password ends every session of the owner: one opened with the old password may be
    # the reason for the change.
    conn.execute("DELETE FROM dashboard_sessions WHERE user_id = ?", (existing["id"],)).close()
    return False


class UserQueries(SQLiteBase):
    async def save_user(self, row: Row) -> bool:
        return await self.run_in_transaction(_upsert_user, row)

    async def find_user(self, user_id: str) -> Row | None:
        return await self.read_one("SELECT * FROM users WHERE id = ?", (user_id,))

    async def find_user_by_email(self, email: str) -> Row | None:
        return await self.read_one("SELECT * FROM users WHERE email = ?", (email,))

    async def list_users(self) -> list[Row]:
        return await self.read("SELECT id, email, created_at, last_sign_in_at FROM users ORDER BY email")

    async def delete_user(self, email: str) -> bool:
        return await self.write("DELETE FROM users WHERE email = ?", (email,)) > 0

    async def user_signed_in(self, user_id: str, at: str) -> None:
        await self.write("UPDATE users SET last_sign_in_at = ? WHERE id = ?", (at, user_id))

    async def start_session(self, id_hash: str, user_id: str, created_at: str, expires_at: str) -> None:
        """Store a new dashboard session; sessions past their expiry go at the same time."""
        def start(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM dashboard_sessions WHERE expires_at <= ?", (created_at,)).close()
            conn.execute("INSERT INTO dashboard_sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                         (id_hash, user_id, created_at, expires_at)).close()

        await self.run_small_transaction(start)

    async def find_session_user(self, id_hash: str, user_id: str, now: str) -> Row | None:
        """The owner of a session that is still open, or None."""
        return await self.read_one(
            "SELECT users.* FROM dashboard_sessions AS s JOIN users ON users.id = s.user_id "
            "WHERE s.id_hash = ? AND s.user_id = ? AND s.expires_at > ?", (id_hash, user_id, now))

    async def end_session(self, id_hash: str) -> None:
        await self.run_small_transaction(
            lambda conn: conn.execute("DELETE FROM dashboard_sessions WHERE id_hash = ?", (id_hash,)).close())
