"""API routes: GET /events?event=clicks|leads|sales with Dub's filters and paging.

The filters and the time range are parsed by the same code as GET /analytics
(shortener/eventfilters.py, shortener/analytics.py), so the two endpoints cannot disagree.
"""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shortener.analytics import parse_request
from shortener.conversions import EVENT_KINDS

from ..common import JSONResponse, api, core_of, query_int
from .customers import _choice


@api(scope="analytics.read")
async def list_events(request: Request) -> Response:
    q = request.query_params
    kind = _choice(request, "event", EVENT_KINDS, "clicks")
    parse_request({k: v for k, v in q.items() if k not in ("event", "groupBy")})  # 422 before any read
    _choice(request, "sortBy", ("timestamp",), "timestamp")
    # sortOrder wins over the deprecated `order`
    if q.get("sortOrder"):
        order = _choice(request, "sortOrder", ("asc", "desc"), "desc")
    else:
        order = _choice(request, "order", ("asc", "desc"), "desc")
    events = await core_of(request).conversions.list_events(
        kind, params=q, desc=order == "desc", page=query_int(request, "page", 1, lo=1, hi=1_000_000),
        limit=query_int(request, "limit", 100, lo=1, hi=1000),
    )
    return JSONResponse(events)


routes = [Route("/events", list_events, methods=["GET"])]
