"""The public stats page of a `publicStats: true` link: /_/stats/{domain}/{key}.

Read-only, no API key, server-rendered (charts are SVG from shortener/charts.py, no script), from
the same queries as GET /api/analytics. Every other link, and any unknown one, is a 404.
"""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shortener.analytics import public_stats
from shortener.charts import bar_chart, timeseries_chart

from .common import core_of
from .templating import render

# Nothing but our stylesheet may load; the page has no script at all.
_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "x-robots-tag": "noindex",
    "cache-control": "public, max-age=60",
    "referrer-policy": "no-referrer",
}


async def link_stats(request: Request) -> Response:
    domain, key = request.path_params["domain"], request.path_params["key"].strip("/")
    stats = await public_stats(core_of(request).analytics, domain, key or "_root", request.query_params.get("interval"))
    if stats is None:
        return render("notfound.html", {}, status_code=404, headers={"x-robots-tag": "noindex"})
    context = {
        **stats,
        "base": f"/_/stats/{domain}/{key}",
        "timeseries": timeseries_chart(stats["points"], label="Clicks"),
        "charts": [(title, bar_chart(rows, label=title)) for title, rows in stats["breakdowns"]],
    }
    return render("stats.html", context, headers=_HEADERS)


routes: list = [Route("/stats/{domain}/{key:path}", link_stats, methods=["GET", "HEAD"])]
