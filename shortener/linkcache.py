"""The redirect path's in-process cache of links and domains.

It is meant to hold the whole working set (performance-notes.md: an LRU smaller than the working
set was slower than no cache), so it is a plain dict with a generous bound rather than an LRU.
Entries are dropped by `invalidate()` (every write through the API or CLI calls it after its
commit, via Core.link_changed) and by a background task that follows the `link_changes` log,
which also catches writes made by other processes within `cache_sync_seconds`.
Negative answers (no such link) are cached too, in their own smaller map, so scanners probing
random paths cannot push real links out.
"""
from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from shortener.services.abtests import thresholds
from shortener.timeutil import parse_iso
from shortener.tasks import cancel

log = logging.getLogger("shortener.linkcache")

MAX_LINKS = 1_000_000
# Links loaded at start (newest first): a cold cache would send the first visit of every link to
# SQLite on the event loop. ~1 KB each, so this bounds the warm-up to ~200 MB and ~2 s.
PRELOAD_LINKS = 200_000
PRELOAD_PAGE = 2_000
MAX_MISSES = 50_000
MAX_DOMAINS = 10_000
# The change log is cut to its newest KEEP_CHANGES entries every PRUNE_EVERY seconds. A process
# that falls further behind than that (it polls every cache_sync_seconds) sees the gap and clears
# its whole cache rather than miss a change.
KEEP_CHANGES = 100_000
PRUNE_EVERY = 3600.0


@dataclass(slots=True)
class Domain:
    slug: str
    placeholder: str | None
    expired_url: str | None
    not_found_url: str | None
    cookie_domain: str | None


@dataclass(slots=True)
class Link:
    id: str
    domain: str
    key: str
    url: str
    track_conversion: bool
    archived: bool
    expires_at: float | None  # epoch seconds
    expired_url: str | None
    password_hash: str | None
    proxy: bool
    title: str | None
    description: str | None
    image: str | None
    video: str | None
    rewrite: bool
    do_index: bool
    ios: str | None
    android: str | None
    geo: dict[str, str] | None
    has_webhooks: bool
    redirect_status: int | None
    disabled: bool
    # A/B destinations while undecided: ((url, cumulative upper bound in 1/100 %), ...), and when
    # the test ends (epoch seconds). None for every other link.
    variants: tuple[tuple[str, int], ...] | None
    test_ends: float | None
    # the destination split once: (scheme://netloc/path, query, "#fragment" or ""), None when it
    # is not http(s) (deep links are forwarded untouched)
    url_parts: tuple[str, str, str] | None
    # true when a visit needs nothing but "Location: url" (+ the click): the fast branch
    plain: bool
    location: bytes  # `url` as a Location header value

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def split_url(url: str) -> tuple[str, str, str] | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    base = f"{parts.scheme}://{parts.netloc}{parts.path or '/'}"
    return base, parts.query, f"#{parts.fragment}" if parts.fragment else ""


def location_bytes(url: str) -> bytes:
    """A Location value: non-ASCII and control characters percent-encoded, never a header break."""
    return quote(url, safe="!#$%&'()*+,-./:;=?@[]_~").encode("ascii")


def _expiry(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parse_iso(value).timestamp()
    except ValueError:
        return None


def _geo(value: str | None) -> dict[str, str] | None:
    if not value:
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    geo = {str(k).upper(): v for k, v in data.items() if isinstance(v, str) and v}
    return geo or None


def _variants(row: dict) -> tuple[tuple[str, int], ...] | None:
    # A decided test is over: the link's url is the winner and it redirects like any other.
    if not row.get("test_variants") or row.get("test_decided_at"):
        return None
    try:
        return thresholds(row["test_variants"]) or None
    except (ValueError, KeyError, TypeError):
        return None


def link_from_row(row: dict) -> Link:
    url = row["url"] or ""
    parts = split_url(url) if url else None
    if parts is not None and not parts[1] and not parts[2]:
        url = parts[0]  # a host-only URL gains its "/" as browsers serialise it
    webhooks = row.get("webhook_ids") or "[]"
    link = Link(
        id=row["id"], domain=sys.intern(row["domain"]), key=row["key"], url=url,
        track_conversion=bool(row["track_conversion"]), archived=bool(row["archived"]),
        expires_at=_expiry(row["expires_at"]), expired_url=row["expired_url"] or None,
        password_hash=row["password_hash"] or None, proxy=bool(row["proxy"]),
        title=row["title"], description=row["description"], image=row["image"], video=row["video"],
        rewrite=bool(row["rewrite"]), do_index=bool(row["do_index"]),
        ios=row["ios"] or None, android=row["android"] or None, geo=_geo(row["geo"]),
        has_webhooks=webhooks.strip() not in ("", "[]", "null"),
        redirect_status=row["redirect_status"] if row["redirect_status"] in (301, 302, 307, 308) else None,
        disabled=bool(row["disabled_at"]), variants=_variants(row), test_ends=_expiry(row.get("test_completed_at")),
        url_parts=parts, plain=False, location=location_bytes(url),
    )
    link.plain = not (
        link.password_hash or link.proxy or link.rewrite or link.ios or link.android or link.geo
        or link.track_conversion or link.expires_at is not None or link.disabled or not url
        or link.variants is not None
    )
    return link


def domain_from_row(row: dict) -> Domain:
    return Domain(
        slug=row["slug"].lower(), placeholder=row["placeholder"] or None,
        expired_url=row["expired_url"] or None, not_found_url=row["not_found_url"] or None,
        cookie_domain=row["cookie_domain"] or None,
    )


class LinkCache:
    def __init__(self, core) -> None:
        self.core = core
        self.store = core.store
        self._links: dict[tuple[str, str], Link] = {}
        self._misses: dict[tuple[str, str], None] = {}
        self._domains: dict[str, Domain | None] = {}
        self._hosts: dict[bytes, Domain | None] = {}  # raw Host header -> domain (www. folded in)
        self._seq = 0
        self._task: asyncio.Task | None = None
        self.hits = 0
        self.loads = 0

    # -- lookups (synchronous: the redirect path must not yield) ----------------------------

    def domain(self, host: str) -> Domain | None:
        """The configured domain for a lowercase Host header, or None."""
        try:
            return self._domains[host]
        except KeyError:
            pass
        row = self.store.find_redirect_domain(host)
        domain = domain_from_row(row) if row is not None else None
        if len(self._domains) >= MAX_DOMAINS:
            self._domains.clear()
        self._domains[host] = domain
        return domain

    def domain_for_host(self, host: bytes) -> Domain | None:
        """The domain for a raw Host header (any case; `www.` falls back to the bare domain)."""
        try:
            return self._hosts[host]
        except KeyError:
            pass
        name = host.decode("latin-1").lower()
        if name.endswith(".") or ".:" in name:
            # A fully qualified name (`go.example.` typed with its root dot) is the same host.
            name = name[:-1] if name.endswith(".") else name.replace(".:", ":", 1)
        domain = self.domain(name)
        if domain is None and name.startswith("www."):
            domain = self.domain(name[4:])
        if len(self._hosts) >= MAX_DOMAINS:
            self._hosts.clear()
        self._hosts[host] = domain
        return domain

    def link(self, domain: str, key: str) -> Link | None:
        """The link at (domain, key); `key` as typed (compared case-insensitively)."""
        ck = (domain, key.lower())
        link = self._links.get(ck)
        if link is not None:
            self.hits += 1
            return link
        if ck in self._misses:
            return None
        self.loads += 1
        row = self.store.find_redirect_link(domain, key)
        if row is None:
            if len(self._misses) >= MAX_MISSES:
                self._misses.clear()
            self._misses[ck] = None
            return None
        link = link_from_row(row)
        if len(self._links) >= MAX_LINKS:
            # Past the bound, drop the oldest tenth: cheaper than tracking recency on every hit.
            for old in list(self._links)[: MAX_LINKS // 10]:
                del self._links[old]
        self._links[ck] = link
        return link

    @property
    def size(self) -> int:
        """Links held (the metrics collector reads it)."""
        return len(self._links)

    # -- invalidation ----------------------------------------------------------------------

    def invalidate(self, domain: str, key: str) -> None:
        """Forget (domain, key); key "*" forgets the domain and every key under it."""
        domain = domain.lower()
        if key == "*":
            self._domains.pop(domain, None)
            self._hosts.clear()
            for store in (self._links, self._misses):
                for ck in [ck for ck in store if ck[0] == domain]:
                    del store[ck]
            return
        ck = (domain, key.lower())
        self._links.pop(ck, None)
        self._misses.pop(ck, None)

    def clear(self) -> None:
        self._links.clear()
        self._misses.clear()
        self._domains.clear()
        self._hosts.clear()

    def sync(self) -> None:
        """Apply the change log written since the last sync (by this or any other process)."""
        while True:
            seq, changes, gap = self.store.link_changes_since(self._seq)
            if not changes:
                return
            if gap:
                # Entries this process never saw were pruned: any cached link may be stale.
                log.warning("link change log pruned past this process's position; clearing the cache")
                self.clear()
            else:
                for domain, key in changes:
                    self.invalidate(domain, key)
            self._seq = seq
            if len(changes) < 10000:
                return

    async def _follow(self) -> None:
        interval = max(0.05, float(self.core.settings.cache_sync_seconds))
        next_prune = time.monotonic() + PRUNE_EVERY
        while True:
            await asyncio.sleep(interval)
            try:
                self.sync()
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + PRUNE_EVERY
                    await self.store.prune_link_changes(KEEP_CHANGES)
            except Exception:  # a busy or closed database must not kill the follower
                log.exception("link cache sync failed; clearing the cache")
                self.clear()

    async def preload(self, limit: int = PRELOAD_LINKS) -> int:
        """Fill the cache with the newest `limit` links; returns how many were loaded."""
        loaded = 0
        before = None
        while loaded < limit:
            # A page at a time: the rows are dicts several times the size of the links made
            # from them, and memory the allocator took for all 100k at once stayed in the
            # process (RSS 245 MB after start with 100k links, against 47 MB empty).
            rows = await self.store.recent_redirect_links(min(PRELOAD_PAGE, limit - loaded), before)
            for row in rows:
                link = link_from_row(row)
                # Domains repeat across links: one string each (~100 bytes a link saved).
                self._links[(sys.intern(link.domain.lower()), link.key.lower())] = link
            loaded += len(rows)
            if len(rows) < PRELOAD_PAGE:
                break
            before = (rows[-1]["created_at"], rows[-1]["id"])
        return loaded

    async def start(self) -> None:
        # The change log position first: whatever changes during the preload is dropped later.
        self._seq = self.store.latest_link_change()
        if await self.preload():
            # Move everything alive now (the preloaded links included) out of the cyclic GC's
            # reach: otherwise each full collection walks every cached link, a pause of tens of
            # milliseconds on the event loop with 100k links.
            gc.freeze()
        self._task = asyncio.create_task(self._follow(), name="link-cache-sync")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None
