"""Customers (search, one customer's events) and the events list."""
from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from shortener.conversions import EVENT_KINDS, INTERVALS

from ..common import core_of
from ..templating import render
from .analytics import INTERVAL_LABELS
from .links import _page_number
from .session import context, page

PAGE_SIZE = 50
EVENT_FILTERS = ("linkId", "customerId", "country", "device", "browser", "os", "referer", "eventName")


@page
async def list_customers(request: Request, form) -> Response:
    q = request.query_params
    search = (q.get("q") or "").strip()[:200]
    number = _page_number(q.get("page"))
    customers = await core_of(request).conversions.list_customers(
        filters={"search": search or None}, sort_by="createdAt", desc=True, page=number, page_size=PAGE_SIZE,
        starting_after=None, ending_before=None, expanded=True,
    )
    return render("dashboard/customers.html", context(
        request, customers=customers, search=search, page=number, more=len(customers) == PAGE_SIZE,
        page_url=lambda n: "/_/customers?" + urlencode({k: v for k, v in {"q": search, "page": n}.items() if v}),
    ))


@page
async def show_customer(request: Request, form) -> Response:
    conversions = core_of(request).conversions
    customer = await conversions.get_customer(request.path_params["id"], expanded=True)
    events = []
    for kind in ("leads", "sales"):
        events += await conversions.list_events(kind, params={"customerId": customer["id"], "interval": "all"},
                                                desc=True, page=1, limit=200)
    events.sort(key=lambda e: e["timestamp"], reverse=True)
    return render("dashboard/customer.html", context(request, customer=customer, events=events))


@page
async def list_events(request: Request, form) -> Response:
    q = request.query_params
    kind = q.get("event") if q.get("event") in EVENT_KINDS else "leads"
    interval = q.get("interval") if q.get("interval") in INTERVALS else "30d"
    chosen = {name: (q.get(name) or "").strip()[:200] for name in EVENT_FILTERS}
    # The API's parameters, parsed by the API's code (lists and `-` exclusions included).
    params = {**{name: value for name, value in chosen.items() if value}, "interval": interval}
    number = _page_number(q.get("page"))
    events = await core_of(request).conversions.list_events(
        kind, params=params, desc=True, page=number, limit=PAGE_SIZE,
    )
    state = {"event": kind, "interval": interval, **chosen}

    def url_with(**changes) -> str:
        params = {k: v for k, v in {**state, "page": number, **changes}.items() if v not in ("", None, 1)}
        return "/_/events?" + urlencode(params)

    return render("dashboard/events.html", context(
        request, events=events, state=state, kinds=EVENT_KINDS, intervals=INTERVALS, interval_labels=INTERVAL_LABELS, page=number,
        more=len(events) == PAGE_SIZE, url_with=url_with, filter_url=lambda **kw: url_with(page=1, **kw),
        active={k: v for k, v in chosen.items() if v},
    ))
