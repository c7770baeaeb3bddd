"""Backups, restores, exports and bulk imports of the SQLite store.

Backups use SQLite's online backup API on a connection of their own that holds one read
transaction from the first page to the last. In WAL mode that read is a snapshot: the copy is
exactly the database as it was when the backup started (every write acknowledged before then,
nothing half-written after), the server's writers are never blocked, and the copy proceeds in
steps with pauses between them so it does not take the disk from the server. Without the held
read, any write by another connection restarts the copy from page one, and under a steady click
load a stepped backup never finishes.
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Callable, Sequence

from .base import Row, SQLiteBase
from .links import LINK_COLUMNS

# Counters an import may carry over from the old system (the click and conversion writers own
# them otherwise).
IMPORT_COUNTERS = ("clicks", "last_clicked", "leads", "conversions", "sales", "sale_amount")
_IMPORT_COLUMNS = (*LINK_COLUMNS, *IMPORT_COUNTERS)
_INSERT_IMPORTED = (
    f"INSERT INTO links ({', '.join(_IMPORT_COLUMNS)}) VALUES ({', '.join(':' + c for c in _IMPORT_COLUMNS)})"
)
EXPORT_PAGE = 1000

Progress = Callable[[int, int], None]


def _private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 (a database copy holds customer data)."""
    if path.exists():
        path.unlink()
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def integrity_errors(path: str | Path) -> list[str]:
    """PRAGMA integrity_check of a database file, plus a check that it is one of ours; [] if fine."""
    if not Path(path).is_file():
        return [f"{path}: no such file"]
    try:
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return [f"cannot open: {exc}"]
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        if rows != ["ok"]:
            return rows
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if "links" not in tables or version < 1:
            return ["not a shortener database (no links table or schema version)"]
        return []
    except sqlite3.DatabaseError as exc:
        return [f"not a database: {exc}"]
    finally:
        conn.close()


def copy_database(source: str, dest: str | Path, *, pages: int = 2048, pause: float = 0.002,
                  progress: Progress | None = None) -> int:
    """Copy the database at `source` to `dest` (mode 0600, one self-contained file, written under a
    temporary name and renamed when complete); returns the pages copied. See the module doc."""
    dest = Path(dest)
    partial = dest.with_name(dest.name + ".partial")
    _private_file(partial)
    try:
        copied = _copy(source, partial, pages, pause, progress)
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)  # no half copy left behind
        raise
    return copied


def _copy(source: str, partial: Path, pages: int, pause: float, progress: Progress | None) -> int:
    src = sqlite3.connect(source, isolation_level=None)
    dst = sqlite3.connect(partial, isolation_level=None)
    try:
        src.execute("PRAGMA busy_timeout=5000")
        src.execute("BEGIN")
        src.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()  # the snapshot starts here
        copied = 0

        def step(status: int, remaining: int, total: int) -> None:
            nonlocal copied
            copied = total - remaining
            if progress is not None:
                progress(copied, total)
            if remaining and pause:
                time.sleep(pause)

        src.backup(dst, pages=pages, progress=step)
        src.execute("COMMIT")
        dst.execute("PRAGMA journal_mode=DELETE")  # the copy is one file, whatever the source used
    finally:
        dst.close()
        src.close()
    return copied


class MaintenanceQueries(SQLiteBase):
    # -- backup and restore ------------------------------------------------------------------

    def backup_to(self, dest: str | Path, *, pages: int = 2048, pause: float = 0.002,
                  progress: Progress | None = None) -> int:
        """A consistent copy of the live database at `dest` (blocking: call it on a thread)."""
        return copy_database(self.path, dest, pages=pages, pause=pause, progress=progress)

    def restore_from(self, source: str | Path, keep: str | Path) -> None:
        """Replace the database's content with the file at `source`, copying the current content
        to `keep` first. Blocking; the caller has checked `source` and that no server runs.

        The backup API writes into the live file through SQLite (its own lock and journal), so
        the result is never a mix of the two databases, whatever else has the file open.
        """
        copy_database(self.path, keep, pause=0)
        src = sqlite3.connect(f"file:{Path(source).resolve()}?mode=ro", uri=True)
        dst = sqlite3.connect(self.path, isolation_level=None)
        try:
            dst.execute("PRAGMA busy_timeout=5000")
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")
        finally:
            dst.close()
            src.close()

    # -- export ----------------------------------------------------------------------------

    async def export_links_page(self, after_id: str, limit: int = EXPORT_PAGE) -> list[Row]:
        """Links (every column, archived too) with ids after `after_id`, in id order."""
        return await self.read("SELECT * FROM links WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit))

    async def all_tags(self) -> list[Row]:
        return await self.read("SELECT * FROM tags")

    # -- bulk import -----------------------------------------------------------------------

    async def import_links(self, items: Sequence[dict]) -> list[str | None]:
        """Insert imported links, counters included, in one transaction.

        Each item: {"link": row with LINK_COLUMNS and IMPORT_COUNTERS, "tags": [tag rows to
        attach, created unless the name exists]}. Returns per item None when inserted, or "key",
        "external_id" or "id" when that value is already taken (by a stored link or an earlier
        item), or "folder" when its folder_id names no folder (the importer read the folders
        before; one may have been deleted since); such items are skipped.
        """

        def write(conn: sqlite3.Connection) -> list[str | None]:
            tag_ids: dict[str, str] = {}
            results: list[str | None] = []
            for item in items:
                link = item["link"]
                if link.get("folder_id") is not None and not conn.execute(
                    "SELECT 1 FROM folders WHERE id = ?", (link["folder_id"],)
                ).fetchone():
                    results.append("folder")
                    continue
                try:
                    conn.execute("SAVEPOINT one")
                    conn.execute(_INSERT_IMPORTED, link)
                    for i, tag in enumerate(item.get("tags") or ()):
                        tag_id = tag_ids.get(tag["name"].lower())
                        if tag_id is None:
                            conn.execute(
                                "INSERT INTO tags (id, name, color, created_at, updated_at) "
                                "VALUES (:id, :name, :color, :created_at, :updated_at) ON CONFLICT (name) DO NOTHING",
                                tag,
                            )
                            tag_id = conn.execute("SELECT id FROM tags WHERE name = ?", (tag["name"],)).fetchone()["id"]
                            tag_ids[tag["name"].lower()] = tag_id
                        conn.execute(
                            "INSERT INTO link_tags (link_id, tag_id, created_at) VALUES (?, ?, ?) "
                            "ON CONFLICT (link_id, tag_id) DO NOTHING",
                            (link["id"], tag_id, f"{link['created_at']}#{i:03d}"),
                        )
                    conn.execute("RELEASE one")
                    results.append(None)
                except sqlite3.IntegrityError:
                    conn.execute("ROLLBACK TO one")
                    conn.execute("RELEASE one")
                    results.append(_clash(conn, link))
            return results

        return await self.run_in_transaction(write)


def _clash(conn: sqlite3.Connection, link: dict) -> str:
    if conn.execute("SELECT 1 FROM links WHERE domain = ? AND key = ?", (link["domain"], link["key"])).fetchone():
        return "key"
    if link.get("external_id") and conn.execute(
        "SELECT 1 FROM links WHERE external_id = ?", (link["external_id"],)
    ).fetchone():
        return "external_id"
    return "id"
