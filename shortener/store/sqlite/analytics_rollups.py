"""Analytics answered from the rollups (rollups.py) where they hold the answer, raw rows elsewhere.

A query can use the rollups when every condition is about the link (link id, domain, key, tags,
folder, UTM, external and tenant ids, root, and the fields no link has); any click or event
field (country, device, customer, metadata, qr ...) needs the rows, and the whole query stays on
the raw path. A time range [s, e) is cut into whole UTC months (level 'm'), days ('d') and hours
('h') around them (where the family has hours for that dimension, else raw) and the sub-hour
edges, read from the raw rows with the same compiler as the raw path. Counts and amounts add up,
so the parts are summed here by group key; values are decoded with the raw queries' COALESCEs,
so the answers are the raw path's, to the row (tests/test_rollups.py compares them).

Families: no condition and a click-side dimension -> the workspace rows (link_id ''); otherwise
the per-link rows, joined to links where a condition or the dimension needs the link, and then
read link by link from `links` (an index seek per link instead of a scan of every link's rows).
"""
from __future__ import annotations

import calendar
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from shortener.eventfilters import Condition
from shortener.timeutil import iso, parse_iso

# Conditions the per-link rows can answer.
LINK_LEVEL_FIELDS = frozenset({
    "link_id", "domain", "key", "external_id", "tenant_id", "tag_id", "folder_id", "program_id", "partner_id",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "root", "group_id", "partner_tag_id",
})

# dimension -> (workspace rollup dim or None, per-link rollup dim)
_ROLLUP_DIM: dict[str | None, tuple[str | None, str]] = {
    None: ("total", "hit"),
    "country": ("geo", "geo"), "continent": ("geo", "geo"), "region": ("geo", "geo"), "city": ("geo", "geo"),
    "device": ("ua", "ua"), "browser": ("ua", "ua"), "os": ("ua", "ua"),
    "referer": ("ref", "ref"), "referer_url": ("ref", "ref"),
    "trigger": ("trigger", "hit"),
    "event_name": ("event_name", "event_name"),
    "url": (None, "hit"), "base_url": (None, "hit"), "link": (None, "hit"), "domain": (None, "hit"),
    "tag": (None, "hit"), "folder": (None, "hit"), "utm_source": (None, "hit"), "utm_medium": (None, "hit"),
    "utm_campaign": (None, "hit"), "utm_term": (None, "hit"), "utm_content": (None, "hit"),
}
# Rollup dims with hourly rows (all have daily and monthly ones): HOURLY[workspace family?]
HOURLY = {True: {"total", "geo", "ua", "ref", "trigger", "event_name"}, False: {"hit"}}
# Dimensions only the per-link rows have (they need the link).
LINK_DIMENSIONS = frozenset(d for d, (w, _) in _ROLLUP_DIM.items() if w is None)
# Extra SQL columns per dimension (beside r.value), from the link or its tags.
LINK_COLUMN = {"domain": "l.domain", "folder": "l.folder_id", "utm_source": "l.utm_source",
                "utm_medium": "l.utm_medium", "utm_campaign": "l.utm_campaign", "utm_term": "l.utm_term",
                "utm_content": "l.utm_content", "url": "l.url", "base_url": "l.url", "link": "r.link_id",
                "tag": "t.tag_id"}
HOUR, DAY = 3600, 86400


def rollup_dim(dimension: str | None, workspace: bool) -> str:
    return _ROLLUP_DIM[dimension][0 if workspace else 1]  # type: ignore[return-value]


def usable(conditions: Sequence[Condition]) -> bool:
    return all(c.field in LINK_LEVEL_FIELDS for c in conditions)


@dataclass
class Split:
    months: list[tuple[int, int]]
    days: list[tuple[int, int]]
    hours: list[tuple[int, int]]
    raw: list[tuple[str, str]]  # ISO text, [s, e)


def _epoch(text: str) -> tuple[int, int]:
    dt = parse_iso(text)
    return calendar.timegm(dt.utctimetuple()), dt.microsecond // 1000


def _month_start(epoch: int, up: bool) -> int:
    """The UTC month start at or after (`up`) / at or before `epoch`."""
    t = datetime.fromtimestamp(epoch, timezone.utc)
    start = calendar.timegm((t.year, t.month, 1, 0, 0, 0, 0, 0, 0))
    if up and start < epoch:
        year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
        start = calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0))
    return start


OPEN_END_SLACK = 2.0  # seconds


def split(start: str, end: str, hours_ok: bool, now: float | None = None) -> Split:
    """[start, end) as whole UTC months, days, hours and raw edges; without `hours_ok` (no hourly
    rollup rows for it) months, days and raw for the rest.

    A range that ends at or after `now` (an interval up to now, or to the end of today) holds
    every event stored in its last day so far: events are stamped with the time they are
    recorded, never later. Its end is rounded up to the end of the UTC day, so today is read from
    its day row (every dimension has one) rather than from raw rows, which on a busy server are
    most of the query, or from an hour row per hour so far (per link, a query about every link
    read ~14 times as many rows). An end up to OPEN_END_SLACK before `now` counts as now: it is
    the request's own "now", taken a moment earlier, and the events recorded meanwhile are
    counted with it."""
    (s, s_ms), (e, e_ms) = _epoch(start), _epoch(end)
    if now is not None and e + e_ms / 1000 >= now - OPEN_END_SLACK:
        if e % DAY or e_ms:
            e = (e // DAY + 1) * DAY
            end = _iso(e)
    hs = s if (s % HOUR == 0 and s_ms == 0) else (s // HOUR + 1) * HOUR
    he = e // HOUR * HOUR
    out = Split([], [], [], [])
    if hs >= he:
        out.raw.append((start, end))
        return out
    ds, de = -(-hs // DAY) * DAY, he // DAY * DAY
    if ds < de:
        out.days.append((ds, de))
        hour_parts = [(hs, ds), (de, he)]
        ms, me = _month_start(ds, True), _month_start(de, False)
        if ms < me:
            out.months.append((ms, me))
            out.days = [(a, b) for a, b in ((ds, ms), (me, de)) if a < b]
    else:
        hour_parts = [(hs, he)]
    if hours_ok:
        out.hours = [(a, b) for a, b in hour_parts if a < b]
        lo, hi = hs, he
    elif ds < de:  # no hourly rows for this dimension: all but the days (and months) is raw
        lo, hi = ds, de
    else:
        out.raw.append((start, end))
        return out
    if start < _iso(lo):
        out.raw.append((start, _iso(lo)))
    if _iso(hi) < end:
        out.raw.append((_iso(hi), end))
    return out


def months_built(months: list[tuple[int, int]], upto: int | None) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The month spans split at `upto` (None: no limit): what is before it stays months, the
    rest is read as days (per-link month rows are built only once a month has ended)."""
    if upto is None:
        return months, []
    kept, days = [], []
    for s, e in months:
        if e <= upto:
            kept.append((s, e))
        elif s >= upto:
            days.append((s, e))
        else:
            kept.append((s, upto))
            days.append((upto, e))
    return kept, days


def periods(level: str, start: int, end: int) -> list[int]:
    """The starts of the `level` periods (h, d, m) in [start, end), which split() cut at their
    edges."""
    if level == "h":
        return list(range(start, end, HOUR))
    if level == "d":
        return list(range(start, end, DAY))
    out = []
    while start < end:
        out.append(start)
        start = _month_start(start + 32 * DAY, False)
    return out


def _iso(epoch: int) -> str:
    return iso(datetime.fromtimestamp(epoch, timezone.utc))  # type: ignore[return-value]


# -- decoding rollup values into the raw queries' group keys ---------------------------------------

def _known(*values) -> bool:
    return all(v is not None and v != "" for v in values)


def _base_url(u: str) -> str:
    if "?" in u:
        return u[:u.index("?")]
    if "#" in u:
        return u[:u.index("#")]
    return u


def group_key(dimension: str, value: str, extra: Any) -> tuple | None:
    """The raw query's group (its output values, in DIMENSIONS order) for a rollup row, or None
    where the raw query leaves the row out (unknown values of `known`-only dimensions)."""
    if dimension in ("country", "continent", "region", "city"):
        country, continent, region, city = json.loads(value)
        if dimension == "country":
            return (country if country is not None else "Unknown",)
        if dimension == "continent":
            return (continent,) if _known(continent) else None
        if dimension == "region":
            return (country, region) if _known(country, region) else None
        return (country, region, city) if _known(country, region, city) else None
    if dimension in ("device", "browser", "os"):
        v = json.loads(value)[("device", "browser", "os").index(dimension)]
        return (v if v is not None else "Unknown",)
    if dimension in ("referer", "referer_url"):
        v = json.loads(value)[0 if dimension == "referer" else 1]
        return (v if v is not None else "(direct)",)
    if dimension == "trigger":
        if value.startswith("["):  # per-link `hit`
            v = json.loads(value)[0]
            return (v if v is not None else "link",)
        return (value,)
    if dimension == "event_name":
        return (value,) if _known(value) else None
    if dimension in ("url", "base_url"):
        url = json.loads(value)[1]
        url = extra if url is None else url
        if url is not None and dimension == "base_url":
            url = _base_url(url)
        return (url,) if _known(url) else None
    if dimension == "link":
        return (extra,)
    # link attributes: domain, tag, folder, utm_*
    return (extra,) if _known(extra) else None


def sort_and_limit(groups: dict[tuple, list[int]], names: Sequence[str], order_by_amount: bool,
                   limit: int) -> list[dict]:
    """Rows as the raw query returns them: groups with events only, ordered by n (or amount) desc,
    then the group values ascending, at most `limit`."""
    items = [(k, v) for k, v in groups.items() if v[0] != 0 or v[1] != 0]
    if order_by_amount:
        items.sort(key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
    else:
        items.sort(key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
    return [{**dict(zip(names, k)), "n": v[0], "amount": v[1]} for k, v in items[:limit]]


RowsFn = Callable[[str, Sequence[Any]], Any]
