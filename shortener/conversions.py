"""Conversion tracking: leads, sales, customers and the events listing.

Follows reference/dub-behaviour.md sections 2-3.1 with the choices of decisions.md "Leads and
sales":
- every mode answers only after the events, the customer and the link counters are committed in
  one transaction (`async` and `wait` differ only in name: webhook delivery is always deferred to
  the outbox worker, and the outbox rows commit with the event);
- leads are idempotent per (customer, eventName) for 7 days; the key is written in the lead's own
  transaction after the click was found, so an unknown clickId never poisons it;
- `eventQuantity: N` records N events and adds N to `link.leads`;
- `deferred` binds the customer to the click and records nothing.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import timedelta
from typing import Any

from shortener.errors import BadRequest, Conflict, NotFound, Unprocessable, echo, json_type
from shortener.eventfilters import parse_filters
from shortener.geo import geo_fields
from shortener.ids import nanoid, new_id
from shortener.names import random_name
from shortener.timeutil import iso, parse_iso, utcnow
from shortener.tasks import cancel, every

log = logging.getLogger("shortener.conversions")

IDEMPOTENCY_WINDOW = timedelta(days=7)
PRUNE_SECONDS = 3600
METADATA_MAX = 10_000
MODES = ("async", "wait", "deferred")
PAYMENT_PROCESSORS = ("stripe", "shopify", "polar", "paddle", "apple", "revenuecat", "lemonsqueezy", "dub", "custom")
# Cents; far above any real sale, far below SQLite's 64-bit limit even when summed.
AMOUNT_MAX = 10**13
DIRECT_SALE_LEAD = "Direct sale tracking lead event"
EVENT_KINDS = ("clicks", "leads", "sales")
INTERVALS = ("24h", "7d", "30d", "90d", "1y", "mtd", "qtd", "ytd", "all")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_CURRENCY = re.compile(r"^[a-z]{3}$")


# -- input checks (Dub's zod messages: "<issue>: <field>: <text>") ---------------------------------

def encodable(value: str, field: str) -> str:
    """JSON may carry lone surrogates (\\ud800) that no database text can hold: 422, not 500."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Unprocessable("Invalid string: lone surrogate", field=field, issue="invalid_string") from None
    return value


def _string(body: dict, name: str, *, max_len: int | None = None, empty_is_none: bool = False) -> str | None:
    """An optional, nullable, trimmed string field."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Unprocessable(f"Expected string, received {json_type(value)}", field=name, issue="invalid_type")
    encodable(value, name)
    value = value.strip()
    if empty_is_none and not value:
        return None
    if max_len is not None and len(value) > max_len:
        raise Unprocessable(f"Too big: expected string to have <={max_len} characters", field=name, issue="too_big")
    return value


def _int(body: dict, name: str, *, lo: int, hi: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    # JSON has one number type; 2.0 is the integer 2 to a JavaScript client, 2.5 is not.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Unprocessable(f"Expected number, received {json_type(value)}", field=name, issue="invalid_type")
    if isinstance(value, float):
        if not value.is_integer():
            raise Unprocessable("Expected integer, received float", field=name, issue="invalid_type")
        value = int(value)
    if value < lo:
        raise Unprocessable(f"Too small: expected number to be >={lo}", field=name, issue="too_small")
    if value > hi:
        raise Unprocessable(f"Too big: expected number to be <={hi}", field=name, issue="too_big")
    return value


def _metadata(body: dict) -> str | None:
    value = body.get("metadata")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Unprocessable(f"Expected object, received {json_type(value)}", field="metadata", issue="invalid_type")
    text = encodable(json.dumps(value, ensure_ascii=False, separators=(",", ":")), "metadata")
    if len(text) > METADATA_MAX:
        raise Unprocessable("Metadata must be less than 10,000 characters when stringified",
                            field="metadata", issue="custom")
    return text


def _email(body: dict, name: str) -> str | None:
    value = _string(body, name, max_len=100, empty_is_none=True)
    if value is not None and not _EMAIL.match(value):
        raise Unprocessable("Invalid email address", field=name, issue="invalid_string")
    return value


def _external_id(body: dict) -> str:
    """customerExternalId, or its deprecated aliases externalId / customerId."""
    for name in ("customerExternalId", "externalId", "customerId"):
        value = _string(body, name, max_len=100)
        if value:
            return value
    raise BadRequest("customerExternalId is required")


def _event_name(body: dict, *, default: str | None = None) -> str:
    value = _string(body, "eventName", max_len=255)
    if value is None:
        if default is not None:
            return default
        raise Unprocessable("eventName is required", field="eventName", issue="invalid_type")
    if not value:
        raise Unprocessable("Too small: expected string to have >=1 characters", field="eventName", issue="too_small")
    return value


def _enum(body: dict, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, str) or value not in allowed:
        expected = " | ".join(f"'{a}'" for a in allowed)
        raise Unprocessable(f"Invalid enum value. Expected {expected}, received '{echo(value)}'",
                            field=name, issue="invalid_enum_value")
    return value


def event_key(event_name: str) -> str:
    """Dub's idempotency slug: lowercased, spaces to dashes."""
    return re.sub(r"\s+", "-", event_name.strip().lower())


# -- API objects ------------------------------------------------------------------------------

def click_object(row: dict) -> dict:
    """A clicks row as Dub's click object (strings never null, as the SDK models require)."""
    return {
        "id": row["id"],
        "timestamp": row["timestamp"],
        "url": row.get("url") or "",
        **geo_fields(row),
        "device": row.get("device") or "Unknown",
        "browser": row.get("browser") or "Unknown",
        "os": row.get("os") or "Unknown",
        "referer": row.get("referer") or "(direct)",
        "refererUrl": row.get("referer_url") or "(direct)",
        "qr": bool(row.get("qr")),
        "ip": row.get("ip") or "",
        "ua": row.get("ua"),
        "trigger": row.get("trigger") or "link",
    }


def customer_object(row: dict) -> dict:
    return {
        "id": row["id"],
        "externalId": row["external_id"],
        "name": row["name"],
        "email": row["email"],
        "avatar": row["avatar"],
        "stripeCustomerId": row["stripe_customer_id"],
        "country": row["country"],
        "sales": row["sales"],
        "saleAmount": row["sale_amount"],
        "firstSaleAt": row["first_sale_at"],
        "subscriptionCanceledAt": row["subscription_canceled_at"],
        "createdAt": row["created_at"],
    }


def _short_customer(row: dict | None, fallback: dict) -> dict:
    src = fallback if row is None else {
        "name": row["name"], "email": row["email"], "avatar": row["avatar"], "externalId": row["external_id"],
    }
    return {"name": src["name"], "email": src["email"], "avatar": src["avatar"], "externalId": src["externalId"]}


class ConversionService:
    def __init__(self, core) -> None:
        self.core = core
        self.store = core.store
        self._task: asyncio.Task | None = None
        # Committed by this process since it started (read by the metrics collector).
        self.leads_recorded = 0
        self.sales_recorded = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(every(PRUNE_SECONDS, self.prune, log, "pruning idempotency keys failed"),
                                         name="conversion-key-pruning")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def prune(self) -> int:
        """Drop idempotency keys older than their 7-day window; returns how many."""
        return await self.store.prune_idempotency_keys(iso(utcnow() - IDEMPOTENCY_WINDOW))

    # -- helpers ---------------------------------------------------------------------------------

    def _lead_link(self, link: dict) -> dict:
        return {
            "id": link["id"],
            "domain": link["domain"],
            "key": link["key"],
            "shortLink": self.core.settings.short_url(link["domain"], link["key"]),
            "url": link["url"],
            "partnerId": link["partner_id"],
            "programId": link["program_id"],
            "tenantId": link["tenant_id"],
            "externalId": link["external_id"],
        }

    async def _find_click(self, click_id: str) -> dict | None:
        row = await self.store.find_written_click(click_id)
        if row is not None:
            return row
        finder = getattr(self.core.clicks, "find_click", None)
        found = await finder(click_id) if finder is not None else None
        if found is None:
            return None
        # Queued in memory: wait for its batch, so the lead's click is on disk before the lead is.
        await self.core.clicks.wait_written(click_id)
        return await self.store.find_written_click(click_id) or found

    async def _click_and_link(self, click_id: str, click: dict | None = None,
                              link: dict | None = None) -> tuple[dict, dict]:
        """The click and its link (either may be passed in when already read); 404s as Dub."""
        if click is None:
            click = await self._find_click(click_id)
            if click is None:
                raise NotFound(f"Click event not found for clickId: {echo(click_id)}")
            link = None
        if link is None:
            link = await self.store.link_for_conversion(click["link_id"])
        if link is None:
            raise NotFound(f"Link not found for clickId: {echo(click_id)}")
        if link["disabled_at"] is not None:
            raise NotFound(f"Link {link['id']} for clickId {echo(click_id)} is disabled, lead not tracked")
        return click, link

    async def _webhook_link(self, link_id: str) -> dict | None:
        try:
            return dict(await self.core.links.get(link_id))
        except Exception:  # the payload is best effort; the lead itself must not fail on it
            return None

    def _new_customer(self, external_id: str, name: str, email: str | None, avatar: str | None,
                      click: dict, now: str) -> dict:
        return {
            "id": new_id("cus_"),
            "external_id": external_id,
            "name": name,
            "email": email,
            "avatar": avatar,
            "stripe_customer_id": None,
            "country": click.get("country"),
            "click_id": click["id"],
            "link_id": click["link_id"],
            "clicked_at": click.get("timestamp"),
            "created_at": now,
            "updated_at": now,
        }

    # -- POST /track/lead --------------------------------------------------------------------------

    async def track_lead(self, body: dict) -> dict:
        click_id = _string(body, "clickId") or ""
        name = _event_name(body)
        external_id = _external_id(body)
        customer_name = _string(body, "customerName", max_len=100, empty_is_none=True)
        customer_email = _email(body, "customerEmail")
        customer_avatar = _string(body, "customerAvatar", empty_is_none=True)
        mode = _enum(body, "mode", MODES, "async")
        quantity = _int(body, "eventQuantity", lo=1, hi=100) or 1
        metadata = _metadata(body)

        now_dt = utcnow()
        now = iso(now_dt)
        key_since = iso(now_dt - IDEMPOTENCY_WINDOW)
        key = event_key(name)
        ctx = await self.store.lead_context(external_id, click_id, key, key_since)
        customer = ctx["customer"]
        if not ctx["click_id"]:
            raise BadRequest(
                "The `clickId` property was not provided in the request, and no existing customer "
                "with the provided `customerExternalId` was found."
            )
        click_id = ctx["click_id"]
        final_name = customer_name or customer_email or random_name()
        would_be = {"name": final_name, "email": customer_email, "avatar": customer_avatar, "externalId": external_id}

        if mode != "deferred" and ctx["duplicate"]:
            return {"click": {"id": click_id}, "link": None, "customer": _short_customer(customer, would_be)}

        click, link = await self._click_and_link(click_id, ctx["click"], ctx["link"])
        new_customer = self._new_customer(external_id, final_name, customer_email, customer_avatar, click, now)

        if mode == "deferred":
            row = await self.store.bind_customer(new_customer)
            return {"click": {"id": click_id}, "link": self._lead_link(link), "customer": _short_customer(row, would_be)}

        events = [
            {"id": nanoid(16), "click_id": click_id, "link_id": link["id"], "event_name": name,
             "metadata": metadata, "timestamp": now}
            for _ in range(quantity)
        ]
        outbox = None
        webhooks = self.core.webhooks
        if webhooks.wants("lead.created"):
            link_obj = await self._webhook_link(link["id"])
            if link_obj is not None:
                link_obj["leads"] = link_obj.get("leads", 0) + quantity

                def outbox(customer_row: dict) -> list[dict]:
                    return webhooks.outbox_rows("lead.created", {
                        "eventName": name,
                        "customer": customer_object(customer_row),
                        "click": click_object(click),
                        "link": link_obj,
                        "metadata": json.loads(metadata) if metadata else None,
                        "partner": None,
                    })

        duplicate, row = await self.store.record_lead(
            customer=new_customer, event_key=key, key_since=key_since, events=events,
            link_id=link["id"], now=now, outbox=outbox,
        )
        if duplicate:
            return {"click": {"id": click_id}, "link": None, "customer": _short_customer(row, would_be)}
        self.leads_recorded += len(events)
        if outbox is not None:
            webhooks.notify()
        return {"click": {"id": click_id}, "link": self._lead_link(link), "customer": _short_customer(row, would_be)}

    # -- POST /track/sale --------------------------------------------------------------------------

    async def track_sale(self, body: dict) -> dict:
        external_id = _external_id(body)
        if body.get("amount") is None:
            raise Unprocessable("amount is required", field="amount", issue="invalid_type")
        amount = _int(body, "amount", lo=0, hi=AMOUNT_MAX)
        assert amount is not None
        currency = _string(body, "currency")
        currency = (currency or "usd").lower()
        if not _CURRENCY.match(currency):
            raise Unprocessable("Invalid currency: expected a 3-letter ISO 4217 code", field="currency", issue="invalid_string")
        name = _event_name(body, default="Purchase")
        processor = _enum(body, "paymentProcessor", PAYMENT_PROCESSORS, "custom")
        invoice_id = _string(body, "invoiceId", max_len=255, empty_is_none=True)
        lead_event_name = _string(body, "leadEventName", max_len=255, empty_is_none=True)
        click_id = _string(body, "clickId", empty_is_none=True)
        customer_name = _string(body, "customerName", max_len=100, empty_is_none=True)
        customer_email = _email(body, "customerEmail")
        customer_avatar = _string(body, "customerAvatar", empty_is_none=True)
        metadata = _metadata(body)

        now_dt = utcnow()
        now = iso(now_dt)
        since = iso(now_dt - IDEMPOTENCY_WINDOW)
        nothing = {"eventName": name, "customer": None, "sale": None}
        if invoice_id is not None:
            previous = await self.store.find_sale_invoice(invoice_id, since)
            if previous is not None:
                return previous
        if amount == 0:
            return nothing

        customer = await self.store.find_customer_by_external_id(external_id)
        new_customer = direct_lead = None
        if customer is None:
            if click_id is None:
                return nothing
            # Direct sale: an unknown customer with a click gets a customer and a lead first.
            click, link = await self._click_and_link(click_id)
            final_name = customer_name or customer_email or random_name()
            new_customer = self._new_customer(external_id, final_name, customer_email, customer_avatar, click, now)
            direct_lead = {"id": nanoid(16), "click_id": click["id"], "link_id": link["id"],
                           "event_name": lead_event_name or DIRECT_SALE_LEAD, "metadata": None, "timestamp": now}
            lead_click_id, link_id = click["id"], link["id"]
        else:
            lead = await self.store.latest_lead(customer["id"], lead_event_name)
            if lead is None:
                raise NotFound(
                    f"Lead event not found for externalId: {external_id} and leadEventName: {lead_event_name}"
                )
            lead_click_id, link_id = lead["click_id"], lead["link_id"]
            click = None

        sale = {
            "id": nanoid(16), "customer_id": customer["id"] if customer else None, "click_id": lead_click_id,
            "link_id": link_id, "event_name": name, "amount": amount, "currency": currency,
            "payment_processor": processor, "invoice_id": invoice_id, "metadata": metadata, "timestamp": now,
        }
        sale_obj = {"amount": amount, "currency": currency, "paymentProcessor": processor,
                    "invoiceId": invoice_id, "metadata": json.loads(metadata) if metadata else None}

        recorded = []  # set by respond() inside the transaction when the sale is written

        def respond(customer_row: dict) -> dict:
            if not customer_row:
                return nothing
            recorded.append(True)
            return {
                "eventName": name,
                "customer": {"id": customer_row["id"], "name": customer_row["name"], "email": customer_row["email"],
                             "avatar": customer_row["avatar"], "externalId": customer_row["external_id"]},
                "sale": sale_obj,
            }

        outbox = None
        webhooks = self.core.webhooks
        if webhooks.wants("sale.created"):
            link_obj = await self._webhook_link(link_id)
            click_row = click or await self.store.find_written_click(lead_click_id)
            if link_obj is not None:
                def outbox(customer_row: dict, first: bool) -> list[dict]:
                    link_obj["sales"] = link_obj.get("sales", 0) + 1
                    link_obj["saleAmount"] = link_obj.get("saleAmount", 0) + amount
                    link_obj["conversions"] = link_obj.get("conversions", 0) + (1 if first else 0)
                    if direct_lead is not None:
                        link_obj["leads"] = link_obj.get("leads", 0) + 1
                    return webhooks.outbox_rows("sale.created", {
                        "eventName": name,
                        "customer": customer_object(customer_row),
                        "click": click_object(click_row) if click_row else
                        click_object({"id": lead_click_id, "timestamp": now}),
                        "link": link_obj,
                        "sale": {"amount": amount, "currency": currency, "paymentProcessor": processor,
                                 "invoiceId": invoice_id},
                        "metadata": sale_obj["metadata"],
                        "partner": None,
                    })

        body_out = await self.store.record_sale(
            sale=sale, invoice_since=since, new_customer=new_customer, direct_lead=direct_lead,
            now=now, respond=respond, outbox=outbox,
        )
        if recorded:
            self.sales_recorded += 1
            self.leads_recorded += 1 if direct_lead is not None else 0
        if outbox is not None:
            webhooks.notify()
        return body_out

    # -- customers ---------------------------------------------------------------------------------

    async def _customer_row(self, id_or_ext: str) -> dict:
        if id_or_ext.startswith("ext_"):
            row = await self.store.find_customer_by_external_id(id_or_ext[4:])
        else:
            row = await self.store.find_customer(id_or_ext)
        if row is None:
            raise NotFound("Customer not found.")
        return row

    async def customer_api_object(self, row: dict, expanded: bool) -> dict:
        obj = customer_object(row)
        if expanded:
            link = await self.store.link_for_conversion(row["link_id"]) if row["link_id"] else None
            obj["link"] = None if link is None else {
                "id": link["id"], "domain": link["domain"], "key": link["key"],
                "shortLink": self.core.settings.short_url(link["domain"], link["key"]),
                "url": link["url"], "programId": link["program_id"],
            }
            obj.update({"programId": None, "partner": None, "discount": None})
        return obj

    async def list_customers(self, *, filters: dict, sort_by: str, desc: bool, page: int, page_size: int,
                             starting_after: str | None, ending_before: str | None, expanded: bool) -> list[dict]:
        if (starting_after or ending_before) and sort_by != "createdAt":
            raise Unprocessable("startingAfter and endingBefore page by createdAt; use page with other sorts",
                                field="sortBy", issue="custom")
        after = before = None
        try:
            if starting_after:
                after = await self._customer_row(starting_after)
            if ending_before:
                before = await self._customer_row(ending_before)
        except NotFound:
            return []  # as for links: nothing comes before or after a customer that does not exist
        offset = 0 if (after or before) else (page - 1) * page_size
        rows = await self.store.list_customers(
            filters=filters, sort=sort_by, desc=desc, limit=page_size, offset=offset,
            starting_after=after, ending_before=before,
        )
        return [await self.customer_api_object(r, expanded) for r in rows]

    async def get_customer(self, id_or_ext: str, *, expanded: bool = False) -> dict:
        return await self.customer_api_object(await self._customer_row(id_or_ext), expanded)

    async def update_customer(self, id_or_ext: str, body: dict, *, expanded: bool = False) -> dict:
        row = await self._customer_row(id_or_ext)
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = _string(body, "name", max_len=100)
        if "email" in body:
            changes["email"] = _email(body, "email")
        if "avatar" in body:
            changes["avatar"] = _string(body, "avatar", max_len=2048)
        if "stripeCustomerId" in body:
            changes["stripe_customer_id"] = _string(body, "stripeCustomerId", max_len=255)
        if "country" in body:
            country = _string(body, "country")
            if country is not None and not re.fullmatch(r"[A-Za-z]{2}", country):
                raise Unprocessable("Expected a 2-letter country code", field="country", issue="invalid_string")
            changes["country"] = country.upper() if country else None
        if "subscriptionCanceledAt" in body:
            value = _string(body, "subscriptionCanceledAt")
            if value:
                try:
                    value = iso(parse_iso(value))
                except ValueError:
                    raise Unprocessable("Invalid date", field="subscriptionCanceledAt", issue="invalid_date") from None
            changes["subscription_canceled_at"] = value or None
        if "externalId" in body:
            ext = _string(body, "externalId", max_len=100)
            if not ext:
                raise Unprocessable("Too small: expected string to have >=1 characters",
                                    field="externalId", issue="too_small")
            if await self.store.external_id_taken(ext, row["id"]):
                raise Conflict("A customer with this externalId already exists.")
            changes["external_id"] = ext
        updated = await self.store.update_customer(row["id"], changes, iso(utcnow()))
        if updated is None:
            raise NotFound("Customer not found.")
        return await self.customer_api_object(updated, expanded)

    async def delete_customer(self, id_or_ext: str) -> dict:
        row = await self._customer_row(id_or_ext)
        if not await self.store.delete_customer(row["id"]):
            raise NotFound("Customer not found.")
        return {"id": row["id"]}

    # -- events ------------------------------------------------------------------------------------

    async def list_events(self, kind: str, *, params, desc: bool, page: int, limit: int) -> list[dict]:
        """GET /events: filters and time range parsed by the same code as GET /analytics."""
        analytics = self.core.analytics
        conditions = await analytics.conditions_with_link_ids(parse_filters(params))
        span = await analytics.time_range(params)
        rows = await self.store.event_page(kind, conditions, iso(span.start), iso(span.end), desc=desc,
                                           limit=limit, offset=(page - 1) * limit)
        customers = await self.store.customers_by_ids(sorted({r["customer_id"] for r in rows if r.get("customer_id")}))
        links: dict[str, dict | None] = {}
        out = []
        for row in rows:
            if row["link_id"] not in links:
                links[row["link_id"]] = await self._webhook_link(row["link_id"])
            link = links[row["link_id"]]
            if link is None:
                continue
            out.append(self._event_object(kind, row, link, customers))
        return out

    def _event_object(self, kind: str, row: dict, link: dict, customers: dict[str, dict]) -> dict:
        if row.get("click_id"):
            click = click_object({
                "id": row["click_id"], "timestamp": row["click_timestamp"], "url": row["click_url"],
                "country": row["country"], "continent": row["continent"], "region": row["region"],
                "city": row["city"], "device": row["device"], "browser": row["browser"], "os": row["os"],
                "referer": row["referer"], "referer_url": row["referer_url"], "qr": row["qr"], "ip": row["ip"],
                "ua": row["ua"], "trigger": row["trigger"],
            })
        else:  # the click row is gone (or was lost in a crash): keep what the event knows
            click = click_object({"id": row.get("event_click_id"), "timestamp": row["timestamp"], "url": link["url"]})
        obj: dict[str, Any] = {"event": kind[:-1], "timestamp": row["timestamp"]}
        if kind != "clicks":
            customer = customers.get(row["customer_id"])
            obj.update({
                "eventId": row["event_id"],
                "eventName": row["event_name"],
                "customer": customer_object(customer) if customer else None,
                "metadata": json.loads(row["metadata"]) if row["metadata"] else None,
            })
        obj.update({"click": click, "link": link})
        if kind == "sales":
            obj["sale"] = {"amount": row["amount"], "currency": row["currency"], "invoiceId": row["invoice_id"],
                           "paymentProcessor": row["payment_processor"]}
            obj.update({"saleAmount": row["amount"], "invoice_id": row["invoice_id"] or "",
                        "payment_processor": row["payment_processor"]})
        # Deprecated flat fields the SDK models still require.
        obj.update({
            "click_id": click["id"], "link_id": link["id"], "domain": link["domain"], "key": link["key"],
            "url": click["url"], "continent": click["continent"], "country": click["country"],
            "city": click["city"], "device": click["device"], "browser": click["browser"], "os": click["os"],
            "qr": 1 if click["qr"] else 0, "ip": click["ip"],
        })
        return obj
