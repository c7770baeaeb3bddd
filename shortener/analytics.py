"""Analytics: Dub's GET /analytics answers, and the time ranges GET /events shares with it.

Takes the request's query parameters as a plain mapping (no Starlette), so the API, the public
stats page, the CLI and the dashboard all ask the same questions of the same code:
`await core.analytics.retrieve({"event": "clicks", "groupBy": "countries", "interval": "7d"})`.

Time follows Dub's getStartEndDates: an explicit `start` (or `interval=all`, which starts when
the data does) runs to the end of `end`'s day (today without `end`) in the requested time zone,
with hourly buckets up to two days, monthly past 180 days, daily between; an `interval` runs up
to now with its own granularity. Timeseries buckets are the time zone's own hours, days or months
(a DST day has 23 or 25 hourly buckets), every bucket present, zeros included, each labelled
with the UTC instant it starts at.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shortener.errors import Unprocessable, echo
from shortener.eventfilters import Condition, parse_filters
from shortener.timeutil import iso, parse_iso, utcnow

TIME_PARAMS = ("interval", "start", "end", "timezone")
EVENTS = ("clicks", "leads", "sales", "composite")
INTERVALS = ("24h", "7d", "30d", "90d", "1y", "mtd", "qtd", "ytd", "all")
DEFAULT_INTERVAL = "24h"
DUB_FOUNDING = datetime(2022, 9, 22, tzinfo=timezone.utc)
GROUP_LIMIT = 5000
MAX_MONTHS = 1200

# groupBy -> store dimension (None: answered without one). Every value of the SDK's enum.
GROUP_BYS: dict[str, str | None] = {
    "count": None,
    "timeseries": None,
    "continents": "continent",
    "regions": "region",
    "countries": "country",
    "cities": "city",
    "devices": "device",
    "browsers": "browser",
    "os": "os",
    "trigger": "trigger",
    "triggers": "trigger",
    "event_names": "event_name",
    "referers": "referer",
    "referer_urls": "referer_url",
    "top_folders": "folder",
    "top_link_tags": "tag",
    "top_domains": "domain",
    "top_links": "link",
    "top_urls": "url",
    "top_base_urls": "base_url",
    "top_partners": None,
    "top_groups": None,
    "top_partner_tags": None,
    "utm_sources": "utm_source",
    "utm_mediums": "utm_medium",
    "utm_campaigns": "utm_campaign",
    "utm_terms": "utm_term",
    "utm_contents": "utm_content",
}
# Partners, groups and partner tags do not exist here: those lists are always empty.
_NO_SUCH_THING = ("top_partners", "top_groups", "top_partner_tags")

_INTERVAL_GRANULARITY = {"24h": "hour", "7d": "day", "30d": "day", "90d": "day", "1y": "month",
                         "mtd": "day", "qtd": "day", "ytd": "month", "all": "month"}
_INTERVAL_SPAN = {"24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30),
                  "90d": timedelta(days=90), "1y": timedelta(milliseconds=31556952000)}


def _enum(params: Mapping[str, str], name: str, allowed, default: str | None) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    if value not in allowed:
        expected = " | ".join(f"'{a}'" for a in allowed)
        raise Unprocessable(f"Invalid enum value. Expected {expected}, received '{echo(value)}'",
                            field=name, issue="invalid_enum_value")
    return value


def time_zone(name: str | None) -> ZoneInfo:
    """An IANA zone; 422 for anything else."""
    name = (name or "UTC").strip() or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Unprocessable(f"Invalid time zone '{echo(name)}': expected an IANA name such as America/New_York",
                            field="timezone", issue="invalid_string") from None


# A calendar day without a time: 2026-11-27 or 20261127.
_DAY = re.compile(r"\d{4}-?\d{2}-?\d{2}")


def _date(value: str | None, field: str, tz: ZoneInfo | None = None) -> datetime | None:
    """A `start` or `end`. A day without a time is that day's midnight in `tz` (read as UTC's, a
    range in New York started and ended five hours early)."""
    if value is None or value.strip() == "":
        return None
    if tz is not None and _DAY.fullmatch(value.strip()):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise Unprocessable("Invalid date", field=field, issue="invalid_date") from None
        if not 1970 <= day.year <= 9000:
            raise Unprocessable("Invalid date: years 1970 to 9000", field=field, issue="invalid_date")
        return _local_midnight(day, tz)
    try:
        dt = parse_iso(value)
    except (ValueError, OverflowError):
        raise Unprocessable("Invalid date", field=field, issue="invalid_date") from None
    if not 1970 <= dt.year <= 9000:  # also keeps every time zone's arithmetic in range
        raise Unprocessable("Invalid date: years 1970 to 9000", field=field, issue="invalid_date")
    return dt


def _local_midnight(d: date, tz: ZoneInfo) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(timezone.utc)


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


@dataclass(frozen=True)
class TimeRange:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    granularity: str  # hour | day | month
    tz: ZoneInfo

    def months(self) -> int:
        """How many calendar months (in the zone) the range touches (its end is exclusive)."""
        s, e = self.start.astimezone(self.tz), (self.end - timedelta(microseconds=1)).astimezone(self.tz)
        return (e.year - s.year) * 12 + e.month - s.month + 1

    def buckets(self) -> list[datetime]:
        """The UTC start of every bucket that overlaps [start, end), in order."""
        local = self.start.astimezone(self.tz)
        out: list[datetime] = []
        if self.granularity == "hour":
            t = local.replace(minute=0, second=0, microsecond=0).astimezone(timezone.utc)
            while t < self.end:
                out.append(t)
                t += timedelta(hours=1)  # absolute hours: a DST day has 23 or 25 of them
            return out
        d = local.date() if self.granularity == "day" else local.date().replace(day=1)
        step = (lambda x: x + timedelta(days=1)) if self.granularity == "day" else _next_month
        t = _local_midnight(d, self.tz)
        while t < self.end:
            out.append(t)
            d = step(d)
            t = _local_midnight(d, self.tz)
        return out


def resolve_range(params: Mapping[str, str], *, data_from: datetime | None = None,
                  now: datetime | None = None) -> TimeRange:
    """Dub's start, end and granularity for `interval` / `start` / `end` / `timezone`."""
    tz = time_zone(params.get("timezone"))
    interval = _enum(params, "interval", INTERVALS, None)
    start = _date(params.get("start"), "start", tz)
    end = _date(params.get("end"), "end", tz)
    now = now or utcnow()
    if start is not None or (start is None and end is None and interval == "all"):
        start = start or data_from or DUB_FOUNDING
        # To the end of `end`'s day (or today's) in the zone.
        end_local = (end or now).astimezone(tz)
        end = _local_midnight(end_local.date() + timedelta(days=1), tz)
        if start > end:
            start, end = end, start
        s_local, e_local = start.astimezone(tz), end.astimezone(tz)
        days = (e_local.date() - s_local.date()).days
        if e_local.time() < s_local.time():
            days -= 1
        granularity = "hour" if days <= 2 else "month" if days > 180 else "day"
        return TimeRange(start, end, granularity, tz)
    interval = interval or DEFAULT_INTERVAL
    local_now = now.astimezone(tz)
    if interval in _INTERVAL_SPAN:
        start = now - _INTERVAL_SPAN[interval]
    elif interval == "mtd":
        start = _local_midnight(local_now.date().replace(day=1), tz)
    elif interval == "qtd":
        start = _local_midnight(date(local_now.year, (local_now.month - 1) // 3 * 3 + 1, 1), tz)
    elif interval == "ytd":
        start = _local_midnight(date(local_now.year, 1, 1), tz)
    else:  # "all" with an explicit end only
        start = data_from or DUB_FOUNDING
    return TimeRange(start, end or now, _INTERVAL_GRANULARITY[interval], tz)


def _figures(event: str, parts: dict[str, tuple[int, int]]) -> dict[str, int]:
    """Dub's four figures; those the event does not count are 0."""
    clicks = parts.get("clicks", (0, 0))[0]
    leads = parts.get("leads", (0, 0))[0]
    sales, amount = parts.get("sales", (0, 0))
    return {"clicks": clicks, "leads": leads, "sales": sales, "saleAmount": amount}


def _sources(event: str) -> tuple[str, ...]:
    return ("clicks", "leads", "sales") if event == "composite" else (event,)


@dataclass(frozen=True)
class AnalyticsQuery:
    event: str
    group_by: str
    conditions: list[Condition]
    params: Mapping[str, str]


def parse_request(params: Mapping[str, str]) -> AnalyticsQuery:
    """Validate everything but the time range (which needs the store for `all`)."""
    event = _enum(params, "event", EVENTS, "clicks")
    group_by = _enum(params, "groupBy", tuple(GROUP_BYS), "count")
    _enum(params, "interval", INTERVALS, None)
    time_zone(params.get("timezone"))
    _date(params.get("start"), "start")
    _date(params.get("end"), "end")
    return AnalyticsQuery(event, group_by, parse_filters(params), params)  # type: ignore[arg-type]


class AnalyticsService:
    def __init__(self, core) -> None:
        self.core = core
        self.store = core.store

    async def data_start(self) -> datetime | None:
        at = await self.store.analytics_data_start()
        return parse_iso(at) if at else None

    async def time_range(self, params: Mapping[str, str]) -> TimeRange:
        needs_start = (params.get("interval") == "all" and not params.get("start"))
        return resolve_range(params, data_from=await self.data_start() if needs_start else None)

    async def conditions_with_link_ids(self, conditions: list[Condition]) -> list[Condition]:
        """`linkId=ext_<externalId>` names a link by its external id (decisions.md)."""
        out = []
        for c in conditions:
            if c.field == "link_id" and any(v.startswith("ext_") for v in c.values):
                external = [v[4:] for v in c.values if v.startswith("ext_")]
                rows = await self.store.get_links_by_external_ids(external)
                ids = [v for v in c.values if not v.startswith("ext_")] + [r["id"] for r in rows]
                c = Condition("link_id", tuple(ids) or ("",), c.exclude)
            out.append(c)
        return out

    async def retrieve(self, params: Mapping[str, str]) -> Any:
        """The body of GET /analytics for these query parameters."""
        query = parse_request(params)
        conditions = await self.conditions_with_link_ids(query.conditions)
        span = await self.time_range(params)
        event, group_by = query.event, query.group_by
        start, end = iso(span.start), iso(span.end)
        if group_by == "count":
            parts = {}
            for source in _sources(event):
                row = await self.store.event_totals(source, conditions, start, end)
                parts[source] = (row["n"], row["amount"])
            return _figures(event, parts)
        if group_by == "timeseries":
            return await self._timeseries(event, conditions, span)
        if group_by in _NO_SUCH_THING:
            return []
        return await self._grouped(event, group_by, conditions, start, end)

    async def _timeseries(self, event: str, conditions: list[Condition], span: TimeRange) -> list[dict]:
        # Only monthly buckets can be many (hourly and daily ones cover 180 days at most); each
        # costs the event loop tens of microseconds, so 1970 to 9000 (84,000 of them) held every
        # redirect up for seconds.
        if span.granularity == "month" and span.months() > MAX_MONTHS:
            raise Unprocessable(
                f"This range has {span.months():,} monthly buckets; a timeseries has at most {MAX_MONTHS:,} "
                f"({MAX_MONTHS // 12} years). Choose a later start or an earlier end.",
                field="start", issue="too_big")
        labels = span.buckets()
        if not labels:
            return []
        edges = [max(labels[0], span.start)] + labels[1:] + [span.end]
        bounds = [iso(t) for t in edges]
        per_source = {}
        for source in _sources(event):
            per_source[source] = await self.store.event_totals_per_bucket(source, conditions, bounds)
        out = []
        for i, label in enumerate(labels):
            figures = _figures(event, {s: v[i] for s, v in per_source.items()})
            out.append({"start": iso(label), **figures})
        return out

    async def _grouped(self, event: str, group_by: str, conditions: list[Condition], start: str | None,
                       end: str | None) -> list[dict]:
        dimension = GROUP_BYS[group_by]
        assert dimension is not None
        merged: dict[tuple, dict] = {}
        for source in _sources(event):
            rows = await self.store.event_totals_by(source, dimension, conditions, start, end,
                                                    order_by_amount=source == "sales", limit=GROUP_LIMIT)
            for row in rows:
                keys = tuple(v for k, v in row.items() if k not in ("n", "amount"))
                entry = merged.setdefault(keys, {"row": row, "parts": {}})
                entry["parts"][source] = (row["n"], row["amount"])
        items = [(entry["row"], _figures(event, entry["parts"])) for entry in merged.values()]
        sort_key = {"clicks": "clicks", "leads": "leads", "sales": "saleAmount", "composite": "clicks"}[event]
        items.sort(key=lambda item: (-item[1][sort_key], -item[1]["leads"], -item[1]["saleAmount"]))
        out = await self._shape(group_by, items)
        return out[:GROUP_LIMIT]

    async def _shape(self, group_by: str, items: list[tuple[dict, dict]]) -> list[dict]:
        shaped: list[dict] = []
        if group_by == "top_links":
            links = {r["id"]: r for r in await self.store.link_summaries([row["link_id"] for row, _ in items])}
            for row, figures in items:
                link = links.get(row["link_id"])
                if link is None:  # deleted since: Dub leaves it out too
                    continue
                shaped.append({
                    "link": link["id"], "id": link["id"], "domain": link["domain"], "key": link["key"],
                    "shortLink": self.core.settings.short_url(link["domain"], link["key"]), "url": link["url"],
                    "title": link["title"], "comments": link["comments"], "folderId": link["folder_id"],
                    "partnerId": link["partner_id"], "createdAt": link["created_at"], **figures,
                })
            return shaped
        if group_by == "top_link_tags":
            tags = {t["id"]: t for t in await self.store.tags_by_ids([row["tag_id"] for row, _ in items])}
            for row, figures in items:
                tag = tags.get(row["tag_id"])
                if tag is None:
                    continue
                shaped.append({"tagId": tag["id"], "tag": {"id": tag["id"], "name": tag["name"], "color": tag["color"]},
                               "url": tag["id"], **figures})
            return shaped
        for row, figures in items:
            if group_by == "continents":
                obj = {"continent": row["continent"]}
            elif group_by == "countries":
                obj = {"country": row["country"], "region": "*", "city": "*"}
            elif group_by == "regions":
                obj = {"country": row["country"], "region": f"{row['country']}-{row['region']}", "city": "*"}
            elif group_by == "cities":
                obj = {"country": row["country"], "region": f"{row['country']}-{row['region']}", "city": row["city"]}
            elif group_by in ("trigger", "triggers"):
                obj = {"trigger": row["trigger"]}
            elif group_by == "referer_urls":
                obj = {"refererUrl": row["referer_url"]}
            elif group_by == "event_names":
                obj = {"eventName": row["event_name"]}
            elif group_by == "top_folders":
                folder = await self.store.get_folder(row["folder_id"])
                if folder is None:  # deleted since (its links were moved out then)
                    continue
                obj = {"folderId": folder["id"], "folder": {"id": folder["id"], "name": folder["name"]},
                       "url": folder["id"]}
            elif group_by == "top_domains":
                obj = {"domain": row["domain"], "url": row["domain"]}
            elif group_by.startswith("utm_"):
                name = GROUP_BYS[group_by]
                obj = {name: row[name], "url": row[name]}
            else:  # devices, browsers, os, referers, top_urls, top_base_urls
                name = {"devices": "device", "browsers": "browser", "os": "os", "referers": "referer",
                        "top_urls": "url", "top_base_urls": "url"}[group_by]
                obj = {name: row[name]}
            shaped.append({**obj, **figures})
        return shaped


# -- the public stats page (/_/stats/{domain}/{key}) ------------------------------------------------

PUBLIC_INTERVALS = ("24h", "7d", "30d", "90d", "1y", "all")
PUBLIC_BREAKDOWNS = (("countries", "country", "Countries"), ("devices", "device", "Devices"),
                     ("browsers", "browser", "Browsers"), ("os", "os", "Operating systems"),
                     ("referers", "referer", "Referers"))
PUBLIC_TOP = 10


async def public_stats(service: AnalyticsService, domain: str, key: str, interval: str | None) -> dict | None:
    """Clicks of a `publicStats: true` link for its public page; None for any other link.

    Clicks only, no customer data and no destination (a password link's destination is secret).
    """
    row = await service.store.get_link_by_key(domain, key)
    if row is None or not row.get("public_stats"):
        return None
    interval = interval if interval in PUBLIC_INTERVALS else "30d"
    params = {"linkId": row["id"], "interval": interval}
    totals = await service.retrieve({**params, "groupBy": "count"})
    series = await service.retrieve({**params, "groupBy": "timeseries"})
    granularity = (await service.time_range(params)).granularity
    fmt = {"hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "month": "%Y-%m"}[granularity]
    points = [(parse_iso(s["start"]).strftime(fmt) + " UTC" * (granularity == "hour"), s["clicks"]) for s in series]
    breakdowns = []
    for group_by, field, title in PUBLIC_BREAKDOWNS:
        rows = await service.retrieve({**params, "groupBy": group_by})
        breakdowns.append((title, [(r[field], r["clicks"]) for r in rows[:PUBLIC_TOP]]))
    return {
        "short_link": service.core.settings.short_url(row["domain"], row["key"]),
        "interval": interval,
        "intervals": PUBLIC_INTERVALS,
        "clicks": totals["clicks"],
        "points": points,
        "breakdowns": breakdowns,
    }
