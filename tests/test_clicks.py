"""Click capture: dedup, the batched writer (size, time, on demand, on stop), find_click, webhooks."""
from __future__ import annotations

import asyncio
import time

import pytest

from shortener.core import Core
from shortener.store.sqlite.clicks import CLICK_COLUMNS
from redirect_support import DESKTOP, IPHONE, clicks, client_with, cookie_attrs, make_link, totals


def _cid(r) -> str:
    return cookie_attrs(r.headers["set-cookie"])[1]


def totals_after_shutdown(settings, link: dict) -> dict:
    """A link's stored rows and counters, read by a fresh Core once the app has stopped."""
    async def read():
        other = await Core.open(settings)
        try:
            return await other.store.click_totals(link["id"])
        finally:
            await other.close()

    return asyncio.run(read())


def test_same_identity_inside_the_window_reuses_its_click_id_and_counts_once(client, core, run):
    link = make_link(run, core, key="d")
    first = _cid(client.get("/d", headers={"user-agent": DESKTOP}))
    again = _cid(client.get("/d?x=1", headers={"user-agent": DESKTOP}))
    other_ua = _cid(client.get("/d", headers={"user-agent": IPHONE}))
    assert first == again and other_ua != first
    rows = clicks(run, core, link)
    assert [r["id"] for r in rows] == [first, other_ua]
    assert totals(run, core, link)["clicks"] == 2


def test_dedup_is_per_link(client, core, run):
    a = make_link(run, core, key="a")
    b = make_link(run, core, key="b")
    assert _cid(client.get("/a")) != _cid(client.get("/b"))
    assert len(clicks(run, core, a)) == 1 and len(clicks(run, core, b)) == 1


def test_window_zero_counts_every_click(settings):
    with client_with(settings, click_dedup_seconds=0) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        link = make_link(run, core, key="z")
        ids = {_cid(c.get("/z")) for _ in range(5)}
        assert len(ids) == 5
        assert totals(run, core, link) == {"rows": 5, "clicks": 5, "last_clicked": clicks(run, core, link)[-1]["timestamp"]}


def test_find_click_sees_queued_and_written_clicks(settings):
    # A long flush interval keeps the click queued until we flush.
    with client_with(settings, click_flush_ms=60_000, country_header_from_cdn=True) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        link = make_link(run, core, key="f", url="https://example.com/f")
        cid = _cid(c.get("/f?qr=1", headers={"user-agent": IPHONE, "cf-ipcountry": "NL"}))
        queued = run(core.clicks.find_click, cid)
        assert run(core.store.find_click, cid) is None
        assert queued["id"] == cid and queued["link_id"] == link["id"]
        assert (queued["country"], queued["device"], queued["qr"], queued["trigger"]) == ("NL", "Mobile", 1, "qr")
        assert run(core.clicks.flush) == 1
        written = run(core.clicks.find_click, cid)
        assert written == queued
        assert run(core.clicks.find_click, "nope") is None


def test_a_full_batch_is_written_without_waiting_for_the_timer(settings):
    with client_with(settings, click_flush_ms=60_000, click_batch_size=3, click_dedup_seconds=0) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        link = make_link(run, core, key="s")
        for _ in range(3):
            c.get("/s")
        deadline = time.monotonic() + 5
        while run(core.store.click_totals, link["id"])["rows"] < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert run(core.store.click_totals, link["id"])["clicks"] == 3


def test_a_batch_larger_than_a_row_chunk_is_written_whole_with_its_counters(settings, monkeypatch):
    # Rows are built a chunk at a time with a yield between chunks; clicks arriving during a
    # write go to the next transaction. Nothing is lost or counted twice either way.
    import shortener.clicks

    monkeypatch.setattr(shortener.clicks, "ROW_CHUNK", 4)
    with client_with(settings, click_flush_ms=60_000, click_dedup_seconds=0) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        a, b = make_link(run, core, key="ca"), make_link(run, core, key="cb")
        for i in range(23):
            c.get("/ca" if i % 3 else "/cb", headers={"user-agent": DESKTOP})
        c.get("/ca", headers={"user-agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"})
        assert core.clicks.queued == 23
        assert run(core.clicks.flush) == 23
        ta, tb = totals(run, core, a), totals(run, core, b)
        assert (ta["rows"], ta["clicks"], tb["rows"], tb["clicks"]) == (15, 15, 8, 8)
        assert ta["last_clicked"] == clicks(run, core, a)[-1]["timestamp"]
        assert core.clicks.queued == 0 and run(core.clicks.flush) == 0


def test_a_failed_write_keeps_its_clicks_queued_and_counts_nothing_twice(settings, monkeypatch):
    import pytest

    with client_with(settings, click_flush_ms=60_000, click_dedup_seconds=0) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        link = make_link(run, core, key="y")
        ids = [_cid(c.get("/y")) for _ in range(10)]
        real = core.store.record_click_batch

        async def failing(rows, outbox=None):
            raise OSError("disk full")

        monkeypatch.setattr(core.store, "record_click_batch", failing)
        with pytest.raises(OSError):
            run(core.clicks.flush)
        assert core.clicks.queued == 10 and core.clicks.failures == 1
        assert run(core.store.find_click, ids[0]) is None
        assert run(core.clicks.find_click, ids[9])["id"] == ids[9]  # still queued, still found
        monkeypatch.setattr(core.store, "record_click_batch", real)
        assert run(core.clicks.flush) == 10
        t = totals(run, core, link)
        assert (t["rows"], t["clicks"]) == (10, 10)
        assert [r["id"] for r in clicks(run, core, link)] == ids


def test_stop_waits_for_a_write_in_progress_and_counts_it_once(settings, monkeypatch):
    # The database call of a write runs on another thread and commits even if the awaiting
    # task is cancelled (shield models that): stop must not cancel it and write the batch again.
    # A full batch of 5 wakes the writer; the timer never does.
    with client_with(settings, click_flush_ms=60_000, click_batch_size=5, click_dedup_seconds=0) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        link = make_link(run, core, key="x")
        real = core.store.record_click_batch
        started = []

        async def slow(rows, outbox=None):
            async def inner():
                started.append(len(rows))
                await asyncio.sleep(0.3)
                return await real(rows, outbox)
            return await asyncio.shield(inner())

        monkeypatch.setattr(core.store, "record_click_batch", slow)
        for _ in range(5):
            c.get("/x")
        deadline = time.monotonic() + 5
        while not started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert started == [5]

    t = totals_after_shutdown(settings, link)
    assert (t["rows"], t["clicks"]) == (5, 5)


def test_the_timer_writes_clicks_and_counters_follow(client, core, run):
    link = make_link(run, core, key="t")
    client.get("/t")
    deadline = time.monotonic() + 5  # the fixture's flush interval is 20 ms
    while run(core.store.click_totals, link["id"])["clicks"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert run(core.store.click_totals, link["id"])["rows"] == 1


def test_stop_flushes_the_queue(settings):
    with client_with(settings, click_flush_ms=60_000, click_dedup_seconds=0) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        link = make_link(run, core, key="q")
        for _ in range(7):
            c.get("/q")
        assert core.clicks.queued == 7

    t = totals_after_shutdown(settings, link)
    assert (t["rows"], t["clicks"]) == (7, 7)


def test_a_full_queue_drops_and_counts_but_still_redirects(settings):
    with client_with(settings, click_flush_ms=60_000, click_queue_max=2, click_dedup_seconds=0) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        link = make_link(run, core, key="full")
        statuses = [c.get("/full").status_code for _ in range(5)]
        assert statuses == [302] * 5
        assert core.clicks.dropped == 3
        assert totals(run, core, link)["clicks"] == 2


def test_ip_is_truncated_and_identity_is_salted(settings):
    with client_with(settings, trusted_proxies=("127.0.0.1/32",), click_dedup_seconds=0) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        link = make_link(run, core, key="ip")
        # TestClient's peer is not an address, so it is never a trusted proxy: XFF is ignored.
        c.get("/ip", headers={"x-forwarded-for": "203.0.113.77"})
        [row] = clicks(run, core, link)
        assert row["ip"] is None


def test_webhook_links_prepare_link_clicked_for_the_batch(client, core, run, monkeypatch):
    sent = []

    async def enqueue(event, data):
        sent.append((event, data))

    async def prepare(event, data):  # link.clicked rows are made for the click batch's transaction
        sent.append((event, data))
        return []

    monkeypatch.setattr(core.webhooks, "enqueue", enqueue)
    # webhookIds must name a webhook that exists (enqueue is replaced: nothing is delivered)
    run(core.store.insert_webhook, {"id": "wh_test", "name": "t", "url": "https://example.com/hook",
                                    "secret": "whsec_test", "triggers": '["link.clicked"]',
                                    "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z"})
    monkeypatch.setattr(core.webhooks, "prepare", prepare)
    hooked = make_link(run, core, key="wh", url="https://example.com/wh", webhookIds=["wh_test"])
    plain = make_link(run, core, key="nowh")
    sent.clear()  # creation events
    r = client.get("/wh?qr=1", headers={"user-agent": IPHONE, "referer": "https://t.co/abc"})
    client.get("/nowh")
    run(core.clicks.flush)
    assert [e for e, _ in sent] == ["link.clicked"]
    data = sent[0][1]
    click = data["click"]
    assert click["id"] == _cid(r) and click["url"] == "https://example.com/wh"
    assert (click["device"], click["os"], click["referer"], click["refererUrl"], click["qr"]) == (
        "Mobile", "iOS", "t.co", "https://t.co/abc", True)
    assert data["link"]["id"] == hooked["id"] and data["link"]["webhookIds"] == ["wh_test"]
    assert plain["id"] != hooked["id"]


def test_click_ids_stay_unique_and_well_formed_across_threads():
    import re
    import threading

    from shortener.clicks import fast_click_id

    per_thread: list[list[str]] = [[] for _ in range(4)]

    def draw(out: list[str]) -> None:
        for _ in range(20_000):
            out.append(fast_click_id())

    threads = [threading.Thread(target=draw, args=(out,)) for out in per_thread]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [cid for out in per_thread for cid in out]
    assert len(set(ids)) == 80_000
    assert all(re.fullmatch(r"[0-9A-Za-z]{16}", cid) for cid in ids)
    for out in per_thread:  # time-ordered within a thread: the first 7 characters never go back
        assert [cid[:7] for cid in out] == sorted(cid[:7] for cid in out)


def test_identity_is_one_per_visitor_and_computed_by_the_writer(settings):
    from shortener.visitor import identity_hash

    with client_with(settings, click_dedup_seconds=0) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        link = make_link(run, core, key="who")
        for ua in (DESKTOP, DESKTOP, IPHONE):
            c.get("/who", headers={"user-agent": ua})
        rows = clicks(run, core, link)
        assert [r["identity_hash"] for r in rows] == [
            identity_hash(core.clicks.salt, "testclient", ua) for ua in (DESKTOP, DESKTOP, IPHONE)
        ]
        assert rows[0]["identity_hash"] != rows[2]["identity_hash"]


def _click_rows(specs: list[tuple[str, dict]]) -> list[tuple]:
    """Click rows (CLICK_COLUMNS order) stamped now, one per (click id, link)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    rows = []
    for click_id, link in specs:
        row = dict.fromkeys(CLICK_COLUMNS)
        row.update({"id": click_id, "link_id": link["id"], "domain": link["domain"], "key": link["key"],
                    "url": link["url"], "timestamp": now, "qr": 0, "trigger": "link", "identity_hash": "h"})
        rows.append(tuple(row[col] for col in CLICK_COLUMNS))
    return rows


def test_a_click_batch_yields_the_write_lock_to_a_write_queued_behind_it(client, core, run):
    """A write queued before a click batch starts goes first: it waits for none of the batch,
    which follows in a new call, each row with its counters and rollups."""
    import threading

    a, b = make_link(run, core, key="ya"), make_link(run, core, key="yb")
    rows = _click_rows([(f"y{i:015d}", (a, b)[i % 2]) for i in range(2000)])
    gate = threading.Event()

    def count(conn):
        return conn.execute("SELECT COUNT(*) AS n FROM clicks").fetchone()["n"]

    async def scenario():
        store = core.store
        # The writer thread is held until both jobs are queued, in this order.
        blocker = asyncio.ensure_future(store.run_in_transaction(lambda conn: gate.wait(10)))
        batch = asyncio.ensure_future(store.record_click_batch(rows))
        await asyncio.sleep(0.05)
        seen = asyncio.ensure_future(store.run_in_transaction(count))
        await asyncio.sleep(0.05)
        gate.set()
        await blocker
        return await batch, await seen

    written, seen_by_the_write = run(scenario)
    assert written == 2000
    assert seen_by_the_write == 0
    for link in (a, b):
        assert run(core.store.click_totals, link["id"])["clicks"] == 1000
    ids = [link["id"] for link in (a, b)]
    assert run(core.store.read, "SELECT SUM(n) AS n FROM rollups WHERE source = 'clicks' AND level = 'd' "
               "AND dim = 'total'")[0]["n"] == 2000
    per_link = run(core.store.read, "SELECT link_id, SUM(n) AS n FROM link_rollups WHERE source = 'clicks' "
                   "AND level = 'h' AND dim = 'hit' GROUP BY link_id ORDER BY link_id")
    assert per_link == [{"link_id": i, "n": 1000} for i in sorted(ids)]


def test_a_write_cancelled_before_it_started_is_not_counted_as_waiting(core, run):
    """Otherwise every later click batch would yield after each statement, for ever."""
    import threading

    gate = threading.Event()

    async def scenario():
        store = core.store
        blocker = asyncio.ensure_future(store.run_in_transaction(lambda conn: gate.wait(10)))
        await asyncio.sleep(0.05)
        queued = asyncio.ensure_future(store.write("SELECT 1"))
        await asyncio.sleep(0.05)
        waiting_then = store._writer.others_waiting()
        queued.cancel()
        await asyncio.sleep(0.05)
        gate.set()
        await blocker
        # Background work (the cache sync, the rollup builder) may have queued jobs meanwhile:
        # once a job queued after them has run, nothing is left waiting.
        await store.write("SELECT 1")
        return waiting_then, store._writer.others_waiting()

    assert run(scenario) == (True, False)


def test_a_batch_commits_in_units_each_row_once(core, run, monkeypatch):
    """A batch is written in transactions of UNIT_ROWS rows, doubling up to MAX_UNIT_ROWS, each
    with its counters and rollups; a row already stored, in the batch twice or across units,
    counts once."""
    import shortener.store.sqlite.clicks as store_clicks
    monkeypatch.setattr(store_clicks, "UNIT_ROWS", 400)
    monkeypatch.setattr(store_clicks, "MAX_UNIT_ROWS", 1600)
    a, b = make_link(run, core, key="fa"), make_link(run, core, key="fb")
    # No background job stops a unit here (units stay small for a while after a stop: CALM_S).
    monkeypatch.setattr(core.store, "_writes_waiting", lambda: False)
    monkeypatch.setattr(core.store._writer, "on_queued", None)
    rows = _click_rows([(f"f{i % 2100:015d}", (a, b)[i % 3 == 0]) for i in range(2300)])
    assert run(core.store.record_click_batch, rows[:100]) == 100
    commits = []
    real_unit = store_clicks._write_unit
    monkeypatch.setattr(store_clicks, "_write_unit", lambda conn, cur, unit, *rest: commits.append(len(unit))
                        or real_unit(conn, cur, unit, *rest))
    core.store._click_stopped_at = float("-inf")
    assert run(core.store.record_click_batch, rows) == 2000  # ids 0-99 stored, 2100-2299 repeat 0-199
    assert commits == [800, 1500]  # the 100-row batch was a unit of 400, so the next is 800
    stored = {link["id"]: sum(1 for i in range(2100) if ((a, b)[i % 3 == 0])["id"] == link["id"]) for link in (a, b)}
    for link in (a, b):
        assert run(core.store.click_totals, link["id"])["clicks"] == stored[link["id"]]
    assert run(core.store.read, "SELECT SUM(n) AS n FROM rollups WHERE source = 'clicks' AND level = 'h' "
               "AND dim = 'total'")[0]["n"] == 2100
    per_link = run(core.store.read, "SELECT link_id, SUM(n) AS n FROM link_rollups WHERE source = 'clicks' "
                   "AND level = 'd' AND dim = 'hit' GROUP BY link_id")
    assert {r["link_id"]: r["n"] for r in per_link} == stored
    # This month's per-link month rows are built when it ends, not by the writer (migration 016).
    assert run(core.store.read, "SELECT COUNT(*) AS n FROM link_rollups WHERE level = 'm'")[0]["n"] == 0
    assert run(core.store.read, "SELECT COUNT(*) AS n FROM link_rollups WHERE level = 'd'")[0]["n"] > 0


# Units of 800 rows (UNIT_ROWS, not growing here). A write that queues between two units ends the call there; one
# that queues while a unit is being written stops it before its next statement and rolls it back
# (inside a statement it is interrupted: the test after this one). The
# rest is written in the next call, each row once. When writes never stop queueing, a batch that
# committed nothing for STARVED_S writes a unit that cannot be stopped (100 rows, doubling to
# 400 while the writes go on).
@pytest.mark.parametrize("where, results", [
    ("between units", [(1600, 1600), (400, 400)]),
    ("inside a unit", [(800, 800), (1200, 1200)]),
    ("always", [(100, 100), (200, 200)] + [(400, 400)] * 4 + [(100, 100)]),
])
def test_a_batch_drops_its_unit_in_progress_for_a_waiting_write_and_writes_it_after(core, run, monkeypatch,
                                                                                    where, results):
    import shortener.store.sqlite.clicks as store_clicks
    monkeypatch.setattr(store_clicks, "UNIT_ROWS", 800)
    monkeypatch.setattr(store_clicks, "MAX_UNIT_ROWS", 800)
    a, b = make_link(run, core, key="ra"), make_link(run, core, key="rb")
    rows = _click_rows([(f"r{i:015d}", (a, b)[i % 4 == 0]) for i in range(2000)])
    asked = {"between": 0, "inside": 0}
    state = {"armed": True, "unit": 0}
    real_unit = store_clicks._write_unit

    def unit(conn, cur, rows_, outbox, stop):
        state["unit"] += 1
        return real_unit(conn, cur, rows_, outbox, stop)

    def waiting() -> bool:
        # Before a unit, or inside one before each of its statements.
        kind = "inside" if core.store._writer._conn.in_transaction else "between"
        asked[kind] += 1
        if where == "always":
            return True
        if not state["armed"]:
            return False
        # (Asked as unit 3 starts: the counter moved on as _write_unit was called.)
        return (where == "between units" and kind == "between" and state["unit"] == 3) or (
            where == "inside a unit" and kind == "inside" and state["unit"] == 2)

    monkeypatch.setattr(store_clicks, "_write_unit", unit)
    monkeypatch.setattr(core.store, "_writes_waiting", waiting)
    monkeypatch.setattr(core.store._writer, "on_queued", None)  # only `waiting` stops units here
    seen = []
    real = core.store.run_on_writer

    async def spy(fn, *args):
        result = await real(fn, *args)
        state["armed"] = False  # the write that waited has run
        seen.append(result[:2])  # rows inserted, rows taken (then the next unit size)
        return result

    monkeypatch.setattr(core.store, "run_on_writer", spy)
    monkeypatch.setattr(store_clicks, "STARVED_S", 0.05)
    assert run(core.store.record_click_batch, rows) == 2000
    if where == "always":
        assert len(seen) > 10 and (0, 0) in seen  # calls that took nothing, then one that must
        seen = [r for r in seen if r != (0, 0)]
    assert seen == results
    assert asked["between"] > 0 and (where != "inside a unit" or asked["inside"] > 0)
    want = {a["id"]: 1500, b["id"]: 500}
    for link in (a, b):
        assert run(core.store.click_totals, link["id"]) == {**run(core.store.click_totals, link["id"]),
                                                            "rows": want[link["id"]], "clicks": want[link["id"]]}
    assert run(core.store.read, "SELECT SUM(n) AS n FROM rollups WHERE source = 'clicks' AND level = 'h' "
               "AND dim = 'total'")[0]["n"] == 2000
    per_link = run(core.store.read, "SELECT link_id, SUM(n) AS n FROM link_rollups WHERE source = 'clicks' "
                   "AND level = 'h' AND dim = 'hit' GROUP BY link_id")
    assert {r["link_id"]: r["n"] for r in per_link} == want



def test_queued_clicks_are_plain_tuples_the_garbage_collector_untracks(settings):
    """A queued click holds plain values only, so the collector stops tracking it: under a
    saturating load ~100k queued class instances made each full collection stall the loop."""
    import gc

    with client_with(settings, click_flush_ms=60_000, click_dedup_seconds=0) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        make_link(run, core, key="gc", trackConversion=True)
        for i in range(50):
            assert c.get("/gc", headers={"user-agent": f"{DESKTOP} {i}"}).status_code == 302
        queued = list(core.clicks._queue)
        # set_url() replaced each with its final URL (trackConversion appends the click id)
        assert len(queued) == 50 and all(type(q) is tuple and f"dub_id={q[0]}" in q[4] for q in queued)
        gc.collect()
        assert not any(gc.is_tracked(q) for q in queued)


def test_an_api_write_runs_on_the_loop_and_stops_the_click_unit_in_progress(core, run, client, api_key):
    """An API write takes the write lock on the event loop's own connection: a click unit holding
    it (here a writer-thread job that stops as the click writer's does) is asked to stop, and
    the write commits without a hop to the writer thread."""
    import sqlite3
    import threading

    store = core.store
    seen = {}

    def click_unit(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE").close()
        conn.execute("INSERT INTO tags (id, name, color, created_at, updated_at) "
                     "VALUES ('tag_unit', 'unit', 'red', '', '')").close()
        seen["held"] = True
        deadline = time.monotonic() + 10
        while not store._writes_waiting() and time.monotonic() < deadline:
            time.sleep(0.0005)
        seen["stopped"] = store._writes_waiting()
        conn.execute("ROLLBACK").close()

    def write(conn: sqlite3.Connection) -> int:
        seen["thread"] = threading.get_ident()
        conn.execute("INSERT INTO tags (id, name, color, created_at, updated_at) "
                     "VALUES ('tag_api', 'api', 'blue', '', '')").close()
        return 1

    async def scenario():
        unit = asyncio.ensure_future(store.run_on_writer(click_unit))
        while not seen.get("held"):
            await asyncio.sleep(0.001)
        assert await store.run_small_transaction(write) == 1
        await unit
        return threading.get_ident()

    loop_thread = run(scenario)
    assert seen["stopped"] is True and seen["thread"] == loop_thread
    assert not store._writes_waiting()
    names = [t["name"] for t in run(store.read, "SELECT name FROM tags WHERE id IN ('tag_api', 'tag_unit')")]
    assert names == ["api"]  # the stopped unit was rolled back; the write committed
    # Through HTTP: a link made while clicks are being written, each click counted once.
    link = make_link(run, core, key="busy")
    for i in range(30):
        assert client.get("/busy", headers={"user-agent": f"{DESKTOP} {i}"}).status_code == 302
    r = client.post("/api/links", json={"url": "https://dest.test/x", "key": "made"},
                    headers={"Authorization": f"Bearer {api_key}"})
    assert r.status_code == 200, r.text
    run(core.clicks.flush)
    assert run(store.click_totals, link["id"])["clicks"] == 30
    made = client.get("/api/links/" + r.json()["id"], headers={"Authorization": f"Bearer {api_key}"})
    assert made.json()["key"] == "made"


@pytest.mark.parametrize("held, on_loop", [(0.1, True), (0.5, False)])
def test_an_api_write_waits_for_a_lock_held_elsewhere_then_goes_to_the_writer_thread(core, run, held, on_loop):
    """A lock that another process (or a COMMIT) holds: the write waits for it a loop turn at a
    time, the loop free meanwhile, and takes it on the loop; held past LOOP_WRITE_WAIT_S, the
    write queues on the writer thread, which waits as any write does."""
    import sqlite3
    import threading
    from shortener.store.sqlite.base import LOOP_WRITE_WAIT_S

    assert (held < LOOP_WRITE_WAIT_S / 2) if on_loop else (held > LOOP_WRITE_WAIT_S * 1.5)
    other = sqlite3.connect(core.store.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    threads = []

    def write(conn: sqlite3.Connection) -> None:
        threads.append(threading.get_ident())
        conn.execute("INSERT INTO tags (id, name, color, created_at, updated_at) "
                     "VALUES ('tag_late', 'late', 'red', '', '')").close()

    async def scenario():
        pending = asyncio.ensure_future(core.store.run_small_transaction(write))
        ticks = 0
        deadline = time.monotonic() + held
        while time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            ticks += 1  # the loop goes on serving while the write waits
        assert not pending.done() and threads == []
        other.execute("COMMIT")
        await pending
        return threading.get_ident(), ticks

    try:
        loop_thread, ticks = run(scenario)
    finally:
        other.close()
    assert ticks >= 5
    assert len(threads) == 1 and (threads[0] == loop_thread) is on_loop
    assert run(core.store.read, "SELECT name FROM tags WHERE id = 'tag_late'") == [{"name": "late"}]


def test_a_waiting_write_interrupts_the_click_unit_inside_its_statement(core, run, monkeypatch):
    """A write that starts waiting while a unit's statement runs stops that statement at once
    (sqlite3_interrupt): the unit is rolled back, the write commits, and the unit's clicks are
    written after it, each once."""
    import sqlite3
    import threading
    import shortener.store.sqlite.clicks as store_clicks

    monkeypatch.setattr(store_clicks, "UNIT_ROWS", 400)
    # A background job queued on the writer stops a unit too; no unit that cannot be stopped
    # comes after such stops here, so the slow statement below runs in a unit that can be.
    monkeypatch.setattr(store_clicks, "EMPTY_CALLS_BEFORE_GUARANTEE", 10**6)
    monkeypatch.setattr(store_clicks, "STARVED_S", 3600)
    link = make_link(run, core, key="intr")
    rows = _click_rows([(f"i{i:015d}", link) for i in range(1200)])
    running = threading.Event()
    seen = {"slow": 0, "interrupted": 0}
    real_finish = store_clicks._finish_rows

    def finish(tx, inserted, first_rowid, outbox):
        if tx.units is not None and not seen["slow"]:
            seen["slow"] += 1
            # A statement that would run for minutes: it marks itself running from inside SQLite.
            tx.conn.create_function("mark", 1, lambda x: running.set() or x)
            try:
                tx.fetchall("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 10000000000) "
                            "SELECT MAX(mark(x)) AS m FROM c")
            except sqlite3.OperationalError as exc:
                seen["interrupted"] += "interrupt" in str(exc)
                raise
        real_finish(tx, inserted, first_rowid, outbox)

    monkeypatch.setattr(store_clicks, "_finish_rows", finish)

    def write(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO tags (id, name, color, created_at, updated_at) "
                     "VALUES ('tag_i', 'i', 'red', '', '')").close()

    async def scenario():
        batch = asyncio.ensure_future(core.store.record_click_batch(rows))
        deadline = time.monotonic() + 30
        while not running.is_set():
            assert time.monotonic() < deadline and not batch.done()
            await asyncio.sleep(0.001)
        await core.store.run_small_transaction(write)
        return await batch

    assert run(scenario) == 1200
    assert seen == {"slow": 1, "interrupted": 1}
    assert run(core.store.click_totals, link["id"])["clicks"] == 1200
    assert run(core.store.read, "SELECT COUNT(*) AS n FROM clicks WHERE link_id = ?", (link["id"],))[0]["n"] == 1200
    assert run(core.store.read, "SELECT name FROM tags WHERE id = 'tag_i'") == [{"name": "i"}]


def test_click_units_and_loop_writes_interleaved_lose_and_double_nothing(core, run, monkeypatch):
    """Many small units (each stoppable) against a stream of writes on the loop, some arriving
    inside a statement, some between statements, some during a COMMIT: every click is stored and
    counted once, every write commits, and nothing is left in a transaction."""
    import random
    import sqlite3
    import shortener.store.sqlite.clicks as store_clicks

    monkeypatch.setattr(store_clicks, "UNIT_ROWS", 40)
    monkeypatch.setattr(store_clicks, "MAX_UNIT_ROWS", 160)
    links = [make_link(run, core, key=f"mix{i}") for i in range(5)]
    rows = _click_rows([(f"m{i:015d}", links[i % 5]) for i in range(4000)])
    rnd = random.Random(3)

    def write(conn: sqlite3.Connection, n: int) -> None:
        conn.execute("INSERT INTO tags (id, name, color, created_at, updated_at) VALUES (?, ?, 'red', '', '')",
                     (f"tag_mix{n}", f"mix{n}")).close()

    async def clicks() -> int:  # one batch after another, as the recorder writes them
        return sum([await core.store.record_click_batch(rows[i:i + 1000]) for i in range(0, 4000, 1000)])

    async def scenario():
        batches = asyncio.ensure_future(clicks())
        n = 0
        while not batches.done():
            await core.store.run_small_transaction(write, n)
            n += 1
            await asyncio.sleep(rnd.choice((0, 0, 0.0005, 0.002)))
        return await batches, n

    inserted, writes = run(scenario)
    assert inserted == 4000 and writes > 10
    for link in links:
        assert run(core.store.click_totals, link["id"])["clicks"] == 800
    assert run(core.store.read, "SELECT COUNT(*) AS n FROM clicks")[0]["n"] == 4000
    assert run(core.store.read, "SELECT SUM(n) AS n FROM rollups WHERE source = 'clicks' AND level = 'h' "
               "AND dim = 'total'")[0]["n"] == 4000
    assert run(core.store.read, "SELECT COUNT(*) AS n FROM tags WHERE name LIKE 'mix%'")[0]["n"] == writes
    assert run(core.store.connections_idle)


def test_a_storm_of_writes_lets_a_unit_of_clicks_through_every_few_writes(core, run, monkeypatch):
    """Writes that never stop coming stop every unit; after EMPTY_CALLS_BEFORE_GUARANTEE calls
    that took nothing the next unit cannot be stopped, so clicks keep pace with the writes."""
    import shortener.store.sqlite.clicks as store_clicks

    monkeypatch.setattr(store_clicks, "STARVED_S", 3600)  # only the count of empty calls acts here
    link = make_link(run, core, key="storm")
    rows = _click_rows([(f"s{i:015d}", link) for i in range(2000)])
    monkeypatch.setattr(core.store, "_writes_waiting", lambda: True)
    calls = []
    real = core.store.run_on_writer

    async def spy(fn, *args):
        result = await real(fn, *args)
        calls.append(result[1])  # rows taken
        return result

    monkeypatch.setattr(core.store, "run_on_writer", spy)
    assert run(core.store.record_click_batch, rows) == 2000
    # The guaranteed unit starts small (a write may wait for it) and doubles while the storm
    # goes on: 100, 200, 400, 400, ...
    n, first, want, left = store_clicks.EMPTY_CALLS_BEFORE_GUARANTEE, store_clicks.FIRST_UNIT_ROWS, [], 2000
    while left:
        want += [0] * n + [min(first, left)]
        left -= min(first, left)
        first = min(2 * first, store_clicks.MAX_FIRST_UNIT_ROWS)
    assert want[:8] == [0, 0, 0, 100, 0, 0, 0, 200] and calls == want
    assert run(core.store.click_totals, link["id"])["clicks"] == 2000
