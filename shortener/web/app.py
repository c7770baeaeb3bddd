"""The ASGI application: a thin dispatcher in front of Starlette.

Requests for short links never touch Starlette's routing (it costs ~45 % of the server's ceiling,
reference/performance-notes.md): the dispatcher sends every path that is not the API, our own
`/_/` pages, `/robots.txt` or `/favicon.ico` straight to the pure-ASGI redirector.
"""
from __future__ import annotations

import contextlib
import logging
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from shortener import runlock
from shortener.config import Settings
from shortener.core import Core
from shortener.errors import ERROR_CODES
from shortener.metrics import Metrics

from . import dashboard, pages, stats
from .api import analytics, customers, domains, events, folders, links, openapi, qr, tags, track, track_click, webhooks
from .common import JSONResponse, core_of
from .errors import EXCEPTION_HANDLERS
from .observe import Observer, metrics_endpoint
from .redirect import Redirector
from .templating import STATIC_DIR, render

log = logging.getLogger("shortener")

API_MODULES = (links, tags, folders, domains, track, track_click, customers, events, analytics, webhooks, qr, openapi)

_ERROR_TEXT = {
    "bad_request": "The request is malformed: bad JSON, a bad Authorization header, or a missing required value.",
    "unauthorized": "No API key, or an unknown or revoked one.",
    "forbidden": "The key may not do this, or the value is reserved (for example a reserved key).",
    "not_found": "The link, tag, domain, customer or click does not exist.",
    "conflict": "The key, externalId or name is already taken.",
    "unprocessable_entity": "A field failed validation; the message names the field.",
    "rate_limit_exceeded": "Too many requests; retry later.",
    "internal_server_error": "A bug on our side; the server log has the details.",
    "service_unavailable": "The database cannot answer now (locked, disk full, or a query over its deadline); "
                           "nothing was changed. Retry after the Retry-After header's seconds.",
}


def api_routes() -> list:
    routes: list = []
    for module in API_MODULES:
        routes.extend(module.routes)
    return routes


async def health(request: Request) -> Response:
    core = core_of(request)
    version = await core.store.schema_version()
    return JSONResponse({"status": "ok", "schemaVersion": version})


async def robots(request: Request) -> Response:
    return PlainTextResponse("User-agent: *\nAllow: /\n")


async def favicon(request: Request) -> Response:
    return Response(status_code=204, headers={"cache-control": "public, max-age=86400"})


async def error_docs(request: Request) -> Response:
    codes = [(code, status, _ERROR_TEXT.get(code, "")) for code, status in ERROR_CODES.items()]
    return render("docs_errors.html", {"codes": codes})


class Dispatcher:
    def __init__(self, settings: Settings, inner: Starlette, redirector: Redirector) -> None:
        self.settings = settings
        self.inner = inner
        self.redirector = redirector
        self.api_host = settings.api_host.encode() if settings.api_host else None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if self.api_host is not None and not path.startswith(("/api/", "/_/")) and _host(scope) == self.api_host:
                # api.example.com/links behaves like /api/links (as api.dub.co does)
                scope = dict(scope, path="/api" + path, raw_path=b"/api" + scope.get("raw_path", path.encode()))
            elif not path.startswith(("/api/", "/_/")) and path not in ("/api", "/robots.txt", "/favicon.ico"):
                await self.redirector(scope, receive, send)
                return
            send = _with_retry_after(send)
            try:
                await self.inner(scope, receive, send)
            except Exception:
                # server_error has logged it and answered 500 (Starlette re-raises for servers
                # that log; ours is logged already)
                pass
            return
        await self.inner(scope, receive, send)

    def kind(self, scope) -> str:
        """What a request was, for metrics and the access log: api, page or redirect."""
        path: str = scope["path"]
        if path.startswith("/api/") or path == "/api":
            return "api"
        if path.startswith("/_/") or path in ("/robots.txt", "/favicon.ico"):
            return "page"
        if self.api_host is not None and _host(scope) == self.api_host:
            return "api"
        return "redirect"


# Every 429 says when to come back (RFC 6585), whichever endpoint or limiter produced it; one
# that knows better sets its own value. The redirector sets its own on the password limit.
DEFAULT_RETRY_AFTER = b"60"


def _with_retry_after(send):
    async def wrapped(message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 429:
            headers = list(message.get("headers", ()))
            if not any(name.lower() == b"retry-after" for name, _ in headers):
                headers.append((b"retry-after", DEFAULT_RETRY_AFTER))
                message = dict(message, headers=headers)
        await send(message)

    return wrapped


def _host(scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"host":
            return value.lower()
    return b""


def create_app(settings: Settings | None = None):
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict]:
        core = await Core.open(settings)
        server_lock = None
        try:
            server_lock = runlock.hold_for_server(core.store.path)
            await core.start()
            if metrics is not None:
                metrics.core = core
            if settings.access_log != "off":
                # ours replaces uvicorn's, which would print full client IPs and `?pw=` values
                logging.getLogger("uvicorn.access").disabled = True
            yield {"core": core}
        finally:
            if metrics is not None:
                metrics.core = None
            await core.close()
            runlock.release(server_lock)

    metrics = Metrics() if settings.metrics_token else None
    api_app = Starlette(routes=api_routes(), exception_handlers=EXCEPTION_HANDLERS)
    own = [
        *([Route("/metrics", metrics_endpoint(metrics, settings.metrics_token))] if metrics else []),
        Route("/health", health),
        Route("/docs/errors", error_docs),
        Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"),
        *pages.routes,
        *dashboard.routes,
        *stats.routes,
    ]
    inner = Starlette(
        routes=[
            Mount("/api", app=api_app),
            Mount("/_", routes=own),
            Route("/robots.txt", robots),
            Route("/favicon.ico", favicon),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    dispatcher = Dispatcher(settings, inner, Redirector(settings))
    if metrics is None and settings.access_log == "off":
        return dispatcher
    return Observer(dispatcher, dispatcher.kind, settings, metrics)
