"""Tags: create, list, update, delete. Names are unique case-insensitively; colours are Dub's eight."""
from __future__ import annotations

import secrets
from typing import Any

from shortener.errors import Conflict, NotFound, Unprocessable
from shortener.ids import new_id
from shortener.timeutil import now_iso

COLORS = ("red", "yellow", "green", "blue", "purple", "brown", "gray", "pink")
MAX_NAME = 50
TAKEN = "A tag with that name already exists."


def _name(body: dict, *, required: bool) -> str | None:
    # `tag` is the deprecated spelling of `name` that the SDK still sends.
    value = body.get("name", body.get("tag"))
    if value is None:
        if required:
            raise Unprocessable("name is required.", field="name", issue="invalid_type")
        return None
    if not isinstance(value, str):
        raise Unprocessable("Expected string.", field="name", issue="invalid_type")
    value = value.strip()
    if not value:
        raise Unprocessable("Too small: expected string to have >=1 characters", field="name", issue="too_small")
    if len(value) > MAX_NAME:
        raise Unprocessable(f"Too big: expected string to have <={MAX_NAME} characters", field="name", issue="too_big")
    return value


def _color(body: dict) -> str | None:
    value = body.get("color")
    if value is None:
        return None
    if value not in COLORS:
        raise Unprocessable(f"Invalid option: expected one of {'|'.join(COLORS)}", field="color", issue="invalid_value")
    return value


def to_api(row: dict) -> dict:
    return {"id": row["id"], "name": row["name"], "color": row["color"]}


class TagService:
    def __init__(self, core) -> None:
        self.core = core

    @staticmethod
    def random_color() -> str:
        return secrets.choice(COLORS)

    async def create(self, body: Any) -> dict:
        if not isinstance(body, dict):
            raise Unprocessable("Expected object.", field="body", issue="invalid_type")
        name = _name(body, required=True)
        now = now_iso()
        row = {"id": new_id("tag_"), "name": name, "color": _color(body) or self.random_color(),
               "created_at": now, "updated_at": now}
        if not await self.core.store.insert_tag(row):
            raise Conflict(TAKEN)
        return to_api(row)

    async def list(self, *, search: str | None = None, ids: list[str] | None = None, sort_by: str = "name",
                   descending: bool = False, page: int = 1, page_size: int = 100) -> list[dict]:
        rows = await self.core.store.list_tags(
            search=search, ids=ids, sort_by=sort_by, descending=descending,
            limit=page_size, offset=(page - 1) * page_size,
        )
        return [to_api(r) for r in rows]

    async def update(self, tag_id: str, body: Any) -> dict:
        if not isinstance(body, dict):
            raise Unprocessable("Expected object.", field="body", issue="invalid_type")
        changes: dict = {}
        name, color = _name(body, required=False), _color(body)
        if name is not None:
            changes["name"] = name
        if color is not None:
            changes["color"] = color
        changes["updated_at"] = now_iso()
        result = await self.core.store.update_tag(tag_id, changes)
        if result == "missing":
            raise NotFound("Tag not found.")
        if result == "name_taken":
            raise Conflict(TAKEN)
        return to_api(await self.core.store.get_tag(tag_id))

    async def delete(self, tag_id: str) -> dict:
        if not await self.core.store.delete_tag(tag_id):
            raise NotFound("Tag not found.")
        return {"id": tag_id}
