"""Store correctness (issue 13): no stale reads, no stuck transactions, no double counts, safe
with two processes. Each test reproduces one numbered finding against the real store: real
decode errors, real cancellation, real processes."""
from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shortener.bots import looks_like_bot
from shortener.clicks import describe_user_agent
from shortener.core import Core
from shortener.errors import StoreUnavailable
from shortener.store.sqlite.base import REDIRECT_BUSY_MS, fetchall, migrations

from conftest import ROOT
from redirect_support import DESKTOP, client_with, make_link, totals


def _raw(settings) -> sqlite3.Connection:
    """Another process's view of the database (the CLI, a backup): its own connection."""
    return sqlite3.connect(settings.resolved_database_url[len("sqlite:///"):], isolation_level=None)


def _corrupt_title(settings, link_id: str) -> None:
    """A title whose bytes are not UTF-8, written behind the service's back: every read of it
    raises while its rows are being fetched."""
    with _raw(settings) as conn:
        conn.execute("UPDATE links SET title = CAST(x'ff41' AS TEXT) WHERE id = ?", (link_id,))


# -- 1. a failed read leaves no reader on a stale snapshot -------------------------------------

def test_undecodable_text_neither_breaks_reads_nor_leaves_a_stale_snapshot(settings, api, core, run, caplog):
    link = make_link(run, core, key="bad", title="fine")
    _corrupt_title(settings, link["id"])
    # Every reader in turn meets the decode error mid-fetch (the pool hands out the idle ones);
    # the listing reads the row again with a replacement character instead of failing.
    for _ in range(core.store.reader_count + 1):
        r = api.get("/api/links")
        assert r.status_code == 200 and r.json()[0]["title"] == "\ufffdA"
    assert "undecodable text" in caplog.text
    assert api.get(f"/api/links/{link['id']}").json()["title"] == "\ufffdA"
    assert client_get_redirect(api, "/bad") == 302  # the redirect path's connection too
    # A key created by "the CLI" (another process) works at once, on every reader.
    other = run(Core.open, settings)
    try:
        _, key = run(other.api_keys.create, "cli")
    finally:
        run(other.close)
    headers = {"Authorization": f"Bearer {key}"}
    statuses = [api.get("/api/tags", headers=headers).status_code for _ in range(core.store.reader_count * 2)]
    assert statuses == [200] * (core.store.reader_count * 2)


def client_get_redirect(client, path: str) -> int:
    return client.get(path, headers={"user-agent": DESKTOP}).status_code


def test_a_reader_that_raised_mid_fetch_is_reset_before_its_next_read(settings, core, run):
    """A grouped read that fails with its cursor half-read (the old failure: the cursor lived on
    in the traceback, and with it the WAL snapshot)."""
    store = core.store
    for i in range(5):
        make_link(run, core, key=f"m{i}")

    def half_read_then_fail(conn):
        cur = conn.execute("SELECT id FROM links")
        cur.fetchone()
        raise ValueError("failed while reading")

    for _ in range(store.reader_count):
        with pytest.raises(ValueError):
            run(store.run_on_reader, half_read_then_fail)
    with _raw(settings) as conn:
        conn.execute("INSERT INTO tags (id, name, color, created_at, updated_at) "
                     "VALUES ('tag_x', 'fresh', 'red', '2026-01-01', '2026-01-01')")
        # No reader holds a snapshot, so a checkpoint can reset the whole WAL (background tasks
        # read now and then, so a moment's busy is retried; a stuck reader is busy every time).
        for _ in range(100):
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                break
            time.sleep(0.02)
    assert busy == 0
    seen = [run(store.read_one, "SELECT name FROM tags WHERE id = 'tag_x'") for _ in range(store.reader_count)]
    assert seen == [{"name": "fresh"}] * store.reader_count
    assert store.read_now("SELECT name FROM tags WHERE id = 'tag_x'") == [{"name": "fresh"}]


# -- 2. a cancelled transaction leaves the writer clean ------------------------------------------

async def _cancelled_after(start, steps: int) -> None:
    """Start `start()` as a task, let the event loop turn `steps` times, then cancel it and wait
    for it to end (the cancellation can land at any await of the job)."""
    task = asyncio.ensure_future(start())
    for _ in range(steps):
        await asyncio.sleep(0)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


def test_cancelling_a_write_at_any_point_never_leaves_a_transaction_open(settings, core, run):
    store = core.store

    for steps in range(8):
        run(_cancelled_after, lambda: store.write(
            "INSERT INTO tags (id, name, color, created_at, updated_at) VALUES (?, ?, 'red', 'x', 'x')",
            (f"tag_c{steps}", f"c{steps}")), steps)
        # The next write works: no "cannot start a transaction within a transaction".
        assert run(store.write, "UPDATE tags SET color = 'blue' WHERE 0") == 0
    assert run(store.connections_idle)
    # Another process can take the write lock at once (nothing holds it).
    with _raw(settings) as conn:
        conn.execute("PRAGMA busy_timeout=0")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")


def test_an_error_inside_a_transaction_rolls_it_back(core, run):
    store = core.store

    def fail(conn):
        conn.execute("INSERT INTO tags (id, name, color, created_at, updated_at) VALUES ('tag_r', 'r', 'red', 'x', 'x')")
        raise ValueError("boom")

    with pytest.raises(ValueError):
        run(store.run_in_transaction, fail)
    assert run(store.read_one, "SELECT 1 AS x FROM tags WHERE id = 'tag_r'") is None
    assert run(store.connections_idle)


def test_a_failed_migration_rolls_back_and_leaves_the_writer_usable(settings, monkeypatch, run, core):
    good = migrations()
    number = good[-1][0] + 1
    bad = good + [(number, f"{number:03d}_bad.sql", "CREATE TABLE half_done (x);\nTHIS IS NOT SQL;\n")]
    monkeypatch.setattr("shortener.store.sqlite.base.migrations", lambda: bad)
    with pytest.raises(sqlite3.OperationalError):
        run(core.store.migrate)
    assert run(core.store.schema_version) == good[-1][0]
    assert run(core.store.read_one, "SELECT 1 AS x FROM sqlite_master WHERE name = 'half_done'") is None
    assert run(core.store.connections_idle)
    assert run(core.store.write, "UPDATE tags SET color = 'red' WHERE 0") == 0


def test_close_during_writes_still_flushes_every_click(settings):
    with client_with(settings, click_flush_ms=60_000, click_dedup_seconds=0) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        link = make_link(run, core, key="cw")
        for i in range(50):
            c.get("/cw", headers={"user-agent": f"{DESKTOP} n{i}"})

        async def writes_in_flight():
            for i in range(20):
                asyncio.ensure_future(core.tags.create({"name": f"t{i}"}))

        run(writes_in_flight)
    reopened = asyncio.run(_totals_after(settings, link["id"]))
    assert (reopened["rows"], reopened["clicks"]) == (50, 50)


async def _totals_after(settings, link_id):
    core = await Core.open(settings)
    try:
        return await core.store.click_totals(link_id)
    finally:
        await core.close()


# -- 3. a cancelled flush counts nothing twice; a lead waits for its own click only --------------

def test_a_cancelled_flush_neither_loses_nor_double_counts_clicks(settings):
    with client_with(settings, click_flush_ms=60_000, click_dedup_seconds=0) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        link = make_link(run, core, key="cf")
        sent = 0
        for steps in (0, 1, 2, 3, 5, 8, 13):
            for i in range(50):
                c.get("/cf", headers={"user-agent": f"{DESKTOP} {steps}-{i}"})
                sent += 1
            run(_cancelled_after, core.clicks.flush, steps)
        t = totals(run, core, link)
        assert (t["rows"], t["clicks"]) == (sent, sent)
        assert core.clicks.queued == 0 and not core.clicks._pending


def test_a_lead_waits_for_its_own_click_not_for_an_empty_queue(settings):
    # The old flush() looped until the queue was empty: under a sustained load, without bound.
    # wait_written() returns once the batch holding its click commits, with later clicks queued.
    with client_with(settings, click_flush_ms=60_000, click_batch_size=10, click_dedup_seconds=0) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        link = make_link(run, core, key="lw")
        cached = core.link_cache.link("go.test", "lw")

        async def scenario():
            def visit(ua):
                return core.clicks.record(cached, link["url"], ip="203.0.113.2", ua=ua, referer="",
                                          country=None, qr=False)

            mine = visit(DESKTOP)
            for i in range(2000):
                visit(f"{DESKTOP} later {i}")
            await core.clicks.wait_written(mine)
            return mine, core.clicks.queued

        mine, still_queued = run(scenario)
        assert run(core.store.find_click, mine)["link_id"] == link["id"]
        assert still_queued > 0  # it returned with other clicks still waiting


# -- 4. link.clicked outbox rows commit with their clicks ----------------------------------------

def test_link_clicked_outbox_rows_are_written_in_the_click_batch_transaction(settings, monkeypatch):
    with client_with(settings, click_flush_ms=60_000, click_dedup_seconds=0) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        hook = run(core.webhooks.create, {"name": "h", "url": "https://hooks.test/x", "triggers": ["link.clicked"]})
        link = make_link(run, core, key="wo", webhookIds=[hook["id"]])
        calls = []
        real = core.store.run_in_transaction
        real_writer = core.store.run_on_writer

        async def counting(fn, *args):
            calls.append(getattr(fn, "__name__", "?"))
            return await real_writer(fn, *args)

        monkeypatch.setattr(core.store, "run_on_writer", counting)
        # Stop the delivery worker from touching the outbox while we count it.
        run(core.webhooks.stop)
        for i in range(300):
            c.get("/wo", headers={"user-agent": f"{DESKTOP} {i}"})
        # First: a failure in the outbox insert must take the clicks down with it.
        run(real, lambda conn: conn.execute(
            "CREATE TRIGGER no_outbox BEFORE INSERT ON webhook_outbox BEGIN SELECT RAISE(ABORT, 'no'); END").close())
        with pytest.raises(sqlite3.IntegrityError):
            run(core.clicks.flush)
        t = run(core.store.click_totals, link["id"])
        assert (t["rows"], t["clicks"]) == (0, 0) and core.clicks.queued == 300
        run(real, lambda conn: conn.execute("DROP TRIGGER no_outbox").close())
        calls.clear()
        assert run(core.clicks.flush) == 300
        assert calls == ["_write_clicks"]  # one unit: clicks, counters and outbox in one transaction
        outbox = run(core.store.read_one, "SELECT COUNT(*) AS n FROM webhook_outbox WHERE event = 'link.clicked'")
        t = run(core.store.click_totals, link["id"])
        assert (t["rows"], t["clicks"], outbox["n"]) == (300, 300, 300)


# -- 5. crawler clicks leave nothing behind; both bot checks agree more often --------------------

def test_crawler_clicks_dropped_by_the_writer_free_their_pending_entries(client, core, run):
    link = make_link(run, core, key="cr")
    cached = core.link_cache.link("go.test", "cr")
    for i in range(500):
        core.clicks.record(cached, link["url"], ip=f"203.0.113.{i % 250}", ua=f"sitebot {i}", referer="",
                           country=None, qr=False)
    run(core.clicks.flush)
    assert core.clicks._pending == {} and core.clicks.bots_dropped >= 500
    assert run(core.store.click_totals, link["id"])["rows"] == 0


@pytest.mark.parametrize("ua", [
    "Apache-Nutch/1.19", "NewsGator/3.0", "Mozilla/2.0 (compatible; Ask Jeeves/Teoma)",
    "Mozilla/5.0 (compatible; coccocbot-web/1.0; +http://help.coccoc.com/searchengine)",
    "ichiro/3.0", "Riddler (http://riddler.io/about)", "AdsBot", "htdig/3.1.6", "Xenu Link Sleuth/1.3.8",
])
def test_the_request_path_knows_the_crawlers_the_full_parse_knows(ua):
    assert describe_user_agent(ua)["bot"] and looks_like_bot(ua)


# -- 6. processes starting at once on a new data folder ------------------------------------------

def test_several_processes_migrating_one_new_database_at_once(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    sqlite3.connect(data / "shortener.db").close()  # `migrate` upgrades a database, it creates none
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    # `init`: the CLI creates a database only when asked to (`migrate` refuses a missing one);
    # init creates and migrates it, so four at once race on the same migrations.
    procs = [subprocess.Popen([sys.executable, "-m", "shortener", "--data-dir", str(data), "init"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outs
    with sqlite3.connect(data / "shortener.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations()[-1][0]
        assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'links'").fetchone()[0] == 1
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_two_servers_started_at_once_on_one_new_data_folder_both_come_up(tmp_path):
    import httpx

    from conftest import free_port

    data = tmp_path / "data"
    ports = [free_port(), free_port()]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "SHORTENER_SQLITE_SYNCHRONOUS": "normal"}
    procs = [subprocess.Popen([sys.executable, "-m", "shortener", "--data-dir", str(data), "serve", "--port", str(p)],
                              env={**env, "SHORTENER_DOMAIN": f"127.0.0.1:{p}"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for p in ports]
    try:
        up = set()
        deadline = time.monotonic() + 30
        while len(up) < 2 and time.monotonic() < deadline and all(p.poll() is None for p in procs):
            for port in ports:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/_/health", timeout=1).status_code == 200:
                        up.add(port)
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
        assert up == set(ports), [p.stderr.read() if p.poll() is not None else "running" for p in procs]
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
    with sqlite3.connect(data / "shortener.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations()[-1][0]


# -- 7. several readers, a deadline, a short busy timeout on the loop ----------------------------

def test_a_slow_read_does_not_hold_up_authentication(api, core, run, client):
    gate = threading.Event()
    started = threading.Event()

    def slow(conn):
        started.set()
        gate.wait(30)
        return fetchall(conn, "SELECT 1 AS x")

    async def occupy():
        return asyncio.ensure_future(core.store.run_on_reader(slow))

    task = run(occupy)
    assert started.wait(10)
    try:
        # One reader is stuck; authenticated reads still answer.
        assert [api.get("/api/tags").status_code for _ in range(3)] == [200, 200, 200]
    finally:
        gate.set()
    assert run(lambda: task) == [{"x": 1}]


def test_one_links_api_answers_need_no_reader_thread(api, core, run):
    """Its API key, the link, its tags, its domain: point lookups on the loop's own connection,
    so a GET, a PATCH and a POST of one link answer while every reader thread is busy (under a
    saturated redirect load each hop to a thread waited a turn of the event loop)."""
    link = api.post("/api/links", json={"url": "https://shop.test/one", "tagNames": ["red"]}).json()
    gate = threading.Event()
    started = threading.Semaphore(0)

    def slow(conn):
        started.release()
        gate.wait(30)
        return fetchall(conn, "SELECT 1 AS x")

    async def occupy():
        return [asyncio.ensure_future(core.store.run_on_reader(slow)) for _ in range(core.store.reader_count)]

    tasks = run(occupy)
    for _ in tasks:
        assert started.acquire(timeout=10)
    try:
        got = api.get(f"/api/links/{link['id']}")
        assert got.status_code == 200 and [t["name"] for t in got.json()["tags"]] == ["red"]
        patched = api.patch(f"/api/links/{link['id']}", json={"url": "https://shop.test/two"})
        assert patched.status_code == 200 and patched.json()["url"] == "https://shop.test/two"
        assert [t["name"] for t in patched.json()["tags"]] == ["red"]
        created = api.post("/api/links", json={"url": "https://shop.test/three", "domain": "go.test"})
        assert created.status_code == 200 and created.json()["domain"] == "go.test"
        assert api.get("/api/links/lnk_missing").status_code == 404
        assert not any(task.done() for task in tasks)  # answered while the readers were still held
    finally:
        gate.set()
    for task in tasks:
        assert run(lambda task=task: task) == [{"x": 1}]


def test_a_read_over_its_deadline_is_stopped_with_a_503(core, run, api, monkeypatch):
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) AS c FROM n"
    with pytest.raises(StoreUnavailable):
        run(core.store.run_on_reader, lambda conn: fetchall(conn, endless), timeout=0.2)
    # The reader that was stopped answers the next query normally.
    for _ in range(core.store.reader_count):
        assert run(core.store.read_one, "SELECT 2 AS x") == {"x": 2}
    # Through HTTP: an API read stopped by the deadline is Dub's error shape with 503.
    monkeypatch.setattr(core.store, "query_timeout", 0.2)
    monkeypatch.setattr(core.store, "count_links", lambda *a, **k: core.store.read_one(endless))
    r = api.get("/api/links/count")
    assert r.status_code == 503 and r.json()["error"]["code"] == "service_unavailable"
    assert r.headers["retry-after"] == "2"


def test_the_redirect_lookup_connection_never_waits_long_on_the_loop(core):
    assert core.store.read_now("PRAGMA busy_timeout") == [{"timeout": REDIRECT_BUSY_MS}]
    assert REDIRECT_BUSY_MS <= 250


# -- 8. no private API of a dependency -------------------------------------------------------------

def test_the_store_uses_no_private_api_of_a_dependency():
    store_src = "\n".join(p.read_text() for p in (ROOT / "shortener").rglob("*.py"))
    assert "import aiosqlite" not in store_src
    assert "._execute(" not in store_src
    assert "aiosqlite" not in (ROOT / "pyproject.toml").read_text()


# -- 9. the dedup window: exact expiry, bounded memory, nothing for the garbage collector to walk --

def test_dedup_entries_expire_with_the_window_and_old_generations_are_freed(settings, monkeypatch):
    import gc

    with client_with(settings, click_flush_ms=60_000, click_dedup_seconds=1) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        make_link(run, core, key="dd")
        cached = core.link_cache.link("go.test", "dd")
        clock = [1000.0]
        monkeypatch.setattr("shortener.clicks.time.time", lambda: clock[0])
        rec = core.clicks
        rec.dedup = type(rec.dedup)(1, 1000, rec.dedup.created, clock[0])  # rotations on the fake clock

        def visit(ua):
            return rec.record(cached, "https://example.com/landing", ip="203.0.113.9", ua=ua, referer="",
                              country=None, qr=False)

        a1 = visit("A")
        clock[0] = 1000.5
        b1 = visit("B")
        assert visit("A") == a1 and visit("B") == b1  # inside the window: the same click
        clock[0] = 1000.999
        assert visit("A") == a1
        clock[0] = 1001.0  # the window is exact, to the millisecond of the first click
        a2 = visit("A")
        assert a2 != a1 and visit("B") == b1
        clock[0] = 1001.6
        assert visit("B") != b1 and visit("A") == a2
        # Two windows later every entry has rotated out; the shards dropped are freed by sweeps.
        clock[0] = 1004.0
        rec.dedup.sweep(clock[0])
        rec.dedup.sweep(clock[0] + 1.5)
        assert len(rec.dedup) == 0
        for _ in range(40):
            rec.dedup.sweep(clock[0] + 1.5)
        assert rec.dedup._retired == []
        assert visit("A") not in (a1, a2)
        # The dicts hold ints and strings only: the garbage collector never tracks them.
        gc.collect()
        assert not any(gc.is_tracked(shard) for shard in rec.dedup._new + rec.dedup._old)


def test_a_sqlite_without_the_features_the_schema_needs_is_one_clear_error():
    """Migration 014 needs FTS5's trigram tokenizer (SQLite 3.34+) and the rollups need the JSON
    functions: an older library must fail at start with a message that says so, not halfway
    through the migrations."""
    import sqlite3

    from shortener.store.sqlite.base import check_sqlite_features

    check_sqlite_features()  # this machine's library has them

    class Old:
        def execute(self, sql):
            raise sqlite3.OperationalError("no such tokenizer: trigram")

    with pytest.raises(RuntimeError, match="lacks a feature shortener needs.*no such tokenizer: trigram"):
        check_sqlite_features(Old())


# -- the WAL is checkpointed off the writer thread ------------------------------------------------

def test_the_wal_is_checkpointed_by_its_own_connection_not_in_a_writers_commit(settings, core, run):
    """A COMMIT that took the WAL past 1,000 pages used to copy it into the database on the
    writer thread, and every queued write waited; the checkpointer does it instead, and the WAL
    starts over rather than growing."""
    from shortener.store.sqlite.clicks import CLICK_COLUMNS

    store = core.store
    assert run(store._writer.call, fetchall, "PRAGMA wal_autocheckpoint") == [{"wal_autocheckpoint": 0}]
    link = make_link(run, core, key="wal")
    wal = Path(settings.data_dir) / "shortener.db-wal"

    def batch(start: int, n: int) -> list[tuple]:
        rows = []
        for i in range(start, start + n):
            row = dict.fromkeys(CLICK_COLUMNS)
            row.update(id=f"w{i:015d}", link_id=link["id"], url=link["url"], timestamp="2026-11-27T10:00:00.000Z",
                       qr=0, trigger="link", identity_hash="h" * 32, ua="x" * 200)
            rows.append(tuple(row[c] for c in CLICK_COLUMNS))
        return rows

    run(store.checkpoint)
    assert run(store.record_click_batch, batch(0, 20_000)) == 20_000
    frames, done = run(store.checkpoint)
    assert frames > 1000 and done == frames  # nothing had checkpointed them in the COMMIT... and now all are
    size = wal.stat().st_size
    for round_ in range(1, 4):  # each round fits in the WAL's first frames again
        assert run(store.record_click_batch, batch(20_000 + round_ * 1000, 1000)) == 1000
        run(store.checkpoint)
        assert wal.stat().st_size == size
    assert totals(run, core, link)["clicks"] == 23_000


def test_dedup_at_its_cap_forgets_the_oldest_half_first(settings, monkeypatch):
    """At MAX_DEDUP_ENTRIES the newer generation is rotated once it holds half of them: the
    oldest visitors are forgotten first, and the map never holds more than the cap."""
    monkeypatch.setattr("shortener.clicks.MAX_DEDUP_ENTRIES", 50)
    with client_with(settings, click_flush_ms=60_000, click_dedup_seconds=3600) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        make_link(run, core, key="cap")
        cached = core.link_cache.link("go.test", "cap")
        rec = core.clicks

        def visit(ua):
            return rec.record(cached, "https://example.com/landing", ip="203.0.113.9", ua=ua, referer="",
                              country=None, qr=False)

        first = []
        for i in range(120):
            first.append(visit(f"ua {i}"))
            assert len(rec.dedup) <= 50
        assert len(rec.dedup) == 45  # rotated at 25, 50, 75 and 100: visitors 75-119 are kept
        assert [visit(f"ua {i}") for i in range(75, 120)] == first[75:]
        assert visit("ua 74") != first[74] and visit("ua 0") != first[0]  # forgotten: new clicks