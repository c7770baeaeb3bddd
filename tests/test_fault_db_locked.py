"""Fault (issue 14): another process holds `BEGIN EXCLUSIVE` on the database for longer than the
server's busy timeout (5 s). While it lasts the API answers cleanly: a write either waits and
succeeds or gets a clean error in Dub's JSON shape (503 preferred), never a 500 with a traceback
and never a hang; reads and redirects keep answering. Afterwards writes succeed again without a
restart, every acknowledged write is there and the database passes `PRAGMA integrity_check`."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import httpx

from fault_support import DESKTOP, NONE_MISSING, Acknowledged, integrity, is_dub_error

HOLD_SECONDS = 8
HANG = 30  # a request still unanswered after this long counts as a hang

HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
conn.close()
"""


def test_database_locked_by_another_process_gives_clean_answers_and_recovers(live_server):
    server = live_server(SHORTENER_CLICK_DEDUP_SECONDS="0", SHORTENER_LOG_LEVEL="warning")
    auth = {"Authorization": f"Bearer {server.key}"}
    acked = Acknowledged()
    answers: list[tuple[str, int, float]] = []
    unclean: list[str] = []

    with httpx.Client(base_url=server.api_url, headers=auth, timeout=HANG) as c:
        assert c.post("/links", json={"url": "https://example.com/lock", "key": "lock"}).status_code == 200
        first_click = httpx.get(f"{server.url}/lock", headers={"user-agent": DESKTOP}).cookies["dub_id"]
        time.sleep(0.3)  # the click is written before the lock is taken

    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(server.data_dir / "shortener.db"), str(HOLD_SECONDS)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    locked_at = time.monotonic()

    async def during_lock() -> None:
        async with httpx.AsyncClient(base_url=server.api_url, headers=auth, timeout=HANG,
                                     follow_redirects=False) as client:

            async def call(name: str, method: str, url: str, **kw) -> httpx.Response | None:
                started = time.monotonic()
                try:
                    r = await client.request(method, url, headers={"user-agent": f"{DESKTOP} {name}"}, **kw)
                except httpx.HTTPError as exc:
                    unclean.append(f"{name}: no answer after {time.monotonic() - started:.1f} s ({type(exc).__name__})")
                    return None
                answers.append((name, r.status_code, round(time.monotonic() - started, 1)))
                if r.status_code >= 400 and (r.status_code == 500 or not is_dub_error(r)):
                    unclean.append(f"{name}: {r.status_code} {r.text[:200]}")
                return r

            async def link(n: int) -> None:
                r = await call(f"link-{n}", "POST", "/links", json={"url": f"https://example.com/{n}", "key": f"lock-{n}"})
                if r is not None and r.status_code == 200:
                    acked.links.append(r.json()["id"])

            async def lead(n: int) -> None:
                r = await call(f"lead-{n}", "POST", "/track/lead", json={
                    "clickId": first_click, "eventName": "Sign up", "customerExternalId": f"lock-{n}"})
                if r is not None and r.status_code == 200:
                    acked.leads.append(f"lock-{n}")

            async def click(n: int) -> None:
                r = await call(f"click-{n}", "GET", f"{server.url}/lock")
                if r is not None:
                    if r.status_code == 302:
                        acked.clicks.append(r.cookies["dub_id"])
                    else:
                        unclean.append(f"click-{n}: redirect answered {r.status_code}")

            async def read(n: int) -> None:
                r = await call(f"read-{n}", "GET", "/links")
                if r is not None and r.status_code != 200:
                    unclean.append(f"read-{n}: {r.status_code}")

            await asyncio.gather(*(f(n) for n in range(3) for f in (link, lead, click, read)))

    asyncio.run(during_lock())
    lock_phase = time.monotonic() - locked_at
    holder.wait(timeout=HOLD_SECONDS + 30)

    # afterwards: writes succeed without a restart
    with httpx.Client(base_url=server.api_url, headers=auth, timeout=HANG) as c:
        after = c.post("/links", json={"url": "https://example.com/after", "key": "lock-after"})
        after_lead = c.post("/track/lead", json={"clickId": first_click, "eventName": "Sign up",
                                                 "customerExternalId": "lock-after"})
        time.sleep(0.5)  # one click flush
    missing = acked.missing(server)
    server.stop()
    check = integrity(server)
    print(f"\ndatabase locked {HOLD_SECONDS} s by another process: answers while locked "
          f"{sorted(answers)}; {acked.summary(missing)}; after: link {after.status_code}, lead {after_lead.status_code}; integrity: {check}")
    assert lock_phase < HOLD_SECONDS + HANG
    assert unclean == []
    assert after.status_code == 200 and after_lead.status_code == 200
    assert check == "ok"
    assert missing == NONE_MISSING
