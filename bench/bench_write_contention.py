"""Write contention: how long an API write waits while a click writer commits batches flat out.

    .venv/bin/python bench/bench_write_contention.py [--links 10000] [--clicks 1000000]
        [--batch 5000] [--seconds 20] [--api-every-ms 20] [--synchronous full] [--options a,b,c,d]
        [--dir /dev/shm]

Plain sqlite3, no app: the question is what the storage layout does to an API write, not what
the app around it does (bench/bench_analytics.py --parts load measures the app end to end). The
schema is the app's: migrations 001 to 009 read from shortener/store/sqlite/migrations (the
`links` table with its indexes and change-log triggers; clicks with the indexes of 002_clicks.sql
and the columns of 009_click_geo.sql). --links links and --clicks stored
clicks are seeded once (not measured), then each option runs on its own copy of that database:

- baseline: API writes alone, no click writer (same process, same copy of the data);
- (a) one file, one writer thread that runs every transaction (the app today: a click batch and
  an API write queue on shortener/store/sqlite/base.py's writer ConnectionThread);
- (b) one file, two connections on two threads: the API write takes SQLite's write lock itself
  and waits for it with the app's busy timeout (5 s, SQLite's sleeping busy handler);
- (c) clicks in a second file with its own writer thread; the per-link click counters move to
  that file (a `link_clicks` table upserted in the click transaction);
- (d) as (c), but the counters stay on `links` in the main file: after each click batch commits,
  one short counter transaction runs on the main file's writer thread, queued like an API write.

The click writer builds each batch (fresh time-ordered ids, rows on random links) and commits it
as shortener/store/sqlite/clicks.py does (multi-row INSERT OR IGNORE ... RETURNING of 400 rows a
statement, then one counter UPDATE per link), back to back, --batch clicks a transaction (the
app's SHORTENER_CLICK_BATCH_SIZE bound, which is what a batch reaches under a saturating load).
Meanwhile another thread makes API writes (insert a link, update another: a POST and a PATCH, one
transaction each) arriving at random times, --api-every-ms apart on average (open loop: a client
that waited for its last write would line the next one up behind the next click batch), each
timed from its arrival to its COMMIT. Prints the API write's p50, p95, p99 and max per option,
and the clicks/s the writer sustained.

Measured 2026-11-27 (1M clicks stored, batches of 5,000, three runs on disk and one on
/dev/shm; machine shared and noisy, the baseline's p99 ranged 1.3-1003 ms on disk): p99 of an
API write (a) 176-793 ms, (b) 237-2436 ms (the busy handler sleeps, then loses the lock again),
(c) 24-331 ms, typically 43, (d) 34-188 ms; p50 (a) 64-385 ms against (c) 0.5-8 ms. One writer
thread makes an API write wait for the rest of the batch in progress; two connections on one
file make it worse; clicks in their own file take the wait away, leaving the GIL and the disk.
"""
from __future__ import annotations

import argparse
import itertools
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "shortener" / "store" / "sqlite" / "migrations"
BUSY_MS = 5000  # shortener/store/sqlite/base.py WRITE_BUSY_MS
CACHE_KIB = 65536  # the click writer's page cache (clicks.py _WRITER_CACHE_KIB)
ROWS_PER_STATEMENT = 400  # clicks.py _ROWS_PER_STATEMENT
ALPHANUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CLICK_COLUMNS = (
    "id", "link_id", "domain", "key", "url", "timestamp", "country", "device", "device_vendor",
    "device_model", "browser", "browser_version", "os", "os_version", "engine", "ua", "referer",
    "referer_url", "qr", "trigger", "ip", "identity_hash", "continent", "region", "city",
)
UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/124.0.0.0 Safari/537.36")
COUNTERS = "UPDATE links SET clicks = clicks + ?, last_clicked = MAX(COALESCE(last_clicked, ''), ?) WHERE id = ?"
COUNTERS_OWN_FILE = (
    "INSERT INTO link_clicks (link_id, clicks, last_clicked) VALUES (?, ?, ?) ON CONFLICT (link_id) DO UPDATE "
    "SET clicks = clicks + excluded.clicks, last_clicked = MAX(last_clicked, excluded.last_clicked)"
)


def statements(path: Path) -> list[str]:
    out, current = [], ""
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            out.append(current)
            current = ""
    return out


def schema() -> list[str]:
    """Every statement of migrations 001 to 009: today's whole schema (links with their triggers
    and indexes, clicks with theirs). Later migrations are left out: this measures today's layout."""
    out = []
    for path in sorted(MIGRATIONS.glob("0*.sql")):
        if int(path.name[:3]) <= 9:
            out += statements(path)
    return out


def connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    for pragma in (f"busy_timeout={BUSY_MS}", f"synchronous={synchronous}", "journal_mode=WAL",
                   f"cache_size=-{CACHE_KIB}"):
        conn.execute(f"PRAGMA {pragma}").fetchall()
    return conn


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


class Ids:
    """Time-ordered click ids like the app's (7 base62 characters of milliseconds, 9 more)."""

    def __init__(self) -> None:
        self.n = itertools.count()

    def next(self, ms: int) -> str:
        out = []
        for _ in range(7):
            ms, r = divmod(ms, 62)
            out.append(ALPHANUM[r])
        n = next(self.n)
        tail = []
        for _ in range(9):
            n, r = divmod(n, 62)
            tail.append(ALPHANUM[r])
        return "".join(reversed(out)) + "".join(reversed(tail))


class Clicks:
    """Click rows on random links; `batch(n, at)` gives n rows stamped at epoch time `at`."""

    def __init__(self, link_ids: list[str], seed: int) -> None:
        rnd = random.Random(seed)
        self.ids = Ids()
        countries = ["US", "DE", "GB", "FR", "IN", "BR", None]
        self.templates = []
        for i in range(5000):
            link = rnd.choice(link_ids)
            country = rnd.choice(countries)
            self.templates.append((
                link, "bench.test", f"k{link[-6:]}", f"https://dest.test/{i}?utm_source=bench", country,
                rnd.choice(["Desktop", "Mobile"]), "Apple", "iPhone", rnd.choice(["Chrome", "Safari"]), "124.0",
                rnd.choice(["Windows", "iOS"]), "10", "Blink", UA, "(direct)", "(direct)", 0, "link",
                f"81.2.{i % 250}.0", f"{rnd.getrandbits(128):032x}", "EU" if country else None, None, None,
            ))
        self.rnd = rnd

    def batch(self, n: int, at: float) -> list[tuple]:
        ms = int(at * 1000)
        stamp = iso(at)
        out = []
        for t in self.rnd.choices(self.templates, k=n):
            out.append((self.ids.next(ms), t[0], t[1], t[2], t[3], stamp, *t[4:]))
        return out


def insert_sql(rows: int) -> str:
    row = "(" + ", ".join("?" * len(CLICK_COLUMNS)) + ")"
    return f"INSERT OR IGNORE INTO clicks ({', '.join(CLICK_COLUMNS)}) VALUES {', '.join([row] * rows)}"


def insert_clicks(conn: sqlite3.Connection, rows: list[tuple]) -> list[tuple[int, str, str]]:
    """The rows inserted, as shortener/store/sqlite/clicks.py does it; (count, latest, link id) per link."""
    inserted = []
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start:start + ROWS_PER_STATEMENT]
        cur = conn.execute(insert_sql(len(chunk)) + " RETURNING link_id, timestamp",
                           list(itertools.chain.from_iterable(chunk)))
        inserted += cur.fetchall()
        cur.close()
    counters: dict[str, list] = {}
    for link_id, at in inserted:
        entry = counters.get(link_id)
        if entry is None:
            counters[link_id] = [1, at, link_id]
        else:
            entry[0] += 1
            entry[1] = max(entry[1], at)
    return [tuple(v) for v in counters.values()]


def transaction(conn: sqlite3.Connection, fn, *args):
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn, *args)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def link_row(i: int, now: str) -> dict:
    return {"id": f"link_{i:020d}", "domain": "bench.test", "key": f"k{i}", "url": f"https://dest.test/{i}",
            "created_at": now, "updated_at": now}


def seed(folder: Path, n_links: int, n_clicks: int, batch: int) -> tuple[Path, Path, Path, list[str]]:
    """one.db (links + clicks), main.db (links only) and clicks.db (clicks + link_clicks)."""
    one, main, clicks = folder / "one.db", folder / "main.db", folder / "clicks.db"
    conn = connect(one, "off")
    for s in schema():
        conn.execute(s)
    now = iso(time.time())
    rows = [link_row(i, now) for i in range(n_links)]
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO links (id, domain, key, url, created_at, updated_at) "
                     "VALUES (:id, :domain, :key, :url, :created_at, :updated_at)", rows)
    conn.execute("COMMIT")
    link_ids = [r["id"] for r in rows]
    gen = Clicks(link_ids, seed=1)
    start = time.time() - 90 * 86400
    step = 90 * 86400 / max(1, n_clicks)
    t0 = time.perf_counter()
    for base in range(0, n_clicks, 50_000):
        count = min(50_000, n_clicks - base)
        conn.execute("BEGIN")
        for j in range(0, count, batch):
            transaction_rows = gen.batch(min(batch, count - j), start + (base + j) * step)
            conn.executemany(COUNTERS, insert_clicks(conn, transaction_rows))
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    conn.close()
    print(f"seeded {n_links:,} links and {n_clicks:,} clicks in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    # The two-file layout: the same rows, split.
    shutil.copy(one, main)
    conn = connect(main, "off")
    conn.execute("DROP TABLE clicks")
    conn.execute("VACUUM")
    conn.close()
    shutil.copy(one, clicks)
    conn = connect(clicks, "off")
    conn.execute("CREATE TABLE link_clicks (link_id TEXT PRIMARY KEY, clicks INTEGER NOT NULL, last_clicked TEXT)")
    conn.execute("INSERT INTO link_clicks SELECT id, clicks, last_clicked FROM links")
    conn.execute("DROP TABLE links")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    conn.close()
    return one, main, clicks, link_ids


def api_write(conn: sqlite3.Connection, i: int, other: str) -> None:
    """A POST /api/links and a PATCH of another link, as the store runs them: one transaction each."""
    now = iso(time.time())
    row = link_row(10_000_000 + i, now)

    def create(c: sqlite3.Connection) -> None:
        c.execute("INSERT INTO links (id, domain, key, url, created_at, updated_at) "
                  "VALUES (:id, :domain, :key, :url, :created_at, :updated_at)", row)

    def update(c: sqlite3.Connection) -> None:
        c.execute("UPDATE links SET url = ?, updated_at = ? WHERE id = ?", (f"https://dest.test/p{i}", now, other))

    transaction(conn, create)
    transaction(conn, update)


class Run:
    def __init__(self, option: str, folder: Path, files: tuple[Path, Path, Path], link_ids: list[str],
                 args: argparse.Namespace) -> None:
        self.option, self.args, self.link_ids = option, args, link_ids
        one, main, clicks = files
        copy = folder / option
        copy.mkdir()
        for f in ((one,) if option in ("base", "a", "b") else (main, clicks)):
            shutil.copy(f, copy / f.name)
        sync = args.synchronous
        self.pools: list[ThreadPoolExecutor] = []
        if option in ("base", "a", "b"):
            self.api_conn = connect(copy / one.name, sync)
            self.api_pool = self._pool("api")
            if option == "b":
                self.click_conn = connect(copy / one.name, sync)
                self.click_pool = self._pool("clicks")
            else:  # one connection, one thread for both
                self.click_conn, self.click_pool = self.api_conn, self.api_pool
        else:
            self.api_conn = connect(copy / main.name, sync)
            self.api_pool = self._pool("main")
            self.click_conn = connect(copy / clicks.name, sync)
            self.click_pool = self._pool("clicks")
        self.stop = threading.Event()
        self.clicks_written = 0
        self.batch_ms: list[float] = []
        self.api_ms: list[float] = []

    def _pool(self, name: str) -> ThreadPoolExecutor:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.pools.append(pool)
        return pool

    def click_writer(self) -> None:
        gen = Clicks(self.link_ids, seed=2)
        conn = self.click_conn
        own_file = self.option == "c"

        def write(c: sqlite3.Connection, rows: list[tuple]) -> list[tuple]:
            counters = insert_clicks(c, rows)
            if self.option in ("a", "b"):
                c.executemany(COUNTERS, counters)
            elif own_file:
                c.executemany(COUNTERS_OWN_FILE, [(link, n, at) for n, at, link in counters])
            return counters

        while not self.stop.is_set():
            rows = gen.batch(self.args.batch, time.time())  # built off the writer thread, as the app does
            t = time.perf_counter()
            counters = self.click_pool.submit(transaction, conn, write, rows).result()
            if self.option == "d":  # the counters on the main file, queued on its writer like an API write
                self.api_pool.submit(transaction, self.api_conn, lambda c: c.executemany(COUNTERS, counters)).result()
            self.batch_ms.append((time.perf_counter() - t) * 1000)
            self.clicks_written += len(rows)

    def api_writer(self, seconds: float) -> None:
        """Open loop: API writes arrive at random (Poisson) times whatever the last one is doing,
        as independent clients' requests do, and each is timed from its arrival to its COMMIT.
        (A client that waited for its last write would line its next one up behind the next
        click batch every time.)"""
        rnd = random.Random(3)
        every = self.args.api_every_ms / 1000
        end = time.perf_counter() + seconds
        at = time.perf_counter()
        futures = []
        for i in itertools.count():
            at += rnd.expovariate(1 / every)
            if at >= end:
                break
            time.sleep(max(0.0, at - time.perf_counter()))
            arrived = time.perf_counter()
            future = self.api_pool.submit(api_write, self.api_conn, i, rnd.choice(self.link_ids))
            future.add_done_callback(lambda f, t=arrived: self.api_ms.append((time.perf_counter() - t) * 1000))
            futures.append(future)
        for future in futures:
            future.result()

    def go(self) -> dict:
        writer = None
        if self.option != "base":
            writer = threading.Thread(target=self.click_writer, daemon=True)
            writer.start()
            time.sleep(self.args.warmup)  # the writer at full speed before anything is timed
        written0, t0 = self.clicks_written, time.perf_counter()
        self.api_writer(self.args.seconds)
        elapsed = time.perf_counter() - t0
        written = self.clicks_written - written0
        self.stop.set()
        if writer is not None:
            writer.join()
        for pool in self.pools:
            pool.shutdown(wait=True)
        for conn in {id(self.api_conn): self.api_conn, id(self.click_conn): self.click_conn}.values():
            conn.close()
        return {"api": sorted(self.api_ms), "clicks_per_s": written / elapsed, "batch": sorted(self.batch_ms)}


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))] if values else float("nan")


LABELS = {
    "base": "baseline: no click writer",
    "a": "(a) one file, one writer thread",
    "b": "(b) one file, two connections",
    "c": "(c) clicks file, counters there",
    "d": "(d) clicks file, counters on links",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--clicks", type=int, default=1_000_000, help="clicks stored before the runs")
    parser.add_argument("--batch", type=int, default=5000, help="clicks per click transaction (the app's bound)")
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per option")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of click writing before timing")
    parser.add_argument("--api-every-ms", type=float, default=20, help="mean time between API writes (POST + PATCH)")
    parser.add_argument("--synchronous", default="full", help="PRAGMA synchronous (the app's default: full)")
    parser.add_argument("--options", default="a,b,c,d", help="which options (the baseline always runs)")
    parser.add_argument("--dir", help="where the databases go (default: the system's temp folder; /dev/shm "
                        "takes the disk's fsyncs, and other processes' I/O, out of the figures)")
    args = parser.parse_args()
    options = ["base"] + [o for o in args.options.split(",") if o in LABELS and o != "base"]
    folder = Path(tempfile.mkdtemp(prefix="bench-contention-", dir=args.dir))
    try:
        *files, link_ids = seed(folder, args.links, args.clicks, args.batch)
        results = {}
        for option in options:
            results[option] = Run(option, folder, tuple(files), link_ids, args).go()
            r = results[option]
            print(f"  {LABELS[option]}: done, {len(r['api'])} API writes", file=sys.stderr, flush=True)
            shutil.rmtree(folder / option)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\nAPI write (INSERT a link + UPDATE another, two transactions) every {args.api_every_ms:g} ms for "
          f"{args.seconds:g} s; clicks in transactions of {args.batch:,} flat out; {args.links:,} links, "
          f"{args.clicks:,} clicks stored; synchronous={args.synchronous}; in {folder.parent}")
    print(f"{'option':<36}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}{'p99/base':>9}"
          f"{'clicks/s':>10}{'batch p50':>10}{'batch max':>10}")
    base99 = pct(results["base"]["api"], 0.99)
    for option, r in results.items():
        api, batch = r["api"], r["batch"]
        clicks = f"{r['clicks_per_s']:>10,.0f}" if batch else f"{'-':>10}"
        batches = f"{statistics.median(batch):>10.0f}{batch[-1]:>10.0f}" if batch else f"{'-':>10}{'-':>10}"
        print(f"{LABELS[option]:<36}{statistics.median(api):>8.1f}{pct(api, 0.95):>8.1f}{pct(api, 0.99):>8.1f}"
              f"{api[-1]:>8.1f}{pct(api, 0.99) / base99:>9.1f}{clicks}{batches}")


if __name__ == "__main__":
    main()
