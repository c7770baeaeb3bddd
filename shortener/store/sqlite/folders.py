"""Queries for folders. A folder's links point at it by links.folder_id; deleting a folder moves
its links out of it in the same transaction."""
from __future__ import annotations

import sqlite3

from .base import Row, SQLiteBase

FOLDER_COLUMNS = ("id", "name", "description", "access_level", "created_at", "updated_at")
UPDATABLE_FOLDER_COLUMNS = frozenset(("name", "description", "access_level", "updated_at"))


def _insert(conn: sqlite3.Connection, row: Row) -> bool:
    cur = conn.execute("SELECT 1 FROM folders WHERE name = ?", (row["name"],))
    taken = cur.fetchone() is not None
    cur.close()
    if taken:
        return False
    conn.execute(
        f"INSERT INTO folders ({', '.join(FOLDER_COLUMNS)}) VALUES ({', '.join(':' + c for c in FOLDER_COLUMNS)})",
        row,
    ).close()
    return True


def _update(conn: sqlite3.Connection, folder_id: str, changes: Row) -> str:
    unknown = set(changes) - UPDATABLE_FOLDER_COLUMNS
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    cur = conn.execute("SELECT 1 FROM folders WHERE id = ?", (folder_id,))
    exists = cur.fetchone() is not None
    cur.close()
    if not exists:
        return "missing"
    if "name" in changes:
        cur = conn.execute("SELECT 1 FROM folders WHERE name = ? AND id != ?", (changes["name"], folder_id))
        taken = cur.fetchone() is not None
        cur.close()
        if taken:
            return "name_taken"
    cols = sorted(changes)
    conn.execute(
        f"UPDATE folders SET {', '.join(c + ' = ?' for c in cols)} WHERE id = ?",
        (*[changes[c] for c in cols], folder_id),
    ).close()
    return "ok"


def _delete(conn: sqlite3.Connection, folder_id: str, at: str) -> int | None:
    cur = conn.execute("DELETE FROM folders WHERE id = ?", (folder_id,))
    deleted = cur.rowcount
    cur.close()
    if not deleted:
        return None
    cur = conn.execute("UPDATE links SET folder_id = NULL, updated_at = ? WHERE folder_id = ?", (at, folder_id))
    moved = cur.rowcount
    cur.close()
    return moved


class FolderQueries(SQLiteBase):
    async def insert_folder(self, row: Row) -> bool:
        """False when the name is taken (case-insensitively)."""
        return await self.run_in_transaction(_insert, row)

    async def get_folder(self, folder_id: str) -> Row | None:
        return await self.read_one("SELECT * FROM folders WHERE id = ?", (folder_id,))

    async def list_folders(self, *, search: str | None, limit: int, offset: int) -> list[Row]:
        where, params = "1 = 1", []
        if search:
            where = "name LIKE ? ESCAPE '\\'"
            params.append("%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        return await self.read(
            f"SELECT * FROM folders WHERE {where} ORDER BY name, id LIMIT ? OFFSET ?", (*params, limit, offset)
        )

    async def update_folder(self, folder_id: str, changes: Row) -> str:
        """Returns "ok", "missing" or "name_taken"."""
        return await self.run_in_transaction(_update, folder_id, changes)

    async def delete_folder(self, folder_id: str, at: str) -> int | None:
        """Delete a folder and move its links out of it; the number of links moved, or None when
        there is no such folder."""
        return await self.run_in_transaction(_delete, folder_id, at)
