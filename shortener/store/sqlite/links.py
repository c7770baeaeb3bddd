"""Queries for links, tags and domains (CRUD, listing, counting).

Rows come back as dicts keyed by column name (snake_case); the services turn them into API objects.
Multi-row writes run in one transaction and check uniqueness inside it: BEGIN IMMEDIATE holds the
database write lock, so a check and the insert that follows cannot be raced by another writer,
in this process or another.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from .base import Row, SQLiteBase, Tx, fetchall, with_tx

LINK_COLUMNS = (
    "id", "domain", "key", "url", "external_id", "tenant_id", "identifier", "track_conversion",
    "archived", "expires_at", "expired_url", "password_hash", "proxy", "title", "description",
    "image", "video", "rewrite", "do_index", "ios", "android", "geo", "public_stats", "comments",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "ref", "program_id",
    "partner_id", "folder_id", "user_id", "webhook_ids", "redirect_status", "disabled_at",
    "test_variants", "test_started_at", "test_completed_at", "test_decided_at",
    "created_at", "updated_at",
)
# Columns added after the first release: callers that build rows themselves (bench seeding,
# older code) may leave them out.
_LINK_DEFAULTS = {"test_variants": None, "test_started_at": None, "test_completed_at": None, "test_decided_at": None}
# What an update may change; counters belong to the click and conversion writers.
UPDATABLE_LINK_COLUMNS = frozenset(LINK_COLUMNS) - {"id", "created_at"}
DOMAIN_COLUMNS = (
    "id", "slug", "verified", "is_primary", "archived", "placeholder", "expired_url",
    "not_found_url", "cookie_domain", "logo", "assetlinks", "apple_app_site_association",
    "created_at", "updated_at",
)
UPDATABLE_DOMAIN_COLUMNS = frozenset(DOMAIN_COLUMNS) - {"id", "created_at", "is_primary"}

LINK_SORTS = {
    "createdAt": "links.created_at",
    "clicks": "links.clicks",
    "saleAmount": "links.sale_amount",
    "lastClicked": "links.last_clicked",
}

_INSERT_LINK = (
    f"INSERT INTO links ({', '.join(LINK_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in LINK_COLUMNS)})"
)

# SQLite caps bound parameters per statement; id lists are chunked below this.
_CHUNK = 500


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


def _set_clause(changes: dict, allowed: frozenset) -> tuple[str, list]:
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    cols = sorted(changes)
    return ", ".join(f"{c} = ?" for c in cols), [changes[c] for c in cols]


class LinkQueries(SQLiteBase):
    # -- domains -----------------------------------------------------------------------------

    async def ensure_domains(self, rows: list[Row], primary_slug: str) -> list[str]:
        """Insert the configured domains that are missing and mark `primary_slug` as the only
        primary one; returns the slugs created."""
        created = []
        @with_tx
        def work(tx: Tx):
            for row in rows:
                n = tx.execute(
                    f"INSERT INTO domains ({', '.join(DOMAIN_COLUMNS)}) "
                    f"VALUES ({', '.join(':' + c for c in DOMAIN_COLUMNS)}) ON CONFLICT (slug) DO NOTHING",
                    row,
                )
                if n:
                    created.append(row["slug"])
            tx.execute(
                "UPDATE domains SET is_primary = (slug = ?) WHERE is_primary != (slug = ?)",
                (primary_slug, primary_slug),
            )
            return created
        return await self.run_in_transaction(work)

    async def get_domain(self, slug: str) -> Row | None:
        return self.read_one_now("SELECT * FROM domains WHERE slug = ?", (slug,))

    async def list_domains(
        self, *, archived: bool | None = None, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Row]:
        where, params = ["1 = 1"], []
        if archived is not None:
            where.append("archived = ?")
            params.append(int(archived))
        if search:
            where.append("slug LIKE ? ESCAPE '\\'")
            params.append(f"%{_like(search)}%")
        return await self.read(
            f"SELECT * FROM domains WHERE {' AND '.join(where)} "
            "ORDER BY is_primary DESC, created_at, slug LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )

    async def insert_domain(self, row: Row) -> bool:
        """False when the slug is taken (case-insensitively)."""
        @with_tx
        def work(tx: Tx):
            if tx.fetchone("SELECT 1 FROM domains WHERE slug = ?", (row["slug"],)):
                return False
            tx.execute(
                f"INSERT INTO domains ({', '.join(DOMAIN_COLUMNS)}) "
                f"VALUES ({', '.join(':' + c for c in DOMAIN_COLUMNS)})",
                row,
            )
            return True
        return await self.run_in_transaction(work)

    async def update_domain(self, slug: str, changes: Row) -> str:
        """Apply `changes`; a new slug moves the domain's links with it.

        Returns "ok", "missing" or "slug_taken".
        """
        set_sql, params = _set_clause(changes, UPDATABLE_DOMAIN_COLUMNS)
        @with_tx
        def work(tx: Tx):
            current = tx.fetchone("SELECT slug FROM domains WHERE slug = ?", (slug,))
            if current is None:
                return "missing"
            new_slug = changes.get("slug")
            if new_slug is not None and new_slug.lower() != current["slug"].lower():
                if tx.fetchone("SELECT 1 FROM domains WHERE slug = ?", (new_slug,)):
                    return "slug_taken"
                tx.execute(
                    "UPDATE links SET domain = ?, updated_at = ? WHERE domain = ?",
                    (new_slug, changes.get("updated_at"), current["slug"]),
                )
            tx.execute(f"UPDATE domains SET {set_sql} WHERE slug = ?", (*params, slug))
            return "ok"
        return await self.run_in_transaction(work)

    async def delete_domain_and_links(self, slug: str) -> list[str] | None:
        """Delete a domain and every link on it in one transaction; returns the deleted link ids,
        or None when the domain does not exist."""
        @with_tx
        def work(tx: Tx):
            if not tx.fetchone("SELECT 1 FROM domains WHERE slug = ?", (slug,)):
                return None
            ids = [r["id"] for r in tx.fetchall("SELECT id FROM links WHERE domain = ?", (slug,))]
            tx.execute("DELETE FROM links WHERE domain = ?", (slug,))
            tx.execute("DELETE FROM domains WHERE slug = ?", (slug,))
            return ids
        return await self.run_in_transaction(work)

    async def primary_domain(self) -> str | None:
        row = await self.read_one("SELECT slug FROM domains WHERE is_primary = 1 ORDER BY created_at LIMIT 1")
        return row["slug"] if row else None

    async def domain_link_counts(self) -> dict[str, int]:
        """Links per domain, for domains that hold any."""
        rows = await self.read("SELECT domain, COUNT(*) AS n FROM links GROUP BY domain")
        return {r["domain"]: r["n"] for r in rows}

    async def merge_domain(self, old: str, new: str, now: str) -> tuple[str, list[str]]:
        """Move every link of domain `old` onto the existing domain `new`, then delete `old`;
        `new` becomes primary if `old` was. One transaction: all links move or none.

        Returns ("ok", moved link ids), ("collisions", keys present on both) or
        ("missing", [])."""
        return await self.run_in_transaction(_merge_domain, old, new, now)

    async def link_ids_on_domain(self, slug: str) -> list[str]:
        return [r["id"] for r in await self.read("SELECT id FROM links WHERE domain = ?", (slug,))]

    # -- tags --------------------------------------------------------------------------------

    async def insert_tag(self, row: Row) -> bool:
        """False when the name is taken (case-insensitively)."""
        @with_tx
        def work(tx: Tx):
            if tx.fetchone("SELECT 1 FROM tags WHERE name = ?", (row["name"],)):
                return False
            tx.execute(
                "INSERT INTO tags (id, name, color, created_at, updated_at) "
                "VALUES (:id, :name, :color, :created_at, :updated_at)",
                row,
            )
            return True
        return await self.run_small_transaction(work)

    async def get_tag(self, tag_id: str) -> Row | None:
        return await self.read_one("SELECT * FROM tags WHERE id = ?", (tag_id,))

    async def tags_by_ids(self, ids: Sequence[str]) -> list[Row]:
        out: list[Row] = []
        for chunk in _chunks(list(ids)):
            out += await self.read(f"SELECT * FROM tags WHERE id IN ({_marks(len(chunk))})", chunk)
        return out

    async def tags_by_names(self, names: Sequence[str]) -> list[Row]:
        out: list[Row] = []
        for chunk in _chunks(list(names)):
            out += await self.read(f"SELECT * FROM tags WHERE name IN ({_marks(len(chunk))})", chunk)
        return out

    async def list_tags(
        self, *, search: str | None = None, ids: Sequence[str] | None = None, sort_by: str = "name",
        descending: bool = False, limit: int = 100, offset: int = 0,
    ) -> list[Row]:
        where, params = ["1 = 1"], []
        if search:
            where.append("name LIKE ? ESCAPE '\\'")
            params.append(f"%{_like(search)}%")
        if ids:
            where.append(f"id IN ({_marks(len(ids))})")
            params.extend(ids)
        column = {"name": "name", "createdAt": "created_at"}[sort_by]
        order = "DESC" if descending else "ASC"
        return await self.read(
            f"SELECT * FROM tags WHERE {' AND '.join(where)} ORDER BY {column} {order}, id {order} "
            "LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )

    async def update_tag(self, tag_id: str, changes: Row) -> str:
        """Returns "ok", "missing" or "name_taken"."""
        set_sql, params = _set_clause(changes, frozenset({"name", "color", "updated_at"}))
        @with_tx
        def work(tx: Tx):
            if not tx.fetchone("SELECT 1 FROM tags WHERE id = ?", (tag_id,)):
                return "missing"
            if "name" in changes and tx.fetchone(
                "SELECT 1 FROM tags WHERE name = ? AND id != ?", (changes["name"], tag_id)
            ):
                return "name_taken"
            tx.execute(f"UPDATE tags SET {set_sql} WHERE id = ?", (*params, tag_id))
            return "ok"
        return await self.run_small_transaction(work)

    async def delete_tag(self, tag_id: str) -> bool:
        return await self.write("DELETE FROM tags WHERE id = ?", (tag_id,)) > 0

    async def tags_of_links(self, link_ids: Sequence[str]) -> dict[str, list[Row]]:
        """link id -> its tags (id, name, color) in the order they were attached."""
        out: dict[str, list[Row]] = {i: [] for i in link_ids}
        for chunk in _chunks(list(link_ids)):
            sql = ("SELECT lt.link_id, t.id, t.name, t.color FROM link_tags lt JOIN tags t ON t.id = lt.tag_id "
                   f"WHERE lt.link_id IN ({_marks(len(chunk))}) ORDER BY lt.created_at, t.name")
            # One link's tags (an API answer about one link) are a short index range: on the loop.
            rows = self.read_now(sql, chunk) if len(chunk) == 1 else await self.read(sql, chunk)
            for r in rows:
                out[r.pop("link_id")].append(r)
        return out

    # -- links: reads ------------------------------------------------------------------------

    # One link by a unique column: index point lookups, read on the loop (read_now). Under a
    # saturated redirect load each thread hop of an API request waited a turn of the event loop;
    # a PATCH made eight of them.

    async def get_link(self, link_id: str) -> Row | None:
        return self.read_one_now("SELECT * FROM links WHERE id = ?", (link_id,))

    async def get_link_by_external_id(self, external_id: str) -> Row | None:
        return self.read_one_now("SELECT * FROM links WHERE external_id = ?", (external_id,))

    async def get_link_by_key(self, domain: str, key: str) -> Row | None:
        return self.read_one_now("SELECT * FROM links WHERE domain = ? AND key = ?", (domain, key))

    async def get_link_by_url(self, url: str, domain: str | None = None) -> Row | None:
        """The oldest link (on `domain`, if given) whose destination is exactly `url`; upsert
        matches on the URL."""
        # The substr() term matches links_url_prefix; the unary + keeps the planner from trading
        # that index for a table scan (it does so when both terms compare `url`).
        sql = "SELECT * FROM links WHERE substr(url, 1, 100) = substr(?, 1, 100) AND +url = ?"
        params: list = [url, url]
        if domain is not None:
            sql += " AND domain = ?"
            params.append(domain)
        return await self.read_one(sql + " ORDER BY created_at, id LIMIT 1", params)

    async def get_links(self, ids: Sequence[str]) -> list[Row]:
        out: list[Row] = []
        for chunk in _chunks(list(ids)):
            out += await self.read(f"SELECT * FROM links WHERE id IN ({_marks(len(chunk))})", chunk)
        return out

    async def link_summaries(self, ids: Sequence[str]) -> list[Row]:
        """What an analytics answer shows of each link (top_links lists up to 5,000 of them):
        the columns it needs, every chunk in one call on a reader. With `SELECT *` (geo, A/B
        variants, every flag) the rows cost top_links over 1,000 links ~23 ms in two hops."""
        columns = "id, domain, key, url, title, comments, folder_id, partner_id, created_at"

        def read(conn) -> list[Row]:
            out: list[Row] = []
            for chunk in _chunks(list(ids)):
                out += fetchall(conn, f"SELECT {columns} FROM links WHERE id IN ({_marks(len(chunk))})", chunk)
            return out

        return await self.run_on_reader(read)

    async def get_links_by_external_ids(self, external_ids: Sequence[str]) -> list[Row]:
        out: list[Row] = []
        for chunk in _chunks(list(external_ids)):
            out += await self.read(
                f"SELECT * FROM links WHERE external_id IN ({_marks(len(chunk))})", chunk
            )
        return out

    async def link_key_taken(self, domain: str, key: str) -> bool:
        # On the loop, as the reads of one link above (a link create waited 6-26 ms for the hop).
        return self.read_one_now(
            "SELECT 1 AS x FROM links WHERE domain = ? AND key = ?", (domain, key)
        ) is not None

    async def _search_by_index(self, search: str | None) -> bool:
        """Whether the trigram index should find the search's candidates: for a term of 3+
        characters (shorter ones have no trigram) that few enough links contain. A term many
        links contain ("https") is cheaper to test row by row in the order the page reads: the
        index pays a lookup per candidate, the row test stops after a page of matches."""
        if not search or len(search) < 3 or "\x00" in search:
            return False
        # MAX(rid) approximates the number of links at the cost of one index seek.
        row = await self.read_one(
            "SELECT COUNT(*) AS n, (SELECT COALESCE(MAX(rid), 0) FROM links_search_rows) / :share AS most "
            "FROM (SELECT 1 FROM links_search WHERE links_search MATCH :phrase "
            "LIMIT (SELECT COALESCE(MAX(rid), 0) / :share + 1 FROM links_search_rows))",
            {"phrase": _phrase(search), "share": _SEARCH_INDEX_SHARE},
        )
        return row is not None and row["n"] <= row["most"]

    async def _where(self, f: dict, *, counting: bool = False) -> tuple[str, list]:
        by_index = await self._search_by_index(f.get("search"))
        return self._link_filters(f, search_by_index=by_index,
                                  count_scan=counting and bool(f.get("search")) and not by_index)

    def _link_filters(self, f: dict, *, search_by_index: bool = False, count_scan: bool = False) -> tuple[str, list]:
        where, params = [], []
        # When the trigram index finds the candidates, the other terms get a unary + so that the
        # planner reads those few links by id instead of walking an index over all of them (it
        # takes `archived = 0` or `domain = ?` for selective, having no statistics). A count that
        # tests every row is cheaper as a table scan than as a walk of an `archived` index with a
        # row lookup per entry (~25 vs ~35 ms at 100k links), unless it counts the archived few.
        plus = "+" if search_by_index else ""
        if f.get("domain"):
            where.append(f"{plus}links.domain = ?")
            params.append(f["domain"])
        if f.get("archived_only"):
            where.append(f"{plus}links.archived = 1")
        elif not f.get("show_archived"):
            where.append(f"{'+' if search_by_index or count_scan else ''}links.archived = 0")
        for name, column in (("tenant_id", "tenant_id"), ("user_id", "user_id"), ("folder_id", "folder_id")):
            if f.get(name):
                where.append(f"{plus}links.{column} = ?")
                params.append(f[name])
        if f.get("search"):
            if search_by_index:
                where.append(
                    "links.id IN (SELECT r.link_id FROM links_search "
                    "JOIN links_search_rows r ON r.rid = links_search.rowid WHERE links_search MATCH ?)"
                )
                params.append(_phrase(f["search"]))
            # Always applied: the index's matches are a superset (see 014_links_listing.sql).
            where.append("(links.url LIKE ? ESCAPE '\\' OR links.key LIKE ? ESCAPE '\\')")
            pattern = f"%{_like(f['search'])}%"
            params += [pattern, pattern]
        if f.get("tag_ids"):
            where.append(
                "links.id IN (SELECT link_id FROM link_tags WHERE tag_id IN "
                f"({_marks(len(f['tag_ids']))}))"
            )
            params += list(f["tag_ids"])
        if f.get("tag_names"):
            where.append(
                "links.id IN (SELECT lt.link_id FROM link_tags lt JOIN tags t ON t.id = lt.tag_id "
                f"WHERE t.name IN ({_marks(len(f['tag_names']))}))"
            )
            params += list(f["tag_names"])
        if f.get("with_tags"):
            where.append("EXISTS (SELECT 1 FROM link_tags WHERE link_id = links.id)")
        return (" AND ".join(where) or "1 = 1"), params

    async def list_links(
        self, filters: dict, *, sort: str = "createdAt", descending: bool = True, limit: int = 100,
        offset: int = 0, starting_after: str | None = None, ending_before: str | None = None,
    ) -> list[Row]:
        """Links matching `filters` (domain, tag_ids, tag_names, search, show_archived, with_tags,
        tenant_id, user_id, folder_id). `starting_after`/`ending_before` are link-id cursors for
        the default newest-first order."""
        where, params = await self._where(filters)
        column = LINK_SORTS[sort]
        order = "DESC" if descending else "ASC"
        if starting_after or ending_before:
            # Ids are time-ordered, so the id is the createdAt cursor.
            if starting_after:
                where += " AND links.id < ?"
                params.append(starting_after)
            if ending_before:
                where += " AND links.id > ?"
                params.append(ending_before)
            inner_order = "ASC" if ending_before and not starting_after else "DESC"
            rows = await self.read(
                f"SELECT * FROM links WHERE {where} ORDER BY links.id {inner_order} LIMIT ?",
                (*params, limit),
            )
            return sorted(rows, key=lambda r: r["id"], reverse=True)
        nulls = " NULLS LAST" if sort == "lastClicked" else ""
        # Sort and skip on the narrow (sort column, id) pairs, then read only the page's full
        # rows: sorting whole rows (URLs of up to 32k characters) took seconds at 100k links.
        ordering = f"ORDER BY {column} {order}{nulls}, links.id {order}"
        return await self.read(
            f"SELECT * FROM links WHERE links.id IN (SELECT links.id FROM links WHERE {where} {ordering} "
            f"LIMIT ? OFFSET ?) {ordering}",
            (*params, limit, offset),
        )

    async def count_links(self, filters: dict, group_by: str | None = None) -> int | list[Row]:
        """The number of matching links, or [{group, count}] rows when grouped by
        domain, tag_id, user_id or folder_id."""
        where, params = await self._where(filters, counting=True)
        if group_by is None and where == "links.archived = 0":
            # The unfiltered list hides archived links. Counting all rows (SQLite picks the
            # narrowest index) minus the few archived ones is ~3x faster than counting the
            # active ones through the (archived, created_at) index.
            row = await self.read_one(
                "SELECT (SELECT COUNT(*) FROM links) - (SELECT COUNT(*) FROM links WHERE archived = 1) AS n"
            )
            return row["n"] if row else 0
        if group_by is None:
            row = await self.read_one(f"SELECT COUNT(*) AS n FROM links WHERE {where}", params)
            return row["n"] if row else 0
        if group_by == "tag_id":
            return await self.read(
                "SELECT lt.tag_id AS grp, COUNT(*) AS n FROM links JOIN link_tags lt ON lt.link_id = links.id "
                f"WHERE {where} GROUP BY lt.tag_id ORDER BY n DESC, grp",
                params,
            )
        column = {"domain": "links.domain", "user_id": "links.user_id", "folder_id": "links.folder_id"}[group_by]
        return await self.read(
            f"SELECT {column} AS grp, COUNT(*) AS n FROM links WHERE {where} GROUP BY {column} "
            "ORDER BY n DESC, grp",
            params,
        )

    # -- links: writes -----------------------------------------------------------------------

    async def create_links(self, items: list[dict]) -> list[str | None]:
        """Insert links in one transaction.

        Each item: {"link": row with LINK_COLUMNS, "tag_ids": [existing tag ids],
        "new_tags": [tag rows to create unless the name exists; the link gets the tag either way]}.
        Returns, per item, None when inserted, or "key" / "external_id" when that value is taken
        (by a stored link or an earlier item of the same call), or "folder" / "tag" when its
        folder_id / tag_ids name no stored folder / tag; such items are skipped.
        """
        results: list[str | None] = []
        @with_tx
        def work(tx: Tx):
            for item in items:
                link = {**_LINK_DEFAULTS, **item["link"]}
                clash = self._clash(tx, link["domain"], link["key"], link.get("external_id"), None)
                if not clash:
                    clash = self._missing_reference(tx, link.get("folder_id"), item.get("tag_ids"))
                if clash:
                    results.append(clash)
                    continue
                tx.execute(_INSERT_LINK, link)
                self._attach_tags(tx, link["id"], item.get("tag_ids") or [], item.get("new_tags") or [],
                                        link["created_at"])
                results.append(None)
            return results
        return await self.transaction_for(len(items))(work)

    async def update_links(self, items: list[dict]) -> list[str | None]:
        """Update links in one transaction.

        Each item: {"id", "changes": {column: value}, "tag_ids": None (keep) or [ids] (replace),
        "new_tags": [...] as for create_links}. Returns per item None, "missing", "key" or
        "external_id" (the new value is taken by another link), "folder" or "tag" (as for
        create_links).
        """
        results: list[str | None] = []
        @with_tx
        def work(tx: Tx):
            for item in items:
                link_id, changes = item["id"], dict(item["changes"])
                current = tx.fetchone(
                    "SELECT domain, key, external_id, updated_at FROM links WHERE id = ?", (link_id,)
                )
                if current is None:
                    results.append("missing")
                    continue
                domain = changes.get("domain", current["domain"])
                key = changes.get("key", current["key"])
                moved = (domain.lower(), key.lower()) != (current["domain"].lower(), current["key"].lower())
                ext = changes.get("external_id") if "external_id" in changes else None
                clash = self._clash(tx, domain if moved else None, key, ext, link_id)
                if not clash:
                    clash = self._missing_reference(tx, changes.get("folder_id"), item.get("tag_ids"))
                if clash:
                    results.append(clash)
                    continue
                if changes:
                    set_sql, params = _set_clause(changes, UPDATABLE_LINK_COLUMNS)
                    tx.execute(f"UPDATE links SET {set_sql} WHERE id = ?", (*params, link_id))
                if item.get("tag_ids") is not None:
                    tx.execute("DELETE FROM link_tags WHERE link_id = ?", (link_id,))
                    self._attach_tags(tx, link_id, item["tag_ids"], item.get("new_tags") or [],
                                            changes.get("updated_at") or current["updated_at"])
                results.append(None)
            return results
        return await self.transaction_for(len(items))(work)

    async def delete_links(self, ids: Sequence[str]) -> list[str]:
        """Delete links (their tag links cascade); returns the ids that existed."""
        deleted: list[str] = []
        @with_tx
        def work(tx: Tx):
            for chunk in _chunks(list(ids)):
                rows = tx.fetchall(f"SELECT id FROM links WHERE id IN ({_marks(len(chunk))})", chunk)
                found = [r["id"] for r in rows]
                if found:
                    tx.execute(f"DELETE FROM links WHERE id IN ({_marks(len(found))})", found)
                deleted.extend(found)
            return deleted
        return await self.transaction_for(len(ids))(work)

    def _clash(self, tx: Tx, domain: str | None, key: str, external_id: str | None,
                     own_id: str | None) -> str | None:
        """"key" or "external_id" when another link holds that value; one statement for both."""
        if domain is None and not external_id:
            return None
        row = tx.fetchone(
            "SELECT EXISTS (SELECT 1 FROM links WHERE domain = ? AND key = ? AND id IS NOT ?) AS key_taken, "
            "EXISTS (SELECT 1 FROM links WHERE external_id = ? AND id IS NOT ?) AS ext_taken",
            (domain, key, own_id, external_id, own_id),
        )
        if domain is not None and row["key_taken"]:
            return "key"
        if external_id and row["ext_taken"]:
            return "external_id"
        return None

    def _missing_reference(self, tx: Tx, folder_id: str | None, tag_ids: list[str] | None) -> str | None:
        """"folder" or "tag" when the folder or a tag the link is about to point at is gone. The
        service checked them before, but in another transaction: a folder or tag deleted since
        then must not leave the link pointing at nothing (checked here, under the write lock)."""
        if folder_id is not None and not tx.fetchone("SELECT 1 FROM folders WHERE id = ?", (folder_id,)):
            return "folder"
        wanted = list(set(tag_ids or ()))
        for chunk in _chunks(wanted):
            if len(tx.fetchall(f"SELECT id FROM tags WHERE id IN ({_marks(len(chunk))})", chunk)) < len(chunk):
                return "tag"
        return None

    def _attach_tags(self, tx: Tx, link_id: str, tag_ids: list[str], new_tags: list[Row], at: str) -> None:
        ids = list(tag_ids)
        for tag in new_tags:
            tx.execute(
                "INSERT INTO tags (id, name, color, created_at, updated_at) "
                "VALUES (:id, :name, :color, :created_at, :updated_at) ON CONFLICT (name) DO NOTHING",
                tag,
            )
            row = tx.fetchone("SELECT id FROM tags WHERE name = ?", (tag["name"],))
            if row:
                ids.append(row["id"])
        seen: set[str] = set()
        rows = []
        # Dub spaces tag links 100 ms apart to keep their order; an index suffix does the same here.
        for i, tag_id in enumerate(ids):
            if tag_id not in seen:
                seen.add(tag_id)
                rows.append((link_id, tag_id, f"{at}#{i:03d}"))
        if rows:
            tx.executemany(
                "INSERT INTO link_tags (link_id, tag_id, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (link_id, tag_id) DO NOTHING",
                rows,
            )


# Search uses the trigram index when at most 1 link in this many is a candidate: at 100k links,
# fetching ~10k candidates cost about what testing every row does (count and page together).
_SEARCH_INDEX_SHARE = 10


def _phrase(text: str) -> str:
    """An FTS5 query matching `text` as one string (for trigrams: as a substring)."""
    return '"' + text.replace('"', '""') + '"'


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _merge_domain(tx, old: str, new: str, now: str) -> tuple[str, list[str]]:
    # Plain sqlite3 calls on the transaction's connection: the store hands run_in_transaction
    # functions either the connection or a wrapper holding it as `.conn` (the store is moving
    # from one to the other).
    conn = getattr(tx, "conn", tx)
    rows = conn.execute("SELECT slug, is_primary FROM domains WHERE slug IN (?, ?)", (old, new)).fetchall()
    found = {r["slug"].lower(): r for r in rows}
    if old.lower() not in found or new.lower() not in found:
        return "missing", []
    clashes = conn.execute(
        "SELECT o.key FROM links o JOIN links n ON n.domain = ? AND n.key = o.key WHERE o.domain = ? ORDER BY o.key",
        (new, old),
    ).fetchall()
    if clashes:
        return "collisions", [r["key"] for r in clashes]
    ids = [r["id"] for r in conn.execute("SELECT id FROM links WHERE domain = ?", (old,)).fetchall()]
    conn.execute("UPDATE links SET domain = ?, updated_at = ? WHERE domain = ?", (new, now, old)).close()
    if found[old.lower()]["is_primary"]:
        conn.execute("UPDATE domains SET is_primary = (slug = ?)", (new,)).close()
    conn.execute("DELETE FROM domains WHERE slug = ?", (old,)).close()
    return "ok", ids
