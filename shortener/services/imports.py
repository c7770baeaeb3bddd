"""Moving in: links from an export file, validated like the API, stored in bulk.

Each row's body goes through the link service's own parser (`parse_link_body`) and row builder,
so an imported link obeys the same rules as one created with `POST /api/links` (URL schemes, key
characters, reserved keys, lengths). The lookups the API does per link are done once here
(domains, tags), and rows are written in transactions of BATCH through the store's bulk insert,
which reports keys already taken. Keys, creation dates and counters (clicks, leads, sales) are
kept; imported links do not trigger `link.created` webhooks. A running server's redirect cache
learns of them through the change log like any other write.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from shortener import keys as keyrules
from shortener.errors import ApiError, Conflict
from shortener.ids import new_id
from shortener.importformats import Row
from shortener.inputs import bad_text, check_value
from shortener.passwords import is_password_hash
from shortener.services.links import DUPLICATE_EXTERNAL_ID, DUPLICATE_KEY, parse_link_body
from shortener.timeutil import now_iso

BATCH = 5000
_ID = "link_"


@dataclass
class ImportReport:
    imported: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (row number, key, reason)

    @property
    def total(self) -> int:
        return self.imported + len(self.rejected)


class Importer:
    def __init__(self, core, *, domain: str | None = None) -> None:
        self.core = core
        self.store = core.store
        self.domain_override = domain.strip().lower() if domain else None

    async def run(self, rows: Iterable[Row], progress: Callable[[int], None] | None = None) -> ImportReport:
        report = ImportReport()
        domains = {d["slug"].lower(): d["slug"] for d in await self.store.list_domains(limit=100_000)}
        tags = {t["name"].lower(): t for t in await self.store.all_tags()}
        folders = await self.store.list_folders(search=None, limit=1_000_000, offset=0)
        self.folders = {f["id"] for f in folders}
        self.folder_names = {f["name"].lower(): f["id"] for f in folders}
        self.webhooks = {w["id"] for w in await self.store.list_webhooks()}
        pending: list[tuple[Row, dict]] = []

        async def flush() -> None:
            if not pending:
                return
            results = await self.store.import_links([item for _, item in pending])
            for (row, item), result in zip(pending, results):
                if result is None:
                    report.imported += 1
                else:
                    reason = {"key": DUPLICATE_KEY, "external_id": DUPLICATE_EXTERNAL_ID,
                              "id": "A link with this id already exists.",
                              "folder": f"Folder {item['link']['folder_id']} not found."}[result]
                    report.rejected.append((row.number, item["link"]["key"], reason))
            if progress is not None:
                progress(len(pending))
            pending.clear()

        for row in rows:
            try:
                # The API's rule for text: a lone surrogate (a JSON escape) cannot be stored and
                # failed the whole batch; a NUL was stored although the API refuses it.
                check_value(row.body)
                check_value(row.extra)
                await self._resolve_folder(row)
                item = self._item(row, domains, tags)
            except (ApiError, ValueError) as exc:
                message = exc.message if isinstance(exc, ApiError) else str(exc)
                key = row.body.get("key") if isinstance(row.body.get("key"), str) else ""
                if bad_text(key):  # shown in the report: printable whatever it holds
                    key = key.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
                report.rejected.append((row.number, key or "", message))
                if progress is not None:
                    progress(1)
                continue
            pending.append((row, item))
            if len(pending) >= BATCH:
                await flush()
        await flush()
        return report

    async def _resolve_folder(self, row: Row) -> None:
        """Our export names each link's folder (`folderName`): a folder id unknown here becomes
        the folder of that name, made if missing, as tags are by name."""
        folder_id, name = row.body.get("folderId"), row.extra.get("folderName")
        if not folder_id or folder_id in self.folders or not isinstance(name, str) or not name.strip():
            return
        found = self.folder_names.get(name.strip().lower())
        if found is None:
            try:
                found = (await self.core.folders.create({"name": name.strip()}))["id"]
            except Conflict:  # made meanwhile by someone else: find it
                rows = await self.store.list_folders(search=None, limit=1_000_000, offset=0)
                found = next((f["id"] for f in rows if f["name"].lower() == name.strip().lower()), None)
                if found is None:
                    raise ValueError(f"the folder {name.strip()!r} could not be made or found; import again") from None
            self.folders.add(found)
            self.folder_names[name.strip().lower()] = found
        row.body = {**row.body, "folderId": found}

    def _item(self, row: Row, domains: dict[str, str], tags: dict[str, dict]) -> dict:
        if row.error is not None:
            raise ValueError(row.error)
        body = dict(row.body)
        if self.domain_override:
            body["domain"] = self.domain_override
        body.setdefault("domain", self.core.settings.domain)
        p = parse_link_body(body, creating=True)
        domain = domains.get((p.domain or "").lower())
        if domain is None:
            raise ValueError(f"the domain {p.domain!r} is not configured here "
                             "(add it with the domains API, or import with --domain)")
        if p.key is None:
            raise ValueError("no key")
        if not p.url and p.key != keyrules.ROOT:
            raise ValueError("Missing destination URL")
        if isinstance(p.password, str):
            raise ValueError("plaintext passwords are not imported; set the password after the import")
        link = self.core.links.new_row(p, domain)
        if link["folder_id"] is not None and link["folder_id"] not in self.folders:
            raise ValueError(f"Folder {link['folder_id']} not found.")
        missing = [w for w in p.webhook_ids or () if w not in self.webhooks]
        if missing:
            raise ValueError(f"Invalid webhookIds detected: {', '.join(missing)[:300]}")
        extra = row.extra
        if is_password_hash(extra.get("passwordHash")):
            link["password_hash"] = extra["passwordHash"]
        elif extra.get("passwordHash"):
            raise ValueError("passwordHash is not one of our scrypt hashes (or its cost per guess is far from ours)")
        elif extra.get("passwordProtected"):
            raise ValueError("password-protected, but the export holds no password hash")
        if isinstance(extra.get("id"), str) and extra["id"].startswith(_ID) and len(extra["id"]) <= 64:
            link["id"] = extra["id"]
        for name, column in (("createdAt", "created_at"), ("updatedAt", "updated_at"), ("disabledAt", "disabled_at")):
            if isinstance(extra.get(name), str):
                link[column] = extra[name]
        if link["updated_at"] < link["created_at"]:
            link["updated_at"] = link["created_at"]
        counters = {"clicks": 0, "last_clicked": None, "leads": 0, "conversions": 0, "sales": 0, "sale_amount": 0}
        counters.update(row.counters)
        link.update(counters)
        now = now_iso()
        item_tags = []
        for name in p.tag_names or []:
            tag = tags.get(name.lower())
            if tag is None:
                tag = tags[name.lower()] = {"id": new_id("tag_"), "name": name,
                                            "color": self.core.tags.random_color(), "created_at": now,
                                            "updated_at": now}
            item_tags.append(tag)
        return {"link": link, "tags": item_tags}


# The columns of `shortener export --format csv`, in order (JSON lines carry the whole object).
EXPORT_CSV_COLUMNS = (
    "id", "domain", "key", "url", "shortLink", "externalId", "tenantId", "identifier", "title", "description",
    "image", "video", "tags", "archived", "expiresAt", "expiredUrl", "proxy", "rewrite", "doIndex", "ios",
    "android", "geo", "publicStats", "trackConversion", "folderId", "comments", "programId", "partnerId",
    "redirectStatus", "webhookIds", "passwordProtected", "passwordHash", "disabledAt", "clicks", "lastClicked",
    "leads", "conversions", "sales", "saleAmount", "createdAt", "updatedAt", "folderName", "testVariants",
    "testStartedAt", "testCompletedAt",
)


async def export_links(core):
    """Every link (archived too) as its API object plus `passwordHash` and `folderName`, in id order, a page at a
    time. The hash lets `shortener import --format ours` keep a link's password: an export is as
    sensitive as the database itself."""
    after = ""
    folder_names: dict[str, str | None] = {}
    while True:
        rows = await core.store.export_links_page(after)
        if not rows:
            return
        tags = await core.store.tags_of_links([r["id"] for r in rows])
        for r in rows:
            obj = core.links.to_api(r, tags[r["id"]])
            obj["passwordHash"] = r["password_hash"]
            obj["disabledAt"] = r["disabled_at"]
            folder_id = r["folder_id"]
            if folder_id is not None:
                if folder_id not in folder_names:
                    folder = await core.store.get_folder(folder_id)
                    folder_names[folder_id] = folder["name"] if folder else None
                # Another installation knows the folder by name, not by this id.
                obj["folderName"] = folder_names[folder_id]
            yield obj
        after = rows[-1]["id"]
