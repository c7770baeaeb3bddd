"""The redirect hot path, as pure ASGI.

The dispatcher (web/app.py) hands over every path that is not the API, `/_/`, `/robots.txt` or
`/favicon.ico`. Framework routing and response objects would cost ~45 % of the server's ceiling
(performance-notes.md), so this module speaks ASGI directly: a dict lookup in the link cache,
a few header bytes, and a click handed to the in-memory queue.

Order of the checks (decisions.md "Redirect behaviour", dub-behaviour.md 1.4): unknown host or
link (or disabled) -> not found; password; expired; bot + proxy -> OG page; targeting
(iOS, Android, geo); then the cloaking page or the redirect. Clicks are recorded only for
people (not bots, not HEAD, not dub-no-track) and only on the last two branches.
"""
from __future__ import annotations

import hashlib
import re
import time
from functools import lru_cache
from urllib.parse import parse_qsl, quote, urlencode

from shortener.bots import looks_like_bot
from shortener.clicks import describe_user_agent
from shortener.linkcache import Domain, Link, location_bytes, split_url
from shortener.attempts import Reservation, attempt_key
from shortener.passwords import verify_password_async
from shortener.services.abtests import pick as pick_variant
from shortener.visitor import MAX_REFERER, MAX_UA, _peer_is_trusted, client_ip, country, text

from .templating import render_text

DUB_ID_MAX_AGE = 90 * 24 * 3600
UNLOCK_MAX_AGE = 30 * 24 * 3600
MAX_FORM = 16 * 1024
MAX_KEY_CHARS = 1024

_STRIPPED = frozenset(("pw", "dub-no-track", "redir_url"))
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_DOTS = re.compile("[.\u3002\uff0e\uff61]")
_HTML = b"text/html; charset=utf-8"
_SIMPLE_KEY = re.compile(r"/[0-9A-Za-z][0-9A-Za-z-]*")
_NOINDEX = (b"x-robots-tag", b"noindex")


def punycode_key(key: str) -> str:
    """Dub's key encoding (dub-behaviour.md 1.2): each dot-separated label holding non-ASCII
    becomes `xn--` + RFC 3492 punycode, without lowercasing or nameprep."""
    if key.isascii():
        return key
    labels = _DOTS.split(key)
    return ".".join(l if l.isascii() else "xn--" + l.encode("punycode").decode("ascii") for l in labels)


def key_from_path(path: str) -> str | None:
    """The link key for a request path, or None when the path can never be a link."""
    key = path.strip("/")
    if not key:
        return "_root"
    if len(key) > MAX_KEY_CHARS or "\ufffd" in key or _CONTROL.search(key):
        return None
    low = key.lower()
    if key.startswith("_") or low.endswith((".php", ".php7")) or low.startswith(".well-known"):
        return None
    try:
        return punycode_key(key)
    except UnicodeError:
        return None


@lru_cache(maxsize=4096)
def _destination_query(query: str) -> tuple[tuple[str, str], ...]:
    return tuple(parse_qsl(query, keep_blank_values=True))


@lru_cache(maxsize=4096)
def _request_query(qs: bytes) -> tuple[tuple[str, str], ...]:
    # Campaign links repeat the same query strings, so parsing is memoised (~5 us each).
    return tuple(parse_qsl(qs.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace"))


def set_params(query: str, updates: list[tuple[str, str]]) -> str:
    """URLSearchParams.set for each update: replace the first occurrence in place, drop the rest,
    or append; the result is form-encoded (dub-behaviour.md 1.7)."""
    pairs = list(_destination_query(query))
    for name, value in updates:
        idx = next((i for i, (k, _) in enumerate(pairs) if k == name), None)
        if idx is None:
            pairs.append((name, value))
        else:
            pairs[idx] = (name, value)
            pairs[idx + 1:] = [p for p in pairs[idx + 1:] if p[0] != name]
    return urlencode(pairs)


def final_url(url: str, parts: tuple[str, str, str] | None, passthrough: list[tuple[str, str]],
              dub_id: str | None) -> str:
    updates = passthrough + [("dub_id", dub_id)] if dub_id else passthrough
    if not updates or parts is None:
        return url  # deep links (mailto:, app schemes...) are forwarded untouched
    base, query, fragment = parts
    return f"{base}?{set_params(query, updates)}{fragment}"


@lru_cache(maxsize=4096)
def _passthrough_url(url: str, parts: tuple[str, str, str] | None, passthrough: tuple) -> str:
    """final_url() without a click id: a pure function of its arguments, so memoised."""
    return final_url(url, parts, list(passthrough), None)


def http_url(value: str | None) -> str | None:
    """The value if it is an absolute http(s) URL (safe in href/src/content), else None."""
    if value and split_url(value) is not None:
        return value
    return None


def _unlock_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


class Redirector:
    def __init__(self, settings) -> None:
        self.settings = settings
        self.trusted = tuple(settings.trusted_proxies)
        self.forwarded_header = settings.forwarded_header.encode("latin-1")
        self.country_header = settings.country_header.encode("latin-1")
        self.country_from_cdn = settings.country_header_from_cdn
        self.secure = settings.secure_cookies
        self.default_status = settings.redirect_status
        self._page_cache: dict[str, bytes] = {}
        self._cookie_attributes: dict[str | None, bytes] = {}  # by the domain's cookie Domain

    # -- entry -----------------------------------------------------------------------------

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        method = scope["method"]
        head = method == "HEAD"
        if method not in ("GET", "HEAD", "POST"):
            await self._send(send, 405, [(b"allow", b"GET, HEAD"), (b"content-type", b"text/plain")],
                             b"Method not allowed\n", head)
            return
        core = scope["state"]["core"]
        cache = core.link_cache
        headers = dict(scope["headers"])
        domain = cache.domain_for_host(headers.get(b"host", b""))
        if domain is None:
            await self._not_found(send, None, head)
            return
        path = scope["path"]
        # Most keys are letters, digits and dashes: none of key_from_path's rules can apply.
        key = path[1:] if _SIMPLE_KEY.fullmatch(path) is not None else key_from_path(path)
        link = cache.link(domain.slug, key) if key is not None else None
        if link is None or link.disabled:
            if key == "_root" and link is None and domain.placeholder and http_url(domain.placeholder):
                await self._redirect(send, 302, domain.placeholder, [], head)
                return
            await self._not_found(send, domain, head)
            return
        if method == "POST" and link.password_hash is None:
            await self._send(send, 405, [(b"allow", b"GET, HEAD"), (b"content-type", b"text/plain")],
                             b"Method not allowed\n", head)
            return

        qs = scope["query_string"]
        ua = text(headers.get(b"user-agent"), MAX_UA)
        if link.plain and not qs and not head and b"dub-no-track" not in headers and not looks_like_bot(ua):
            # The common case: no query, no options, a person. Nothing else to decide.
            cid = core.clicks.record(
                link, link.url, ip=client_ip(scope, headers, self.trusted, self.forwarded_header), ua=ua,
                referer=text(headers.get(b"referer"), MAX_REFERER),
                country=self._country(scope, headers), qr=False,
            )
            await self._redirect(send, self._status(link), link.location, [self._dub_id_cookie(cid, domain)],
                                 False, link.do_index)
            return
        await self._full(scope, receive, send, core, domain, link, headers, qs, ua, head)

    def _country(self, scope, headers) -> str | None:
        """The country header, when it can be believed: any client can send `cf-ipcountry`, so
        only a trusted proxy's copy counts, unless a CDN in front sets it on every request
        (decisions.md, "The country of a click")."""
        raw = headers.get(self.country_header)
        if raw is None:
            return None
        if not self.country_from_cdn:
            client = scope.get("client")
            if not self.trusted or not client or not _peer_is_trusted(client[0], self.trusted):
                return None
        return country(raw)

    # -- every other branch ----------------------------------------------------------------

    async def _full(self, scope, receive, send, core, domain: Domain, link: Link, headers, qs: bytes,
                    ua: str, head: bool) -> None:
        params = _request_query(qs) if qs else ()
        no_track = b"dub-no-track" in headers and headers[b"dub-no-track"].lower() not in (b"0", b"false")
        qr = False
        bot_param = False
        pw: str | None = None
        passthrough: list[tuple[str, str]] = []
        for k, v in params:
            if k == "dub-no-track":
                no_track = no_track or v.lower() not in ("0", "false")
            elif k == "pw":
                pw = v
            elif k == "qr" and v == "1":
                qr = True
            elif k == "bot" and v:
                bot_param = True
            if k not in _STRIPPED and not (k == "qr" and v == "1"):
                passthrough.append((k, v))
        ip = client_ip(scope, headers, self.trusted, self.forwarded_header)
        cookies: list[bytes] = []

        if link.password_hash is not None:
            if scope["method"] == "POST":
                await self._unlock_post(scope, receive, send, core, link, ip, qs, head)
                return
            if not self._unlocked(core, link, headers):
                if pw is None:
                    await self._password_page(send, link, qs, 200, None, head)
                    return
                if not await self._check_password(send, core, link, ip, qs, pw, head):
                    return

        if link.expired(time.time()):
            target = link.expired_url or domain.expired_url
            if target:
                await self._redirect(send, 302, target, [], head, link.do_index)
            else:
                await self._page(send, 410, "expired.html", {}, head)
            return

        is_bot = head or bot_param or looks_like_bot(ua)
        if link.proxy and not is_bot and ua:
            is_bot = describe_user_agent(ua)["bot"]  # the answer depends on it: worth a full parse
        if link.proxy and is_bot:
            await self._og_page(send, link, domain, head)
            return

        track = not (is_bot or no_track)
        cid = None
        url, parts = link.url, link.url_parts
        if link.variants is not None:
            # A/B destinations (Dub's testVariants) replace the link's url, as in Dub; device
            # and geo targeting still win over them.
            if link.test_ends is not None and time.time() >= link.test_ends:
                url = await core.ab_tests.decide(link.id) or link.url  # once; then a plain link
            else:
                if track:  # the variant is a function of the click id: a repeat visitor keeps it
                    cid = self._record(core, scope, link, ip, ua, headers, qr)
                url = pick_variant(link.variants, cid)
        base = url
        if link.ios or link.android:
            os_name = describe_user_agent(ua)["os"] if ua else ""
            if link.ios and os_name == "iOS":
                url = link.ios
            elif link.android and os_name == "Android":
                url = link.android
        if url is base and link.geo:
            cc = self._country(scope, headers)
            if cc is not None and cc in link.geo:
                url = link.geo[cc]
        if url is not link.url:
            parts = split_url(url)
        if not url:
            # A root link without a destination: the domain's placeholder, if any.
            if domain.placeholder and http_url(domain.placeholder):
                await self._redirect(send, 302, domain.placeholder, [], head, link.do_index)
            else:
                await self._not_found(send, domain, head)
            return

        if track:
            # The click id is needed before the final URL (trackConversion appends it), and the
            # final URL is part of the click: reserve the id first, then record.
            if cid is None:
                cid = self._record(core, scope, link, ip, ua, headers, qr)
            cookies.append(self._dub_id_cookie(cid, domain))
        if link.track_conversion and cid is not None:
            destination = final_url(url, parts, passthrough, cid)
        else:
            destination = _passthrough_url(url, parts, tuple(passthrough))
        if cid is not None:
            core.clicks.set_url(cid, destination)

        if link.rewrite and http_url(destination):
            await self._page(send, 200, "cloak.html", {
                "url": destination, "title": link.title or link.domain, "description": link.description,
            }, head, cookies, frame=True)
            return
        await self._redirect(send, self._status(link), destination, cookies, head, link.do_index)

    def _record(self, core, scope, link: Link, ip: str, ua: str, headers, qr: bool) -> str:
        return core.clicks.record(
            link, "", ip=ip, ua=ua, referer=text(headers.get(b"referer"), MAX_REFERER),
            country=self._country(scope, headers), qr=qr,
        )

    # -- passwords -------------------------------------------------------------------------

    def _cookie_name(self, link: Link) -> str:
        return f"dub_password_{link.id}"

    def _unlocked(self, core, link: Link, headers) -> bool:
        raw = headers.get(b"cookie")
        if not raw:
            return False
        name = self._cookie_name(link)
        for part in raw.decode("latin-1").split(";"):
            k, _, v = part.strip().partition("=")
            if k == name:
                data = core.signer.loads("link-unlock", v, max_age=UNLOCK_MAX_AGE)
                if (isinstance(data, list) and len(data) == 2 and data[0] == link.id
                        and data[1] == _unlock_fingerprint(link.password_hash or "")):
                    return True
        return False

    async def _check_password(self, send, core, link: Link, ip: str, qs: bytes, password: str,
                              head: bool) -> bool:
        """True if `password` opens the link; otherwise the 403 or 429 page has been sent.

        The attempt is reserved before scrypt is awaited, so concurrent guesses cannot all pass
        a check made before any of them failed; a right password gives its attempt back.
        """
        limiter = core.password_attempts
        key = attempt_key(link.id, ip)
        reservation: Reservation = await limiter.reserve(key)
        if not reservation.allowed:
            await self._password_page(send, link, qs, 429, "Too many attempts. Try again in a few minutes.", head,
                                      [(b"retry-after", str(reservation.retry_after).encode())])
            return False
        if not password or not await verify_password_async(password, link.password_hash):
            await self._password_page(send, link, qs, 403, "Incorrect password.", head)
            return False
        await limiter.release(key, reservation)
        return True

    async def _unlock_post(self, scope, receive, send, core, link: Link, ip: str, qs: bytes, head: bool) -> None:
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            if len(body) > MAX_FORM:
                await self._send(send, 413, [(b"content-type", b"text/plain")], b"Form too large\n", head)
                return
            if not message.get("more_body"):
                break
        form = dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace"))
        if not await self._check_password(send, core, link, ip, qs, form.get("password", ""), head):
            return
        token = core.signer.dumps("link-unlock", [link.id, _unlock_fingerprint(link.password_hash or "")])
        cookie = (f"{self._cookie_name(link)}={token}; Path={self._key_path(link)}; HttpOnly; SameSite=Lax"
                  + ("; Secure" if self.secure else ""))
        await self._redirect(send, 302, self._self_url(link, qs), [cookie.encode("latin-1")], head)

    def _key_path(self, link: Link) -> str:
        return "/" if link.key == "_root" else "/" + quote(link.key, safe="/-._~!$&'()*+,;=:@")

    def _self_url(self, link: Link, qs: bytes) -> str:
        """The short link's own path with the visitor's query minus `pw` (the form target)."""
        query = [(k, v) for k, v in parse_qsl(qs.decode("latin-1"), keep_blank_values=True) if k != "pw"] if qs else []
        return self._key_path(link) + ("?" + urlencode(query) if query else "")

    async def _password_page(self, send, link: Link, qs: bytes, status: int, error: str | None, head: bool,
                             extra_headers: list[tuple[bytes, bytes]] = ()) -> None:
        await self._page(send, status, "password.html", {"action": self._self_url(link, qs), "error": error}, head,
                         extra_headers=extra_headers)

    # -- responses -------------------------------------------------------------------------

    def _status(self, link: Link) -> int:
        if link.redirect_status:
            return link.redirect_status
        return 301 if link.key == "_root" else self.default_status

    def _dub_id_cookie(self, cid: str, domain: Domain) -> bytes:
        attributes = self._cookie_attributes.get(domain.cookie_domain)
        if attributes is None:
            text_ = f"; Path=/; Max-Age={DUB_ID_MAX_AGE}; SameSite=Lax"
            if self.secure:
                text_ += "; Secure"
            if domain.cookie_domain:
                text_ += f"; Domain={domain.cookie_domain}"
            attributes = self._cookie_attributes[domain.cookie_domain] = text_.encode("latin-1")
        return b"dub_id=" + cid.encode("ascii") + attributes

    async def _redirect(self, send, status: int, location: str | bytes, cookies: list[bytes], head: bool,
                        do_index: bool = False) -> None:
        if isinstance(location, str):
            location = location_bytes(location)
        headers = [(b"location", location), (b"content-length", b"0")]
        if not do_index:
            headers.append(_NOINDEX)
        for cookie in cookies:
            headers.append((b"set-cookie", cookie))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _not_found(self, send, domain: Domain | None, head: bool) -> None:
        if domain is not None and domain.not_found_url and http_url(domain.not_found_url):
            await self._redirect(send, 302, domain.not_found_url, [], head)
            return
        await self._page(send, 404, "notfound.html", {}, head)

    async def _og_page(self, send, link: Link, domain: Domain, head: bool) -> None:
        await self._page(send, 200, "og.html", {
            "title": link.title or link.domain, "description": link.description,
            "image": http_url(link.image), "video": http_url(link.video),
            "short_url": self.settings.short_url(link.domain, link.key),
        }, head, do_index=link.do_index)

    async def _page(self, send, status: int, template: str, context: dict, head: bool,
                    cookies: list[bytes] = (), *, frame: bool = False, do_index: bool = False,
                    extra_headers: list[tuple[bytes, bytes]] = ()) -> None:
        if context:
            body = render_text(template, context).encode("utf-8")
        else:
            body = self._page_cache.get(template)
            if body is None:
                body = self._page_cache[template] = render_text(template, {}).encode("utf-8")
        headers = [
            (b"content-type", _HTML),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            (b"referrer-policy", b"no-referrer-when-downgrade"),
        ]
        if not frame:
            headers.append((b"x-frame-options", b"DENY"))
        if not do_index:
            headers.append((b"x-robots-tag", b"noindex"))
        for cookie in cookies:
            headers.append((b"set-cookie", cookie))
        headers.extend(extra_headers)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else body})

    async def _send(self, send, status: int, headers: list, body: bytes, head: bool) -> None:
        headers = headers + [(b"content-length", str(len(body)).encode()), (b"x-robots-tag", b"noindex")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else body})

