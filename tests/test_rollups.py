"""Rollups (shortener/store/sqlite/rollups.py): the writers keep them, the migration builds them
for rows stored before they existed (resumably), and GET /analytics answers from them exactly as
from the raw rows, for every groupBy, event, time zone and link-level filter."""
from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from schema_support import UNDO_014, UNDO_015, UNDO_016, UNDO_017, UNDO_018
from starlette.testclient import TestClient

from shortener.config import Settings
from shortener.store.sqlite.base import with_tx
from shortener.store.sqlite.clicks import CLICK_COLUMNS
from shortener.web.app import create_app

START = datetime(2026, 3, 5, tzinfo=timezone.utc)
COUNTRIES = [("US", "NA", "NY", "New York"), ("US", "NA", "CA", "Los Angeles"), ("DE", "EU", "BE", "Berlin"),
             ("IN", "AS", "MH", "Mumbai"), ("FR", "EU", None, None), (None, None, None, None)]
DEVICES = [("Desktop", "Chrome", "Windows"), ("Mobile", "Mobile Safari", "iOS"), ("Tablet", "Safari", "iOS"),
           (None, None, None)]
REFERERS = ["(direct)", "google.com", "twitter.com", None]


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _settings(path) -> Settings:
    return Settings(data_dir=str(path), domain="go.test", extra_domains=("other.test",),
                    sqlite_synchronous="normal", click_flush_ms=20)


def seed(api, core, run) -> dict:
    """Links with tags, folders, UTM and external ids; ~600 clicks over 10 days around New York's
    DST change (2026-03-08) at any minute; leads and sales (one lead of a click never stored);
    then one customer deleted and one link deleted."""
    tags = [api.post("/api/tags", json={"name": n}).json() for n in ("red", "blue")]
    folders = [api.post("/api/folders", json={"name": n}).json() for n in ("F1", "F2")]
    specs = [
        {"domain": "go.test", "key": "a", "url": "https://shop.test/a?x=1", "tagIds": [tags[0]["id"]],
         "utm_source": "news", "utm_medium": "email", "folderId": folders[0]["id"], "externalId": "ea",
         "tenantId": "t1"},
        {"domain": "go.test", "key": "b", "url": "https://shop.test/b#top", "tagIds": [tags[0]["id"], tags[1]["id"]],
         "utm_source": "ads", "folderId": folders[1]["id"], "tenantId": "t2"},
        {"domain": "other.test", "key": "c", "url": "https://docs.test/c", "utm_campaign": "spring"},
        {"domain": "go.test", "key": "_root", "url": "https://home.test/"},
        {"domain": "other.test", "key": "d", "url": "https://docs.test/d", "tagIds": [tags[1]["id"]]},
        {"domain": "go.test", "key": "gone", "url": "https://gone.test/"},
    ]
    links = []
    for body in specs:
        r = api.post("/api/links", json=body)
        assert r.status_code == 200, r.text
        links.append(r.json())
    rnd = random.Random(10)
    clicks = []
    for i in range(600):
        at = START + timedelta(seconds=rnd.randrange(10 * 86400))
        link = links[min(len(links) - 1, int(rnd.paretovariate(1.0)) - 1)]
        country, continent, region, city = rnd.choice(COUNTRIES)
        device, browser, os_ = rnd.choice(DEVICES)
        referer = rnd.choice(REFERERS)
        qr = rnd.random() < 0.2
        row = {c: None for c in CLICK_COLUMNS}
        row.update({"id": f"c{i:015d}", "link_id": link["id"], "domain": link["domain"], "key": link["key"],
                    "url": link["url"] + ("?via=qr" if qr and "?" not in link["url"] else ""),
                    "timestamp": _iso(at), "country": country, "continent": continent, "region": region,
                    "city": city, "device": device, "browser": browser, "os": os_, "referer": referer,
                    "referer_url": None if referer is None else f"https://{referer}/p", "qr": int(qr),
                    "trigger": "qr" if qr else "link", "ip": "81.2.69.0", "identity_hash": "x"})
        clicks.append(row)
    rows = [tuple(r[c] for c in CLICK_COLUMNS) for r in clicks]
    assert run(core.store.record_click_batch, rows[:300]) == 300
    assert run(core.store.record_click_batch, rows[250:]) == 300  # 50 already stored: not counted twice
    picked = rnd.sample(clicks, 60)
    for i, click in enumerate(picked):
        who = f"cust{i % 25}"
        at = datetime.strptime(click["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        at += timedelta(minutes=rnd.randrange(600))
        cid = click["id"] if i else "never-stored-id1"  # a lead whose click is not on disk
        customer = {"id": f"cus_{who}", "external_id": who, "name": who, "email": None, "avatar": None,
                    "stripe_customer_id": None, "country": click["country"], "click_id": cid,
                    "link_id": click["link_id"], "clicked_at": click["timestamp"], "created_at": _iso(at),
                    "updated_at": _iso(at)}
        event = {"id": f"lead{i:012d}", "customer_id": None, "click_id": cid, "link_id": click["link_id"],
                 "event_name": rnd.choice(["Sign up", "Demo"]), "metadata": None, "timestamp": _iso(at)}
        run(lambda **kw: core.store.record_lead(**kw), customer=customer, event_key=f"k{i}", key_since=_iso(at),
            events=[event], link_id=click["link_id"], now=_iso(at))
        if i % 2:
            sale_at = at + timedelta(minutes=rnd.randrange(3000))
            sale = {"id": f"sale{i:012d}", "customer_id": f"cus_{who}", "click_id": cid, "link_id": click["link_id"],
                    "event_name": "Purchase", "amount": rnd.randrange(100, 10000), "currency": "usd",
                    "payment_processor": "stripe", "invoice_id": None, "metadata": None, "timestamp": _iso(sale_at)}
            run(lambda **kw: core.store.record_sale(**kw), sale=sale, invoice_since=_iso(sale_at), new_customer=None,
                direct_lead=None, now=_iso(sale_at), respond=lambda c: {})
    assert api.delete("/api/customers/cus_cust3").status_code == 200
    assert api.delete(f"/api/links/{links[-1]['id']}").status_code == 200
    return {"links": links, "tags": tags, "folders": folders}


def rollup_rows(db) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT source, level, dim, link_id, period, value, n, amount FROM rollups WHERE n <> 0 OR amount <> 0 "
            "UNION ALL SELECT source, level, dim, link_id, period, value, n, amount FROM link_rollups "
            "WHERE n <> 0 OR amount <> 0 ORDER BY 1, 2, 3, 4, 5, 6").fetchall()
    finally:
        conn.close()


def counters(db) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT id, clicks, leads, sales, sale_amount, last_clicked FROM links ORDER BY id").fetchall()
    finally:
        conn.close()


# Undoes migration 014 (links listing indexes and search), which a test that winds the version
# back below it will run again.

def to_schema_9(db) -> None:
    """The database as the code before the rollups left it: same tables, no rollups."""
    conn = sqlite3.connect(db)
    try:
        conn.executescript(UNDO_018 + UNDO_017 + UNDO_016 + UNDO_015 + UNDO_014 + "DROP TABLE rollups; DROP TABLE rollup_backfill; DROP INDEX customers_click; "
                           "DROP INDEX lead_events_click; DROP INDEX sale_events_click; PRAGMA user_version = 9;")
    finally:
        conn.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    data = tmp_path_factory.mktemp("rollups") / "data"
    with TestClient(create_app(_settings(data)), base_url="http://go.test", follow_redirects=False) as client:
        core = client.app_state["core"]

        def run(fn, *args, **kwargs):
            return client.portal.call(lambda: fn(*args, **kwargs))

        _, key = run(core.api_keys.create, "tests")
        client.headers["Authorization"] = f"Bearer {key}"
        info = seed(client, core, run)
        yield client, core, run, info, data / "shortener.db"


def test_writers_keep_rollups_equal_to_the_rows(world):
    client, core, run, info, db = world
    conn = sqlite3.connect(db)
    try:
        for source, table in (("clicks", "clicks"), ("leads", "lead_events"), ("sales", "sale_events")):
            amount = "COALESCE(SUM(amount), 0)" if source == "sales" else "0"
            raw = conn.execute(f"SELECT COUNT(*), {amount} FROM {table}").fetchone()
            for level in ("h", "d"):
                rolled = conn.execute("SELECT SUM(n), SUM(amount) FROM rollups WHERE source = ? AND level = ? "
                                      "AND dim = 'total' AND link_id = ''", (source, level)).fetchone()
                assert rolled == raw, (source, level)
            per_link = conn.execute(f"SELECT link_id, COUNT(*), {amount} FROM {table} GROUP BY 1 ORDER BY 1").fetchall()
            rolled = conn.execute("SELECT link_id, SUM(n), SUM(amount) FROM link_rollups WHERE source = ? AND level = 'h' "
                                  "AND dim = 'hit' AND link_id <> '' GROUP BY 1 HAVING SUM(n) <> 0 ORDER BY 1",
                                  (source,)).fetchall()
            assert rolled == per_link, source
        assert conn.execute("SELECT COUNT(*) FROM clicks").fetchone()[0] == 600
    finally:
        conn.close()


def test_migration_builds_the_same_rollups_resumably(tmp_path, world):
    """A database made before the rollups (schema 9, holding clicks, leads and sales) upgrades in
    place: the backfill, interrupted and resumed, builds what the writers would have, and every
    counter survives."""
    _, core, run, _, db = world
    copy = tmp_path / "data"
    copy.mkdir()
    run(lambda: __import__("asyncio").to_thread(core.store.backup_to, copy / "shortener.db"))
    want_rollups, want_counters = rollup_rows(copy / "shortener.db"), counters(copy / "shortener.db")
    to_schema_9(copy / "shortener.db")

    import asyncio

    from shortener.store import open_store
    from shortener.store.sqlite import rollups as rollups_module
    from shortener.store.sqlite.base import with_tx

    async def partly_then_resume():
        store = await open_store(_settings(copy), migrate=False)
        try:
            # the migration alone, then two small chunks, as if the process died after them
            applied = await super(rollups_module.RollupQueries, store).migrate()
            assert applied[:4] == ["010_rollups.sql", "011_click_references.sql", "012_rollup_months.sql",
                                   "013_link_rollup_months.sql"]
            for _ in range(2):
                assert await store.run_in_transaction(with_tx(lambda tx: rollups_module.backfill_step(tx, 100)))
            assert not await store.rollups_ready()
        finally:
            await store.close()
        seen: list[tuple[int, int]] = []
        store = await open_store(_settings(copy), migrate=False)
        try:
            assert await store.migrate(progress=lambda what, done, total: seen.append((done, total)) if what.startswith("rolling") else None) == []
            assert await store.rollups_ready()
        finally:
            await store.close()
        return seen

    seen = asyncio.run(partly_then_resume())
    assert seen and seen[-1][0] == seen[-1][1] > 0
    assert rollup_rows(copy / "shortener.db") == want_rollups
    assert counters(copy / "shortener.db") == want_counters


def _rolled_equals_raw(db) -> None:
    conn = sqlite3.connect(db)
    try:
        for source, table in (("clicks", "clicks"), ("leads", "lead_events"), ("sales", "sale_events")):
            amount = "COALESCE(SUM(amount), 0)" if source == "sales" else "0"
            raw = conn.execute(f"SELECT COUNT(*), {amount} FROM {table}").fetchone()
            for level in ("h", "d", "m"):
                rolled = conn.execute("SELECT SUM(n), SUM(amount) FROM rollups WHERE source = ? AND level = ? "
                                      "AND dim = 'total' AND link_id = ''", (source, level)).fetchone()
                assert rolled == raw, (source, level)
    finally:
        conn.close()


def test_events_deleted_and_added_while_the_backfill_runs(tmp_path, world):
    """A customer deleted mid-backfill (its events at the top of the table), then a new lead: each
    event is counted once, by the writer or by the backfill."""
    import asyncio

    from shortener.store import open_store
    from shortener.store.sqlite import rollups as rollups_module
    from shortener.store.sqlite.base import with_tx

    _, core, run, _, db = world
    copy = tmp_path / "data"
    copy.mkdir()
    run(lambda: asyncio.to_thread(core.store.backup_to, copy / "shortener.db"))
    to_schema_9(copy / "shortener.db")
    conn = sqlite3.connect(copy / "shortener.db")
    last_customer, link_id, click_id = conn.execute(
        "SELECT customer_id, link_id, click_id FROM lead_events ORDER BY rowid DESC LIMIT 1").fetchone()
    conn.close()

    async def scenario():
        store = await open_store(_settings(copy), migrate=False)
        try:
            await super(rollups_module.RollupQueries, store).migrate()
            while True:  # the clicks, not the leads
                done = await store.run_in_transaction(with_tx(lambda tx: tx.fetchone(
                    "SELECT next_rowid < last_rowid AS todo FROM rollup_backfill WHERE source = 'clicks'")["todo"]))
                if not done:
                    break
                await store.run_in_transaction(with_tx(lambda tx: rollups_module.backfill_step(tx, 200)))
            assert await store.delete_customer(last_customer)
            at = "2026-03-09T10:00:00.000Z"
            customer = {"id": "cus_late", "external_id": "late", "name": None, "email": None, "avatar": None,
                        "stripe_customer_id": None, "country": None, "click_id": click_id, "link_id": link_id,
                        "clicked_at": at, "created_at": at, "updated_at": at}
            event = {"id": "leadlate0000001", "customer_id": None, "click_id": click_id, "link_id": link_id,
                     "event_name": "Late", "metadata": None, "timestamp": at}
            await store.record_lead(customer=customer, event_key="late", key_since=at, events=[event],
                                    link_id=link_id, now=at)
            await store.migrate()
        finally:
            await store.close()

    asyncio.run(scenario())
    _rolled_equals_raw(copy / "shortener.db")


def test_month_rows_built_from_day_rows(tmp_path, world):
    """Migration 012 on a database whose rollups had no month rows yet builds the same ones."""
    _, core, run, _, db = world
    copy = tmp_path / "data"
    copy.mkdir()
    run(lambda: __import__("asyncio").to_thread(core.store.backup_to, copy / "shortener.db"))
    want = rollup_rows(copy / "shortener.db")
    assert any(r[1] == "m" for r in want)
    conn = sqlite3.connect(copy / "shortener.db")
    conn.executescript(UNDO_018 + UNDO_017 + UNDO_016 + UNDO_015 + UNDO_014 + "DELETE FROM rollups WHERE level = 'm'; PRAGMA user_version = 11;")
    conn.close()
    with TestClient(create_app(_settings(copy)), base_url="http://go.test"):
        pass
    assert rollup_rows(copy / "shortener.db") == want


def test_cli_migrate_draws_progress(tmp_path, world, capsys):
    _, core, run, _, db = world
    copy = tmp_path / "data"
    copy.mkdir()
    run(lambda: __import__("asyncio").to_thread(core.store.backup_to, copy / "shortener.db"))
    want = rollup_rows(copy / "shortener.db")
    to_schema_9(copy / "shortener.db")
    from shortener.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--data-dir", str(copy), "migrate"])
    assert exit_.value.code == 0
    err = capsys.readouterr().err
    assert "applied 010_rollups.sql" in err and "100.0%" in err
    assert rollup_rows(copy / "shortener.db") == want


RANGES = [
    {"start": "2026-03-05T10:17:23Z", "end": "2026-03-12", "timezone": "UTC"},
    {"start": "2026-03-07T13:05:00-05:00", "end": "2026-03-08", "timezone": "America/New_York"},
    {"start": "2026-03-01", "end": "2026-03-31", "timezone": "America/New_York"},
    {"start": "2026-03-06T00:10:00+05:30", "end": "2026-03-13", "timezone": "Asia/Kolkata"},
    {"interval": "all", "timezone": "Asia/Kolkata"},
    {"start": "2026-02-20", "end": "2026-04-10", "timezone": "UTC"},  # March whole: month rows
]


def _filters(info) -> list[dict]:
    a, b, c, root, d, _gone = info["links"]
    return [
        {},
        {"linkId": f"{a['id']},{c['id']}"},
        {"linkId": f"-{a['id']}"},
        {"domain": "other.test"},
        {"domain": "go.test", "key": "b"},
        {"tagIds": info["tags"][1]["id"]},
        {"folderId": info["folders"][0]["id"], "utm_source": "news"},
        {"externalId": "ea", "tenantId": "t1"},
        {"root": "true"},
        {"groupId": "-grp_x"},
    ]


def _answers(client, asked: list[dict]) -> list:
    """GET /api/analytics for each of `asked`, every answer a 200."""
    out = []
    for params in asked:
        r = client.get("/api/analytics", params=params)
        assert r.status_code == 200, (params, r.text)
        out.append(r.json())
    return out


def _raw_answers(client, core, asked: list[dict]) -> list:
    """The same, every query on the raw rows."""
    core.store.force_raw_analytics = True
    try:
        return _answers(client, asked)
    finally:
        core.store.force_raw_analytics = False


@pytest.mark.parametrize("span", RANGES, ids=lambda r: r.get("interval") or r["timezone"] + ":" + r["start"])
def test_rollups_answer_exactly_as_the_raw_rows(world, span):
    """Every groupBy x event x link-level filter, both paths through GET /api/analytics."""
    from shortener.analytics import GROUP_BYS

    client, core, _, info, _ = world
    asked = []
    filters_ = _filters(info)
    if span is not RANGES[0]:  # every filter on one range, a few on the others (test time)
        filters_ = [filters_[i] for i in (0, 1, 4, 5, 8)]
    for filters in filters_:
        # composite carries every source's figures per group; the single events add their totals
        for group_by in GROUP_BYS:
            asked.append({**span, **filters, "event": "composite", "groupBy": group_by})
        for event in ("clicks", "leads", "sales"):
            for group_by in ("count", "timeseries"):
                asked.append({**span, **filters, "event": event, "groupBy": group_by})

    def answers() -> list:
        return _answers(client, asked)

    raw = _raw_answers(client, core, asked)
    used = []
    real = core.store._rollup_sql
    core.store._rollup_sql = lambda *a, **kw: used.append(1) or real(*a, **kw)
    try:
        rolled = answers()
    finally:
        del core.store._rollup_sql
    assert len(used) > len(asked)  # the rollups did answer
    for params, want, got in zip(asked, raw, rolled):
        assert got == want, params
    # the data set is not empty where it matters
    assert sum(a["clicks"] for p, a in zip(asked, raw) if p["groupBy"] == "count" and p["event"] == "composite") > 0


def test_retention_prunes_raw_clicks_and_keeps_the_figures(tmp_path):
    """SHORTENER_CLICK_RETENTION_DAYS: old raw clicks go, in chunks, except those a customer, lead or
    sale refers to; analytics over whole hours (and interval=all) keep every figure."""
    from dataclasses import replace

    from shortener import retention

    settings = replace(_settings(tmp_path / "data"), click_retention_days=30)
    with TestClient(create_app(settings), base_url="http://go.test", follow_redirects=False) as client:
        core = client.app_state["core"]

        def run(fn, *args, **kwargs):
            return client.portal.call(lambda: fn(*args, **kwargs))

        _, key = run(core.api_keys.create, "tests")
        client.headers["Authorization"] = f"Bearer {key}"
        info = seed(client, core, run)
        asked = [{"interval": "all", "event": "composite", "groupBy": g, **f}
                 for g in ("count", "timeseries", "countries", "cities", "devices", "top_links", "top_urls")
                 for f in ({}, {"linkId": info["links"][0]["id"]})]
        asked.append({"start": "2026-03-06T05:00:00Z", "end": "2026-03-10", "timezone": "America/New_York",
                      "event": "composite", "groupBy": "timeseries"})
        before = [client.get("/api/analytics", params=p).json() for p in asked]
        leads_before = client.get("/api/events", params={"event": "leads", "interval": "all", "limit": 100}).json()
        referenced = {e["click"]["id"] for e in leads_before}
        old_chunk, retention.CHUNK = retention.CHUNK, 64  # several chunks
        try:
            deleted = run(core.retention.prune)
        finally:
            retention.CHUNK = old_chunk
        left = {e["click"]["id"] for e in client.get("/api/events", params={"interval": "all", "limit": 1000}).json()}
        assert deleted == 600 - run(core.store.count_all_clicks) and deleted > 400
        assert referenced - {"never-stored-id1"} <= left  # kept: a lead refers to them
        assert [client.get("/api/analytics", params=p).json() for p in asked] == before
        assert client.get("/api/events", params={"event": "leads", "interval": "all", "limit": 100}).json() == leads_before
        assert run(core.retention.prune) == 0


def test_ranges_up_to_now_read_the_current_hour_from_its_rollup_row(tmp_path):
    """An interval up to now ends inside the current hour (and, per link, the current day): those
    are read from their rollup rows, which hold every event so far (events are stamped when they
    are recorded), instead of from raw rows. The answers stay those of the raw rows."""
    data = tmp_path / "data"
    with TestClient(create_app(_settings(data)), base_url="http://go.test", follow_redirects=False) as client:
        core = client.app_state["core"]
        _, key = client.portal.call(core.api_keys.create, "tests")
        client.headers["Authorization"] = f"Bearer {key}"
        links = [client.post("/api/links", json={"url": f"http://127.0.0.1:9/{k}", "key": k}).json()
                 for k in ("now-a", "now-b")]
        agents = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
                  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"]
        for i in range(24):
            r = client.get(f"/{links[i % 2]['key']}", headers={"user-agent": f"{agents[i % 3 % 2]} v/{i}",
                                                                 "cf-ipcountry": "DE" if i % 3 else "US"})
            assert r.status_code == 302
        client.portal.call(core.clicks.flush)
        asked = [{"interval": interval, "timezone": zone, "groupBy": group_by, **filters}
                 for interval in ("24h", "7d") for zone in ("UTC", "America/New_York", "Asia/Kolkata")
                 for group_by in ("count", "timeseries", "countries", "devices", "top_links")
                 for filters in ({}, {"linkId": links[0]["id"]})]

        def answers() -> list:
            return [client.get("/api/analytics", params=p).json() for p in asked]

        core.store.force_raw_analytics = True
        raw = answers()
        core.store.force_raw_analytics = False
        edges = []
        real = core.store._raw_grouped
        core.store._raw_grouped = lambda *a, **kw: edges.append(a) or real(*a, **kw)
        rolled = answers()
        del core.store._raw_grouped
        for params, want, got in zip(asked, raw, rolled):
            assert got == want, params
        counts = [a for p, a in zip(asked, raw) if p["groupBy"] == "count"]
        assert {c["clicks"] for c in counts} == {24, 12}
        # grouped answers read raw rows only at the start of the range, never in the current hour
        hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
        late = [e for e in edges if datetime.fromisoformat(e[4].replace("Z", "+00:00")) > hour]
        assert edges and not late, late


def test_per_link_months_are_built_from_their_days_once_they_end(world):
    """Migration 016: the writers add per-link month rows only for months already built; later
    months are read as days until compact_link_months builds them. Here March 2026 onwards is
    made "not built yet": the answers stay the raw rows' with the months read as days, and the
    rows the compaction then builds are the ones the writers had added, month by month."""
    from shortener.analytics import GROUP_BYS

    client, core, run, info, db = world
    before = rollup_rows(db)
    march = 1772323200  # 2026-03-01T00:00:00Z
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute("UPDATE rollup_compaction SET upto = ? WHERE name = 'link_months'", (march,))
            gone = conn.execute("DELETE FROM link_rollups WHERE level = 'm' AND period >= ?", (march,)).rowcount
    finally:
        conn.close()
    assert gone > 0
    asked = [{"start": "2026-02-01", "end": "2026-05-01", "timezone": "UTC", **filters, "event": "composite",
              "groupBy": group_by}
             for filters in _filters(info)[:6] for group_by in GROUP_BYS]
    asked += [{**span, **_filters(info)[1], "event": "clicks", "groupBy": "timeseries"} for span in RANGES]

    def answers() -> list:
        return _answers(client, asked)

    raw = _raw_answers(client, core, asked)
    assert answers() == raw  # March, April read as days
    now = datetime.now(timezone.utc).timestamp()
    built = run(core.store.compact_link_months, now)
    this_month = datetime.now(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    assert built == (this_month.year - 2026) * 12 + this_month.month - 3  # March .. last month
    assert run(core.store.compact_link_months, now) == 0  # each month once
    assert run(core.store.link_months_upto) == int(this_month.timestamp())
    assert rollup_rows(db) == before
    assert answers() == raw


def _click_rows(db) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT rowid, {', '.join(CLICK_COLUMNS)} FROM clicks ORDER BY rowid").fetchall()
    finally:
        conn.close()


def test_lean_click_rows_migrate_in_place_resumably(tmp_path, world):
    """A database of schema 16 (the wide click rows) holding clicks, leads and sales upgrades in
    place (migration 017): interrupted after two chunks and resumed, every click keeps its rowid and
    the columns that stay; the dropped columns are gone; counters, rollups and the raw path's
    analytics and events answers are the same as before."""
    import asyncio

    from shortener.store import open_store
    from shortener.store.sqlite import SQLiteBase, clickrebuild

    client, core, run, info, db = world
    copy = tmp_path / "data"
    copy.mkdir()
    run(lambda: asyncio.to_thread(core.store.backup_to, copy / "shortener.db"))
    path = copy / "shortener.db"
    want_clicks, want_rollups, want_counters = _click_rows(path), rollup_rows(path), counters(path)
    assert len(want_clicks) == 600
    conn = sqlite3.connect(path)
    conn.executescript(UNDO_018 + UNDO_017 + "PRAGMA user_version = 16;")
    assert "device_vendor" in [r[1] for r in conn.execute("PRAGMA table_info(clicks)")]
    conn.close()

    async def partly_then_resume():
        store = await open_store(_settings(copy), migrate=False)
        try:
            assert await SQLiteBase.migrate(store) == ["017_lean_clicks.sql", "018_dashboard_sessions.sql"]
            for _ in range(2):  # two chunks, then the process dies
                assert await store.run_in_transaction(with_tx(lambda tx: clickrebuild.rebuild_step(tx, 100)))
            assert await store.run_on_reader(with_tx(clickrebuild.rebuild_status)) == (200, want_clicks[-1][0])
        finally:
            await store.close()
        seen: list[tuple[str, int, int]] = []
        store = await open_store(_settings(copy), migrate=False)
        try:
            assert await store.migrate(progress=lambda what, done, total: seen.append((what, done, total))) == []
            assert await store.run_on_reader(with_tx(clickrebuild.rebuild_status)) is None
        finally:
            await store.close()
        return seen

    seen = asyncio.run(partly_then_resume())
    last = want_clicks[-1][0]
    assert seen[0] == ("moving stored clicks to lean rows", 50_200 if last > 50_200 else last, last)
    assert seen[-1] == ("moving stored clicks to lean rows", last, last)
    assert seen.count(seen[-1]) == 1
    assert _click_rows(path) == want_clicks
    assert rollup_rows(path) == want_rollups and counters(path) == want_counters
    conn = sqlite3.connect(path)
    try:
        assert [r[1] for r in conn.execute("PRAGMA table_info(clicks)")] == list(CLICK_COLUMNS)
        assert sorted(r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE tbl_name IN ('clicks', 'clicks_lean', 'click_rebuild')")) == [
            "clicks", "clicks_link_time", "clicks_time", "sqlite_autoindex_clicks_1"]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    # The same raw answers through HTTP as the database they came from.
    asked = [dict(span, event=event, groupBy=group) for span in RANGES[:2]
             for event in ("clicks", "composite") for group in ("count", "countries", "devices", "referer_urls")]
    want_raw = _raw_answers(client, core, asked)
    want_events = client.get("/api/events", params={"interval": "all", "limit": 1000}).json()
    with TestClient(create_app(_settings(copy)), base_url="http://go.test") as moved:
        moved_core = moved.app_state["core"]
        _, key = moved.portal.call(moved_core.api_keys.create, "tests")
        moved.headers["Authorization"] = f"Bearer {key}"
        assert _raw_answers(moved, moved_core, asked) == want_raw
        assert moved.get("/api/events", params={"interval": "all", "limit": 1000}).json() == want_events
    assert len(want_events) == 518  # the clicks of links not deleted
