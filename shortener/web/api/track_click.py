"""API route: POST /track/click, client-side click tracking from a landing page (Dub's route).

Browsers call it cross-origin, so it answers CORS itself: only pages on a hostname in
SHORTENER_TRACK_ALLOWED_HOSTNAMES get `Access-Control-Allow-Origin` (their own origin, never `*`),
and a request from any other page is refused with 403 before anything is recorded.

Two ways in, as in Dub:
- keyless, as Dub's unmodified @dub/analytics script calls it (Content-Type only; Dub knows the
  workspace from the short domain): the calling page must be allowed (above) and the body's
  `domain` must be one of ours (else 404, as for an unknown link);
- with a publishable key (`Authorization: Bearer dub_pk_...`, which can do nothing else): the key
  is checked first (400/401), then the calling page, as Dub's withPublishableKey routes do.
"""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shortener.errors import ApiError, Forbidden
from shortener.services.clicktrack import hostname_allowed, origin_hostname
from shortener.visitor import MAX_REFERER, MAX_UA, _peer_is_trusted, client_ip, country, text

from ..common import JSONResponse, api, core_of, read_json

_METHODS = "POST, OPTIONS"
_HEADERS = "Content-Type, Authorization"


def _cors(request: Request) -> dict[str, str] | None:
    """The CORS headers for an allowed calling page, or None when the page is not allowed."""
    settings = core_of(request).settings
    host = origin_hostname(request.headers.get("origin"), request.headers.get("referer"))
    if not hostname_allowed(host, settings.track_allowed_hostnames):
        return None
    headers = {"vary": "Origin", "access-control-allow-methods": _METHODS,
               "access-control-allow-headers": _HEADERS, "access-control-max-age": "600"}
    origin = request.headers.get("origin")
    if origin:
        headers["access-control-allow-origin"] = origin
    return headers


def _country(request: Request, headers: dict) -> str | None:
    """The country header under the redirect's rule: believed only from a trusted proxy, unless a
    CDN in front sets it on every request (SHORTENER_COUNTRY_HEADER_FROM_CDN)."""
    settings = core_of(request).settings
    raw = headers.get(settings.country_header.encode("latin-1"))
    if raw is None:
        return None
    if not settings.country_header_from_cdn:
        client = request.scope.get("client")
        trusted = tuple(settings.trusted_proxies)
        if not trusted or not client or not _peer_is_trusted(client[0], trusted):
            return None
    return country(raw)


def _refused(request: Request) -> Forbidden:
    host = origin_hostname(request.headers.get("origin"), request.headers.get("referer"))
    return Forbidden(f"Request origin '{host}' is not included in the allowed hostnames "
                     "(SHORTENER_TRACK_ALLOWED_HOSTNAMES).", headers={"vary": "Origin"})


@api(public=True)
async def track_click_preflight(request: Request) -> Response:
    cors = _cors(request)
    if cors is None:
        raise _refused(request)
    return Response(status_code=204, headers=cors)


@api(public=True)
async def track_click(request: Request) -> Response:
    cors = _cors(request)
    core = core_of(request)
    try:
        authorization = request.headers.get("authorization")
        if authorization is not None and authorization.strip():
            # The key first, as Dub's withPublishableKey does; then the calling page.
            await core.api_keys.authenticate_publishable(authorization)
        if cors is None:
            raise _refused(request)
        body = await read_json(request)
        headers = dict(request.scope["headers"])
        result = core.click_track.track(
            body,
            ip=client_ip(request.scope, headers, tuple(core.settings.trusted_proxies),
                         core.settings.forwarded_header.encode("latin-1")),
            ua=text(headers.get(b"user-agent"), MAX_UA),
            referer=text(headers.get(b"referer"), MAX_REFERER),
            country=_country(request, headers),
        )
    except ApiError as exc:
        if cors is not None:
            exc.headers = {**exc.headers, **cors}  # so the page's script can read why
        raise
    return JSONResponse(result, headers=cors)


routes = [
    Route("/track/click", track_click, methods=["POST"]),
    Route("/track/click", track_click_preflight, methods=["OPTIONS"]),
]
