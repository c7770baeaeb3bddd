"""Short domains: the configured ones exist from the start; more come through the API.

The default domain (settings.domain) is the primary one: the API cannot delete or rename it,
since the settings would bring it back on the next start. `rename` (the CLI's `domains rename`)
can: it is how links follow a change of the configured domain.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any

from shortener import urls
from shortener.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from shortener.ids import new_id
from shortener.timeutil import now_iso

log = logging.getLogger("shortener")

MAX_SLUG = 190
MAX_STATUS_DOMAINS = 50
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_SLUG = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?$")

# json name -> (column, kind)
_FIELDS = {
    "placeholder": ("placeholder", "url"),
    "expiredUrl": ("expired_url", "url"),
    "notFoundUrl": ("not_found_url", "url"),
    "logo": ("logo", "url"),
    "assetLinks": ("assetlinks", "json"),
    "appleAppSiteAssociation": ("apple_app_site_association", "json"),
    "cookieDomain": ("cookie_domain", "cookie"),
}


def lookup_slug(value: str) -> str:
    """A domain as typed (any case, the root's dot, an IDN host) in the form the store holds;
    never raises: a name no domain can have simply finds nothing."""
    host, sep, port = value.strip().lower().partition(":")
    host = host.rstrip(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    return host + sep + port


def normalise_slug(value: Any) -> str:
    if not isinstance(value, str):
        raise Unprocessable("Expected string.", field="slug", issue="invalid_type")
    if len(value.strip().rstrip(".")) > MAX_SLUG:
        raise Unprocessable(f"Too big: expected string to have <={MAX_SLUG} characters", field="slug", issue="too_big")
    slug = lookup_slug(value)
    host, sep, port = slug.partition(":")
    if not host.isascii():  # not a name IDNA can encode
        raise Unprocessable("Invalid domain.", field="slug", issue="invalid_string")
    if not _SLUG.match(slug) or ("." not in host and not port) or (port and not 0 < int(port) < 65536):
        raise Unprocessable("Invalid domain.", field="slug", issue="invalid_string")
    return slug


def cookie_domain_for(slug: str, value: str) -> str:
    """Validate a cookie Domain attribute: the domain itself or a parent of it (not a bare TLD)."""
    host = slug.partition(":")[0]
    wanted = value.strip().lower()
    bare = wanted.lstrip(".")
    if (not bare or "." not in bare or not _SLUG.match(bare)
            or not (host == bare or host.endswith("." + bare))):
        labels = host.split(".")
        # Only a parent below the top level can be suggested: `.com` is refused above.
        parent = "." + ".".join(labels[1:]) if len(labels) > 2 and not labels[-1].isdigit() else None
        raise Unprocessable(
            f"Must be {host} or a parent domain of it (e.g. {parent})." if parent else f"Must be {host}.",
            field="cookieDomain", issue="invalid_string",
        )
    return wanted


def to_api(row: dict) -> dict:
    return {
        "id": row["id"],
        "slug": row["slug"],
        "verified": bool(row["verified"]),
        "primary": bool(row["is_primary"]),
        "archived": bool(row["archived"]),
        "placeholder": row["placeholder"],
        "expiredUrl": row["expired_url"],
        "notFoundUrl": row["not_found_url"],
        "logo": row["logo"],
        "assetLinks": row["assetlinks"],
        "appleAppSiteAssociation": row["apple_app_site_association"],
        "cookieDomain": row["cookie_domain"],
        "registeredDomain": None,
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


def _parse(body: Any, slug: str) -> dict:
    if not isinstance(body, dict):
        raise Unprocessable("Expected object.", field="body", issue="invalid_type")
    cols: dict = {}
    if "archived" in body:
        if not isinstance(body["archived"], bool):
            raise Unprocessable("Expected boolean.", field="archived", issue="invalid_type")
        cols["archived"] = int(body["archived"])
    for name, (column, kind) in _FIELDS.items():
        if name not in body:
            continue
        value = body[name]
        if value is None or value == "":
            cols[column] = None
        elif kind == "url":
            cols[column] = urls.normalise_url(value, field=name, web_only=True)
        elif kind == "json":
            if not isinstance(value, str) or len(value) > 100_000:
                raise Unprocessable("Expected a JSON string.", field=name, issue="invalid_type")
            try:
                json.loads(value)
            except ValueError:
                raise Unprocessable("Invalid JSON.", field=name, issue="invalid_string") from None
            cols[column] = value
        else:
            if not isinstance(value, str):
                raise Unprocessable("Expected string.", field=name, issue="invalid_type")
            cols[column] = cookie_domain_for(slug, value)
    return cols


class DomainService:
    def __init__(self, core) -> None:
        self.core = core

    @property
    def store(self):
        return self.core.store

    async def start(self) -> None:
        before = await self.store.primary_domain()
        await self.ensure_configured()
        for warning in await self.unserved_warnings(before):
            log.warning("%s", warning)

    async def unserved_warnings(self, previous_primary: str | None = None) -> list[str]:
        """A warning for each domain that holds links this configuration no longer serves: the
        primary domain of the previous start when the configured one changed, and loopback
        addresses other than the configured ones (their port changed: no visitor reaches them)."""
        settings = self.core.settings
        served = {settings.domain, *settings.extra_domains}
        out = []
        for slug, count in sorted((await self.store.domain_link_counts()).items()):
            slug = slug.lower()
            if slug in served or not (slug == previous_primary or _is_loopback(slug)):
                continue
            out.append(
                f"{count} link(s) sit on the domain {slug}, which this server no longer serves as "
                f"configured (default domain {settings.domain}). Move them with "
                f"`shortener domains rename {slug} {settings.domain}`, or keep serving {slug} with "
                f"SHORTENER_EXTRA_DOMAINS."
            )
        return out

    async def ensure_configured(self) -> list[str]:
        """Create settings.domain (primary) and settings.extra_domains if missing; idempotent."""
        settings = self.core.settings
        now = now_iso()
        rows = []
        for slug in dict.fromkeys((settings.domain, *settings.extra_domains)):
            rows.append({
                "id": new_id("dom_"), "slug": slug, "verified": 1, "is_primary": int(slug == settings.domain),
                "archived": 0, "placeholder": None, "expired_url": None, "not_found_url": None,
                "cookie_domain": None, "logo": None, "assetlinks": None, "apple_app_site_association": None,
                "created_at": now, "updated_at": now,
            })
        return await self.store.ensure_domains(rows, settings.domain)

    async def get(self, slug: str) -> dict:
        row = await self.store.get_domain(slug.strip().lower()) if isinstance(slug, str) else None
        if row is None:
            raise NotFound("Domain not found.")
        return to_api(row)

    async def list(self, *, archived: bool | None = False, search: str | None = None,
                   page: int = 1, page_size: int = 50) -> list[dict]:
        rows = await self.store.list_domains(
            archived=archived, search=search, limit=page_size, offset=(page - 1) * page_size
        )
        return [to_api(r) for r in rows]

    async def create(self, body: Any) -> dict:
        if not isinstance(body, dict):
            raise Unprocessable("Expected object.", field="body", issue="invalid_type")
        if "slug" not in body:
            raise Unprocessable("slug is required.", field="slug", issue="invalid_type")
        slug = normalise_slug(body["slug"])
        now = now_iso()
        row = {
            "id": new_id("dom_"), "slug": slug, "verified": 1, "is_primary": 0, "archived": 0,
            "placeholder": None, "expired_url": None, "not_found_url": None, "cookie_domain": None,
            "logo": None, "assetlinks": None, "apple_app_site_association": None,
            "created_at": now, "updated_at": now,
        }
        row.update(_parse(body, slug))
        if not await self.store.insert_domain(row):
            raise Conflict(f"Domain {slug} is already in use.")
        # A visit before the domain existed cached "no such domain"; forget it now, not at the
        # next change-log sync.
        self.core.link_cache.invalidate(slug, "*")
        return to_api(row)

    async def rename(self, old: str, new: str) -> dict:
        """Move domain `old` and every link on it to `new`. When `new` exists already its links
        are merged (refused, listing the keys, if a key is on both); else the domain is renamed.
        Unlike the API, this may move the default domain: it is how links follow a change of
        SHORTENER_DOMAIN."""
        current = await self.get(old)
        old = current["slug"]
        new = normalise_slug(new)
        if new == old:
            raise Unprocessable("The new domain is the same as the old one.", field="slug", issue="custom")
        if await self.store.get_domain(new) is None:
            moved = len(await self.store.link_ids_on_domain(old))
            domain = await self.update(old, {"slug": new}, rename_default=True)
            return {"from": old, "to": new, "merged": False, "moved": moved, "domain": domain}
        ids = await self.store.link_ids_on_domain(old)
        previous = await self.core.links.get_many(ids) if ids else {}
        result, detail = await self.store.merge_domain(old, new, now_iso())
        if result == "missing":
            raise NotFound("Domain not found.")
        if result == "collisions":
            shown = ", ".join(detail[:20]) + (f" and {len(detail) - 20} more" if len(detail) > 20 else "")
            raise Conflict(f"{len(detail)} key(s) exist on both {old} and {new}; nothing was moved. "
                           f"Rename or delete them first: {shown}")
        self.core.link_cache.invalidate(old, "*")
        self.core.link_cache.invalidate(new, "*")
        moved = await self.core.links.get_many(detail)
        for link_id, obj in moved.items():
            await self.core.link_changed("link.updated", obj, previous.get(link_id))
        return {"from": old, "to": new, "merged": True, "moved": len(detail), "domain": await self.get(new)}

    async def update(self, slug: str, body: Any, *, rename_default: bool = False) -> dict:
        current = await self.get(slug)
        slug = current["slug"]
        new_slug = None
        if isinstance(body, dict) and body.get("slug") is not None:
            new_slug = normalise_slug(body["slug"])
            if new_slug == slug:
                new_slug = None
            elif slug == self.core.settings.domain and not rename_default:
                raise Forbidden("The default domain is set by SHORTENER_DOMAIN and cannot be renamed.")
        changes = _parse(body, new_slug or slug)
        if "cookie_domain" not in changes and new_slug and current["cookieDomain"]:
            changes["cookie_domain"] = None  # a parent of the old name need not be one of the new
        if new_slug:
            changes["slug"] = new_slug
        changes["updated_at"] = now_iso()
        moved_ids = await self.store.link_ids_on_domain(slug) if new_slug else []
        previous = await self.core.links.get_many(moved_ids) if moved_ids else {}
        result = await self.store.update_domain(slug, changes)
        if result == "missing":
            raise NotFound("Domain not found.")
        if result == "slug_taken":
            raise Conflict(f"Domain {new_slug} is already in use.")
        self.core.link_cache.invalidate(slug, "*")
        if new_slug:
            self.core.link_cache.invalidate(new_slug, "*")
            moved = await self.core.links.get_many(list(previous))
            for link_id, obj in moved.items():
                await self.core.link_changed("link.updated", obj, previous[link_id])
        return await self.get(new_slug or slug)

    async def delete(self, slug: str) -> dict:
        current = await self.get(slug)
        slug = current["slug"]
        if slug == self.core.settings.domain or current["primary"]:
            raise Forbidden("You cannot delete the default domain.")
        objects = list((await self.core.links.get_many(await self.store.link_ids_on_domain(slug))).values())
        deleted = await self.store.delete_domain_and_links(slug)
        if deleted is None:
            raise NotFound("Domain not found.")
        self.core.link_cache.invalidate(slug, "*")
        await self.core.links.deleted_with_domain(objects, deleted)
        return {"slug": slug}

    async def status(self, names: list[str]) -> list[dict]:
        """Dub's domain availability check, for a self-hosted server: a domain is "available" when
        it is not configured here (there is no registrar to ask), so no price is ever known."""
        if not names:
            raise BadRequest("You must provide at least one domain to check.")
        if len(names) > MAX_STATUS_DOMAINS:
            raise Unprocessable(f"Too big: expected array to have <={MAX_STATUS_DOMAINS} items", field="domains",
                                issue="too_big")
        out = []
        for name in names:
            try:
                slug = normalise_slug(name)
            except Unprocessable:
                raise Unprocessable(f"Invalid domain {name[:200]!r}.", field="domains", issue="invalid_string") from None
            configured = await self.store.get_domain(slug) is not None
            out.append({"domain": slug, "available": not configured, "price": None, "premium": None,
                        "prices": None})
        return out

def _is_loopback(slug: str) -> bool:
    host = slug.rpartition(":")[0] if slug.count(":") == 1 else slug
    return host in ("localhost", "[::1]") or host.startswith("127.")
