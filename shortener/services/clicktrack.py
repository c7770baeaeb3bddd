"""Client-side click tracking: Dub's POST /track/click, as its @dub/analytics script calls it.

A landing page reached through `?via=<key>` (instead of through the short link) asks us to
record the click; the answer's clickId becomes the page's first-party `dub_id` cookie, and later
`/track/lead` calls attribute to it. The click is recorded like a redirect's: deduplicated per
visitor and link, bots not counted. Which pages may ask (CORS) is SHORTENER_TRACK_ALLOWED_HOSTNAMES;
the web edge checks that (and the publishable key, when one is sent) before calling `track`.
"""
from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from shortener.bots import looks_like_bot
from shortener.clicks import fast_click_id
from shortener.errors import NotFound, Unprocessable, json_type
from shortener.linkcache import split_url
from shortener.keys import ROOT, punycode

MAX_FIELD = 2048


def hostname_allowed(hostname: str | None, allowed: tuple[str, ...]) -> bool:
    """Is a page on `hostname` allowed to track clicks? Entries: `example.com` (also matches
    www.example.com, as Dub strips www.), `*.example.com` (any subdomain), `*` (anyone)."""
    if not hostname:
        return False
    host = hostname.lower().rstrip(".")
    bare = host[4:] if host.startswith("www.") else host
    for entry in allowed:
        entry = entry.lower().strip()
        if entry == "*" or entry in (host, bare):
            return True
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
    return False


def origin_hostname(origin: str | None, referer: str | None) -> str | None:
    """The calling page's hostname: the Origin header, else the Referer (as Dub reads them)."""
    for value in (origin, referer):
        if value and value != "null":
            try:
                host = urlsplit(value).hostname
            except ValueError:
                host = None
            if host:
                return host
    return None


def stored_key(key: str) -> str | None:
    """The key as stored (slashes trimmed, punycode labels), or None when it cannot be one."""
    key = key.strip().strip("/")
    if not key:
        return ROOT
    try:
        return punycode(key)
    except UnicodeError:
        return None


def _string(body: dict, name: str, *, required: bool) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise Unprocessable(f"{name} is required.", field=name, issue="invalid_type")
        return None
    if not isinstance(value, str):
        raise Unprocessable(f"Expected string, received {json_type(value)}.", field=name, issue="invalid_type")
    if len(value) > MAX_FIELD:
        raise Unprocessable(f"Too big: expected string to have <={MAX_FIELD} characters", field=name, issue="too_big")
    return value


class ClickTrackService:
    def __init__(self, core) -> None:
        self.core = core

    def track(self, body: Any, *, ip: str, ua: str, referer: str, country: str | None) -> dict:
        """Record a click on the link at (domain, key) for this visitor; the answer for the page.
        Synchronous: a cache lookup and a queued click, like a redirect."""
        if not isinstance(body, dict):
            raise Unprocessable(f"Expected object, received {json_type(body)}.", field="body", issue="invalid_type")
        domain = _string(body, "domain", required=True).strip().lower()
        key = _string(body, "key", required=True)
        url = _string(body, "url", required=False)
        referrer = _string(body, "referrer", required=False)
        cache = self.core.link_cache
        link = None
        stored = stored_key(key)
        if cache.domain(domain) is not None and stored is not None:
            link = cache.link(domain, stored)
        # Only a link whose redirect would lead to its destination: the answer carries that URL,
        # which a password protects, and an expired link sends no one there.
        if link is None or link.disabled or link.password_hash or link.expired(time.time()):
            raise NotFound(f"Link not found for domain: {domain} and key: {key}.")
        # The page the visitor landed on, if it is a real http(s) URL; else the link's destination.
        final = url if url and split_url(url) is not None else link.url
        if looks_like_bot(ua):
            cid = fast_click_id()  # answered, never stored: crawlers are not counted
        else:
            cid = self.core.clicks.record(link, final, ip=ip, ua=ua, referer=referrer or referer,
                                          country=country, qr=False)
        return {
            "clickId": cid,
            "link": {"id": link.id, "domain": link.domain, "key": link.key, "url": link.url},
            "partner": None,
            "discount": None,
        }
