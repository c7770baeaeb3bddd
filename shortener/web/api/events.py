"""API routes: GET /events?event=clicks|leads|sales with Dub's filters and paging."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shortener.conversions import EVENT_KINDS, INTERVALS

from ..common import JSONResponse, api, core_of, query_int
from .customers import _choice


def _qr(request: Request) -> bool | None:
    raw = request.query_params.get("qr")
    if raw is None or raw == "":
        return None
    return _choice(request, "qr", ("true", "false"), "false") == "true"


@api(scope="analytics.read")
async def list_events(request: Request) -> Response:
    q = request.query_params
    kind = _choice(request, "event", EVENT_KINDS, "clicks")
    interval = _choice(request, "interval", INTERVALS, "24h") if q.get("interval") else None
    _choice(request, "sortBy", ("timestamp",), "timestamp")
    # sortOrder wins over the deprecated `order`
    if q.get("sortOrder"):
        order = _choice(request, "sortOrder", ("asc", "desc"), "desc")
    else:
        order = _choice(request, "order", ("asc", "desc"), "desc")
    external_id = q.get("externalId") or None
    if external_id and external_id.startswith("ext_"):
        external_id = external_id[4:]
    tag_ids = [t for t in (q.get("tagIds") or "").split(",") if t] + [t for t in [q.get("tagId")] if t]
    filters = {
        "link_id": q.get("linkId") or None,
        "domain": q.get("domain") or None,
        "key": q.get("key") or None,
        "link_external_id": external_id,
        "tenant_id": q.get("tenantId") or None,
        "tag_ids": tag_ids,
        "customer_id": q.get("customerId") or None,
        "country": q.get("country") or None,
        "device": q.get("device") or None,
        "browser": q.get("browser") or None,
        "os": q.get("os") or None,
        "referer": q.get("referer") or None,
        "referer_url": q.get("refererUrl") or None,
        "url": q.get("url") or None,
        "trigger": q.get("trigger") or None,
        "event_name": q.get("eventName") or None,
        "qr": _qr(request),
    }
    events = await core_of(request).conversions.list_events(
        kind, filters=filters, interval=interval, start=q.get("start") or None, end=q.get("end") or None,
        desc=order == "desc", page=query_int(request, "page", 1, lo=1, hi=1_000_000),
        limit=query_int(request, "limit", 100, lo=1, hi=1000),
    )
    return JSONResponse(events)


routes = [Route("/events", list_events, methods=["GET"])]
