"""Links: create, read, update, upsert, delete (single and bulk) with Dub's rules and wire format.

Every committed create/update/delete is reported to `core.link_changed(...)`, which drops the
redirect cache entries and queues webhooks.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shortener import keys as keyrules
from shortener import urls
from shortener.errors import ApiError, BadRequest, Conflict, Forbidden, NotFound, Unprocessable, echo, json_type
from shortener.services import abtests, domains, folders
from shortener.ids import new_id
from shortener.keyedlocks import KeyedLocks
from shortener.passwords import hash_password_async, verify_password_async
from shortener.timeutil import iso, now_iso, parse_iso

PROJECT_ID = "default"
WORKSPACE_ID = "ws_" + PROJECT_ID
MAX_BULK = 100
RANDOM_KEY_DRAWS = 5
REDIRECT_STATUSES = (301, 302, 307, 308)
DUPLICATE_KEY = "Duplicate key: This short link already exists."
DUPLICATE_EXTERNAL_ID = "A link with this externalId already exists in this workspace."


def _refused_write(result: str, folder_id: str | None, tag_ids: list[str] | None) -> ApiError:
    """The error for a store write that refused a link: a taken key or externalId (409), or a
    folder or tag deleted between the service's check and the write (422, as if never there)."""
    if result == "folder":
        return folders.unknown_folder(folder_id)
    if result == "tag":
        return Unprocessable(f"Invalid tagIds detected: {echo(', '.join(tag_ids or ()), 300)}")
    return Conflict(DUPLICATE_KEY if result == "key" else DUPLICATE_EXTERNAL_ID)

_UNSET: Any = object()

_BOOLS = {
    "trackConversion": "track_conversion", "archived": "archived", "proxy": "proxy",
    "rewrite": "rewrite", "doIndex": "do_index", "publicStats": "public_stats",
}
# json name -> (column, max length); null clears the value
_TEXTS = {
    "tenantId": ("tenant_id", 255), "identifier": ("identifier", 255), "programId": ("program_id", 255),
    "partnerId": ("partner_id", 255), "folderId": ("folder_id", 255), "comments": ("comments", 10000),
}
# json name -> (column, only http/https)
_URLS = {
    "expiredUrl": ("expired_url", False), "ios": ("ios", False), "android": ("android", False),
    "image": ("image", True), "video": ("video", True),
}
_TRUNCATED = {"title": 120, "description": 240}
# Bulk update changes what links say, not where they live (Dub's bulk schema omits these).
_NOT_IN_BULK_UPDATE = ("domain", "key", "externalId", "keyLength", "prefix")


async def _hash(password: str) -> str:
    # scrypt takes tens of milliseconds by design; off the event loop, redirects keep flowing.
    return await hash_password_async(password)


def _wrong_type(name: str, expected: str, value: Any) -> Unprocessable:
    return Unprocessable(f"Expected {expected}, received {json_type(value)}.", field=name, issue="invalid_type")


def _text(body: dict, name: str, max_len: int, *, nullable: bool = True) -> str | None:
    value = body[name]
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise _wrong_type(name, "string", value)
    if len(value) > max_len:
        raise Unprocessable(f"Too big: expected string to have <={max_len} characters", field=name, issue="too_big")
    return value


def _id_list(body: dict, name: str) -> list[str]:
    """A string (comma-separated) or an array of strings, as Dub takes tagIds and tagNames."""
    value = body[name]
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        raise _wrong_type(name, "string or array", value)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise _wrong_type(name, "string", item)
        item = item.strip()
        if len(item) > 255:
            raise Unprocessable("Too big: expected string to have <=255 characters", field=name, issue="too_big")
        if item and item.lower() not in (o.lower() for o in out):
            out.append(item)
    if len(out) > 100:
        raise Unprocessable("Too big: expected array to have <=100 items", field=name, issue="too_big")
    return out


@dataclass
class LinkInput:
    """A link body after type and format checks, before anything is looked up."""

    columns: dict = field(default_factory=dict)   # column -> value, only fields present in the body
    url: str | None = None                        # normalised, without UTM changes; None if absent
    utm: dict = field(default_factory=dict)       # utm field -> value or None, only fields present
    domain: str | None = None
    key: str | None = None
    key_length: int = keyrules.DEFAULT_LENGTH
    prefix: str = ""
    tag_ids: list[str] | None = None              # None: not in the body
    tag_names: list[str] | None = None
    webhook_ids: list[str] = field(default_factory=list)  # to check they exist
    password: Any = _UNSET                        # _UNSET, None (remove) or the new plaintext


def parse_link_body(body: Any, *, creating: bool) -> LinkInput:
    if not isinstance(body, dict):
        raise _wrong_type("body", "object", body)
    p = LinkInput()
    cols = p.columns

    if "url" in body or creating:
        raw = body.get("url")
        if raw is None:
            raise Unprocessable("url is required.", field="url", issue="invalid_type")
        if not isinstance(raw, str):
            raise _wrong_type("url", "string", raw)
        p.url = "" if raw.strip() == "" else urls.normalise_url(raw, field="url")

    if "domain" in body and body["domain"] is not None:
        domain = _text(body, "domain", 190, nullable=False)
        p.domain = (domain or "").strip().lower() or None
    if "key" in body and body["key"] is not None:
        raw_key = body["key"]
        if isinstance(raw_key, str) and raw_key.strip() == "" and creating:
            p.key = None  # an empty key means "pick one for me", as in Dub's UI
        else:
            p.key = keyrules.normalise_key(raw_key)
    if "keyLength" in body:
        p.key_length = keyrules.key_length(body["keyLength"])
    if body.get("prefix") is not None:
        p.prefix = keyrules.normalise_prefix(body["prefix"])

    if "externalId" in body:
        ext = body["externalId"]
        if ext is None:
            cols["external_id"] = None
        else:
            if not isinstance(ext, str):
                raise _wrong_type("externalId", "string", ext)
            ext = ext.strip()
            if ext.startswith("ext_"):
                ext = ext[4:]
            if not ext:
                raise Unprocessable("Too small: expected string to have >=1 characters", field="externalId", issue="too_small")
            if len(ext) > 255:
                raise Unprocessable("Too big: expected string to have <=255 characters", field="externalId", issue="too_big")
            cols["external_id"] = ext

    for name, column in _BOOLS.items():
        if name in body:
            value = body[name]
            if not isinstance(value, bool):
                raise _wrong_type(name, "boolean", value)
            cols[column] = int(value)

    for name, (column, max_len) in _TEXTS.items():
        if name in body:
            cols[column] = _text(body, name, max_len)

    for name, limit in _TRUNCATED.items():
        if name in body:
            value = _text(body, name, 100_000)
            cols[name] = value[:limit] if value is not None else None

    for name, (column, web_only) in _URLS.items():
        if name in body:
            value = body[name]
            cols[column] = None if value is None or value == "" else urls.normalise_url(value, field=name, web_only=web_only)

    if "expiresAt" in body:
        value = body["expiresAt"]
        if value is None or value == "":
            cols["expires_at"] = None
        else:
            if not isinstance(value, str):
                raise _wrong_type("expiresAt", "string", value)
            try:
                cols["expires_at"] = iso(parse_iso(value))
            except (ValueError, OverflowError):
                raise Unprocessable("Invalid expiration date.", field="expiresAt", issue="invalid_date") from None

    if "password" in body:
        value = body["password"]
        if value is None or value == "":
            p.password = None
        else:
            if not isinstance(value, str):
                raise _wrong_type("password", "string", value)
            if len(value) > 1000:
                raise Unprocessable("Too big: expected string to have <=1000 characters", field="password", issue="too_big")
            p.password = value

    if "geo" in body:
        value = body["geo"]
        if value is None:
            cols["geo"] = None
        else:
            if not isinstance(value, dict):
                raise _wrong_type("geo", "object", value)
            geo = {}
            for country, target in value.items():
                if not (isinstance(country, str) and len(country) == 2 and country.isascii() and country.isalpha()):
                    raise Unprocessable(f"Invalid country code {str(country)[:10]!r}.", field="geo", issue="invalid_key")
                geo[country.upper()] = urls.normalise_url(target, field=f"geo.{country}")
            cols["geo"] = json.dumps(geo, separators=(",", ":")) if geo else None

    for name in urls.UTM_FIELDS:
        if name in body:
            value = body[name]
            if value is not None and not isinstance(value, str):
                raise _wrong_type(name, "string", value)
            value = (value or "").strip()
            if len(value) > 255:
                raise Unprocessable("Too big: expected string to have <=255 characters", field=name, issue="too_big")
            p.utm[name] = value or None

    if "webhookIds" in body:
        value = body["webhookIds"]
        if value is None:
            cols["webhook_ids"] = "[]"
        else:
            if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 255 for v in value):
                raise _wrong_type("webhookIds", "array of strings", value)
            p.webhook_ids = list(dict.fromkeys(value))
            cols["webhook_ids"] = json.dumps(p.webhook_ids)

    if "redirectStatus" in body:
        value = body["redirectStatus"]
        if value is not None and (isinstance(value, bool) or value not in REDIRECT_STATUSES):
            raise Unprocessable("Expected one of 301, 302, 307, 308 or null.", field="redirectStatus", issue="invalid_value")
        cols["redirect_status"] = None if value is None else int(value)

    if "testVariants" in body:
        cols["test_variants"] = abtests.parse_variants(body["testVariants"])
    for name, column in (("testStartedAt", "test_started_at"), ("testCompletedAt", "test_completed_at")):
        if name in body:
            cols[column] = abtests.parse_date(body, name)

    if "tagIds" in body:
        p.tag_ids = _id_list(body, "tagIds")
    if "tagId" in body and p.tag_ids is None:
        value = body["tagId"]
        if value is not None and not isinstance(value, str):
            raise _wrong_type("tagId", "string", value)
        p.tag_ids = [value] if value else []
    if "tagNames" in body:
        p.tag_names = _id_list(body, "tagNames")
        for name in p.tag_names:
            if len(name) > 50:
                raise Unprocessable("Too big: a tag name has at most 50 characters", field="tagNames", issue="too_big")
    return p


class LinkService:
    def __init__(self, core) -> None:
        self.core = core
        # Upserts of one URL on one domain, one at a time: the lookup by URL and the create that
        # follows span awaits, and 20 at once made up to 3 links of one URL.
        self._upserts = KeyedLocks()

    @property
    def store(self):
        return self.core.store

    @property
    def settings(self):
        return self.core.settings

    # -- reading -----------------------------------------------------------------------------

    def to_api(self, row: dict, tags: list[dict]) -> dict:
        """The API link object: Dub's full key set plus `passwordProtected` and `redirectStatus`."""
        short_link = self.settings.short_url(row["domain"], row["key"])
        return {
            "id": row["id"],
            "domain": row["domain"],
            "key": row["key"],
            "url": row["url"],
            "shortLink": short_link,
            "qrCode": f"{self.settings.scheme}://{self.settings.domain}/api/qr?url={short_link}?qr=1",
            "trackConversion": bool(row["track_conversion"]),
            "externalId": row["external_id"],
            "tenantId": row["tenant_id"],
            "programId": row["program_id"],
            "partnerId": row["partner_id"],
            "archived": bool(row["archived"]),
            "expiresAt": row["expires_at"],
            "expiredUrl": row["expired_url"],
            "disabledAt": row["disabled_at"],
            "password": None,
            "passwordProtected": row["password_hash"] is not None,
            "proxy": bool(row["proxy"]),
            "title": row["title"],
            "description": row["description"],
            "image": row["image"],
            "video": row["video"],
            "rewrite": bool(row["rewrite"]),
            "doIndex": bool(row["do_index"]),
            "ios": row["ios"],
            "android": row["android"],
            "geo": json.loads(row["geo"]) if row["geo"] else None,
            "publicStats": bool(row["public_stats"]),
            "tagId": tags[0]["id"] if tags else None,
            "tags": [{"id": t["id"], "name": t["name"], "color": t["color"]} for t in tags],
            "folderId": row["folder_id"],
            "webhookIds": json.loads(row["webhook_ids"] or "[]"),
            "comments": row["comments"],
            "utm_source": row["utm_source"],
            "utm_medium": row["utm_medium"],
            "utm_campaign": row["utm_campaign"],
            "utm_term": row["utm_term"],
            "utm_content": row["utm_content"],
            "identifier": row["identifier"],
            "redirectStatus": row["redirect_status"],
            "clicks": row["clicks"],
            "lastClicked": row["last_clicked"],
            "leads": row["leads"],
            "conversions": row["conversions"],
            "sales": row["sales"],
            "saleAmount": row["sale_amount"],
            "userId": row["user_id"],
            "workspaceId": WORKSPACE_ID,
            "projectId": PROJECT_ID,
            **abtests.to_api(row),
            "linkRetentionCleanupDisabledAt": None,
            "createdAt": row["created_at"],
            "updatedAt": row["updated_at"],
        }

    async def _objects(self, rows: list[dict]) -> list[dict]:
        tags = await self.store.tags_of_links([r["id"] for r in rows])
        return [self.to_api(r, tags[r["id"]]) for r in rows]

    async def get_many(self, ids: list[str]) -> dict[str, dict]:
        """id -> API link object for the ids that exist."""
        return {obj["id"]: obj for obj in await self._objects(await self.store.get_links(ids))}

    async def _row(self, id_or_ext: str) -> dict:
        if not isinstance(id_or_ext, str) or not id_or_ext:
            raise NotFound("Link not found.")
        if id_or_ext.startswith("ext_"):
            row = await self.store.get_link_by_external_id(id_or_ext[4:])
        else:
            row = await self.store.get_link(id_or_ext)
        if row is None:
            raise NotFound("Link not found.")
        return row

    async def require(self, id_or_ext: str) -> None:
        """Raises NotFound unless the link exists (one lookup: the object is not built)."""
        await self._row(id_or_ext)

    async def get(self, id_or_ext: str) -> dict:
        """The API link object for a link id or `ext_<externalId>`; raises NotFound."""
        return (await self._objects([await self._row(id_or_ext)]))[0]

    async def info(self, *, link_id: str | None = None, external_id: str | None = None,
                   domain: str | None = None, key: str | None = None) -> dict:
        if link_id:
            return await self.get(link_id)
        if external_id:
            if external_id.startswith("ext_"):
                return await self.get(external_id)
            row = await self.store.get_link_by_external_id(external_id)
            if row is None:
                raise BadRequest("Invalid externalId. Did you forget to prefix it with `ext_`?")
            return (await self._objects([row]))[0]
        if domain and key is not None:
            stored = keyrules.ROOT if key.strip("/") == "" else keyrules.punycode(key.strip("/"))
            row = await self.store.get_link_by_key(domains.lookup_slug(domain), stored)
            if row is None:
                raise NotFound("Link not found.")
            return (await self._objects([row]))[0]
        raise BadRequest("You must provide a domain and a key or a linkId or an externalId to retrieve a link.")

    async def list(self, filters: dict, *, sort: str = "createdAt", descending: bool = True,
                   page: int = 1, page_size: int = 100, starting_after: str | None = None,
                   ending_before: str | None = None) -> list[dict]:
        for cursor in (starting_after, ending_before):
            if cursor and await self.store.get_link(cursor) is None:
                return []  # nothing comes before or after a link that does not exist
        rows = await self.store.list_links(
            filters, sort=sort, descending=descending, limit=page_size, offset=(page - 1) * page_size,
            starting_after=starting_after, ending_before=ending_before,
        )
        return await self._objects(rows)

    async def count(self, filters: dict, group_by: str | None = None) -> int | list[dict]:
        column = {None: None, "domain": "domain", "tagId": "tag_id", "userId": "user_id", "folderId": "folder_id"}
        result = await self.store.count_links(filters, column[group_by])
        if group_by is None:
            return result
        return [{group_by: r["grp"], "_count": r["n"]} for r in result]

    # -- shared checks -----------------------------------------------------------------------

    async def _domain(self, slug: str | None) -> str:
        slug = slug or self.settings.domain
        row = await self.core.store.get_domain(slug)
        if row is None:
            raise Forbidden("Domain does not belong to workspace.")
        return row["slug"]

    async def _tags(self, tag_ids: list[str] | None, tag_names: list[str] | None) -> tuple[list[str] | None, list[dict]]:
        """(existing tag ids to attach or None to keep, tag rows to create). tagIds win over tagNames."""
        if tag_ids is None and tag_names is None:
            return None, []
        if tag_ids:
            found = {t["id"] for t in await self.store.tags_by_ids(tag_ids)}
            missing = [t for t in tag_ids if t not in found]
            if missing:
                raise Unprocessable(f"Invalid tagIds detected: {echo(', '.join(missing), 300)}")
            return list(tag_ids), []
        if not tag_names:
            return [], []
        existing = {t["name"].lower(): t["id"] for t in await self.store.tags_by_names(tag_names)}
        ids, new = [], []
        now = now_iso()
        for name in tag_names:
            if name.lower() in existing:
                ids.append(existing[name.lower()])
            else:
                new.append({"id": new_id("tag_"), "name": name, "color": self.core.tags.random_color(),
                            "created_at": now, "updated_at": now})
        return ids, new

    async def _check_webhooks(self, webhook_ids: list[str]) -> None:
        if not webhook_ids:
            return
        known = {w["id"] for w in await self.store.list_webhooks()}
        missing = [w for w in webhook_ids if w not in known]
        if missing:
            raise Unprocessable(f"Invalid webhookIds detected: {echo(', '.join(missing), 300)}")

    def _final_url(self, url: str, utm: dict) -> tuple[str, dict]:
        """The URL with the body's UTM fields set on it, and the UTM columns read back from it."""
        if url and utm:
            url = urls.set_query_params(url, utm)
            if len(url) > urls.MAX_URL:
                raise Unprocessable("Too big: the URL with its UTM parameters is too long", field="url", issue="too_big")
        return url, urls.utm_params(url) if url else {name: None for name in urls.UTM_FIELDS}

    # -- create ------------------------------------------------------------------------------

    async def _prepare(self, body: Any) -> tuple[dict, LinkInput]:
        """Validate one create body and return the store item; raises ApiError."""
        p = parse_link_body(body, creating=True)
        domain = await self._domain(p.domain)
        key = p.key
        if not p.url and key != keyrules.ROOT:
            raise BadRequest("Missing destination URL")
        row = self.new_row(p, domain)
        if key is not None and await self.store.link_key_taken(domain, key):
            raise Conflict(DUPLICATE_KEY)
        tag_ids, new_tags = await self._tags(p.tag_ids, p.tag_names)
        await self.core.folders.require(p.columns.get("folder_id"))
        await self._check_webhooks(p.webhook_ids)
        if isinstance(p.password, str):
            row["password_hash"] = await _hash(p.password)
        if key is None:
            # Not checked here: the insert checks inside its transaction and create() draws again.
            row["key"] = keyrules.random_key(p.key_length, p.prefix)
        return {"link": row, "tag_ids": tag_ids or [], "new_tags": new_tags, "random_key": key is None,
                "key_length": p.key_length, "prefix": p.prefix}, p

    def new_row(self, p: LinkInput, domain: str) -> dict:
        """The links-table row of a parsed create body on `domain`, without lookups: defaults,
        the body's columns, the URL with its UTM fields. Key None stays None (the caller draws
        one); the password is not hashed here. Raises ApiError."""
        url, utm_cols = self._final_url(p.url or "", p.utm)
        now = now_iso()
        row = {
            "id": new_id("link_"), "domain": domain, "key": p.key, "url": url,
            "external_id": None, "tenant_id": None, "identifier": None, "track_conversion": 0,
            "archived": 0, "expires_at": None, "expired_url": None, "password_hash": None, "proxy": 0,
            "title": None, "description": None, "image": None, "video": None, "rewrite": 0,
            "do_index": 0, "ios": None, "android": None, "geo": None, "public_stats": 0,
            "comments": None, "program_id": None, "partner_id": None, "folder_id": None,
            "user_id": None, "webhook_ids": "[]", "redirect_status": None, "disabled_at": None,
            "test_variants": None, "test_started_at": None, "test_completed_at": None, "test_decided_at": None,
            "created_at": now, "updated_at": now,
        }
        row.update(p.columns)
        row.update(utm_cols)
        row.update(abtests.finish(row, p.columns))
        return row

    async def _insert(self, items: list[dict]) -> list[str | None]:
        """store.create_links, drawing new random keys for random-key items that collided."""
        results = await self.store.create_links(items)
        for _ in range(RANDOM_KEY_DRAWS):
            retry = [i for i, (item, r) in enumerate(zip(items, results)) if r == "key" and item["random_key"]]
            if not retry:
                break
            for i in retry:
                items[i]["link"]["key"] = keyrules.random_key(items[i]["key_length"], items[i]["prefix"])
            for i, result in zip(retry, await self.store.create_links([items[i] for i in retry])):
                results[i] = result
        return results

    async def _created(self, rows: list[dict], *, tagged: bool = True) -> list[dict]:
        """API objects for rows just inserted: counters start at zero, tags are read back."""
        tags = await self.store.tags_of_links([r["id"] for r in rows]) if tagged else {r["id"]: [] for r in rows}
        zero = {"clicks": 0, "last_clicked": None, "leads": 0, "conversions": 0, "sales": 0, "sale_amount": 0}
        return [self.to_api({**zero, **r}, tags[r["id"]]) for r in rows]

    async def create(self, body: Any) -> dict:
        item, _ = await self._prepare(body)
        (result,) = await self._insert([item])
        if result is not None:
            raise _refused_write(result, item["link"]["folder_id"], item["tag_ids"])
        (obj,) = await self._created([item["link"]], tagged=bool(item["tag_ids"] or item["new_tags"]))
        await self.core.link_changed("link.created", obj, None)
        return obj

    async def create_many(self, bodies: Any) -> list[dict]:
        """Dub's bulk create: created links and {link, error, code} entries, in request order."""
        if not isinstance(bodies, list):
            raise _wrong_type("body", "array", bodies)
        if not bodies:
            raise BadRequest("No links created – you must provide at least one link.")
        if len(bodies) > MAX_BULK:
            raise Unprocessable(f"Too big: expected array to have <={MAX_BULK} items", field="body", issue="too_big")
        out: list[Any] = [None] * len(bodies)
        pending: list[tuple[int, dict]] = []
        for i, body in enumerate(bodies):
            try:
                item, _ = await self._prepare(body)
            except ApiError as exc:
                out[i] = {"link": body, "error": exc.message, "code": exc.code}
                continue
            pending.append((i, item))
        results = await self._insert([item for _, item in pending]) if pending else []
        created = []
        for (i, item), result in zip(pending, results):
            if result is None:
                created.append((i, item["link"]))
            else:
                error = _refused_write(result, item["link"]["folder_id"], item["tag_ids"])
                out[i] = {"link": bodies[i], "error": error.message, "code": error.code}
        objects = await self._created([row for _, row in created])
        for (i, _), obj in zip(created, objects):
            out[i] = obj
            await self.core.link_changed("link.created", obj, None)
        return out

    # -- update ------------------------------------------------------------------------------

    async def _shared_changes(self, p: LinkInput) -> dict:
        """The parts of an update that are the same for every link it touches (looked up and
        hashed once, which matters for a bulk update of 100 links with a password)."""
        changes = dict(p.columns)
        if p.domain is not None:
            changes["domain"] = await self._domain(p.domain)
        if p.key is not None:
            changes["key"] = p.key
        if p.password is None:
            changes["password_hash"] = None
        elif isinstance(p.password, str):
            changes["password_hash"] = await _hash(p.password)
        tag_ids, new_tags = await self._tags(p.tag_ids, p.tag_names)
        await self.core.folders.require(changes.get("folder_id"))
        await self._check_webhooks(p.webhook_ids)
        return {"changes": changes, "tag_ids": tag_ids, "new_tags": new_tags}

    def _changes(self, row: dict, p: LinkInput, shared: dict) -> dict:
        """The store item updating `row`: the shared changes plus its own URL; raises ApiError."""
        changes = dict(shared["changes"])
        if p.url is not None or p.utm:
            url = p.url if p.url is not None else row["url"]
            if not url and changes.get("key", row["key"]) != keyrules.ROOT:
                raise BadRequest("Missing destination URL")
            url, utm_cols = self._final_url(url, p.utm)
            changes["url"] = url
            changes.update(utm_cols)
        changes.update(abtests.finish({**row, **changes}, changes))
        changes["updated_at"] = now_iso()
        return {"id": row["id"], "changes": changes, "tag_ids": shared["tag_ids"], "new_tags": shared["new_tags"]}

    async def update(self, id_or_ext: str, body: Any) -> dict:
        row = await self._row(id_or_ext)
        return await self._update(row, parse_link_body(body, creating=False))

    async def _update(self, row: dict, p: LinkInput, *, only_if_changed: bool = False) -> dict:
        previous = (await self._objects([row]))[0]
        item = self._changes(row, p, await self._shared_changes(p))
        if only_if_changed and not await self._changes_anything(row, previous, p, item):
            return previous
        (result,) = await self.store.update_links([item])
        if result == "missing":
            raise NotFound("Link not found.")
        if result is not None:
            raise _refused_write(result, item["changes"].get("folder_id"), item["tag_ids"])
        obj = await self.get(row["id"])
        await self.core.link_changed("link.updated", obj, previous)
        return obj

    @staticmethod
    async def _changes_anything(row: dict, previous: dict, p: LinkInput, item: dict) -> bool:
        for column, value in item["changes"].items():
            if column == "updated_at":
                continue
            if column == "password_hash" and value is not None and isinstance(p.password, str):
                # a fresh salt makes every hash differ; ask whether the password itself changed
                if row["password_hash"] is None or not await verify_password_async(
                    p.password, row["password_hash"]
                ):
                    return True
                continue
            if row.get(column) != value:
                return True
        if item["new_tags"]:
            return True
        if item["tag_ids"] is not None:
            return set(item["tag_ids"]) != {t["id"] for t in previous["tags"]}
        return False

    async def update_many(self, body: Any) -> list[dict]:
        if not isinstance(body, dict):
            raise _wrong_type("body", "object", body)
        data = body.get("data")
        if not isinstance(data, dict):
            raise _wrong_type("data", "object", data)
        data = {k: v for k, v in data.items() if k not in _NOT_IN_BULK_UPDATE}
        link_ids = self._string_list(body, "linkIds")
        external_ids = [e[4:] if e.startswith("ext_") else e for e in self._string_list(body, "externalIds")]
        # ext_<externalId> works wherever a link id does
        external_ids += [i[4:] for i in link_ids if i.startswith("ext_")]
        link_ids = [i for i in link_ids if not i.startswith("ext_")]
        if not link_ids and not external_ids:
            raise BadRequest("Please provide linkIds or externalIds to update.")
        if len(link_ids) + len(external_ids) > MAX_BULK:
            raise Unprocessable(f"Too big: expected array to have <={MAX_BULK} items", field="linkIds", issue="too_big")
        p = parse_link_body(data, creating=False)
        rows = await self.store.get_links(link_ids) if link_ids else []
        if external_ids:
            rows += await self.store.get_links_by_external_ids(external_ids)
        rows = list({r["id"]: r for r in rows}.values())
        if not rows:
            return []
        previous = await self.get_many([r["id"] for r in rows])
        shared = await self._shared_changes(p)
        items = [self._changes(r, p, shared) for r in rows]
        results = await self.store.update_links(items)
        for item, result in zip(items, results):
            if result in ("folder", "tag"):  # shared by every item: none of them was written
                raise _refused_write(result, item["changes"].get("folder_id"), item["tag_ids"])
        done = [item["id"] for item, result in zip(items, results) if result is None]
        objects = await self.get_many(done)
        out = []
        for link_id in done:
            out.append(objects[link_id])
            await self.core.link_changed("link.updated", objects[link_id], previous[link_id])
        return out

    @staticmethod
    def _string_list(body: dict, name: str) -> list[str]:
        value = body.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise _wrong_type(name, "array of strings", value)
        return list(dict.fromkeys(value))

    async def upsert(self, body: Any) -> dict:
        """Dub's upsert: the link on the requested domain whose destination is this URL is updated
        (or returned unchanged); otherwise a new link is created."""
        p = parse_link_body(body, creating=True)
        domain = await self._domain(p.domain)
        url, _ = self._final_url(p.url or "", p.utm)
        async with self._upserts.hold((domain, url)):
            row = await self.store.get_link_by_url(url, domain) if url else None
            if row is None:
                return await self.create(body)
            return await self._update(row, parse_link_body(body, creating=False), only_if_changed=True)

    # -- delete ------------------------------------------------------------------------------

    async def delete(self, id_or_ext: str) -> dict:
        row = await self._row(id_or_ext)
        obj = (await self._objects([row]))[0]
        deleted = await self.store.delete_links([row["id"]])
        if not deleted:
            raise NotFound("Link not found.")
        await self.core.link_changed("link.deleted", obj, None)
        return {"id": row["id"]}

    async def delete_many(self, ids: list[str]) -> dict:
        if not ids:
            raise BadRequest("Please provide linkIds to delete.")
        if len(ids) > MAX_BULK:
            raise Unprocessable(f"Too big: expected array to have <={MAX_BULK} items", field="linkIds", issue="too_big")
        plain = [i for i in ids if not i.startswith("ext_")]
        external = [i[4:] for i in ids if i.startswith("ext_")]
        rows = await self.store.get_links(plain) if plain else []
        if external:
            rows += await self.store.get_links_by_external_ids(external)
        objects = await self._objects(list({r["id"]: r for r in rows}.values()))
        deleted = set(await self.store.delete_links([o["id"] for o in objects]))
        for obj in objects:
            if obj["id"] in deleted:
                await self.core.link_changed("link.deleted", obj, None)
        return {"deletedCount": len(deleted)}

    async def deleted_with_domain(self, objects: list[dict], deleted_ids: list[str]) -> None:
        """Report links removed by a domain delete (DomainService calls this after committing)."""
        gone = set(deleted_ids)
        for obj in objects:
            if obj["id"] in gone:
                await self.core.link_changed("link.deleted", obj, None)
