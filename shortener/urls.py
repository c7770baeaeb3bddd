"""Destination URLs: validation, the scheme allow-list, and UTM parameters. Pure functions, no IO.

Dub accepts anything `new URL()` parses, `javascript:` included (reference/dub-behaviour.md 3.2).
We accept http(s) and a fixed list of app deep-link schemes, and refuse everything else; in
particular `javascript:`, `data:`, `vbscript:`, `file:` and `blob:` can never become a destination.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from shortener.errors import Unprocessable

MAX_URL = 32000

WEB_SCHEMES = frozenset({"http", "https"})

# App deep links a marketer can reasonably point a short link at. Each opens an installed app or
# the OS's own handler; none can run script in the page that follows the redirect.
APP_SCHEMES = frozenset({
    "mailto", "tel", "sms", "facetime", "facetime-audio",   # OS handlers
    "itms-apps", "market",                                   # App Store, Google Play
    "whatsapp", "tg", "viber", "signal", "xmpp", "skype",    # messaging
    "fb", "instagram", "twitter", "youtube", "spotify",      # social and media apps
    "zoommtg", "msteams", "slack",                           # meetings and work chat
    "geo", "maps",                                           # map apps
})

ALLOWED_SCHEMES = WEB_SCHEMES | APP_SCHEMES

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "ref")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST = re.compile(r"^[^\s/?#@\\:]+$")


def _invalid(field: str, message: str = "Invalid destination URL") -> Unprocessable:
    return Unprocessable(message, field=field, issue="invalid_url")


def normalise_url(value: object, *, field: str = "url", web_only: bool = False) -> str:
    """Return the URL to store, or raise 422 naming `field`.

    A scheme-less value with a dot and no space gets `https://` (Dub's getUrlFromString).
    `web_only` restricts to http(s) (images, videos, fallback pages shown in a browser).
    """
    if not isinstance(value, str):
        raise Unprocessable(f"Expected string, received {type(value).__name__}.", field=field, issue="invalid_type")
    url = value.strip()
    if len(url) > MAX_URL:
        raise Unprocessable(f"Too big: expected string to have <={MAX_URL} characters", field=field, issue="too_big")
    if not url or _CONTROL.search(url):
        raise _invalid(field)
    match = _SCHEME.match(url)
    if match is None or (match.group(1).lower() not in ALLOWED_SCHEMES and "." in match.group(1)):
        # No scheme (or "example.com:8080/x", whose "scheme" has a dot): a bare host.
        if "." not in url or " " in url:
            raise _invalid(field)
        url = "https://" + url
        match = _SCHEME.match(url)
    assert match is not None
    scheme = match.group(1).lower()
    allowed = WEB_SCHEMES if web_only else ALLOWED_SCHEMES
    if scheme not in allowed:
        raise _invalid(field, f"Invalid destination URL: the {scheme}: scheme is not allowed")
    url = scheme + url[len(scheme):]
    if scheme in WEB_SCHEMES:
        try:
            parts = urlsplit(url)
            parts.port  # raises ValueError on a bad port
        except ValueError:
            raise _invalid(field) from None
        host = parts.hostname or ""
        if not url[len(scheme) + 1:].startswith("//") or not host or not _HOST.match(host):
            raise _invalid(field)
        if "\\" in parts.netloc:
            raise _invalid(field)
    elif len(url) == len(scheme) + 1:
        raise _invalid(field)  # "mailto:" with nothing after it
    # Browsers send a space in a path or query as %20; do the same rather than refuse a pasted URL.
    return url.replace(" ", "%20")


def set_query_params(url: str, params: dict[str, str | None]) -> str:
    """URLSearchParams.set for each item (in place, later duplicates dropped); a falsy value deletes.

    Like Dub, any change re-serialises the whole query as form data.
    """
    if not params:
        return url
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    for name, value in params.items():
        if not value:
            pairs = [(k, v) for k, v in pairs if k != name]
            continue
        out, done = [], False
        for k, v in pairs:
            if k == name:
                if not done:
                    out.append((k, value))
                    done = True
                continue
            out.append((k, v))
        if not done:
            out.append((name, value))
        pairs = out
    query = urlencode(pairs)
    path = parts.path
    if parts.scheme in WEB_SCHEMES and not path:
        path = "/"  # WHATWG serialisation: a host-only URL gains a trailing slash
    return urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))


def utm_params(url: str) -> dict[str, str | None]:
    """The UTM fields (and `ref`) as they appear in the URL's query: the values we store and return."""
    try:
        pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    except ValueError:
        pairs = []
    found: dict[str, str | None] = {name: None for name in UTM_FIELDS}
    for k, v in pairs:
        if k in found and found[k] is None and v:
            found[k] = v
    return found
