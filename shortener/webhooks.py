"""Webhooks: management, a durable outbox, and a background worker that delivers signed events.

- An event becomes one payload (`{"id": "evt_...", "event", "createdAt", "data"}`) and one outbox
  row per subscribed webhook. Lead and sale events put their rows in the event's own transaction
  (`outbox_rows`), so a committed lead always has its webhook queued.
- The worker POSTs the exact stored bytes with `Dub-Signature: hex(HMAC-SHA256(secret, body))`,
  retries failures with exponential backoff kept in the database (so retries survive a restart),
  and disables a webhook after `webhook_max_failures` consecutive failures.
- Targets are resolved before every attempt and every address is checked: link-local and cloud
  metadata addresses are always refused, private and loopback ones unless
  `webhook_allow_private`. The request goes to the checked address (no second lookup to rebind),
  and redirects are not followed (security-history.md #2).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from shortener.conversions import encodable
from shortener.errors import NotFound, Unprocessable, echo
from shortener.ids import nanoid, new_id
from shortener.timeutil import iso, now_iso, utcnow
from shortener.tasks import cancel

log = logging.getLogger("shortener.webhooks")

TRIGGERS = ("link.created", "link.updated", "link.deleted", "link.clicked", "lead.created", "sale.created")
MAX_ATTEMPTS = 16          # waits of 1 s, 2 s, 4 s ... 34 min, then hourly: about 4 hours in all
BACKOFF_CAP = 3600.0
POLL_SECONDS = 1.0         # also how soon a webhook created by another process is seen
HISTORY = timedelta(days=30)   # delivered events and attempt logs are kept this long
PRUNE_SECONDS = 3600
BATCH = 50
PARALLEL = 8

# Cloud metadata endpoints that are not link-local (AWS IPv6, Alibaba); 169.254.169.254 is covered
# by the link-local check.
_METADATA = (ipaddress.ip_network("fd00:ec2::254/128"), ipaddress.ip_network("100.100.100.200/32"))

# IPv6 forms that carry an IPv4 address to a relay or translator we cannot see past: 6to4,
# Teredo, NAT64 (well-known and local-use prefixes) and IPv4-compatible. `2002:a9fe:a9fe::1`
# reaches 169.254.169.254 through a 6to4 relay. No webhook receiver needs them: always refused.
_TUNNELS = tuple(ipaddress.ip_network(n) for n in (
    "2002::/16", "2001::/32", "64:ff9b::/96", "64:ff9b:1::/48", "::/96",
))


class Blocked(Exception):
    """The target resolves to an address we never send to."""


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt."""
    return min(BACKOFF_CAP, 2.0 ** (attempts - 1))


def check_address(ip: str, *, allow_private: bool) -> None:
    """Raise Blocked unless a webhook may be sent to `ip`."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            # the kernel connects to the IPv4 address itself: judge that
            addr = addr.ipv4_mapped
        elif not (addr.is_loopback or addr.is_unspecified) and any(addr in net for net in _TUNNELS):
            # ::1 and :: sit inside ::/96 too; they are judged below as what they are.
            raise Blocked(f"address {addr} embeds an IPv4 address (6to4, Teredo, NAT64 or IPv4-compatible)")
    # ::1 sits inside IPv6's reserved ::/8, so loopback is judged before the reserved check.
    if addr.is_link_local or addr.is_multicast or addr.is_unspecified or any(addr in net for net in _METADATA) or (
        addr.is_reserved and not addr.is_loopback
    ):
        raise Blocked(f"address {addr} is link-local, metadata or reserved")
    if not addr.is_global and not allow_private:
        raise Blocked(f"address {addr} is private or loopback (SHORTENER_WEBHOOK_ALLOW_PRIVATE is off)")


def _validate_url(value: Any, *, allow_private: bool, field: str = "url") -> str:
    if not isinstance(value, str) or not value.strip():
        raise Unprocessable("Expected a URL", field=field, issue="invalid_type")
    url = encodable(value.strip(), field)
    if len(url) > 2000:
        raise Unprocessable("Too big: expected string to have <=2000 characters", field=field, issue="too_big")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Unprocessable("Invalid URL: expected http:// or https:// with a host", field=field, issue="invalid_string")
    try:
        port = parts.port
    except ValueError:  # not a number, or over 65535
        port = 0
    if port == 0:  # urlsplit takes `:0`, on which no server listens
        raise Unprocessable("Invalid URL: bad port", field=field, issue="invalid_string")
    host = parts.hostname
    literal = None
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        problem = host_name_problem(host)
        if problem is not None:
            raise Unprocessable(f"Invalid URL: {problem}", field=field, issue="invalid_string")
        if host == "localhost" or host.endswith(".localhost"):
            literal = ipaddress.ip_address("127.0.0.1")
    if literal is not None:
        try:
            check_address(str(literal), allow_private=allow_private)
        except Blocked as exc:
            raise Unprocessable(f"Webhook URL not allowed: {exc}", field=field, issue="invalid_string") from None
    return url


def host_name_problem(host: str) -> str | None:
    """Why the resolver would refuse `host`, or None.

    getaddrinfo encodes a name with Python's IDNA codec and raises UnicodeError on a label over
    63 octets or an empty one; a name over 253 octets is refused by DNS itself. Checked here with
    the same codec, so a stored webhook can always be looked up.
    """
    try:
        encoded = host.rstrip(".").encode("idna")
    except UnicodeError:
        return "the host name has an empty label, a label over 63 characters, or characters IDNA refuses"
    labels = encoded.split(b".")
    if not encoded or any(not 1 <= len(label) <= 63 for label in labels):
        return "the host name has an empty label or a label over 63 characters"
    if len(encoded) > 253:
        return "the host name is over 253 characters"
    return None


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Unprocessable("Expected a name of 1 to 40 characters", field="name", issue="invalid_type")
    value = encodable(value.strip(), "name")
    if len(value) > 40:
        raise Unprocessable("Too big: expected string to have <=40 characters", field="name", issue="too_big")
    return value


def _triggers(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise Unprocessable("Expected a non-empty array of events", field="triggers", issue="invalid_type")
    out: list[str] = []
    for item in value:
        if item not in TRIGGERS:
            raise Unprocessable(f"Invalid trigger '{echo(item)}'; expected one of {', '.join(TRIGGERS)}",
                                field="triggers", issue="invalid_enum_value")
        if item not in out:
            out.append(item)
    return out


def _secret(value: Any) -> str:
    if not isinstance(value, str) or not 16 <= len(value) <= 128:
        raise Unprocessable("Expected a secret of 16 to 128 characters", field="secret", issue="invalid_string")
    return encodable(value, "secret")


def _outcome(error: str, status_code: int | None) -> str:
    """The metrics label of a failed attempt."""
    if status_code is not None:
        return "http_error"
    if error == "timeout":
        return "timeout"
    if error.startswith("blocked:"):
        return "blocked"
    return "network_error"


def new_secret() -> str:
    return "whsec_" + nanoid(32)


class WebhookService:
    def __init__(self, core) -> None:
        self.core = core
        self.store = core.store
        self.settings = core.settings
        self._hooks: list[dict] = []      # enabled webhooks, triggers parsed
        self._loaded = False
        self._version: str | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._inflight: dict[int, asyncio.Task] = {}  # outbox seq -> its delivery
        self._client: httpx.AsyncClient | None = None
        # Delivery attempts by outcome since start (read by the metrics collector).
        self.outcomes: dict[str, int] = {}

    # -- the in-memory view of enabled webhooks (so enqueue is cheap) ------------------------------

    async def reload(self) -> None:
        rows = await self.store.list_webhooks()
        self._hooks = [
            dict(r, triggers=json.loads(r["triggers"])) for r in rows if r["disabled_at"] is None
        ]
        self._version = await self.store.webhooks_version()
        self._loaded = True

    async def _refresh_if_changed(self) -> None:
        if await self.store.webhooks_version() != self._version:
            await self.reload()

    def wants(self, event: str) -> bool:
        """Is any enabled webhook subscribed to `event`? (Cheap: no I/O.)"""
        return any(event in h["triggers"] for h in self._hooks)

    def outbox_rows(self, event: str, data: dict) -> list[dict]:
        """The outbox rows for one event, to be inserted by the caller (in its own transaction)."""
        targets = [h for h in self._hooks if event in h["triggers"]]
        if event == "link.clicked":
            # link.clicked goes only to the webhooks the link names in its webhookIds.
            wanted = set((data.get("link") or {}).get("webhookIds") or ())
            targets = [h for h in targets if h["id"] in wanted]
        if not targets:
            return []
        now = now_iso()
        event_id = "evt_" + nanoid(25)
        payload = json.dumps({"id": event_id, "event": event, "createdAt": now, "data": data},
                             ensure_ascii=False, separators=(",", ":"))
        return [
            {"webhook_id": h["id"], "event_id": event_id, "event": event, "payload": payload,
             "next_attempt_at": now, "created_at": now}
            for h in targets
        ]

    async def prepare(self, event: str, data: dict) -> list[dict]:
        """outbox_rows() for a caller that inserts them in its own transaction; [] on any error
        (an event must not fail its cause)."""
        try:
            if not self._loaded:
                await self.reload()
            return self.outbox_rows(event, data)
        except Exception:
            log.exception("could not prepare the %s webhook", event)
            return []

    async def enqueue(self, event: str, data: dict) -> None:
        """Queue `event` for every subscribed webhook. Never raises: an event must not fail its cause."""
        try:
            if not self._loaded:
                await self.reload()
            rows = self.outbox_rows(event, data)
            if rows:
                await self.store.queue_deliveries(rows)
                self.notify()
        except Exception:
            log.exception("could not queue %s webhook", event)

    def notify(self) -> None:
        """Wake the delivery worker (new rows are due now)."""
        self._wake.set()

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.reload()
        self._task = asyncio.create_task(self._run(), name="webhook-delivery")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None
        # A delivery cut short is attempted again later (its row is still pending); recording
        # one is a single store call, which a cancellation cannot split.
        for task in list(self._inflight.values()):
            await cancel(task)
        self._inflight.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        # Deliveries run as a pipeline of PARALLEL slots: a slot that frees up takes the next due
        # row at once. (Rounds of 50 gathered together made every newly due event wait for the
        # slowest receiver of the round, up to the delivery timeout.)
        pruned_at = 0.0
        while True:
            # Cleared before the round, not after: a slot freed during the round must wake the next.
            self._wake.clear()
            try:
                await self._refresh_if_changed()
                await self._start_due()
                if time.monotonic() - pruned_at > PRUNE_SECONDS:
                    pruned_at = time.monotonic()
                    await self.store.prune_webhook_history(iso(utcnow() - HISTORY))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook delivery round failed")
            try:
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            except asyncio.TimeoutError:
                pass

    async def _start_due(self) -> None:
        """Start due deliveries in the free slots; rows already in flight are skipped."""
        free = PARALLEL - len(self._inflight)
        if free <= 0:
            return
        # A row in flight when the read starts is skipped even if its delivery finishes before the
        # read answers: the read may predate that delivery's record and would start it again.
        busy = set(self._inflight)
        rows = await self.store.due_deliveries(now_iso(), free + len(busy))
        for row in rows:
            seq = row["seq"]
            if seq in busy or seq in self._inflight or len(self._inflight) >= PARALLEL:
                continue
            task = asyncio.create_task(self._deliver_logged(row), name=f"webhook-{seq}")
            self._inflight[seq] = task
            task.add_done_callback(lambda _t, seq=seq: self._slot_freed(seq))

    def _slot_freed(self, seq: int) -> None:
        self._inflight.pop(seq, None)
        self._wake.set()

    async def _deliver_logged(self, row: dict) -> None:
        try:
            await self._deliver(row)
        except asyncio.CancelledError:
            raise
        except Exception:  # _deliver records every delivery error; this is a failure to record it
            log.exception("webhook delivery could not be recorded")

    # -- delivery ----------------------------------------------------------------------------------

    async def deliver_due(self) -> int:
        """Attempt every due delivery once; returns how many were attempted."""
        rows = await self.store.due_deliveries(now_iso(), BATCH)
        if not rows:
            return 0
        gate = asyncio.Semaphore(PARALLEL)

        async def one(row: dict) -> None:
            async with gate:
                await self._deliver(row)

        # return_exceptions: one delivery that fails to record (say, a locked database) must not
        # abandon the others in the round; _deliver already turns every delivery error into a
        # recorded attempt.
        for result in await asyncio.gather(*(one(r) for r in rows), return_exceptions=True):
            if isinstance(result, Exception):
                log.error("webhook delivery could not be recorded", exc_info=result)
        return len(rows)

    async def _target(self, url: str) -> tuple[str, str, str]:
        """(url with the checked IP as host, Host header, hostname for TLS SNI)."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [info[4][0] for info in infos]
        if not addresses:
            raise Blocked(f"{host} does not resolve")
        for address in addresses:
            check_address(address, allow_private=self.settings.webhook_allow_private)
        ip = addresses[0].split("%", 1)[0]
        ip_host = f"[{ip}]" if ":" in ip else ip
        netloc = f"{ip_host}:{parts.port}" if parts.port else ip_host
        host_header = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), host_header, host

    async def _post(self, row: dict, body: bytes) -> int:
        """Resolve, check and POST; returns the status. The body of the answer is never read, so a
        receiver cannot make us hold a large response."""
        url, host_header, sni = await self._target(row["url"])
        if self._client is None:
            # Made at the first delivery, not at start: building its TLS context (reading the CA
            # bundle) takes ~20 ms, paid by every start of a server that may never deliver one.
            self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        request = self._client.build_request(
            "POST", url, content=body, extensions={"sni_hostname": sni},
            headers={
                "Host": host_header,
                "Content-Type": "application/json",
                "User-Agent": "shortener-webhooks/1",
                "Dub-Signature": sign(row["secret"], body),
            },
        )
        response = await self._client.send(request, stream=True)
        await response.aclose()
        return response.status_code

    async def _deliver(self, row: dict) -> None:
        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        body = row["payload"].encode("utf-8")
        try:
            # One deadline for the lookup, the connection and the answer together: httpx's own
            # timeouts apply per phase, which a slow-dripping receiver could stretch.
            status_code = await asyncio.wait_for(self._post(row, body), self.settings.webhook_timeout)
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except Blocked as exc:
            error = f"blocked: {exc}"
        except (asyncio.TimeoutError, httpx.TimeoutException):
            error = "timeout"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Anything else (UnicodeError from getaddrinfo, a bug in a transport) is a failed
            # attempt too: recorded and rescheduled with backoff, so one bad row can never stay
            # due at the head of the queue and stall every other webhook.
            error = f"{type(exc).__name__}: {exc}"[:500]
        ok = error is None
        outcome = "delivered" if ok else _outcome(error or "", status_code)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        attempts = row["attempts"] + 1
        now_dt = utcnow()
        disabled = await self.store.record_delivery(
            row,
            {"webhook_id": row["webhook_id"], "event_id": row["event_id"], "event": row["event"],
             "attempt": attempts, "status_code": status_code, "ok": ok, "error": error,
             "duration_ms": int((time.monotonic() - started) * 1000), "created_at": iso(now_dt)},
            delivered=ok,
            next_attempt_at=iso(now_dt + timedelta(seconds=backoff(attempts))),
            give_up=attempts >= MAX_ATTEMPTS,
            max_failures=self.settings.webhook_max_failures,
            now=iso(now_dt),
        )
        if not ok:
            log.warning("webhook %s %s attempt %d failed: %s", row["webhook_id"], row["event"], attempts, error)
        if disabled:
            log.warning("webhook %s disabled after %d consecutive failures", row["webhook_id"],
                        self.settings.webhook_max_failures)
            await self.reload()

    # -- management (API and CLI) ------------------------------------------------------------------

    async def _row(self, webhook_id: str) -> dict:
        row = await self.store.find_webhook(webhook_id)
        if row is None:
            raise NotFound("Webhook not found.")
        return row

    def _object(self, row: dict, link_ids: list[str]) -> dict:
        return {
            "id": row["id"],
            "name": row["name"],
            "url": row["url"],
            "secret": row["secret"],
            "triggers": json.loads(row["triggers"]),
            "linkIds": link_ids,
            "disabledAt": row["disabled_at"],
            "consecutiveFailures": row["consecutive_failures"],
            "createdAt": row["created_at"],
            "updatedAt": row["updated_at"],
        }

    async def _link_ids(self, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Unprocessable("Expected an array of link ids", field="linkIds", issue="invalid_type")
        for v in value:
            encodable(v, "linkIds")
        ids = list(dict.fromkeys(value))
        missing = await self.store.missing_link_ids(ids)
        if missing:
            raise Unprocessable(f"Invalid linkIds detected: {echo(', '.join(missing), 300)}", field="linkIds",
                                issue="custom")
        return ids

    async def create(self, body: dict) -> dict:
        name = _name(body.get("name"))
        url = _validate_url(body.get("url"), allow_private=self.settings.webhook_allow_private)
        triggers = _triggers(body.get("triggers"))
        secret = _secret(body["secret"]) if body.get("secret") is not None else new_secret()
        link_ids = await self._link_ids(body["linkIds"]) if body.get("linkIds") is not None else []
        now = now_iso()
        row = {"id": new_id("wh_"), "name": name, "url": url, "secret": secret,
               "triggers": json.dumps(triggers), "created_at": now, "updated_at": now}
        await self.store.insert_webhook(row)
        if link_ids:
            await self.store.set_webhook_links(row["id"], link_ids, now)
        await self.reload()
        return await self.get(row["id"])

    async def list(self) -> list[dict]:
        links = await self.store.link_ids_for_webhooks()
        return [self._object(r, links.get(r["id"], [])) for r in await self.store.list_webhooks()]

    async def get(self, webhook_id: str) -> dict:
        row = await self._row(webhook_id)
        links = await self.store.link_ids_for_webhooks()
        return self._object(row, links.get(row["id"], []))

    async def update(self, webhook_id: str, body: dict) -> dict:
        await self._row(webhook_id)
        now = now_iso()
        changes: dict[str, Any] = {"updated_at": now}
        if "name" in body:
            changes["name"] = _name(body["name"])
        if "url" in body:
            changes["url"] = _validate_url(body["url"], allow_private=self.settings.webhook_allow_private)
        if "triggers" in body:
            changes["triggers"] = json.dumps(_triggers(body["triggers"]))
        if "secret" in body:
            changes["secret"] = _secret(body["secret"])
        if "disabled" in body:
            if not isinstance(body["disabled"], bool):
                raise Unprocessable("Expected boolean", field="disabled", issue="invalid_type")
            changes["disabled_at"] = now if body["disabled"] else None
            changes["consecutive_failures"] = 0
        link_ids = await self._link_ids(body["linkIds"]) if body.get("linkIds") is not None else None
        await self.store.update_webhook(webhook_id, changes)
        if body.get("disabled") is False:
            await self.store.reschedule_pending(webhook_id, now)  # no hour-long backoff after a re-enable
        if link_ids is not None:
            await self.store.set_webhook_links(webhook_id, link_ids, now)
        await self.reload()
        self.notify()  # a re-enabled webhook may have deliveries waiting
        return await self.get(webhook_id)

    async def rotate_secret(self, webhook_id: str) -> dict:
        await self._row(webhook_id)
        await self.store.update_webhook(webhook_id, {"secret": new_secret(), "updated_at": now_iso()})
        await self.reload()
        return await self.get(webhook_id)

    async def delete(self, webhook_id: str) -> dict:
        await self._row(webhook_id)
        await self.store.set_webhook_links(webhook_id, None, now_iso())
        await self.store.delete_webhook(webhook_id)
        await self.reload()
        return {"id": webhook_id}

    async def deliveries(self, webhook_id: str, limit: int = 100) -> list[dict]:
        await self._row(webhook_id)
        return [
            {
                "id": str(r["seq"]),
                "event": r["event"],
                "eventId": r["event_id"],
                "status": r["status"],
                "attempts": r["attempts"],
                "responseStatus": r["last_status"],
                "lastError": r["last_error"],
                "nextAttemptAt": r["next_attempt_at"] if r["status"] == "pending" else None,
                "deliveredAt": r["delivered_at"],
                "createdAt": r["created_at"],
            }
            for r in await self.store.list_deliveries(webhook_id, limit)
        ]
