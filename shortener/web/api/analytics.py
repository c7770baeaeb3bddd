"""API route: GET /analytics, Dub's analytics (shortener/analytics.py answers)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..common import JSONResponse, api, core_of


@api(scope="analytics.read")
async def retrieve_analytics(request: Request) -> Response:
    return JSONResponse(await core_of(request).analytics.retrieve(request.query_params))


routes = [Route("/analytics", retrieve_analytics, methods=["GET"])]
