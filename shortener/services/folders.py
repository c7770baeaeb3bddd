"""Folders: Dub's link folders (create, list, get, update, delete).

A folder is a name links can point at (`folderId`). Names are unique case-insensitively, as in
Dub's unique (name, project) index on MySQL's case-insensitive collation. Deleting a folder moves
its links out of it (their folderId becomes null), as Dub does.
"""
from __future__ import annotations

from typing import Any

from shortener.errors import Conflict, NotFound, Unprocessable, json_type
from shortener.ids import new_id
from shortener.timeutil import now_iso

MAX_NAME = 190
MAX_DESCRIPTION = 500
ACCESS_LEVELS = ("write", "read")
NOT_FOUND = "Folder not found."


def unknown_folder(folder_id: str | None) -> Unprocessable:
    """A link's folderId that names no folder (also when the folder was deleted while the link
    was being written: the link store re-checks inside its write)."""
    return Unprocessable(f"Folder {folder_id} not found.", field="folderId", issue="invalid_value")


def _taken(name: str) -> Conflict:
    return Conflict(f"A folder with the name {name} already exists.")


def _fields(body: Any, *, creating: bool) -> dict:
    if not isinstance(body, dict):
        raise Unprocessable(f"Expected object, received {json_type(body)}.", field="body", issue="invalid_type")
    out: dict = {}
    if "name" in body or creating:
        name = body.get("name")
        if not isinstance(name, str):
            raise Unprocessable(f"Expected string, received {json_type(name)}.", field="name", issue="invalid_type")
        name = name.strip()
        if not name:
            raise Unprocessable("Too small: expected string to have >=1 characters", field="name", issue="too_small")
        if len(name) > MAX_NAME:
            raise Unprocessable(f"Too big: expected string to have <={MAX_NAME} characters", field="name",
                                issue="too_big")
        out["name"] = name
    if "description" in body:
        value = body["description"]
        if value is not None and not isinstance(value, str):
            raise Unprocessable(f"Expected string, received {json_type(value)}.", field="description",
                                issue="invalid_type")
        if value is not None and len(value) > MAX_DESCRIPTION:
            raise Unprocessable(f"Too big: expected string to have <={MAX_DESCRIPTION} characters",
                                field="description", issue="too_big")
        out["description"] = value or None
    if "accessLevel" in body:
        value = body["accessLevel"]
        if value is not None and value not in ACCESS_LEVELS:
            raise Unprocessable("Invalid option: expected one of write|read", field="accessLevel",
                                issue="invalid_value")
        out["access_level"] = value
    return out


def to_api(row: dict) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "type": "default",
        "accessLevel": row["access_level"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


class FolderService:
    def __init__(self, core) -> None:
        self.core = core

    @property
    def store(self):
        return self.core.store

    async def create(self, body: Any) -> dict:
        fields = _fields(body, creating=True)
        now = now_iso()
        row = {"id": new_id("fold_"), "description": None, "access_level": "write", **fields,
               "created_at": now, "updated_at": now}
        if not await self.store.insert_folder(row):
            raise _taken(row["name"])
        return to_api(row)

    async def list(self, *, search: str | None, page: int, page_size: int) -> list[dict]:
        rows = await self.store.list_folders(search=search, limit=page_size, offset=(page - 1) * page_size)
        return [to_api(r) for r in rows]

    async def get(self, folder_id: str) -> dict:
        row = await self.store.get_folder(folder_id)
        if row is None:
            raise NotFound(NOT_FOUND)
        return to_api(row)

    async def update(self, folder_id: str, body: Any) -> dict:
        fields = _fields(body, creating=False)
        if not fields:
            return await self.get(folder_id)
        result = await self.store.update_folder(folder_id, {**fields, "updated_at": now_iso()})
        if result == "missing":
            raise NotFound(NOT_FOUND)
        if result == "name_taken":
            raise _taken(fields["name"])
        return await self.get(folder_id)

    async def delete(self, folder_id: str) -> dict:
        if await self.store.delete_folder(folder_id, now_iso()) is None:
            raise NotFound(NOT_FOUND)
        return {"id": folder_id}

    async def require(self, folder_id: str | None) -> None:
        """422 unless `folder_id` is None or names an existing folder (a link's folderId)."""
        if folder_id is not None and await self.store.get_folder(folder_id) is None:
            raise unknown_folder(folder_id)
