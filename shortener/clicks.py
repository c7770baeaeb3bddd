"""Click capture: dedup on the request path, then a queue written in batches by one writer.

The redirect calls `record()` (synchronous, no I/O, a few microseconds); one background task
writes what is queued, up to `click_batch_size` clicks, at least every `click_flush_ms`, each
batch and its links' `clicks`/`last_clicked` counters in one transaction. Batches grow with the
load, and that is what lets the writer keep up: the counters' UPDATE dirties about one page of
`links` per distinct link, so per click a 5,000-click transaction cost ~60 % of a 500-click
one (bench/bench_click_writer.py; 100k links). The user agent is
parsed here, off the request path, with ua-parser's fast resolver; clicks whose user agent
turns out to be a crawler (user-agents' `is_bot`) are dropped at this point.

What a crash can lose is written down in decisions.md: the clicks still queued, at most one
flush window. `stop()` flushes everything.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import logging
import threading
import time
from functools import lru_cache
from typing import NamedTuple

from shortener.config import load_secret_key
from shortener.dedup import ClickDedup
from shortener.errors import StoreUnavailable
from shortener.geo import continent_of, geo_fields
from shortener.ids import ALPHANUM
from shortener.store.sqlite.clicks import CLICK_COLUMNS
from shortener.visitor import MAX_URL, identity_hash, referer_fields, truncate_ip

log = logging.getLogger("shortener.clicks")

MAX_DEDUP_ENTRIES = 1_000_000
# Rows built between two yields to the event loop while a batch is prepared (~2-3 ms of work).
ROW_CHUNK = 500
_UNKNOWN = "Unknown"


class PendingClick(NamedTuple):
    """The fields of a click waiting for the writer, in order. Queued clicks are plain tuples in
    this order (`pending_click()`), not instances: the garbage collector untracks a plain tuple
    of plain values (never a subclass, never a class instance), where under a saturating load
    ~100k queued instances made each full collection stall the event loop for 45-110 ms (~10 %
    of its time; bench_analytics --parts load)."""
    id: str
    link_id: str
    domain: str
    key: str
    url: str
    at: float  # epoch seconds
    country: str | None
    ua: str
    referer: str
    qr: bool
    ip: str
    webhooks: bool


_ID, _URL, _WEBHOOKS = (PendingClick._fields.index(f) for f in ("id", "url", "webhooks"))


def pending_click(*values) -> tuple:
    """A queued click: a plain tuple in PendingClick's field order."""
    assert len(values) == len(PendingClick._fields)
    return values


# -- user agents (writer side) -------------------------------------------------------------

@lru_cache(maxsize=20000)
def describe_user_agent(ua: str) -> dict:
    """Device type, browser and OS of a user agent, and whether it is a crawler.

    ua-parser's fast resolver does the regex work; user-agents' rules (is_mobile, is_tablet,
    is_bot) classify the result, so we keep its judgement without its ~1.3 ms legacy parse.
    """
    import ua_parser
    from user_agents.parsers import UserAgent, parse_browser, parse_device, parse_operating_system

    r = ua_parser.parse(ua)
    ua_obj = UserAgent.__new__(UserAgent)
    ua_obj.ua_string = ua
    b, o, d = r.user_agent, r.os, r.device
    ua_obj.browser = parse_browser(b.family, b.major, b.minor, b.patch, b.patch_minor) if b else parse_browser("Other")
    ua_obj.os = parse_operating_system(o.family, o.major, o.minor, o.patch, o.patch_minor) if o else parse_operating_system("Other")
    ua_obj.device = parse_device(d.family, d.brand, d.model) if d else parse_device("Other", None, None)
    if ua_obj.is_bot:
        device = "Bot"
    elif ua_obj.is_tablet:
        device = "Tablet"
    elif ua_obj.is_mobile:
        device = "Mobile"
    else:
        device = "Desktop"
    return {"bot": ua_obj.is_bot, "device": device, "browser": b.family if b else _UNKNOWN,
            "os": o.family if o else _UNKNOWN}


@lru_cache(maxsize=20000)
def _ua_values(ua: str) -> tuple | None:
    """The user-agent columns (device, browser, os: CLICK_COLUMNS order), or None for a crawler."""
    info = describe_user_agent(ua)
    if info["bot"]:
        return None
    return info["device"], info["browser"], info["os"]


_cached_referer = lru_cache(maxsize=4096)(referer_fields)


def _no_geo(ip: str, country: str | None) -> tuple:
    return country, continent_of(country), None, None


def click_values(c: tuple, salt: bytes, locate=_no_geo) -> tuple | None:
    """The clicks-table row (CLICK_COLUMNS order) of a pending click; None for a crawler.

    Built by the writer, off the request path, as a tuple from cached pieces. `locate` is
    GeoLocator.locate (shortener/geo.py): (country, continent, region, city) of the full IP.
    """
    cid, link_id, _, _, url, at, country, ua, referer, qr, ip, _ = c
    ua_values = _ua_values(ua)
    if ua_values is None:
        return None
    country, continent, region, city = locate(ip, country)
    return (cid, link_id, url[:MAX_URL], iso_from_epoch(at), country, continent, region, city, *ua_values,
            ua or None, *_cached_referer(referer), 1 if qr else 0, "qr" if qr else "link",
            truncate_ip(ip), identity_hash(salt, ip, ua))


def click_row(c: tuple, salt: bytes, locate=_no_geo) -> dict | None:
    """click_values() as a dict keyed by column name."""
    values = click_values(c, salt, locate)
    return None if values is None else dict(zip(CLICK_COLUMNS, values))


# (epoch second, "YYYY-MM-DDTHH:MM:SS") of the last click formatted; replaced as one tuple so a
# reader on another thread never pairs one second with another's text.
_second: tuple[int, str] = (-1, "")


def iso_from_epoch(at: float) -> str:
    """timeutil.iso() for an epoch time; the date part is reused within a second (the writer's hot loop)."""
    global _second
    sec = int(at)
    cached = _second
    if sec != cached[0]:
        cached = _second = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
    return f"{cached[1]}.{int((at - sec) * 1000):03d}Z"


_prefix: tuple[int, str] = (-1, "")  # (ms, its 7-character base62 form) of the last id
_random = ["", 0]  # random base62 characters drawn in bulk, and how many are used
_random_lock = threading.Lock()


def _ms_prefix(ms: int) -> str:
    global _prefix
    cached = _prefix
    if ms != cached[0]:
        n, out = ms, []
        for _ in range(7):
            n, r = divmod(n, 62)
            out.append(ALPHANUM[r])
        cached = _prefix = (ms, "".join(reversed(out)))
    return cached[1]


_BASE62 = {c: i for i, c in enumerate(ALPHANUM)}


def click_id_created(click_id: str) -> float:
    """When a fast_click_id() was made (epoch seconds, to the millisecond), from its first 7
    characters."""
    ms = 0
    for c in click_id[:7]:
        ms = ms * 62 + _BASE62[c]
    return ms / 1000


def fast_click_id() -> str:
    """A click id: 16 characters of [0-9A-Za-z] like Dub's, but time-ordered.

    7 characters of base62 milliseconds (good until 2081) then 9 random ones (~53 bits). Random
    ids made every insert land on a random page of the clicks primary key: at 400k rows a
    batch insert cost ~65 us per row against ~9 us for time-ordered ids, and the writer fell
    behind the redirects. The random part comes from the OS generator, drawn 3 KB at a time
    (a call per id cost more than the rest of the redirect's bookkeeping): base64 with `+` and
    `/` dropped, which is rejection sampling, so the 62 characters stay uniform. The lock keeps
    two threads from ever taking the same characters.
    """
    prefix = _ms_prefix(int(time.time() * 1000))
    with _random_lock:
        chars, used = _random
        if used + 9 > len(chars):
            chars = base64.b64encode(os.urandom(3072)).translate(None, b"+/").decode("ascii")
            used = 0
            _random[0] = chars
        _random[1] = used + 9
    return prefix + chars[used:used + 9]


def webhook_click(row: dict) -> dict:
    """A click row in the shape of Dub's link.clicked event."""
    return {
        "id": row["id"], "timestamp": row["timestamp"], "url": row["url"],
        **geo_fields(row),
        "device": row["device"], "browser": row["browser"], "os": row["os"], "referer": row["referer"],
        "refererUrl": row["referer_url"], "qr": bool(row["qr"]), "ip": row["ip"] or "",
        "ua": row["ua"], "trigger": row["trigger"],
    }


# -- the recorder ----------------------------------------------------------------------------

class ClickRecorder:
    def __init__(self, core) -> None:
        self.core = core
        settings = core.settings
        self.window = max(0, int(settings.click_dedup_seconds))
        self.batch_size = max(1, int(settings.click_batch_size))
        self.flush_interval = max(1, int(settings.click_flush_ms)) / 1000
        self.queue_max = max(1, int(settings.click_queue_max))
        # Keyed from the server secret so the stored hash cannot be reversed without it.
        self.salt = hashlib.sha256(b"shortener.identity\x00" + load_secret_key(settings)).digest()[:32]
        self.locate = core.geo.locate
        self._queue: list[tuple] = []
        self._pending: dict[str, tuple] = {}  # queued or being written, by click id
        # Keyed by hash((link id, IP, user agent)). Python's str hash is keyed per process
        # (unless PYTHONHASHSEED pins it), so visitors cannot aim for collisions (one in ~10^13
        # at the cap); the identity stored with the click is the writer's salted hash.
        self.dedup = ClickDedup(self.window, MAX_DEDUP_ENTRIES, click_id_created, time.time())
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._write_lock = asyncio.Lock()
        self._batch_done = asyncio.Event()  # set (and replaced) after each committed batch
        self._inflight: set[asyncio.Future] = set()  # batch writes not settled yet
        self.dropped = 0  # queue full
        self.bots_dropped = 0  # crawlers recognised by the full parse
        self.written = 0
        self.failures = 0

    # -- request path ----------------------------------------------------------------------

    def record(self, link, url: str, *, ip: str, ua: str, referer: str, country: str | None, qr: bool) -> str:
        """Queue a click (or reuse the one this visitor made inside the window); its click id."""
        now = time.time()
        if self.window:
            dk = hash((link.id, ip, ua))
            seen = self.dedup.seen(dk, now)
            if seen is not None:
                return seen
        cid = fast_click_id()
        if self.window:
            self.dedup.remember(dk, cid, now)
        if len(self._queue) >= self.queue_max:
            self.dropped += 1
            return cid
        click = (cid, link.id, link.domain, link.key, url, now, country, ua, referer, qr, ip, link.has_webhooks)
        self._queue.append(click)
        self._pending[cid] = click
        if len(self._queue) >= self.batch_size:
            self._wake.set()
        return cid

    def set_url(self, click_id: str, url: str) -> None:
        """Fill in the final URL of a click recorded before its URL was known (see redirect.py)."""
        pending = self._pending.get(click_id)
        if pending is None or pending[_URL]:
            return
        click = (*pending[:_URL], url, *pending[_URL + 1:])
        self._pending[click_id] = click
        queue = self._queue
        # Called right after record(): the click is almost always the last one queued.
        for i in range(len(queue) - 1, -1, -1):
            if queue[i] is pending:
                queue[i] = click
                return

    # -- writer ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="click-writer")

    async def _run(self) -> None:
        # Stopped by a flag, not by cancelling: Python 3.11's wait_for can swallow a cancellation
        # that arrives as the event fires (record() sets it on every click under load), and the
        # task then waited for the write lock that stop() held while waiting for the task.
        while not self._stopping:
            try:
                async with asyncio.timeout(self.flush_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            if self._stopping:
                break
            try:
                await self.flush()
            except Exception:  # keep the writer alive; the batch stays queued and is retried
                log.exception("writing clicks failed")
                await asyncio.sleep(min(1.0, self.flush_interval * 5))
            if self.window:
                self.dedup.sweep(time.time())

    async def flush(self) -> int:
        """Write the clicks queued when called (not those that arrive meanwhile, so a sustained
        load cannot keep the caller here); returns how many rows were written."""
        written = 0
        async with self._write_lock:
            await self._settle_inflight()
            remaining = len(self._queue)
            while remaining > 0 and self._queue:
                batch = self._queue[: min(self.batch_size, remaining)]
                del self._queue[: len(batch)]
                remaining -= len(batch)
                written += await self._write(batch)
        return written

    async def wait_written(self, click_id: str, *, timeout: float = 10.0) -> None:
        """Return once `click_id` is no longer queued (written, or dropped as a crawler).

        /track/lead needs its click on disk first. It waits for the batches up to its own click,
        never for an empty queue. A writer that cannot write (disk full) is a clean 503.
        """
        if click_id not in self._pending:
            return
        if self._task is None:  # no background writer (a Core used by the CLI): write it here
            await self.flush()
            return
        deadline = time.monotonic() + timeout
        while click_id in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StoreUnavailable("The click of this event could not be written yet. Try again shortly.")
            done = self._batch_done
            self._wake.set()
            try:
                await asyncio.wait_for(done.wait(), timeout=left)
            except asyncio.TimeoutError:
                pass

    async def _rows(self, batch: list[tuple]) -> tuple[list[tuple], list[tuple]]:
        """The clicks of a batch that are people, and their rows (same order). Built on the
        event loop, yielding every ROW_CHUNK rows."""
        kept: list[tuple] = []
        rows: list[tuple] = []
        salt, locate = self.salt, self.locate
        for start in range(0, len(batch), ROW_CHUNK):
            if start:
                await asyncio.sleep(0)
            for c in batch[start:start + ROW_CHUNK]:
                row = click_values(c, salt, locate)
                if row is None:
                    self.bots_dropped += 1
                    continue
                kept.append(c)
                rows.append(row)
        return kept, rows

    async def _write(self, batch: list[tuple]) -> int:
        # Rows are built on the event loop (~2-3 ms per 500), not on a worker thread. This is
        # deliberate backpressure: on a thread they waited for the GIL behind a saturated loop,
        # the writer fell behind the redirects and a 50 s load filled the queue and dropped
        # clicks (measured: 6.7k redirects/s taken, ~6.5k clicks/s written).
        kept, rows = await self._rows(batch)
        outbox = await self._outbox(kept, rows)
        write = asyncio.ensure_future(self.core.store.record_click_batch(rows, outbox))
        self._inflight.add(write)
        write.add_done_callback(self._inflight.discard)
        try:
            # Shielded: the transaction is one call on the writer thread and runs to its end
            # even if we are cancelled; whoever settles the batch must know how it ended.
            await asyncio.shield(write)
        except asyncio.CancelledError:
            if write.done():
                self._settle_late(batch, kept, write)
            else:
                write.add_done_callback(lambda w: self._settle_late(batch, kept, w))
            raise
        except Exception:
            pass  # _settle puts the clicks back and raises it again
        written = self._settle(batch, kept, write)
        if outbox:
            self.core.webhooks.notify()
        return written

    def _settle(self, batch: list[tuple], kept: list[tuple], write: asyncio.Future) -> int:
        """Account for a finished batch write: free every click of it, or queue the people's
        clicks again (in front, in order) when the transaction did not commit."""
        error = write.exception() if not write.cancelled() else asyncio.CancelledError()
        if error is not None:
            self.failures += 1
            self._queue[:0] = kept
            requeued = {c[_ID] for c in kept}
            for c in batch:
                if c[_ID] not in requeued:
                    self._pending.pop(c[_ID], None)
            raise error
        for c in batch:
            self._pending.pop(c[_ID], None)
        inserted = write.result()
        self.written += inserted
        done, self._batch_done = self._batch_done, asyncio.Event()
        done.set()
        return inserted

    async def _settle_inflight(self) -> None:
        """Wait for batch writes whose flush was cancelled: they commit (or fail and requeue)
        on their own, and nothing may be read or written as if they had not happened."""
        while self._inflight:
            await asyncio.wait(list(self._inflight))

    def _settle_late(self, batch: list[tuple], kept: list[tuple], write: asyncio.Future) -> None:
        try:
            self._settle(batch, kept, write)
        except BaseException:
            log.exception("a click batch whose writer was cancelled did not commit; it is queued again")

    async def _outbox(self, kept: list[tuple], rows: list[tuple]) -> dict[str, list[dict]]:
        """link.clicked outbox rows by click id, for clicks on links that name webhooks. They
        are inserted in the click batch's own transaction, for the clicks actually inserted."""
        hooked = [(PendingClick(*c), row) for c, row in zip(kept, rows) if c[_WEBHOOKS]]
        if not hooked:
            return {}
        links: dict[str, dict] = {}
        out: dict[str, list[dict]] = {}
        for c, values in hooked:
            row = dict(zip(CLICK_COLUMNS, values))
            link = links.get(c.link_id)
            if link is None:
                try:
                    link = await self.core.links.get(c.link_id)
                except Exception:  # deleted since the click; send what the click knows
                    link = {"id": c.link_id, "domain": c.domain, "key": c.key}
                links[c.link_id] = link
            entries = await self.core.webhooks.prepare("link.clicked", {"click": webhook_click(row), "link": link})
            if entries:
                out[c.id] = entries
        return out

    async def stop(self) -> None:
        # Never cancel a write in progress: its transaction goes on to commit on the connection's
        # thread while the cancelled batch would be queued again and its counters added twice.
        # The writer finishes the flush it is in, sees the flag and returns.
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.shield(self._task)  # a cancelled stop() must not cancel a write
            except asyncio.CancelledError:
                if not self._task.cancelled():  # stop() itself was cancelled
                    raise
                # the writer was cancelled from outside (a loop shutting down): flush below
        self._task = None
        try:
            await self.flush()
        except Exception:
            log.exception("flushing clicks on shutdown failed; %d clicks lost", len(self._queue))
        if self.dropped:
            log.warning("%d clicks were dropped because the queue was full (click_queue_max)", self.dropped)
        log.info("clicks written: %d; crawlers dropped by the writer: %d", self.written, self.bots_dropped)

    # -- lookups ---------------------------------------------------------------------------

    async def find_click(self, click_id: str) -> dict | None:
        """The click row (002_clicks.sql columns) whether still queued or already written."""
        if not isinstance(click_id, str) or not click_id:
            return None
        pending = self._pending.get(click_id)
        if pending is not None:
            return click_row(pending, self.salt, self.locate)
        return await self.core.store.find_click(click_id)

    @property
    def queued(self) -> int:
        return len(self._queue)
