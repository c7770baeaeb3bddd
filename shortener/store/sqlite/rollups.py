"""Rollups: click, lead and sale counts per UTC hour and day, per dimension value, kept by the writers.

Analytics over raw rows cost their row count (a grouped `all` query took seconds at 1M clicks);
these rows cost the number of (period, value) pairs. Two families:
- workspace (table `rollups`, link_id ''): levels 'h' (UTC hour), 'd' (UTC day) and 'm' (UTC month) of `total`,
  `geo`, `ua`, `ref`, `trigger` and (events) `event_name`;
- per link (table `link_rollups`, keyed by period before link: migration 015): levels 'd' and
  'm' of `geo`, `ua`, `ref`, `hit`, `event_name`, level 'h' of `hit` only (months: `all` over a
  year reads 12 rows per link and value, not 365). A month's per-link rows are built from its
  days once it has ended (compact_link_month, migration 016); the writers add them directly only
  for months already built (imported or deleted events of the past).

Values keep the click's columns as stored (JSON arrays, null for NULL), so a reader can apply
exactly the raw queries' COALESCEs (shortener/store/sqlite/analytics.py DIMENSIONS) and the
two paths give the same answers: `geo` [country, continent, region, city], `ua` [device,
browser, os], `ref` [referer, referer_url], `hit` [trigger, url] (url null when the event's
click is not on disk: the reader takes the link's URL then, as the raw query does), `trigger`
COALESCE(trigger, 'link'), `event_name` the name, `total` ''. Dimensions are combined rather
than one row each because a click on a link that has no row yet that day costs a row per
dimension: combined, 4 per-link rows a click instead of 11 (regions and cities come out of
`geo` anyway). Per link, the totals (timeseries, top links, tags, folders, UTM) are sums of
`hit`.

Each writer adds its rows in the transaction that inserts the events. Clicks: SQLite groups the
batch's new rows (a rowid range) itself, one INSERT ... SELECT ... GROUP BY ... ON CONFLICT per
table, so the work runs without the GIL (see CLICK_ROLLUP_SQL). Leads and sales: aggregated in
memory (Rollup) and written with one multi-row upsert per 1,000 keys (no executemany: see
clicks.py).
Deleting events (a deleted customer's) subtracts them again; a sum that comes back to zero
leaves a row with n = 0, which readers skip. Retention (SHORTENER_CLICK_RETENTION_DAYS) deletes
old raw clicks and keeps their rollups.
"""
from __future__ import annotations

import calendar
import functools
import json
import sqlite3
import time
from typing import Callable, Iterable, Sequence

from .base import SQLiteBase, Tx, log, with_tx

SOURCES = ("clicks", "leads", "sales")
# Click columns the rollups read, in this order.
DIM_COLUMNS = ("country", "continent", "region", "city", "device", "browser", "os", "trigger", "referer",
               "referer_url", "url")
# Rollup dimensions; `value` encodings in the module doc.
LINK_DAY_DIMS = ("geo", "ua", "ref", "hit", "event_name")  # per link, levels d and m
_KEYS_PER_STATEMENT = 1000  # 8 parameters each
_COLUMNS = "source, level, dim, link_id, period, value, n, amount"
# Workspace rows (link_id '') in `rollups`, per-link rows in `link_rollups` (migration 015: keyed
# by period first, so a click batch touches the current periods' part of the table only).
_KEY = {"rollups": "source, level, dim, link_id, period, value",
        "link_rollups": "source, level, dim, period, link_id, value"}
_NO_CLICK = (None,) * len(DIM_COLUMNS)


def hour_of(timestamp: str) -> int:
    """The UTC hour (epoch seconds) of an ISO timestamp 'YYYY-MM-DDTHH...' (stored times are UTC)."""
    return _hour(timestamp[:13])


@functools.lru_cache(maxsize=512)
def _month(t: str) -> int:
    return calendar.timegm((int(t[0:4]), int(t[5:7]), 1, 0, 0, 0, 0, 0, 0))


@functools.lru_cache(maxsize=4096)
def _hour(t: str) -> int:
    return calendar.timegm((int(t[0:4]), int(t[5:7]), int(t[8:10]), int(t[11:13]), 0, 0, 0, 0, 0))


@functools.lru_cache(maxsize=65536)
def encode(*values) -> str:
    """A combined value: the JSON array of the parts (None stays null)."""
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False)


class Rollup:
    """Rows to add, keyed by the table's primary key, summed in memory. Per-link month rows are
    added only for months before `link_months_upto` (later months are built from their days when
    they end: compact_link_month)."""

    __slots__ = ("rows", "link_months_upto")

    def __init__(self, link_months_upto: int) -> None:
        self.rows: dict[tuple, list[int]] = {}
        self.link_months_upto = link_months_upto

    def add(self, source: str, link_id: str, timestamp: str, dims: Sequence | None, *, amount: int = 0,
            event_name: str | None = None, sign: int = 1) -> None:
        """One event: `dims` are its click's DIM_COLUMNS values (None: no click on disk)."""
        hour = _hour(timestamp[:13])
        day = hour - hour % 86400
        month = _month(timestamp[:7])
        country, continent, region, city, device, browser, os_, trigger, referer, referer_url, url = dims or _NO_CLICK
        geo = encode(country, continent, region, city)
        ua = encode(device, browser, os_)
        ref = encode(referer, referer_url)
        hit = encode(trigger, url)
        amount = (amount or 0) * sign
        keys = [
            (source, "h", "total", "", hour, ""), (source, "d", "total", "", day, ""),
            (source, "h", "geo", "", hour, geo), (source, "d", "geo", "", day, geo),
            (source, "h", "ua", "", hour, ua), (source, "d", "ua", "", day, ua),
            (source, "h", "ref", "", hour, ref), (source, "d", "ref", "", day, ref),
            (source, "h", "trigger", "", hour, trigger if trigger is not None else "link"), (source, "d", "trigger", "", day, trigger if trigger is not None else "link"),
            (source, "d", "geo", link_id, day, geo), (source, "d", "ua", link_id, day, ua),
            (source, "d", "ref", link_id, day, ref), (source, "d", "hit", link_id, day, hit),
            (source, "h", "hit", link_id, hour, hit),
            (source, "m", "total", "", month, ""), (source, "m", "geo", "", month, geo),
            (source, "m", "ua", "", month, ua), (source, "m", "ref", "", month, ref),
            (source, "m", "trigger", "", month, trigger if trigger is not None else "link"),
        ]
        link_months = month < self.link_months_upto
        if link_months:
            keys += [(source, "m", "geo", link_id, month, geo), (source, "m", "ua", link_id, month, ua),
                     (source, "m", "ref", link_id, month, ref), (source, "m", "hit", link_id, month, hit)]
        if event_name is not None:
            keys += [(source, "h", "event_name", "", hour, event_name), (source, "d", "event_name", "", day, event_name),
                     (source, "m", "event_name", "", month, event_name),
                     (source, "d", "event_name", link_id, day, event_name)]
            if link_months:
                keys.append((source, "m", "event_name", link_id, month, event_name))
        rows = self.rows
        for key in keys:
            entry = rows.get(key)
            if entry is None:
                rows[key] = [sign, amount]
            else:
                entry[0] += sign
                entry[1] += amount

    def write(self, tx: Tx) -> None:
        """Add the rows to the table (in the caller's transaction)."""
        if not self.rows:
            return
        workspace = [item for item in self.rows.items() if not item[0][3]]
        per_link = [item for item in self.rows.items() if item[0][3]]
        # In each table's key order, so the upserts walk it forwards (unsorted they cost 2-4x).
        workspace.sort()
        per_link.sort(key=_link_key_order)
        cur = tx.conn.cursor()
        cur.row_factory = None
        try:
            for table, part in (("rollups", workspace), ("link_rollups", per_link)):
                for start in range(0, len(part), _KEYS_PER_STATEMENT):
                    chunk = part[start:start + _KEYS_PER_STATEMENT]
                    params: list = []
                    extend = params.extend
                    for key, figures in chunk:
                        extend(key)
                        extend(figures)
                    cur.execute(_upsert(table, len(chunk)), params)
        finally:
            cur.close()
        self.rows = {}


def _link_key_order(item: tuple) -> tuple:
    source, level, dim, link_id, period, value = item[0]
    return source, level, dim, period, link_id, value


@functools.lru_cache(maxsize=16)
def _upsert(table: str, rows: int) -> str:
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
    return (f"INSERT INTO {table} ({_COLUMNS}) VALUES {values} "
            f"ON CONFLICT ({_KEY[table]}) DO UPDATE SET n = n + excluded.n, amount = amount + excluded.amount")


_CLICK_DIMS_SQL = ", ".join(f"c.{c}" for c in DIM_COLUMNS)

# Clicks are rolled up by SQLite itself, from the rows just inserted (a rowid range): the
# grouping runs in C without the GIL, which the event loop serving redirects needs. Rolled up in
# Python (Rollup.add), a 5,000-click batch held the GIL ~80-100 ms (bench_analytics --parts load:
# 3,500 redirects/s against 6,800/s this way). Values are JSON arrays like encode()'s (readers
# decode them, so a difference in escaping would only split a group in SQL, not in the answer).
_PERIODS = {
    "h": "CAST(strftime('%s', substr(c.timestamp, 1, 13) || ':00:00') AS INTEGER)",
    "d": "CAST(strftime('%s', substr(c.timestamp, 1, 10)) AS INTEGER)",
    "m": "CAST(strftime('%s', substr(c.timestamp, 1, 7) || '-01') AS INTEGER)",
}
_VALUES = {
    "total": "''", "geo": "json_array(c.country, c.continent, c.region, c.city)",
    "ua": "json_array(c.device, c.browser, c.os)", "ref": "json_array(c.referer, c.referer_url)",
    "trigger": "COALESCE(c.trigger, 'link')", "hit": "json_array(c.trigger, c.url)",
}
# Grouped in each table's key order (period, link, value), which the upserts then walk forwards.
_GROUP = {"''": "4, 5", "link_id": "4, 3, 5"}
_CLICK_FAMILIES = {
    "rollups": sorted(("''", level, dim) for level in ("h", "d", "m")
                      for dim in ("total", "geo", "ua", "ref", "trigger")),
    "link_rollups": sorted([("link_id", level, dim) for level in ("d", "m") for dim in ("geo", "ua", "ref", "hit")]
                           + [("link_id", "h", "hit")], key=lambda f: f[1:]),
}
# Per-link month rows come from the batch only for months already built (an import of older
# clicks); a live click's month is built from its days when it ends (migration 016).
_LINK_MONTHS_UPTO = "(SELECT upto FROM rollup_compaction WHERE name = 'link_months')"
_FAMILY_WHERE = {("link_id", "m"): f" WHERE m < {_LINK_MONTHS_UPTO}"}
# The batch's rows with their periods and values computed once (strftime and json_array per row
# were most of the cost when each of the 24 statements computed them again).
_BATCH_TABLE = ("CREATE TEMP TABLE IF NOT EXISTS rollup_batch (link_id TEXT, h INTEGER, d INTEGER, m INTEGER, "
                "total TEXT, geo TEXT, ua TEXT, ref TEXT, trigger TEXT, hit TEXT)")
_FILL_BATCH = (
    "INSERT INTO temp.rollup_batch SELECT c.link_id, "
    + ", ".join(_PERIODS[level] for level in ("h", "d", "m")) + ", "
    + ", ".join(_VALUES[dim] for dim in ("total", "geo", "ua", "ref", "trigger", "hit"))
    + " FROM clicks c WHERE c.rowid > ? AND c.rowid <= ?"
)


# One upsert per table, its families' groups a UNION ALL (their keys differ by level and dim):
# each statement costs the click writer a hand-back of the GIL, which next to a saturated event
# loop can wait a switch interval (5 ms), and a statement per family made that 24 waits a batch.
# (A waiting write stops the batch inside a statement: clicks.py _write_unit.)
CLICK_ROLLUP_SQL = tuple(
    f"INSERT INTO {table} ({_COLUMNS}) SELECT 'clicks', level, dim, link_id, period, value, n, 0 FROM ("
    + " UNION ALL ".join(
        f"SELECT '{level}' AS level, '{dim}' AS dim, {link} AS link_id, {level} AS period, {dim} AS value, "
        f"COUNT(*) AS n FROM temp.rollup_batch{_FAMILY_WHERE.get((link, level), '')} GROUP BY {_GROUP[link]}"
        for link, level, dim in families)
    + f") WHERE true ON CONFLICT ({_KEY[table]}) DO UPDATE SET n = n + excluded.n, amount = amount + excluded.amount"
    for table, families in _CLICK_FAMILIES.items()
)


def roll_up_click_rows(tx: Tx, after: int, upto: int) -> None:
    """Add the clicks with after < rowid <= upto to the rollups (the caller's transaction)."""
    if upto <= after:
        return
    tx.execute(_BATCH_TABLE)
    tx.execute("DELETE FROM temp.rollup_batch")
    tx.execute(_FILL_BATCH, (after, upto))
    for sql in CLICK_ROLLUP_SQL:
        tx.execute(sql)
    tx.execute("DELETE FROM temp.rollup_batch")


def click_dims(tx: Tx, click_ids: Iterable[str]) -> dict[str, tuple]:
    """DIM_COLUMNS of the stored clicks among `click_ids`, by id."""
    ids = list({cid for cid in click_ids if cid})
    out: dict[str, tuple] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = tx.fetchall(f"SELECT c.id AS id, {_CLICK_DIMS_SQL} FROM clicks c WHERE c.id IN "
                           f"({', '.join('?' * len(chunk))})", chunk)
        for r in rows:
            out[r["id"]] = tuple(r[c] for c in DIM_COLUMNS)
    return out


def roll_up_events(tx: Tx, source: str, events: Sequence[dict], *, sign: int = 1) -> None:
    """Add (or with sign -1 remove) lead or sale events, dict rows with link_id, click_id,
    timestamp, event_name (and amount for sales), taking each click's dimensions from disk."""
    if not events:
        return
    dims = click_dims(tx, (e["click_id"] for e in events))
    rollup = Rollup(link_months_upto(tx))
    for e in events:
        rollup.add(source, e["link_id"], e["timestamp"], dims.get(e["click_id"]),
                   amount=e.get("amount") or 0 if source == "sales" else 0, event_name=e["event_name"], sign=sign)
    rollup.write(tx)


_EVENT_TABLES = {"leads": "lead_events", "sales": "sale_events"}


def unroll_events_where(tx: Tx, source: str, where: str, params: Sequence) -> None:
    """Before deleting the events of `source` matching `where` (on alias e): subtract those the
    rollups hold (a row the backfill has not reached yet is not in them)."""
    table = _EVENT_TABLES[source]
    amount = "e.amount" if source == "sales" else "0 AS amount"
    span = tx.fetchone("SELECT next_rowid, last_rowid FROM rollup_backfill WHERE source = ?", (source,))
    pending = ""
    pending_params: list = []
    if span and span["next_rowid"] < span["last_rowid"]:
        pending = " AND NOT (e.rowid > ? AND e.rowid <= ?)"
        pending_params = [span["next_rowid"], span["last_rowid"]]
    rows = tx.fetchall(f"SELECT e.link_id, e.click_id, e.timestamp, e.event_name, {amount} FROM {table} e "
                       f"WHERE {where}{pending}", [*params, *pending_params])
    roll_up_events(tx, source, rows, sign=-1)


def after_events_deleted(tx: Tx) -> None:
    """After deleting events: while the backfill is pending, a deleted row at the top of a table
    would let the next insert reuse its rowid inside the backfill's range (and be counted by both
    the writer and the backfill); the range ends at the largest rowid left instead."""
    for source, table in _EVENT_TABLES.items():
        tx.execute(f"UPDATE rollup_backfill SET last_rowid = MIN(last_rowid, "
                   f"(SELECT COALESCE(MAX(rowid), 0) FROM {table})) WHERE source = ? AND next_rowid < last_rowid",
                   (source,))
        tx.execute("UPDATE rollup_backfill SET next_rowid = last_rowid WHERE source = ? AND next_rowid > last_rowid",
                   (source,))


# -- per-link month rows, built when a month ends -------------------------------------------------

def link_months_upto(tx: Tx) -> int:
    """The month start before which per-link month rows are complete (migration 016)."""
    row = tx.fetchone(f"SELECT {_LINK_MONTHS_UPTO} AS upto")
    return row["upto"] if row and row["upto"] is not None else 0


def next_month(start: int) -> int:
    return _month(time.strftime("%Y-%m", time.gmtime(start + 32 * 86400)))


_COMPACT_MONTH = (
    "INSERT INTO link_rollups (source, level, dim, period, link_id, value, n, amount) "
    "SELECT source, 'm', dim, ?, link_id, value, SUM(n), SUM(amount) FROM link_rollups "
    "WHERE source = ? AND level = 'd' AND dim = ? AND period >= ? AND period < ? GROUP BY link_id, value "
    "ON CONFLICT (source, level, dim, period, link_id, value) "
    "DO UPDATE SET n = n + excluded.n, amount = amount + excluded.amount"
)


def compact_link_month(tx: Tx, now: float) -> bool:
    """Build the per-link month rows of the first month not built yet, if it has ended by `now`
    (epoch seconds), from its day rows, and move `upto` past it: one month per transaction, so
    the rows of that month are built exactly once. False when no ended month was left."""
    upto = link_months_upto(tx)
    current = _month(time.strftime("%Y-%m", time.gmtime(now)))
    if upto >= current:
        return False
    end = next_month(upto)
    for source in SOURCES:
        for dim in LINK_DAY_DIMS:
            tx.execute(_COMPACT_MONTH, (upto, source, dim, upto, end))
    tx.execute("UPDATE rollup_compaction SET upto = ? WHERE name = 'link_months'", (end,))
    return True


# -- backfill of rows stored before the rollups existed ------------------------------------------

BACKFILL_CHUNK = 20_000


def backfill_status(tx: Tx) -> tuple[int, int]:
    """(rows done, rows in all) of the backfill, in rowids (close to rows: rowids are dense)."""
    rows = tx.fetchall("SELECT next_rowid, last_rowid FROM rollup_backfill")
    return sum(r["next_rowid"] for r in rows), sum(r["last_rowid"] for r in rows)


def backfill_step(tx: Tx, chunk: int = BACKFILL_CHUNK) -> bool:
    """Roll up the next `chunk` rows stored before the migration, and record how far it got, in
    the caller's transaction (so a crash resumes where the last commit left off, counting no row
    twice). False when nothing was left to do."""
    todo = tx.fetchone("SELECT source, next_rowid, last_rowid FROM rollup_backfill "
                       "WHERE next_rowid < last_rowid ORDER BY source LIMIT 1")
    if todo is None:
        return False
    source, after, last = todo["source"], todo["next_rowid"], todo["last_rowid"]
    if source == "clicks":
        done = min(after + chunk, last)
        roll_up_click_rows(tx, after, done)
        tx.execute("UPDATE rollup_backfill SET next_rowid = ? WHERE source = ?", (done, source))
        return True
    rollup = Rollup(link_months_upto(tx))
    table = _EVENT_TABLES[source]
    amount = "e.amount" if source == "sales" else "0"
    rows = tx.fetchall(
        f"SELECT e.rowid AS rowid, e.link_id, e.timestamp, e.event_name, {amount} AS amount, "
        f"c.id AS cid, {_CLICK_DIMS_SQL} FROM {table} e LEFT JOIN clicks c ON c.id = e.click_id "
        "WHERE e.rowid > ? AND e.rowid <= ? ORDER BY e.rowid LIMIT ?", (after, last, chunk))
    for r in rows:
        dims = tuple(r[c] for c in DIM_COLUMNS) if r["cid"] is not None else None
        rollup.add(source, r["link_id"], r["timestamp"], dims, amount=r["amount"], event_name=r["event_name"])
    rollup.write(tx)
    done = rows[-1]["rowid"] if len(rows) == chunk else last
    tx.execute("UPDATE rollup_backfill SET next_rowid = ? WHERE source = ?", (done, source))
    return True


# -- the store's side ------------------------------------------------------------------------------

class RollupQueries(SQLiteBase):
    _rollups_ready = False  # the backfill is known to be complete (it never becomes incomplete)

    async def backfill_rollups(self, progress: Callable[[int, int], None] | None = None) -> None:
        step = with_tx(backfill_step)
        status = with_tx(backfill_status)
        logged = -1
        while True:
            if not await self.run_in_transaction(step):
                break
            done, total = await self.run_on_reader(status, timeout=None)
            if progress is not None:
                progress(done, total)
            elif total and done * 20 // total != logged:  # serve migrating on start: a log line per 5 %
                logged = done * 20 // total
                log.info("rolling up stored clicks and events: %d %%", done * 100 // total)
        self._rollups_ready = True

    async def rollups_ready(self) -> bool:
        """True once every row stored before the rollups existed is in them."""
        if not self._rollups_ready:
            try:
                row = await self.read_one("SELECT COUNT(*) AS n FROM rollup_backfill WHERE next_rowid < last_rowid")
            except sqlite3.OperationalError:  # a database opened without migrating: no rollups yet
                return False
            self._rollups_ready = row is not None and row["n"] == 0
        return self._rollups_ready

    async def compact_link_months(self, now: float | None = None) -> int:
        """Build the per-link month rows of every month that has ended since the last call
        (compact_link_month), one month per transaction; returns how many months."""
        step = with_tx(compact_link_month)
        done = 0
        while await self.run_in_transaction(step, time.time() if now is None else now):
            done += 1
        return done

    async def link_months_upto(self) -> int:
        return await self.run_on_reader(with_tx(link_months_upto))

    # -- retention of raw clicks -----------------------------------------------------------------

    async def prune_clicks_chunk(self, before: str, after: str, limit: int = 2000) -> tuple[int, int, str]:
        """Delete up to `limit` clicks with after <= timestamp < before that no customer, lead or
        sale refers to (their /events rows must still carry the click); their rollups stay.
        Returns (deleted, looked at, the last timestamp looked at: where the next chunk starts).
        One short transaction: the click writer waits for one chunk at most."""

        @with_tx
        def work(tx: Tx) -> tuple[int, int, str]:
            rows = tx.fetchall("SELECT rowid AS rowid, id, timestamp FROM clicks WHERE timestamp >= ? AND timestamp < ? "
                               "ORDER BY timestamp LIMIT ?", (after, before, limit))
            if not rows:
                return 0, 0, after
            ids = [r["id"] for r in rows]
            marks = ", ".join("?" * len(ids))
            kept = {r["click_id"] for r in tx.fetchall(
                f"SELECT click_id FROM customers WHERE click_id IN ({marks}) UNION "
                f"SELECT click_id FROM lead_events WHERE click_id IN ({marks}) UNION "
                f"SELECT click_id FROM sale_events WHERE click_id IN ({marks})", ids * 3)}
            gone = [r["rowid"] for r in rows if r["id"] not in kept]
            if gone:
                tx.execute(f"DELETE FROM clicks WHERE rowid IN ({', '.join('?' * len(gone))})", gone)
            return len(gone), len(rows), rows[-1]["timestamp"]

        return await self.run_in_transaction(work)
