"""Analytics pages: the workspace's and one link's clicks, leads and sales over time, with
breakdowns whose rows add a filter when clicked. Every figure comes from the same service as
GET /api/analytics (shortener/analytics.py), asked with the same query parameters.

The time zone is the browser's: static/dashboard.js keeps it in the `shortener_tz` cookie (and
reloads once when it first learns it); an explicit `timezone` parameter wins.
"""
from __future__ import annotations

from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from shortener.analytics import INTERVALS, time_zone
from shortener.charts import timeseries_chart
from shortener.errors import ApiError
from shortener.timeutil import parse_iso

from ..common import core_of
from ..templating import render
from .session import context, page

TZ_COOKIE = "shortener_tz"
# The filters a row can add, in the order the chips show them; each is a GET /analytics parameter.
FILTERS = ("linkId", "domain", "tagId", "country", "city", "device", "browser", "os", "referer",
           "utm_source", "utm_medium", "utm_campaign", "qr")
INTERVAL_LABELS = {"24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days", "90d": "Last 90 days",
                   "1y": "Last year", "mtd": "Month to date", "qtd": "Quarter to date", "ytd": "Year to date",
                   "all": "All time"}
# (title, groupBy, the row's value field, the filter a click on the row adds)
BREAKDOWNS = (
    ("Top links", "top_links", "shortLink", "linkId"),
    ("Countries", "countries", "country", "country"),
    ("Cities", "cities", "city", "city"),
    ("Devices", "devices", "device", "device"),
    ("Browsers", "browsers", "browser", "browser"),
    ("Operating systems", "os", "os", "os"),
    ("Referers", "referers", "referer", "referer"),
    ("UTM sources", "utm_sources", "utm_source", "utm_source"),
    ("UTM mediums", "utm_mediums", "utm_medium", "utm_medium"),
    ("UTM campaigns", "utm_campaigns", "utm_campaign", "utm_campaign"),
)
ROWS = 10
# What the over-time chart can show (`chart` parameter): each is a field of a composite bucket.
METRICS = {"clicks": "Clicks", "leads": "Leads", "sales": "Sales", "saleAmount": "Revenue"}


def filterable(value) -> bool:
    """A breakdown row's value can be asked for as a filter: Dub's syntax has no escape, so a
    comma would split it and a leading `-` would exclude it (the link showed other figures)."""
    return isinstance(value, str) and value != "" and "," not in value and not value.startswith("-")


def _zone(request: Request) -> str:
    for candidate in (request.query_params.get("timezone"), request.cookies.get(TZ_COOKIE)):
        if candidate:
            try:
                time_zone(candidate)
                return candidate
            except ApiError:
                continue
    return "UTC"


def _points(series: list[dict], zone: str, metric: str = "clicks") -> list[tuple[str, float]]:
    """(bucket label in the browser's zone, the metric's value) for shortener/charts.py;
    revenue in currency units, as the totals show it, not cents."""
    tz = ZoneInfo(zone)
    hourly = len(series) > 1 and (parse_iso(series[1]["start"]) - parse_iso(series[0]["start"])).total_seconds() <= 3600
    fmt = "%Y-%m-%d %H:%M" if hourly else "%Y-%m-%d"

    def value(p: dict) -> float:
        return (p.get(metric) or 0) / 100 if metric == "saleAmount" else p.get(metric) or 0

    return [(parse_iso(p["start"]).astimezone(tz).strftime(fmt), value(p)) for p in series]


async def _analytics_page(request: Request, *, link: dict | None) -> Response:
    core = core_of(request)
    q = request.query_params
    interval = q.get("interval") if q.get("interval") in INTERVALS else "30d"
    metric = q.get("chart") if q.get("chart") in METRICS else "clicks"
    zone = _zone(request)
    filters = {name: q.get(name, "").strip()[:500] for name in FILTERS if q.get(name, "").strip()}
    if link is not None:
        filters["linkId"] = link["id"]
    params = {"interval": interval, "timezone": zone, **filters}
    error = None
    try:
        totals = await core.analytics.retrieve({**params, "event": "composite", "groupBy": "count"})
        series = await core.analytics.retrieve({**params, "event": "composite", "groupBy": "timeseries"})
        breakdowns = []
        for title, group_by, field, adds in BREAKDOWNS:
            if link is not None and group_by == "top_links":
                continue
            rows = await core.analytics.retrieve({**params, "event": "composite", "groupBy": group_by})
            breakdowns.append({"title": title, "field": field, "adds": adds, "rows": rows[:ROWS],
                               "more": max(len(rows) - ROWS, 0)})
    except ApiError as exc:  # a malformed filter in the URL: say so, show nothing
        error = exc.message
        totals, series, breakdowns = {"clicks": 0, "leads": 0, "sales": 0, "saleAmount": 0}, [], []
    base = f"/_/links/{link['id']}/analytics" if link else "/_/analytics"
    shown = {k: v for k, v in filters.items() if not (link is not None and k == "linkId")}

    def url_with(**changes) -> str:
        merged = {"interval": interval, **shown, "chart": "" if metric == "clicks" else metric, **changes}
        if q.get("timezone"):
            merged.setdefault("timezone", q["timezone"])
        return base + "?" + urlencode({k: v for k, v in merged.items() if v})

    return render("dashboard/analytics.html", context(
        request, link=link, totals=totals, chart=timeseries_chart(_points(series, zone, metric), label=METRICS[metric]),
        metric=metric, metrics=METRICS, breakdowns=breakdowns,
        interval=interval, intervals=INTERVAL_LABELS, zone=zone, filters=shown, url_with=url_with, error=error,
        filterable=filterable,
        events_url="/_/events?" + urlencode({"event": "clicks", "interval": interval, **filters}),
    ), status_code=422 if error else 200)


@page
async def workspace(request: Request, form) -> Response:
    return await _analytics_page(request, link=None)


@page
async def link_analytics(request: Request, form) -> Response:
    link = await core_of(request).links.get(request.path_params["id"])
    return await _analytics_page(request, link=link)
