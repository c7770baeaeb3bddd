"""Fault (issue 14): SIGKILL of a live server under a mixed load of clicks, link writes, leads, sales
and webhook deliveries to a receiver on loopback. After a restart every write that was answered
2xx is there, lead and sale webhooks still reach the receiver, the database passes
`PRAGMA integrity_check`, and the only clicks lost were answered within one flush window of the
kill (clicks are queued in memory and written every SHORTENER_CLICK_FLUSH_MS; decisions.md)."""
from __future__ import annotations

import asyncio
import itertools
import time

import httpx

from fault_support import DESKTOP, Receiver, all_events, integrity

FLUSH_MS = 100
# One flush window is the timer plus the transaction that writes it: a batch that was being
# written when the process died is lost with it. The slack is that write on a shared 2-core box.
LOSS_WINDOW = FLUSH_MS / 1000 + 0.4


def test_sigkill_under_mixed_load_loses_no_acknowledged_write(live_server):
    with Receiver() as receiver:
        server = live_server(SHORTENER_CLICK_FLUSH_MS=str(FLUSH_MS), SHORTENER_CLICK_DEDUP_SECONDS="0",
                             SHORTENER_WEBHOOK_ALLOW_PRIVATE="true", SHORTENER_LOG_LEVEL="warning")
        auth = {"Authorization": f"Bearer {server.key}"}
        with httpx.Client(base_url=server.api_url, headers=auth, timeout=30) as c:
            hook = c.post("/webhooks", json={"name": "kill", "url": receiver.url,
                                              "triggers": ["lead.created", "sale.created", "link.created"]})
            assert hook.status_code == 201, hook.text
            base = c.post("/links", json={"url": "https://example.com/mix", "key": "mix"}).json()

        clicks: list[tuple[str, float]] = []       # (click id, when the 302 came back)
        links: list[str] = []
        titles: list[int] = []
        leads: list[str] = []
        sales: list[str] = []
        stop = asyncio.Event()
        serial = itertools.count()

        async def clicker(client: httpx.AsyncClient) -> None:
            while not stop.is_set():
                try:
                    r = await client.get(f"{server.url}/mix", headers={"user-agent": f"{DESKTOP} v{next(serial)}"})
                except httpx.HTTPError:
                    return
                if r.status_code == 302 and r.cookies.get("dub_id"):
                    clicks.append((r.cookies["dub_id"], time.monotonic()))
                client.cookies.clear()

        async def linker(client: httpx.AsyncClient) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    r = await client.post("/links", json={"url": f"https://example.com/k{n}", "key": f"kill-{n}"})
                    if r.status_code == 200:
                        links.append(r.json()["id"])
                    r = await client.patch(f"/links/{base['id']}", json={"title": f"v{n}"})
                    if r.status_code == 200:
                        titles.append(n)
                except httpx.HTTPError:
                    return

        async def leader(client: httpx.AsyncClient, name: str) -> None:
            n = 0
            while not stop.is_set():
                if not clicks:
                    await asyncio.sleep(0.01)
                    continue
                n += 1
                customer = f"{name}-{n}"
                try:
                    r = await client.post("/track/lead", json={"clickId": clicks[-1][0], "eventName": "Sign up",
                                                               "customerExternalId": customer})
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    leads.append(customer)

        async def seller(client: httpx.AsyncClient) -> None:
            sold = 0
            while not stop.is_set():
                if sold >= len(leads):
                    await asyncio.sleep(0.01)
                    continue
                customer = leads[sold]
                sold += 1
                try:
                    r = await client.post("/track/sale", json={"customerExternalId": customer, "amount": 1000,
                                                               "invoiceId": f"inv-{customer}"})
                except httpx.HTTPError:
                    return
                if r.status_code == 200 and r.json()["sale"] is not None:
                    sales.append(customer)

        async def killer() -> float:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not (
                    len(clicks) > 200 and len(links) > 10 and len(leads) > 20 and len(sales) > 5):
                await asyncio.sleep(0.05)
            killed_at = time.monotonic()
            await asyncio.to_thread(server.kill)
            stop.set()
            return killed_at

        async def load() -> float:
            async with httpx.AsyncClient(base_url=server.api_url, headers=auth, timeout=10,
                                         follow_redirects=False) as client:
                results = await asyncio.gather(
                    killer(), *(clicker(client) for _ in range(4)), linker(client),
                    leader(client, "a"), leader(client, "b"), seller(client))
            return results[0]

        killed_at = asyncio.run(load())
        delivered_before = len(receiver.events)
        server.start()

        # every acknowledged write is there
        with httpx.Client(base_url=server.api_url, headers=auth, timeout=30) as c:
            missing_links = [i for i in links if c.get(f"/links/{i}").status_code != 200]
            title = c.get(f"/links/{base['id']}").json()["title"]
        lead_customers = {e["customer"]["externalId"] for e in all_events(server, "leads")}
        sale_customers = {e["customer"]["externalId"] for e in all_events(server, "sales")}
        stored_clicks = {e["click"]["id"] for e in all_events(server, "clicks")}
        lost_clicks = [(cid, killed_at - at) for cid, at in clicks if cid not in stored_clicks]
        old_lost = [(cid, round(age, 3)) for cid, age in lost_clicks if age > LOSS_WINDOW]

        # the outbox survived: every acknowledged lead and sale reaches the receiver (at least once)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            hooked_leads = {e["data"]["customer"]["externalId"] for e in receiver.seen("lead.created")}
            hooked_sales = {e["data"]["customer"]["externalId"] for e in receiver.seen("sale.created")}
            if set(leads) <= hooked_leads and set(sales) <= hooked_sales:
                break
            time.sleep(0.2)
        server.stop()
        check = integrity(server)

    acknowledged = len(clicks) + len(links) + len(titles) + len(leads) + len(sales)
    print(f"\nSIGKILL under load: {acknowledged} acknowledged writes checked "
          f"({len(clicks)} clicks, {len(links)} links, {len(titles)} link updates, {len(leads)} leads, "
          f"{len(sales)} sales); found {len(clicks) - len(lost_clicks)} clicks, "
          f"{len(links) - len(missing_links)} links, {len(set(leads) & lead_customers)} leads, "
          f"{len(set(sales) & sale_customers)} sales; {len(lost_clicks)} clicks lost, the oldest answered "
          f"{max((a for _, a in lost_clicks), default=0):.3f} s before the kill; webhooks: "
          f"{delivered_before} delivered before the kill, {len(hooked_leads & set(leads))} of {len(leads)} "
          f"lead and {len(hooked_sales & set(sales))} of {len(sales)} sale events received; integrity: {check}")
    assert len(leads) > 5 and len(sales) > 2 and len(links) > 2 and len(clicks) > 50
    assert check == "ok"
    assert missing_links == []
    assert title in (f"v{titles[-1]}", f"v{titles[-1] + 1}")
    assert set(leads) <= lead_customers
    assert set(sales) <= sale_customers
    assert old_lost == [], f"clicks lost beyond one flush window ({LOSS_WINDOW} s): {old_lost[:10]}"
    assert set(leads) <= hooked_leads and set(sales) <= hooked_sales
