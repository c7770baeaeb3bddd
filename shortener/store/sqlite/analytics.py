"""Analytics and event listings on today's tables (clicks, lead_events, sale_events).

One compiler turns the parsed filters (shortener/eventfilters.py) into SQL for every query here,
so GET /analytics and GET /events cannot disagree. Methods are named for what the service asks
(totals, totals per dimension, totals per time bucket, a page of events), so the tables under
them can change (rollups, a separate clicks file) without touching the service.

Sources: `clicks` reads clicks `c`; `leads` and `sales` read lead_events / sale_events `e` with
their click `c` LEFT JOINed (the click carries the visitor's country, device, referer ...).
Links `l` are joined only when a filter or dimension needs them: click history outlives a
deleted link, so totals keep those clicks (top_links cannot list them).
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Sequence

from shortener.eventfilters import Condition

from . import analytics_rollups as ar
from .base import Row, SQLiteBase

SOURCES = ("clicks", "leads", "sales")

# Fields whose value lives on the click row.
_CLICK_FIELDS = {
    "country": "c.country", "city": "c.city", "continent": "c.continent", "device": "c.device",
    "browser": "c.browser", "os": "c.os", "trigger": "c.trigger", "referer": "c.referer",
    "referer_url": "c.referer_url", "url": "c.url",
}
# Fields whose value lives on the link row.
_LINK_FIELDS = {
    "external_id": "l.external_id", "tenant_id": "l.tenant_id", "folder_id": "l.folder_id",
    "program_id": "l.program_id", "partner_id": "l.partner_id", "utm_source": "l.utm_source",
    "utm_medium": "l.utm_medium", "utm_campaign": "l.utm_campaign", "utm_term": "l.utm_term",
    "utm_content": "l.utm_content",
}
# Concepts we do not have: no link belongs to one, so an inclusion matches nothing.
_ABSENT_FIELDS = ("group_id", "partner_tag_id")
_NOCASE = {"device", "browser", "os", "domain", "key", "city"}

# What a group shows for a missing value: a filter naming it matches them too, so each row of a
# breakdown can be asked for (country=Unknown found nothing while the countries group showed
# its clicks).
_SHOWN_FOR_NULL = {"country": "Unknown", "device": "Unknown", "browser": "Unknown", "os": "Unknown",
                   "trigger": "link", "referer": "(direct)", "referer_url": "(direct)"}


def _shown(field: str) -> str:
    return f"COALESCE(c.{field}, '{_SHOWN_FOR_NULL[field]}')"


# groupBy dimension -> (SQL expressions, output names); None values are left out where `known`.
DIMENSIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "continent": (("c.continent",), ("continent",)),
    "country": ((_shown("country"),), ("country",)),
    "region": (("c.country", "c.region"), ("country", "region")),
    "city": (("c.country", "c.region", "c.city"), ("country", "region", "city")),
    "device": ((_shown("device"),), ("device",)),
    "browser": ((_shown("browser"),), ("browser",)),
    "os": ((_shown("os"),), ("os",)),
    "trigger": ((_shown("trigger"),), ("trigger",)),
    "referer": ((_shown("referer"),), ("referer",)),
    "referer_url": ((_shown("referer_url"),), ("referer_url",)),
    "url": (("COALESCE(c.url, l.url)",), ("url",)),
    "base_url": (("COALESCE(c.url, l.url)",), ("url",)),
    "link": (("{link}",), ("link_id",)),
    "domain": (("l.domain",), ("domain",)),
    "tag": (("t.tag_id",), ("tag_id",)),
    "folder": (("l.folder_id",), ("folder_id",)),
    "utm_source": (("l.utm_source",), ("utm_source",)),
    "utm_medium": (("l.utm_medium",), ("utm_medium",)),
    "utm_campaign": (("l.utm_campaign",), ("utm_campaign",)),
    "utm_term": (("l.utm_term",), ("utm_term",)),
    "utm_content": (("l.utm_content",), ("utm_content",)),
    "event_name": (("e.event_name",), ("event_name",)),
}
# Dimensions where an unknown value is no group (Dub's enums and codes have no "Unknown").
_BUCKETS_PER_QUERY = 2000
# Timeseries with more buckets than this are planned on a worker thread (a day of hours, 180
# days and a few years of months stay on the loop: the hop would cost them more).
_BUCKETS_ON_LOOP = 200
_KNOWN_ONLY = {"continent", "region", "city", "url", "base_url", "domain", "tag", "folder", "utm_source",
               "utm_medium", "utm_campaign", "utm_term", "utm_content", "event_name"}

# The URL without its query string and fragment.
_BASE_URL = ("CASE WHEN instr({u}, '?') > 0 THEN substr({u}, 1, instr({u}, '?') - 1) "
             "WHEN instr({u}, '#') > 0 THEN substr({u}, 1, instr({u}, '#') - 1) ELSE {u} END")


class _Query:
    """FROM, JOINs and WHERE of one source under some conditions."""

    def __init__(self, source: str, conditions: Sequence[Condition], start: str | None, end: str | None) -> None:
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}")
        self.source = source
        self.events = source != "clicks"
        self.link_col = "e.link_id" if self.events else "c.link_id"
        self.time_col = "e.timestamp" if self.events else "c.timestamp"
        self.need_links = False
        self.need_clicks = False
        self.where: list[str] = []
        self.params: list[Any] = []
        if start:
            self._add(f"{self.time_col} >= ?", start)
        if end:
            self._add(f"{self.time_col} < ?", end)
        for cond in conditions:
            self._compile(cond)

    def _add(self, clause: str, *values: Any) -> None:
        self.where.append(clause)
        self.params.extend(values)

    def _column(self, field: str) -> str | None:
        if field in _CLICK_FIELDS:
            self.need_clicks = True
            return _CLICK_FIELDS[field]
        if field in _LINK_FIELDS:
            self.need_links = True
            return _LINK_FIELDS[field]
        if field == "link_id":
            return self.link_col
        if field in ("domain", "key"):
            # The link's current domain and key, for clicks as for events (Dub resolves domain
            # and key to the link): a click row's copy is what the link was called at the time.
            self.need_links = True
            return f"l.{field}"
        return None

    def _membership(self, expr: str, values: tuple, exclude: bool, nocase: bool = False) -> None:
        collate = " COLLATE NOCASE" if nocase else ""
        marks = ", ".join("?" * len(values))
        if exclude:
            # An unknown value is not one of the excluded ones.
            self._add(f"({expr} IS NULL OR {expr}{collate} NOT IN ({marks}))", *values)
        else:
            self._add(f"{expr}{collate} IN ({marks})", *values)

    def _compile(self, cond: Condition) -> None:
        field, values, exclude = cond
        if field in _ABSENT_FIELDS:
            if not exclude:
                self.where.append("0")
            return
        if field == "qr":
            self.need_clicks = True
            self._add("c.qr = ?", 1 if values[0] else 0)
            return
        if field == "root":
            key = self._column("key")
            self.where.append(f"{key} {'=' if values[0] else '<>'} '_root'")
            return
        if field == "region":
            self.need_clicks = True
            self._membership("(c.country || '-' || c.region)", values, exclude)
            return
        if field == "tag_id":
            marks = ", ".join("?" * len(values))
            neg = "NOT " if exclude else ""
            self._add(f"{neg}EXISTS (SELECT 1 FROM link_tags lt WHERE lt.link_id = {self.link_col} "
                      f"AND lt.tag_id IN ({marks}))", *values)
            return
        if field == "customer_id":
            if self.events:
                self._membership("e.customer_id", values, exclude)
            else:  # the clicks the customers came through
                marks = ", ".join("?" * len(values))
                neg = "NOT " if exclude else ""
                self._add(f"c.id {neg}IN (SELECT click_id FROM customers WHERE click_id IS NOT NULL "
                          f"AND id IN ({marks}))", *values)
            return
        if field in ("event_name", "metadata", "sale_type"):
            # Event fields: clicks have none (Dub ignores them for clicks as well).
            if not self.events:
                return
            if field == "event_name":
                self._membership("e.event_name", values, exclude, nocase=True)
            elif field == "metadata":
                self._metadata(values)
            elif self.source == "sales":
                first = ("NOT EXISTS (SELECT 1 FROM sale_events p WHERE p.customer_id = e.customer_id "
                         "AND (p.timestamp < e.timestamp OR (p.timestamp = e.timestamp AND p.id < e.id)))")
                self.where.append(first if values[0] == "new" else f"NOT {first}")
            return
        column = self._column(field)
        if column is None:
            raise ValueError(f"unknown filter field {field!r}")
        nocase = field in _NOCASE
        label = _SHOWN_FOR_NULL.get(field)
        if label is not None and any(v.lower() == label.lower() for v in values):
            column, nocase = _shown(field), True
        self._membership(column, values, exclude, nocase=nocase)

    def _metadata(self, terms: tuple) -> None:
        groups: list[list[str]] = []
        params: list[Any] = []
        for connector, path, value in terms:
            if connector == "OR" or not groups:
                groups.append([])
            json_path = "$" + "".join('."' + part.replace('"', '""') + '"' for part in path.split("."))
            # Compared as text, so metadata {"n": 42} matches n:42 and n:'42'.
            groups[-1].append("CAST(json_extract(e.metadata, ?) AS TEXT) = ?")
            params.extend((json_path, value))
        self._add("(" + " OR ".join("(" + " AND ".join(g) + ")" for g in groups) + ")", *params)

    def from_clause(self, extra_links: bool = False) -> str:
        if self.events:
            table = "lead_events" if self.source == "leads" else "sale_events"
            sql = f"{table} e"
            if self.need_clicks:
                sql += " LEFT JOIN clicks c ON c.id = e.click_id"
        else:
            sql = "clicks c"
        if self.need_links or extra_links:
            sql += f" JOIN links l ON l.id = {self.link_col}"
        return sql

    def where_clause(self) -> str:
        return (" WHERE " + " AND ".join(self.where)) if self.where else ""

    def figures(self) -> str:
        amount = "COALESCE(SUM(e.amount), 0)" if self.source == "sales" else "0"
        return f"COUNT(*) AS n, {amount} AS amount"


class _RollupQuery(_Query):
    """The link-level conditions compiled against rollup rows `r` (and links `l`)."""

    def __init__(self, source: str, conditions: Sequence[Condition]) -> None:
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}")
        self.source = source
        self.events = source != "clicks"
        self.link_col = "r.link_id"
        self.time_col = "r.period"
        self.need_links = False
        self.need_clicks = False
        self.where = []
        self.params = []
        self.by_link = any(c.field == "link_id" and not c.exclude for c in conditions)
        self.by_tag = any(c.field == "tag_id" and not c.exclude for c in conditions)
        for cond in conditions:
            self._compile(cond)


def _uses(expr: str, alias: str) -> bool:
    return f"{alias}." in expr


class AnalyticsQueries(SQLiteBase):
    async def event_totals(self, source: str, conditions: Sequence[Condition], start: str | None,
                           end: str | None) -> Row:
        """{"n", "amount"} of the events of `source` matching the conditions in [start, end)."""
        if await self._rollups_answer(conditions, start, end):
            per = await self._rollup_buckets(source, conditions, [start, end])  # type: ignore[list-item]
            return {"n": per[0][0], "amount": per[0][1]}
        return await self._raw_totals(source, conditions, start, end)

    async def _raw_totals(self, source: str, conditions: Sequence[Condition], start: str | None,
                          end: str | None) -> Row:
        q = _Query(source, conditions, start, end)
        row = await self.read_one(f"SELECT {q.figures()} FROM {q.from_clause()}{q.where_clause()}", q.params)
        return row or {"n": 0, "amount": 0}

    async def event_totals_by(self, source: str, dimension: str, conditions: Sequence[Condition],
                              start: str | None, end: str | None, *, order_by_amount: bool = False,
                              limit: int = 5000) -> list[Row]:
        """Totals per value of `dimension` (DIMENSIONS), largest first; rows carry the dimension's
        output names plus "n" and "amount"."""
        if dimension == "event_name" and source == "clicks":
            return []
        if await self._rollups_answer(conditions, start, end):
            return await self._rollup_grouped(source, dimension, conditions, start, end,  # type: ignore[arg-type]
                                              order_by_amount, limit)
        return await self._raw_grouped(source, dimension, conditions, start, end, order_by_amount=order_by_amount,
                                       limit=limit)

    async def _raw_grouped(self, source: str, dimension: str, conditions: Sequence[Condition],
                           start: str | None, end: str | None, *, order_by_amount: bool = False,
                           limit: int | None = 5000) -> list[Row]:
        exprs, names = DIMENSIONS[dimension]
        q = _Query(source, conditions, start, end)
        exprs = tuple(e.replace("{link}", q.link_col) for e in exprs)
        if dimension == "base_url":
            exprs = (_BASE_URL.format(u=exprs[0]),)
        if dimension == "event_name" and not q.events:
            return []
        if any(_uses(e, "c") for e in exprs):
            q.need_clicks = True
        if any(_uses(e, "l") for e in exprs):
            q.need_links = True
        from_sql = q.from_clause()
        if dimension == "tag":
            from_sql += f" JOIN link_tags t ON t.link_id = {q.link_col}"
        where = list(q.where)
        if dimension in _KNOWN_ONLY:
            where.extend(f"{e} IS NOT NULL AND {e} <> ''" for e in exprs)
        where_sql = (" WHERE " + " AND ".join(where)) if where else ""
        select = ", ".join(f"{e} AS {n}" for e, n in zip(exprs, names))
        group = ", ".join(str(i + 1) for i in range(len(names)))  # positions: names can be ambiguous
        if limit is None:  # every group, unordered (a part of a rollup answer)
            return await self.read(f"SELECT {select}, {q.figures()} FROM {from_sql}{where_sql} GROUP BY {group}",
                                   q.params)
        order = "amount DESC, n DESC" if order_by_amount else "n DESC, amount DESC"
        sql = (f"SELECT {select}, {q.figures()} FROM {from_sql}{where_sql} GROUP BY {group} "
               f"ORDER BY {order}, {group} LIMIT ?")
        return await self.read(sql, q.params + [limit])

    async def event_totals_per_bucket(self, source: str, conditions: Sequence[Condition],
                                      bounds: Sequence[str]) -> list[tuple[int, int]]:
        """(n, amount) for each [bounds[i], bounds[i+1]) in UTC ISO text; len(bounds) - 1 items.

        Buckets are passed as a VALUES table and each is counted with an index range on the
        time column, so a bucket costs its own rows, and hour, day and month buckets of any time
        zone (DST days of 23 or 25 hours included) come out of the one query.
        """
        if len(bounds) > 1 and await self._rollups_answer(conditions, bounds[0], bounds[-1]):
            return await self._rollup_buckets(source, conditions, bounds)
        return await self._raw_intervals(source, conditions, [(i, bounds[i], bounds[i + 1])
                                                              for i in range(len(bounds) - 1)], len(bounds) - 1)

    async def _raw_intervals(self, source: str, conditions: Sequence[Condition],
                             intervals: Sequence[tuple[int, str, str]], buckets: int) -> list[tuple[int, int]]:
        """(n, amount) per bucket of the raw rows in the intervals (bucket index, start, end)."""
        out = [(0, 0)] * buckets
        # At most 2,000 intervals (6,000 parameters) per statement: SQLite allows 32,766.
        for first in range(0, len(intervals), _BUCKETS_PER_QUERY):
            for i, n, amount in await self._per_interval(source, conditions,
                                                         intervals[first:first + _BUCKETS_PER_QUERY]):
                out[i] = (out[i][0] + n, out[i][1] + amount)
        return out

    async def _per_interval(self, source: str, conditions: Sequence[Condition],
                            intervals: Sequence[tuple[int, str, str]]) -> list[tuple[int, int, int]]:
        q = _Query(source, conditions, None, None)
        values = ", ".join("(?, ?, ?)" for _ in intervals)
        params: list[Any] = [v for interval in intervals for v in interval]
        where = [f"{q.time_col} >= b.s", f"{q.time_col} < b.e", *q.where]
        sql = (f"WITH b(i, s, e) AS (VALUES {values}) "
               f"SELECT b.i AS i, {q.figures()} FROM b CROSS JOIN {q.from_clause()} "
               f"WHERE {' AND '.join(where)} GROUP BY b.i")
        rows = await self.read(sql, params + q.params)
        return [(row["i"], row["n"], row["amount"]) for row in rows]

    # -- the rollup path (analytics_rollups.py) ----------------------------------------------------

    force_raw_analytics = False  # True: every query reads the raw rows (tests compare the two paths)

    async def _rollups_answer(self, conditions: Sequence[Condition], start: str | None, end: str | None) -> bool:
        if self.force_raw_analytics or not start or not end or start >= end or not ar.usable(conditions):
            return False
        return await self.rollups_ready()  # type: ignore[attr-defined]

    def _rollup_sql(self, q: _RollupQuery, dimension: str | None, level: str,
                    periods: Sequence[tuple[int, int]], grouped: bool) -> tuple[str, list[Any]]:
        """SUM(n), SUM(amount) of the rollup rows of the given periods (index, period start in
        epoch seconds), per index, or per (value, link attribute) when `grouped`.

        Each period is named rather than given as a range: per-link rows are keyed by period
        before link (migration 015), so `period = ?` and a link id (or a list of them) is a seek,
        where a range of periods would read every link's rows in it."""
        workspace = not q.where and dimension not in ar.LINK_DIMENSIONS
        dim = ar.rollup_dim(dimension, workspace)
        extra = ar.LINK_COLUMN.get(dimension or "", "NULL")
        if extra.startswith("l."):
            q.need_links = True
        values = ", ".join("(?, ?)" for _ in periods)
        params: list[Any] = [v for p in periods for v in p]
        where = ["r.source = ?", "r.level = ?", "r.dim = ?", "r.period = p.period"]
        params += [q.source, level, dim]
        if workspace:
            from_sql = "p CROSS JOIN rollups r"
            where.append("r.link_id = ''")
        else:
            from_sql = "p CROSS JOIN link_rollups r"
            if dimension == "tag":  # one group per tag of the link
                from_sql += " JOIN link_tags t ON t.link_id = r.link_id"
            # Answers that need the link leave out deleted links as the raw ones do (their
            # join); top_links leaves them out anyway.
            if q.need_links or dimension == "link":
                from_sql += " JOIN links l ON l.id = r.link_id"
        where += q.where
        params += q.params
        if grouped:
            select, group = f"r.value AS value, {extra} AS extra", " GROUP BY r.value, extra"
        else:
            select, group = "p.i AS i", " GROUP BY p.i"
        sql = (f"WITH p(i, period) AS (VALUES {values}) SELECT {select}, SUM(r.n) AS n, SUM(r.amount) AS amount "
               f"FROM {from_sql} WHERE {' AND '.join(where)}{group}")
        return sql, params

    async def _link_months_upto(self, conditions: Sequence[Condition], dimension: str | None) -> int | None:
        """Where per-link month rows end (the months after it are read as days), or None when
        the query reads workspace rows (all of their months are kept by the writers)."""
        if not conditions and dimension not in ar.LINK_DIMENSIONS:
            return None
        return await self.link_months_upto()  # type: ignore[attr-defined]

    def _hours_ok(self, conditions: Sequence[Condition], dimension: str | None) -> bool:
        workspace = not conditions and dimension not in ar.LINK_DIMENSIONS
        return ar.rollup_dim(dimension, workspace) in ar.HOURLY[workspace]

    def _bucket_queries(self, source: str, conditions: Sequence[Condition], bounds: Sequence[str],
                        hours_ok: bool, upto: int | None, now: float) -> tuple[list[tuple[str, list]], list]:
        """The rollup queries of a timeseries (each bucket split into the months, days and hours
        its rollup rows hold) and the parts only raw rows can answer."""
        months: list[tuple[int, int, int]] = []
        days: list[tuple[int, int, int]] = []
        hours: list[tuple[int, int, int]] = []
        raw: list[tuple[int, str, str]] = []
        for i in range(len(bounds) - 1):
            if bounds[i] >= bounds[i + 1]:
                continue
            part = ar.split(bounds[i], bounds[i + 1], hours_ok, now)
            part_months, part_days = ar.months_built(part.months, upto)
            months += [(i, s, e) for s, e in part_months]
            days += [(i, s, e) for s, e in part.days + part_days]
            hours += [(i, s, e) for s, e in part.hours]
            raw += [(i, s, e) for s, e in part.raw]
        queries = []
        for level, ranges in (("m", months), ("d", days), ("h", hours)):
            periods = [(i, p) for i, s, e in ranges for p in ar.periods(level, s, e)]
            for first in range(0, len(periods), _BUCKETS_PER_QUERY):
                queries.append(self._rollup_sql(_RollupQuery(source, conditions), None, level,
                                                periods[first:first + _BUCKETS_PER_QUERY], grouped=False))
        return queries, raw

    async def _rollup_buckets(self, source: str, conditions: Sequence[Condition],
                              bounds: Sequence[str]) -> list[tuple[int, int]]:
        buckets = len(bounds) - 1
        plan = (source, conditions, bounds, self._hours_ok(conditions, None),
                await self._link_months_upto(conditions, None), time.time())
        # Splitting a bucket costs ~60 us (more in a zone whose midnight is not UTC's): a
        # century of months planned on the event loop held every redirect for ~100 ms.
        if buckets > _BUCKETS_ON_LOOP:
            queries, raw = await asyncio.to_thread(self._bucket_queries, *plan)
        else:
            queries, raw = self._bucket_queries(*plan)
        out = [[0, 0] for _ in range(buckets)]
        for sql, params in queries:
            for row in await self.read(sql, params):
                out[row["i"]][0] += row["n"]
                out[row["i"]][1] += row["amount"]
        if raw:
            for i, (n, amount) in enumerate(await self._raw_intervals(source, conditions, raw, buckets)):
                out[i][0] += n
                out[i][1] += amount
        return [(n, amount) for n, amount in out]

    async def _rollup_grouped(self, source: str, dimension: str, conditions: Sequence[Condition], start: str,
                              end: str, order_by_amount: bool, limit: int) -> list[Row]:
        names = DIMENSIONS[dimension][1]
        part = ar.split(start, end, self._hours_ok(conditions, dimension), time.time())
        part.months, built_days = ar.months_built(part.months, await self._link_months_upto(conditions, dimension))
        part.days += built_days
        groups: dict[tuple, list[int]] = {}

        def add(key: tuple | None, n: int, amount: int) -> None:
            if key is None:
                return
            entry = groups.get(key)
            if entry is None:
                groups[key] = [n, amount]
            else:
                entry[0] += n
                entry[1] += amount

        for level, spans in (("m", part.months), ("d", part.days), ("h", part.hours)):
            if not spans:
                continue
            periods = [(0, p) for s, e in spans for p in ar.periods(level, s, e)]
            for first in range(0, len(periods), _BUCKETS_PER_QUERY):
                sql, params = self._rollup_sql(_RollupQuery(source, conditions), dimension, level,
                                               periods[first:first + _BUCKETS_PER_QUERY], grouped=True)
                for row in await self.read(sql, params):
                    add(ar.group_key(dimension, row["value"], row["extra"]), row["n"], row["amount"])
        for s, e in part.raw:
            for row in await self._raw_grouped(source, dimension, conditions, s, e, limit=None):
                add(tuple(row[name] for name in names), row["n"], row["amount"])
        return ar.sort_and_limit(groups, names, order_by_amount, limit)

    async def analytics_data_start(self) -> str | None:
        """Where `interval=all` begins (Dub: the workspace's creation): the first link's creation or
        the first event, whichever is older (events can be imported). Index edges only. The
        rollups' first hour counts too: it survives click retention, and starting on the hour
        leaves no raw edge to read over pruned time."""
        parts = [f"SELECT strftime('%Y-%m-%dT%H:%M:%S.000Z', MIN(period), 'unixepoch') AS at FROM rollups "
                 f"WHERE source = '{s}' AND level = 'h' AND dim = 'total' AND link_id = ''" for s in SOURCES]
        parts += ["SELECT MIN(created_at) AS at FROM links", "SELECT MIN(timestamp) AS at FROM clicks",
                  "SELECT MIN(timestamp) AS at FROM lead_events", "SELECT MIN(timestamp) AS at FROM sale_events"]
        # MIN over a union: the many-argument MIN() is NULL as soon as one table is empty.
        row = await self.read_one(f"SELECT MIN(at) AS at FROM ({' UNION ALL '.join(parts)})")
        return row["at"] if row else None

    async def event_page(self, kind: str, conditions: Sequence[Condition], start: str | None, end: str | None,
                         *, desc: bool, limit: int, offset: int) -> list[Row]:
        """A page of events of `kind` (clicks, leads, sales) joined with their click, by time.

        Events of deleted links are left out: the listing must carry the link object.
        """
        q = _Query(kind, conditions, start, end)
        q.need_clicks = True
        click_cols = (
            "c.id AS click_id, c.timestamp AS click_timestamp, c.url AS click_url, c.country, c.continent, "
            "c.region, c.city, c.device, c.browser, c.os, c.referer, c.referer_url, c.qr, c.ip, c.ua, c.trigger"
        )
        if kind == "clicks":
            cols = f"c.link_id, c.timestamp, {click_cols}"
        elif kind == "leads":
            cols = (f"e.id AS event_id, e.event_name, e.metadata, e.timestamp, e.customer_id, e.link_id, "
                    f"e.click_id AS event_click_id, {click_cols}")
        else:
            cols = (f"e.id AS event_id, e.event_name, e.metadata, e.timestamp, e.customer_id, e.link_id, "
                    f"e.click_id AS event_click_id, e.amount, e.currency, e.payment_processor, e.invoice_id, "
                    f"{click_cols}")
        direction = "DESC" if desc else "ASC"
        id_col = "c.id" if kind == "clicks" else "e.id"
        sql = (f"SELECT {cols} FROM {q.from_clause(extra_links=True)}{q.where_clause()} "
               f"ORDER BY {q.time_col} {direction}, {id_col} {direction} LIMIT ? OFFSET ?")
        return await self.read(sql, q.params + [limit, offset])
