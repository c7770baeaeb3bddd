"""`shortener stats [LINK] [--interval 7d] [--by countries] [--json]`: the figures of GET /api/analytics
in the terminal, from the same service (shortener/analytics.py), with a text sparkline for time."""
from __future__ import annotations

import json
from typing import Any

from shortener.analytics import EVENTS, GROUP_BYS, INTERVALS
from shortener.errors import NotFound, Unprocessable

SPARKS = "▁▂▃▄▅▆▇█"
_FIGURES = ("clicks", "leads", "sales", "saleAmount")


def sparkline(values: list[float]) -> str:
    """One block per value, scaled to the largest; zero is the lowest block."""
    top = max(values, default=0) or 1
    return "".join(SPARKS[0] if v <= 0 else SPARKS[1 + min(6, round(v / top * 6))] for v in values)


def _columns(event: str) -> tuple[str, ...]:
    return {"clicks": ("clicks",), "leads": ("leads",), "sales": ("sales", "saleAmount")}.get(event, _FIGURES)


_LABEL_KEY = {"continents": "continent", "regions": "region", "countries": "country", "devices": "device",
              "browsers": "browser", "os": "os", "trigger": "trigger", "triggers": "trigger",
              "event_names": "eventName", "referers": "referer", "referer_urls": "refererUrl",
              "top_domains": "domain", "top_urls": "url", "top_base_urls": "url", "top_links": "shortLink",
              **{g: "utm_" + g[4:-1] for g in GROUP_BYS if g.startswith("utm_")}}


def _label(group_by: str, row: dict) -> str:
    if group_by == "timeseries":
        return row["start"][:16].replace("T", " ")
    if group_by == "top_link_tags":
        return row["tag"]["name"]
    if group_by == "top_folders":
        return row["folder"]["name"]
    if group_by == "cities":
        return f"{row['city']} ({row['region']})"
    return str(row.get(_LABEL_KEY.get(group_by, ""), ""))


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, r in enumerate(cells):
        first = r[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join([first, *rest]).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(column: str, value: Any) -> str:
    if column == "saleAmount":
        return f"{value / 100:,.2f}"
    return f"{int(value):,}"


async def _link_params(core, link: str | None) -> tuple[dict[str, str], str]:
    """The filter naming LINK (id, ext_<externalId>, domain/key or a short URL), and its label."""
    if not link:
        return {}, "all links"
    if link.startswith(("link_", "ext_")):
        row = await core.links.get(link)
        return {"linkId": row["id"]}, row["shortLink"]
    rest = link.split("://", 1)[-1]
    if "/" in rest:
        domain, _, key = rest.partition("/")
    else:  # a bare key, on the default domain
        domain, key = core.settings.domain, rest
    try:
        found = await core.links.info(domain=domain, key=key)
    except (NotFound, Unprocessable):
        raise NotFound(f"no link {link!r}") from None
    return {"linkId": found["id"]}, found["shortLink"]


def _period(args) -> str:
    zone = args.timezone.strip() or "UTC"
    return f"{'all time' if args.interval == 'all' else 'last ' + args.interval} ({zone})"


async def cmd_stats(core, args) -> int:
    filters, label = await _link_params(core, args.link)
    base = {**filters, "event": args.event, "interval": args.interval, "timezone": args.timezone}
    analytics = core.analytics
    columns = _columns(args.event)
    if args.by is None:
        count = await analytics.retrieve({**base, "groupBy": "count"})
        series = await analytics.retrieve({**base, "groupBy": "timeseries"})
        if args.json:
            print(json.dumps({"count": count, "timeseries": series}, indent=2))
            return 0
        print(f"{label}: {args.event}, {_period(args)}")
        print("  ".join(f"{c} {_fmt(c, count[c])}" for c in columns))
        print(sparkline([s[columns[0]] for s in series]))
        print(_table(("start", *columns), [(_label("timeseries", s), *(_fmt(c, s[c]) for c in columns))
                                           for s in series]))
        return 0
    rows = await analytics.retrieve({**base, "groupBy": args.by})
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    print(f"{label}: {args.event} by {args.by}, {_period(args)}")
    if args.by == "timeseries":
        print(sparkline([s[columns[0]] for s in rows]))
    print(_table((args.by, *columns), [(_label(args.by, r), *(_fmt(c, r[c]) for c in columns)) for r in rows]))
    return 0


def add_stats_commands(sub) -> None:
    """Register `shortener stats` (called once from shortener/cli.py build_parser)."""
    from shortener.cli import with_core  # imported late: shortener.cli imports this module

    p = sub.add_parser("stats", help="analytics of one link or all: totals and a sparkline, or a breakdown")
    p.add_argument("link", nargs="?", help="link id, ext_<externalId>, domain/key, short URL, or a key on the default domain "
                        "(all links if omitted)")
    p.add_argument("--interval", default="7d", choices=INTERVALS, help="time range (default 7d)")
    p.add_argument("--by", choices=[g for g in GROUP_BYS if g != "count"],
                   help="group by: countries, devices, browsers, os, referers, top_links, timeseries, ...")
    p.add_argument("--event", default="clicks", choices=EVENTS, help="what to count (default clicks)")
    p.add_argument("--timezone", default="UTC", help="IANA time zone of the buckets (default UTC)")
    p.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    p.set_defaults(func=with_core(cmd_stats))
