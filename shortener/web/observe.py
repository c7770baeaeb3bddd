"""Request metrics, the access log and the `/_/metrics` endpoint.

`Observer` wraps the whole app only when metrics or the access log are on, so with both off
(the default) the redirect path runs exactly as without this module. When on, each request
costs a wrapped `send`, two clock reads and a dict increment (README gives the measured cost).

The access log holds no secrets: never a header other than Host, User-Agent and Referer (so no
Authorization or cookies), query values of `pw` and other credential-like names replaced, the
referer without its query, and the client address truncated as stored clicks are (IPv4 /24,
IPv6 /48).
"""
from __future__ import annotations

import hmac
import json
import sys
import time
from urllib.parse import quote, unquote_plus

from starlette.requests import Request
from starlette.responses import Response

from shortener.metrics import CONTENT_TYPE, Metrics
from shortener.visitor import MAX_REFERER, MAX_UA, client_ip, text, truncate_ip

# Query parameters whose values never reach the log.
SECRET_PARAMS = frozenset(("pw", "password", "token", "access_token", "api_key", "apikey", "key_secret",
                           "secret", "signature", "sig"))
REDACTED = "REDACTED"
# JSON string escaping (the C implementation json.dumps uses): one call per field is several
# times cheaper than json.dumps of a dict, which builds an encoder per call.
_quote = json.encoder.encode_basestring
_second: tuple[int, str] = (-1, "")


def _now() -> str:
    global _second
    sec = int(time.time())
    if sec != _second[0]:
        _second = (sec, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sec)))
    return _second[1]


def redact_query(qs: bytes) -> str:
    """The raw query string with the values of credential-like parameters replaced."""
    if not qs:
        return ""
    raw = qs.decode("latin-1")
    parts = raw.split("&")
    changed = False
    for i, part in enumerate(parts):
        name = part.partition("=")[0]
        # compared decoded: `p%77=` is `pw=` to the redirect
        if unquote_plus(name).lower() in SECRET_PARAMS:
            parts[i] = f"{name}={REDACTED}"
            changed = True
    return "&".join(parts) if changed else raw


def _path(scope) -> str:
    raw = scope.get("raw_path")
    if raw:
        return raw.decode("latin-1")  # as sent: percent-escapes (and any %0A) stay escaped
    return quote(scope["path"])


def _referer(value: str) -> str:
    return value.split("?", 1)[0].split("#", 1)[0]


class Observer:
    def __init__(self, app, kind_of, settings, metrics: Metrics | None) -> None:
        self.app = app
        self.kind_of = kind_of
        self.metrics = metrics
        self.stats = metrics.stats if metrics is not None else None
        self.trusted = tuple(settings.trusted_proxies)
        self.forwarded_header = settings.forwarded_header.encode("latin-1")
        self.format = settings.access_log
        self.log = self.format != "off"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def observed_send(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            elapsed = time.perf_counter() - started
            kind = self.kind_of(scope)
            if status == 0:
                status = 500  # failed before answering; the server answers 500
            if self.stats is not None:
                self.stats.observe(kind, status, elapsed)
            if self.log:
                self.write(self.line(scope, kind, status, elapsed))

    def line(self, scope, kind: str, status: int, elapsed: float) -> str:
        headers = dict(scope["headers"])
        ip = truncate_ip(client_ip(scope, headers, self.trusted, self.forwarded_header)) or "-"
        path = _path(scope)
        query = redact_query(scope.get("query_string", b""))
        ua = text(headers.get(b"user-agent"), MAX_UA)
        referer = _referer(text(headers.get(b"referer"), MAX_REFERER))
        ms = round(elapsed * 1000, 3)
        if self.format == "json":
            return (f'{{"time":"{_now()}","kind":"{kind}","method":{_quote(scope["method"])},'
                    f'"host":{_quote(text(headers.get(b"host"), 255))},"path":{_quote(path)},'
                    f'"query":{_quote(query)},"status":{status},"ms":{ms},"ip":"{ip}","ua":{_quote(ua)},'
                    f'"referer":{_quote(referer)}}}')
        target = path + ("?" + query if query else "")
        return f'{ip} "{scope["method"]} {target}" {status} {ms}ms {kind} {_quote(referer or "-")} {_quote(ua or "-")}'

    def write(self, line: str) -> None:
        # Straight to stderr (line-buffered: one write per request), not through `logging`,
        # whose record, lock and formatter cost more than the line itself.
        sys.stderr.write(line + "\n")


def metrics_endpoint(metrics: Metrics, token: str):
    """`GET /_/metrics` with `Authorization: Bearer <token>` (a constant-time compare)."""
    expected = f"Bearer {token}".encode()

    async def endpoint(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode("latin-1", "replace")
        if not hmac.compare_digest(given, expected):
            return Response("unauthorized\n", status_code=401, media_type="text/plain",
                            headers={"www-authenticate": 'Bearer realm="metrics"'})
        return Response(metrics.render(), media_type=CONTENT_TYPE, headers={"cache-control": "no-store"})

    return endpoint
