"""Queries for customers, lead and sale events, and the /track/* idempotency keys."""
from __future__ import annotations

import json
from typing import Any, Callable, Sequence

from .base import Row, SQLiteBase, Tx, with_tx
from .rollups import after_events_deleted, roll_up_events, unroll_events_where
from .webhooks import insert_outbox

_CUSTOMER_COLUMNS = (
    "id", "external_id", "name", "email", "avatar", "stripe_customer_id", "country", "click_id",
    "link_id", "clicked_at", "created_at", "updated_at",
)
_INSERT_CUSTOMER = (
    f"INSERT INTO customers ({', '.join(_CUSTOMER_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _CUSTOMER_COLUMNS)}) ON CONFLICT (external_id) DO NOTHING"
)
_INSERT_LEAD = (
    "INSERT INTO lead_events (id, customer_id, click_id, link_id, event_name, metadata, timestamp) "
    "VALUES (:id, :customer_id, :click_id, :link_id, :event_name, :metadata, :timestamp)"
)
_LINK_FOR_CONVERSION = (
    "SELECT id, domain, key, url, partner_id, program_id, tenant_id, external_id, disabled_at FROM links WHERE id = ?"
)
_INSERT_SALE = (
    "INSERT INTO sale_events (id, customer_id, click_id, link_id, event_name, amount, currency, "
    "payment_processor, invoice_id, metadata, timestamp) VALUES (:id, :customer_id, :click_id, "
    ":link_id, :event_name, :amount, :currency, :payment_processor, :invoice_id, :metadata, :timestamp)"
)

# Columns a customer listing may sort by (API name -> SQL); anything else is refused upstream.
CUSTOMER_SORTS = {
    "createdAt": "created_at",
    "saleAmount": "sale_amount",
    "firstSaleAt": "first_sale_at",
    "subscriptionCanceledAt": "subscription_canceled_at",
}
CUSTOMER_UPDATABLE = ("name", "email", "avatar", "external_id", "stripe_customer_id", "country",
                      "subscription_canceled_at")


def _get_or_create_customer(tx: Tx, customer: Row) -> Row:
    """Race-free get-or-create by external id; an existing customer is returned unchanged (Dub)."""
    tx.execute(_INSERT_CUSTOMER, customer)
    row = tx.fetchone("SELECT * FROM customers WHERE external_id = ?", (customer["external_id"],))
    assert row is not None
    return row


def _lead_key_taken(tx: Tx, external_id: str, event_key: str, since: str) -> bool:
    return tx.fetchone("SELECT 1 AS hit FROM lead_keys WHERE customer_external_id = ? AND event_key = ? AND created_at >= ?",
        (external_id, event_key, since),
    ) is not None


class ConversionQueries(SQLiteBase):
    """The /track/* paths run each transaction, and each group of lookups, as one call on the
    connection's thread (`run_in_transaction` / `run_on_reader`, see base.py)."""

    # -- lookups for /track/* -----------------------------------------------------------------

    async def find_customer_by_external_id(self, external_id: str) -> Row | None:
        return await self.read_one("SELECT * FROM customers WHERE external_id = ?", (external_id,))

    async def find_customer(self, customer_id: str) -> Row | None:
        return await self.read_one("SELECT * FROM customers WHERE id = ?", (customer_id,))

    async def customers_by_ids(self, ids: Sequence[str]) -> dict[str, Row]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = await self.read(f"SELECT * FROM customers WHERE id IN ({marks})", list(ids))
        return {r["id"]: r for r in rows}

    async def find_written_click(self, click_id: str) -> Row | None:
        return await self.read_one("SELECT * FROM clicks WHERE id = ?", (click_id,))

    async def link_for_conversion(self, link_id: str) -> Row | None:
        return await self.read_one(_LINK_FOR_CONVERSION, (link_id,))

    async def lead_context(self, external_id: str, click_id: str, event_key: str, key_since: str) -> Row:
        """Everything /track/lead reads before writing, in one call: the customer, the click id to
        use (the customer's own when `click_id` is empty), whether the idempotency key is taken,
        and the written click and its link (None when not on disk)."""

        @with_tx

        def read(tx: Tx) -> Row:
            customer = tx.fetchone("SELECT * FROM customers WHERE external_id = ?", (external_id,))
            cid = click_id or (customer["click_id"] if customer else None) or ""
            click = tx.fetchone("SELECT * FROM clicks WHERE id = ?", (cid,)) if cid else None
            link = tx.fetchone(_LINK_FOR_CONVERSION, (click["link_id"],)) if click else None
            return {"customer": customer, "click_id": cid, "click": click, "link": link,
                    "duplicate": _lead_key_taken(tx, external_id, event_key, key_since)}

        return await self.run_on_reader(read)

    async def latest_lead(self, customer_id: str, event_name: str | None) -> Row | None:
        if event_name is None:
            return await self.read_one(
                "SELECT * FROM lead_events WHERE customer_id = ? ORDER BY timestamp DESC, id DESC LIMIT 1",
                (customer_id,),
            )
        return await self.read_one(
            "SELECT * FROM lead_events WHERE customer_id = ? AND event_name = ? COLLATE NOCASE "
            "ORDER BY timestamp DESC, id DESC LIMIT 1",
            (customer_id, event_name),
        )

    async def find_sale_invoice(self, invoice_id: str, since: str) -> dict | None:
        row = await self.read_one(
            "SELECT response FROM sale_invoices WHERE invoice_id = ? AND created_at >= ?", (invoice_id, since)
        )
        return json.loads(row["response"]) if row else None

    # -- the /track/* transactions ---------------------------------------------------------------

    async def bind_customer(self, customer: Row) -> Row:
        """Deferred lead: create the customer bound to its click; an existing one is kept as is."""
        return await self.run_small_transaction(lambda conn: _get_or_create_customer(Tx(conn), customer))

    async def record_lead(
        self,
        *,
        customer: Row,
        event_key: str,
        key_since: str,
        events: list[Row],
        link_id: str,
        now: str,
        outbox: Callable[[Row], list[Row]] | None = None,
    ) -> tuple[bool, Row | None]:
        """Idempotency key, customer, N lead events, link counters and webhook outbox: one commit.

        Returns (duplicate, customer row). A duplicate changes nothing.
        """
        external_id = customer["external_id"]

        @with_tx

        def write(tx: Tx) -> tuple[bool, Row | None]:
            if _lead_key_taken(tx, external_id, event_key, key_since):
                return True, tx.fetchone("SELECT * FROM customers WHERE external_id = ?", (external_id,))
            tx.execute(
                "INSERT INTO lead_keys (customer_external_id, event_key, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (customer_external_id, event_key) DO UPDATE SET created_at = excluded.created_at",
                (external_id, event_key, now),
            )
            row = _get_or_create_customer(tx, customer)
            for event in events:
                event["customer_id"] = row["id"]
            tx.executemany(_INSERT_LEAD, events)
            roll_up_events(tx, "leads", events)
            tx.execute("UPDATE links SET leads = leads + ?, last_lead_at = ? WHERE id = ?", (len(events), now, link_id))
            if outbox is not None:
                insert_outbox(tx, outbox(row))
            return False, row

        return await self.run_small_transaction(write)

    async def record_sale(
        self,
        *,
        sale: Row,
        invoice_since: str,
        new_customer: Row | None,
        direct_lead: Row | None,
        now: str,
        respond: Callable[[Row], dict],
        outbox: Callable[[Row, bool], list[Row]] | None = None,
    ) -> dict:
        """Sale event, customer and link counters, invoice key and outbox: one commit.

        `new_customer` and `direct_lead` are set for a direct sale (unknown customer with a click):
        the customer and its lead are created here too. Returns the response body; for an
        invoiceId already answered within the window, the stored first answer.
        """

        @with_tx

        def write(tx: Tx) -> dict:
            invoice_id = sale.get("invoice_id")
            if invoice_id is not None:
                seen = tx.fetchone("SELECT response FROM sale_invoices WHERE invoice_id = ? AND created_at >= ?",
                            (invoice_id, invoice_since))
                if seen:
                    return json.loads(seen["response"])
            if new_customer is not None:
                customer = _get_or_create_customer(tx, new_customer)
            else:
                customer = tx.fetchone("SELECT * FROM customers WHERE id = ?", (sale["customer_id"],))
                if customer is None:  # deleted between the lookup and this transaction
                    return respond({})
            if direct_lead is not None:
                direct_lead["customer_id"] = customer["id"]
                tx.execute(_INSERT_LEAD, direct_lead)
                roll_up_events(tx, "leads", [direct_lead])
                tx.execute("UPDATE links SET leads = leads + 1, last_lead_at = ? WHERE id = ?",
                             (now, direct_lead["link_id"]))
            sale["customer_id"] = customer["id"]
            tx.execute(_INSERT_SALE, sale)
            roll_up_events(tx, "sales", [sale])
            # A first conversion (Dub's rule): the customer's first sale, or a sale on another link
            # than the one the customer came through.
            first = customer["sales"] == 0 or customer["link_id"] != sale["link_id"]
            tx.execute(
                "UPDATE customers SET sales = sales + 1, sale_amount = sale_amount + ?, "
                "first_sale_at = COALESCE(first_sale_at, ?), updated_at = ? WHERE id = ?",
                (sale["amount"], now, now, customer["id"]),
            )
            tx.execute(
                "UPDATE links SET sales = sales + 1, sale_amount = sale_amount + ?, "
                "conversions = conversions + ?, last_conversion_at = CASE WHEN ? THEN ? ELSE last_conversion_at END "
                "WHERE id = ?",
                (sale["amount"], 1 if first else 0, first, now, sale["link_id"]),
            )
            customer = tx.fetchone("SELECT * FROM customers WHERE id = ?", (customer["id"],))
            body = respond(customer)  # type: ignore[arg-type]
            if invoice_id is not None:
                tx.execute(
                    "INSERT INTO sale_invoices (invoice_id, response, created_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (invoice_id) DO UPDATE SET response = excluded.response, "
                    "created_at = excluded.created_at",
                    (invoice_id, json.dumps(body), now),
                )
            if outbox is not None:
                insert_outbox(tx, outbox(customer, first))  # type: ignore[arg-type]
            return body

        return await self.run_small_transaction(write)

    async def prune_idempotency_keys(self, before: str) -> int:
        """Drop lead keys and invoice answers past their window (they are one row per lead/sale)."""
        @with_tx
        def work(tx: Tx):
            n = tx.execute("DELETE FROM lead_keys WHERE created_at < ?", (before,))
            return n + tx.execute("DELETE FROM sale_invoices WHERE created_at < ?", (before,))
        return await self.run_in_transaction(work)

    # -- customers API ----------------------------------------------------------------------------

    async def list_customers(
        self, *, filters: dict[str, Any], sort: str, desc: bool, limit: int, offset: int,
        starting_after: Row | None = None, ending_before: Row | None = None,
    ) -> list[Row]:
        where, params = [], []
        for name in ("email", "external_id", "country", "link_id"):
            if filters.get(name) is not None:
                where.append(f"{name} = ?" + (" COLLATE NOCASE" if name in ("email", "country") else ""))
                params.append(filters[name])
        if filters.get("search"):
            where.append("(email LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\' OR external_id LIKE ? ESCAPE '\\')")
            like = "%" + filters["search"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            params += [like, like, like]
        column = CUSTOMER_SORTS[sort]
        # endingBefore wants the page just before the cursor: read towards it, then turn around.
        backwards = ending_before is not None and starting_after is None
        direction = "DESC" if desc != backwards else "ASC"
        # Cursor paging on (created_at, id), which is unique and matches the default sort.
        if starting_after is not None:
            op = "<" if desc else ">"
            where.append(f"(created_at, id) {op} (?, ?)")
            params += [starting_after["created_at"], starting_after["id"]]
        if ending_before is not None:
            op = ">" if desc else "<"
            where.append(f"(created_at, id) {op} (?, ?)")
            params += [ending_before["created_at"], ending_before["id"]]
        sql = "SELECT * FROM customers"
        if where:
            sql += " WHERE " + " AND ".join(where)
        nulls = " NULLS LAST" if column != "created_at" else ""
        sql += f" ORDER BY {column} {direction}{nulls}, id {direction} LIMIT ? OFFSET ?"
        rows = await self.read(sql, params + [limit, offset])
        return rows[::-1] if backwards else rows

    async def update_customer(self, customer_id: str, changes: Row, now: str) -> Row | None:
        cols = [c for c in changes if c in CUSTOMER_UPDATABLE]
        @with_tx
        def work(tx: Tx):
            if "external_id" in changes:
                # the lead idempotency keys follow the customer to its new external id
                tx.execute(
                    "UPDATE OR REPLACE lead_keys SET customer_external_id = ? WHERE customer_external_id = "
                    "(SELECT external_id FROM customers WHERE id = ?)",
                    (changes["external_id"], customer_id),
                )
            if cols:
                sets = ", ".join(f"{c} = ?" for c in cols)
                tx.execute(
                    f"UPDATE customers SET {sets}, updated_at = ? WHERE id = ?",
                    [changes[c] for c in cols] + [now, customer_id],
                )
            return tx.fetchone("SELECT * FROM customers WHERE id = ?", (customer_id,))
        return await self.run_in_transaction(work)

    async def external_id_taken(self, external_id: str, other_than: str) -> bool:
        row = await self.read_one(
            "SELECT 1 AS hit FROM customers WHERE external_id = ? AND id != ?", (external_id, other_than)
        )
        return row is not None

    async def delete_customer(self, customer_id: str) -> bool:
        """The customer, its events (cascade) and its lead keys; link counters keep their history."""
        @with_tx
        def work(tx: Tx):
            row = tx.fetchone("SELECT external_id FROM customers WHERE id = ?", (customer_id,))
            if row is None:
                return False
            tx.execute("DELETE FROM lead_keys WHERE customer_external_id = ?", (row["external_id"],))
            # The events go with the customer (cascade): so do their rollups.
            unroll_events_where(tx, "leads", "e.customer_id = ?", (customer_id,))
            unroll_events_where(tx, "sales", "e.customer_id = ?", (customer_id,))
            tx.execute("DELETE FROM customers WHERE id = ?", (customer_id,))
            after_events_deleted(tx)
            return True
        return await self.run_in_transaction(work)
