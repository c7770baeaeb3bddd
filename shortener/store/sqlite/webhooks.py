"""Queries for webhooks, their delivery outbox and the delivery log."""
from __future__ import annotations

import json
from typing import Iterable

from .base import Row, SQLiteBase, Tx, with_tx

_INSERT_OUTBOX = (
    "INSERT OR IGNORE INTO webhook_outbox (webhook_id, event_id, event, payload, next_attempt_at, created_at) "
    "VALUES (:webhook_id, :event_id, :event, :payload, :next_attempt_at, :created_at)"
)


def insert_outbox(tx: Tx, rows: Iterable[Row]) -> None:
    """Queue deliveries inside someone else's transaction (a lead, sale or click batch commits
    with its webhooks)."""
    rows = list(rows)
    if rows:
        tx.executemany(_INSERT_OUTBOX, rows)


class WebhookQueries(SQLiteBase):
    # -- webhooks ---------------------------------------------------------------------------------

    async def insert_webhook(self, row: Row) -> None:
        await self.write(
            "INSERT INTO webhooks (id, name, url, secret, triggers, created_at, updated_at) "
            "VALUES (:id, :name, :url, :secret, :triggers, :created_at, :updated_at)",
            row,
        )

    async def list_webhooks(self) -> list[Row]:
        return await self.read("SELECT * FROM webhooks ORDER BY created_at, id")

    async def find_webhook(self, webhook_id: str) -> Row | None:
        return await self.read_one("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))

    async def update_webhook(self, webhook_id: str, changes: Row) -> Row | None:
        allowed = [c for c in changes if c in ("name", "url", "secret", "triggers", "disabled_at",
                                               "consecutive_failures", "updated_at")]
        @with_tx
        def work(tx: Tx):
            if allowed:
                sets = ", ".join(f"{c} = ?" for c in allowed)
                tx.execute(f"UPDATE webhooks SET {sets} WHERE id = ?",
                                 [changes[c] for c in allowed] + [webhook_id])
            return tx.fetchone("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))
        return await self.run_in_transaction(work)

    async def reschedule_pending(self, webhook_id: str, at: str) -> None:
        await self.write(
            "UPDATE webhook_outbox SET next_attempt_at = ? WHERE webhook_id = ? AND status = 'pending'", (at, webhook_id)
        )

    async def delete_webhook(self, webhook_id: str) -> bool:
        return await self.write("DELETE FROM webhooks WHERE id = ?", (webhook_id,)) > 0

    async def webhooks_version(self) -> str:
        """Changes whenever a webhook is added, changed or removed (by any process)."""
        row = await self.read_one(
            "SELECT COUNT(*) AS n, COALESCE(MAX(updated_at), '') AS at, "
            "COALESCE(GROUP_CONCAT(id || COALESCE(disabled_at, '')), '') AS ids FROM webhooks"
        )
        assert row is not None
        return f"{row['n']}|{row['at']}|{row['ids']}"

    # -- outbox -----------------------------------------------------------------------------------

    async def queue_deliveries(self, rows: list[Row]) -> None:
        @with_tx
        def work(tx: Tx):
            insert_outbox(tx, rows)
        return await self.run_small_transaction(work)

    async def due_deliveries(self, now: str, limit: int) -> list[Row]:
        """Pending deliveries whose time has come, for webhooks that are still enabled."""
        return await self.read(
            "SELECT o.*, w.url, w.secret FROM webhook_outbox o JOIN webhooks w ON w.id = o.webhook_id "
            "WHERE o.status = 'pending' AND o.next_attempt_at <= ? AND w.disabled_at IS NULL "
            "ORDER BY o.next_attempt_at, o.seq LIMIT ?",
            (now, limit),
        )

    async def next_delivery_at(self) -> str | None:
        row = await self.read_one(
            "SELECT MIN(o.next_attempt_at) AS at FROM webhook_outbox o JOIN webhooks w ON w.id = o.webhook_id "
            "WHERE o.status = 'pending' AND w.disabled_at IS NULL"
        )
        return row["at"] if row else None

    async def record_delivery(
        self, outbox: Row, log: Row, *, delivered: bool, next_attempt_at: str | None,
        give_up: bool, max_failures: int, now: str,
    ) -> bool:
        """Log one attempt and move the outbox row on; returns True if the webhook got disabled."""
        @with_tx
        def work(tx: Tx):
            tx.execute(
                "INSERT INTO webhook_deliveries (webhook_id, event_id, event, attempt, status_code, ok, error, "
                "duration_ms, created_at) VALUES (:webhook_id, :event_id, :event, :attempt, :status_code, :ok, "
                ":error, :duration_ms, :created_at)",
                log,
            )
            if delivered:
                tx.execute(
                    "UPDATE webhook_outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, "
                    "last_status = ?, last_error = NULL WHERE seq = ?",
                    (now, log["status_code"], outbox["seq"]),
                )
                tx.execute("UPDATE webhooks SET consecutive_failures = 0 WHERE id = ?", (outbox["webhook_id"],))
                return False
            tx.execute(
                "UPDATE webhook_outbox SET status = ?, attempts = attempts + 1, next_attempt_at = ?, "
                "last_status = ?, last_error = ? WHERE seq = ?",
                ("failed" if give_up else "pending", next_attempt_at or now, log["status_code"], log["error"],
                 outbox["seq"]),
            )
            # updated_at is left alone: it is the API's "last edited", not the delivery state.
            n = tx.execute(
                "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1, "
                "disabled_at = CASE WHEN consecutive_failures + 1 >= ? AND disabled_at IS NULL THEN ? "
                "ELSE disabled_at END WHERE id = ?",
                (max_failures, now, outbox["webhook_id"]),
            )
            row = tx.fetchone("SELECT disabled_at FROM webhooks WHERE id = ?", (outbox["webhook_id"],))
            return bool(n and row and row["disabled_at"] == now)
        return await self.run_in_transaction(work)

    async def prune_webhook_history(self, before: str) -> int:
        """Forget delivered or abandoned outbox rows and attempt logs older than `before`."""
        @with_tx
        def work(tx: Tx):
            n = tx.execute(
                "DELETE FROM webhook_outbox WHERE status != 'pending' AND created_at < ?", (before,)
            )
            return n + tx.execute("DELETE FROM webhook_deliveries WHERE created_at < ?", (before,))
        return await self.run_in_transaction(work)

    async def list_deliveries(self, webhook_id: str, limit: int) -> list[Row]:
        """The outbox rows of a webhook (one per event), newest first."""
        return await self.read(
            "SELECT * FROM webhook_outbox WHERE webhook_id = ? ORDER BY seq DESC LIMIT ?", (webhook_id, limit)
        )

    async def list_attempts(self, webhook_id: str, limit: int) -> list[Row]:
        """Every delivery attempt of a webhook, newest first."""
        return await self.read(
            "SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY seq DESC LIMIT ?", (webhook_id, limit)
        )

    # -- which links send link.clicked to which webhook (links.webhook_ids) ------------------------

    async def link_ids_for_webhooks(self) -> dict[str, list[str]]:
        rows = await self.read(
            "SELECT j.value AS webhook_id, l.id AS link_id FROM links l, json_each(l.webhook_ids) j "
            "ORDER BY l.created_at, l.id"
        )
        out: dict[str, list[str]] = {}
        for r in rows:
            out.setdefault(r["webhook_id"], []).append(r["link_id"])
        return out

    async def missing_link_ids(self, link_ids: list[str]) -> list[str]:
        if not link_ids:
            return []
        marks = ",".join("?" * len(link_ids))
        found = {r["id"] for r in await self.read(f"SELECT id FROM links WHERE id IN ({marks})", link_ids)}
        return [i for i in link_ids if i not in found]

    async def set_webhook_links(self, webhook_id: str, link_ids: list[str] | None, now: str) -> None:
        """Make exactly `link_ids` carry the webhook in their webhook_ids (None: remove it everywhere)."""
        wanted = set(link_ids or [])
        @with_tx
        def work(tx: Tx):
            rows = tx.fetchall(
                "SELECT l.id, l.webhook_ids FROM links l WHERE l.id IN (SELECT value FROM json_each(?)) "
                "OR EXISTS (SELECT 1 FROM json_each(l.webhook_ids) j WHERE j.value = ?)",
                (json.dumps(sorted(wanted)), webhook_id),
            )
            for row in rows:
                ids = [i for i in json.loads(row["webhook_ids"] or "[]") if i != webhook_id]
                if row["id"] in wanted:
                    ids.append(webhook_id)
                tx.execute(
                    "UPDATE links SET webhook_ids = ?, updated_at = ? WHERE id = ?", (json.dumps(ids), now, row["id"])
                )
        return await self.run_in_transaction(work)

    async def outbox_summary(self, webhook_id: str) -> dict[str, int]:
        rows = await self.read(
            "SELECT status, COUNT(*) AS n FROM webhook_outbox WHERE webhook_id = ? GROUP BY status", (webhook_id,)
        )
        return {r["status"]: r["n"] for r in rows}
