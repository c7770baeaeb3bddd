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
import logging
import sys
import time
from urllib.parse import quote, unquote_plus

from starlette.requests import Request
from starlette.responses import Response

from shortener.metrics import CONTENT_TYPE, Metrics
from shortener.visitor import MAX_REFERER, MAX_UA, client_ip, text, truncate_ip

ACCESS_LOGGER = "shortener.access"
# Query parameters whose values never reach the log.
SECRET_PARAMS = frozenset(("pw", "password", "token", "access_token", "api_key", "apikey", "key_secret",
                           "secret", "signature", "sig"))
REDACTED = "REDACTED"


def access_logger() -> logging.Logger:
    """The access logger, writing bare lines to stderr (set up once per process)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not getattr(logger, "_shortener_ready", False):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False  # one line per request, not another copy through the root logger
        logger._shortener_ready = True  # type: ignore[attr-defined]
    return logger


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
        self.format = settings.access_log
        self.log = access_logger() if self.format != "off" else None

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
            if self.log is not None:
                self.log.info(self.line(scope, kind, status, elapsed))

    def line(self, scope, kind: str, status: int, elapsed: float) -> str:
        headers = dict(scope["headers"])
        ip = truncate_ip(client_ip(scope, headers, self.trusted)) or "-"
        path = _path(scope)
        query = redact_query(scope.get("query_string", b""))
        ua = text(headers.get(b"user-agent"), MAX_UA)
        referer = _referer(text(headers.get(b"referer"), MAX_REFERER))
        ms = round(elapsed * 1000, 3)
        if self.format == "json":
            return json.dumps({
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "kind": kind,
                "method": scope["method"], "host": text(headers.get(b"host"), 255), "path": path,
                "query": query, "status": status, "ms": ms, "ip": ip, "ua": ua, "referer": referer,
            }, ensure_ascii=False, separators=(",", ":"))
        target = path + ("?" + query if query else "")
        return (f'{ip} "{scope["method"]} {target}" {status} {ms}ms {kind} '
                f'{json.dumps(referer or "-", ensure_ascii=False)} {json.dumps(ua or "-", ensure_ascii=False)}')


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
