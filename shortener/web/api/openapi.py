"""API route: the OpenAPI document (public, like the docs it feeds)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shortener.openapi import document_bytes

from ..common import api, core_of


def _servers(request: Request) -> tuple[tuple[str, str], ...]:
    settings = core_of(request).settings
    servers = [(f"{settings.scheme}://{settings.domain}/api", "The API under /api/ on the default short domain")]
    if settings.api_host:
        servers.append((f"{settings.scheme}://{settings.api_host}", "The dedicated API host"))
    return tuple(servers)


@api(public=True)
async def openapi_json(request: Request) -> Response:
    return Response(document_bytes(_servers(request)), media_type="application/json",
                    headers={"cache-control": "public, max-age=300", "access-control-allow-origin": "*"})


routes = [Route("/openapi.json", openapi_json, methods=["GET"])]
