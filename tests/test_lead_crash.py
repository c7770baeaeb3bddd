"""SIGKILL the server while a client posts leads in wait mode: after a restart every lead that was
answered 200 is there exactly once, the counter matches the events, and retries stay single."""
from __future__ import annotations

import asyncio
import collections

import httpx

from conversion_support import DESKTOP


def _lead_events(server, auth) -> list[dict]:
    events, page = [], 1
    while True:
        batch = httpx.get(f"{server.api_url}/events", headers=auth, timeout=30,
                          params={"event": "leads", "interval": "all", "limit": 1000, "page": page}).json()
        events += batch
        if len(batch) < 1000:
            return events
        page += 1


def test_leads_answered_200_survive_sigkill_exactly_once(live_server):
    server = live_server(SHORTENER_SQLITE_SYNCHRONOUS="normal")
    auth = {"Authorization": f"Bearer {server.key}"}
    link = httpx.post(f"{server.api_url}/links", headers=auth, json={"url": "https://example.com", "key": "crash"}).json()
    click_id = httpx.get(f"{server.url}/crash", headers={"user-agent": DESKTOP}).cookies["dub_id"]
    answered: list[str] = []
    attempted: list[str] = []

    async def post_until_killed() -> None:
        async with httpx.AsyncClient(headers=auth, timeout=10) as client:
            counter = iter(range(100_000))

            async def worker() -> None:
                while True:
                    name = f"crash-{next(counter)}"
                    attempted.append(name)
                    try:
                        r = await client.post(f"{server.api_url}/track/lead", json={
                            "clickId": click_id, "eventName": "Sign up", "customerExternalId": name, "mode": "wait"})
                    except httpx.HTTPError:
                        return  # the server is gone
                    if r.status_code == 200:
                        answered.append(name)

            await asyncio.gather(*(worker() for _ in range(8)))

    async def kill_soon() -> None:
        while len(answered) < 100:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(server.kill)

    async def scenario() -> None:
        await asyncio.gather(post_until_killed(), kill_soon())

    asyncio.run(scenario())
    assert len(answered) >= 100 and len(attempted) > len(answered)  # some were in flight at the kill

    server.start()
    events = _lead_events(server, auth)
    per_customer = collections.Counter(e["customer"]["externalId"] for e in events)
    assert set(answered) <= set(per_customer)
    assert max(per_customer.values()) == 1
    got = httpx.get(f"{server.api_url}/links/{link['id']}", headers=auth).json()
    assert got["leads"] == len(events)  # counters and events committed together or not at all

    # the client retries everything it attempted: no lead is recorded twice
    with httpx.Client(headers=auth, timeout=10) as client:
        for name in attempted:
            r = client.post(f"{server.api_url}/track/lead", json={
                "clickId": click_id, "eventName": "Sign up", "customerExternalId": name, "mode": "wait"})
            assert r.status_code == 200
            assert (r.json()["link"] is None) == (name in per_customer)
    events = _lead_events(server, auth)
    per_customer = collections.Counter(e["customer"]["externalId"] for e in events)
    assert sorted(per_customer) == sorted(attempted) and set(per_customer.values()) == {1}
    assert httpx.get(f"{server.api_url}/links/{link['id']}", headers=auth).json()["leads"] == len(attempted)
