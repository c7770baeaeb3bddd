"""API routes: POST /track/lead and POST /track/sale (200 with Dub's bodies)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..common import JSONResponse, api, core_of, read_json


@api(scope="conversions.write")
async def track_lead(request: Request) -> Response:
    body = await read_json(request)
    return JSONResponse(await core_of(request).conversions.track_lead(body))


@api(scope="conversions.write")
async def track_sale(request: Request) -> Response:
    body = await read_json(request)
    return JSONResponse(await core_of(request).conversions.track_sale(body))


routes = [
    Route("/track/lead", track_lead, methods=["POST"]),
    Route("/track/sale", track_sale, methods=["POST"]),
]
