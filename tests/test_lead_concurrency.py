"""500 concurrent lead posts for distinct customers against one link: all 200, leads == 500."""
from __future__ import annotations

import asyncio

import httpx

from conversion_support import DESKTOP, raw_post


def test_500_concurrent_leads_all_count(live_server):
    server = live_server()
    auth = {"Authorization": f"Bearer {server.key}"}
    link = httpx.post(f"{server.api_url}/links", headers=auth, json={"url": "https://example.com", "key": "rush"}).json()
    click_id = httpx.get(f"{server.url}/rush", headers={"user-agent": DESKTOP}).cookies["dub_id"]

    async def storm() -> list[int]:
        # 500 connections, every request written before any answer is read
        return [status for status, _ in await asyncio.gather(*(
            raw_post(server.port, "/api/track/lead", {"clickId": click_id, "eventName": "Sign up",
                                                      "customerExternalId": f"rush-{i}", "mode": "wait"}, server.key)
            for i in range(500)
        ))]

    statuses = asyncio.run(storm())
    assert statuses == [200] * 500
    got = httpx.get(f"{server.api_url}/links/{link['id']}", headers=auth).json()
    assert got["leads"] == 500
    customers = []
    for page in (1, 2, 3, 4, 5, 6):
        customers += httpx.get(f"{server.api_url}/customers", headers=auth,
                               params={"page": page, "pageSize": 100}).json()
    assert sorted(c["externalId"] for c in customers) == sorted(f"rush-{i}" for i in range(500))
