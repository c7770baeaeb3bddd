"""Webhooks: management API and CLI, signed delivery of every trigger to a loopback receiver,
retries with backoff, disabling after failures, retries that survive a restart, address checks."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from dub.models import components
from starlette.testclient import TestClient

from conftest import free_port
from conversion_support import lead, new_link, sale, visit
from shortener.webhooks import Blocked, check_address
from shortener.web.app import create_app

ALL = ["link.created", "link.updated", "link.deleted", "link.clicked", "lead.created", "sale.created"]


class Receiver:
    """A webhook receiver on loopback that records raw bodies and headers; `status` is its answer."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.got: list[tuple[dict, bytes]] = []
        self.status = 200
        self.delay = 0.0
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                time.sleep(receiver.delay)
                receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body in self.got]

    def wait_for(self, count: int, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while len(self.got) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.got) >= count, f"got {len(self.got)} of {count}: {[e['event'] for e in self.events()]}"


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def hooked(settings):
    """An in-process app that may send webhooks to loopback, with an API key."""
    app = create_app(settings.replace(webhook_allow_private=True, webhook_max_failures=2, webhook_timeout=1.0))
    with TestClient(app, base_url="http://go.test", follow_redirects=False) as c:
        core = c.app_state["core"]
        _, key = c.portal.call(core.api_keys.create, "hooks")
        c.headers["Authorization"] = f"Bearer {key}"
        yield c


def _signed(secret: str, headers: dict, body: bytes) -> bool:
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["dub-signature"], expected)


def _create(api, url: str, triggers=ALL, **extra) -> dict:
    r = api.post("/api/webhooks", json={"name": "receiver", "url": url, "triggers": triggers, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def test_every_trigger_arrives_once_signed_and_shaped_like_dubs_events(hooked, receiver):
    api = hooked
    hook = _create(api, receiver.url)
    assert hook["id"].startswith("wh_") and hook["secret"].startswith("whsec_")
    link = new_link(api, "hooked", webhookIds=[hook["id"]])
    click_id = visit(api, "hooked")
    assert lead(api, click_id, "wh-customer", customerName="Hook").status_code == 200
    assert sale(api, "wh-customer", 1999, invoiceId="in_wh").status_code == 200
    assert api.patch(f"/api/links/{link['id']}", json={"title": "Renamed"}).status_code == 200
    assert api.delete(f"/api/links/{link['id']}").status_code == 200
    receiver.wait_for(6)
    time.sleep(0.5)  # anything sent twice would arrive by now
    assert len(receiver.got) == 6
    for headers, body in receiver.got:
        assert _signed(hook["secret"], headers, body)
        assert headers["content-type"] == "application/json"
    events = {e["event"]: e for e in receiver.events()}
    assert sorted(events) == sorted(ALL)
    assert len({e["id"] for e in events.values()}) == 6 and all(e["id"].startswith("evt_") for e in events.values())
    # the official SDK's models accept every payload
    for name in ("link.created", "link.updated", "link.deleted"):
        components.LinkWebhookEvent.model_validate(events[name])
        assert events[name]["data"]["id"] == link["id"]
    assert events["link.updated"]["data"]["title"] == "Renamed"
    clicked = components.LinkClickedEvent.model_validate(events["link.clicked"])
    assert clicked.data.click.id == click_id
    lead_event = components.LeadCreatedEvent.model_validate(events["lead.created"])
    assert lead_event.data.customer.external_id == "wh-customer" and lead_event.data.click.id == click_id
    assert lead_event.data.event_name == "Sign up" and lead_event.data.link.leads == 1
    sale_event = components.SaleCreatedEvent.model_validate(events["sale.created"])
    assert sale_event.data.sale.amount == 1999 and sale_event.data.sale.invoice_id == "in_wh"
    assert sale_event.data.link.sales == 1 and sale_event.data.link.sale_amount == 1999
    deliveries = api.get(f"/api/webhooks/{hook['id']}/deliveries").json()
    assert len(deliveries) == 6
    assert all(d["status"] == "delivered" and d["attempts"] == 1 and d["responseStatus"] == 200 for d in deliveries)
    assert {d["eventId"] for d in deliveries} == {e["id"] for e in events.values()}


def test_link_clicked_only_for_links_that_name_the_webhook(hooked, receiver):
    api = hooked
    hook = _create(api, receiver.url, triggers=["link.clicked"])
    new_link(api, "plain")
    named = new_link(api, "named")
    assert api.patch(f"/api/webhooks/{hook['id']}", json={"linkIds": [named["id"]]}).json()["linkIds"] == [named["id"]]
    assert api.get(f"/api/links/{named['id']}").json()["webhookIds"] == [hook["id"]]
    visit(api, "plain")
    click_id = visit(api, "named")
    receiver.wait_for(1)
    time.sleep(0.5)
    [event] = receiver.events()
    assert event["data"]["click"]["id"] == click_id


def test_rotated_secret_signs_the_next_deliveries(hooked, receiver):
    api = hooked
    hook = _create(api, receiver.url, triggers=["link.created"])
    rotated = api.post(f"/api/webhooks/{hook['id']}/rotate-secret").json()
    assert rotated["secret"] != hook["secret"] and rotated["secret"].startswith("whsec_")
    new_link(api, "after-rotate")
    receiver.wait_for(1)
    headers, body = receiver.got[0]
    assert _signed(rotated["secret"], headers, body) and not _signed(hook["secret"], headers, body)


def test_failures_are_retried_with_backoff_then_the_webhook_is_disabled(hooked, receiver):
    api = hooked
    receiver.status = 500
    hook = _create(api, receiver.url, triggers=["link.created"])
    new_link(api, "failing")
    receiver.wait_for(2, timeout=10)  # the first attempt, and the retry a second later
    deadline = time.monotonic() + 5
    while api.get(f"/api/webhooks/{hook['id']}").json()["disabledAt"] is None and time.monotonic() < deadline:
        time.sleep(0.05)
    state = api.get(f"/api/webhooks/{hook['id']}").json()
    assert state["disabledAt"] is not None  # webhook_max_failures=2 in this app
    [delivery] = api.get(f"/api/webhooks/{hook['id']}/deliveries").json()
    assert delivery["status"] == "pending" and delivery["attempts"] == 2 and delivery["responseStatus"] == 500
    ids = {e["id"] for e in receiver.events()}
    assert len(ids) == 1  # a retry resends the same event
    # re-enabling delivers what waited
    receiver.status = 200
    assert api.patch(f"/api/webhooks/{hook['id']}", json={"disabled": False}).json()["disabledAt"] is None
    receiver.wait_for(3, timeout=10)
    deadline = time.monotonic() + 5
    while api.get(f"/api/webhooks/{hook['id']}/deliveries").json()[0]["status"] != "delivered":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_slow_receiver_times_out_and_is_retried(hooked, receiver):
    api = hooked
    receiver.delay = 1.5  # past this app's webhook_timeout of 1 s
    hook = _create(api, receiver.url, triggers=["link.created"])
    new_link(api, "slow")
    deadline = time.monotonic() + 10
    while not (deliveries := api.get(f"/api/webhooks/{hook['id']}/deliveries").json()) or \
            deliveries[0]["attempts"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert deliveries[0]["status"] == "pending" and deliveries[0]["lastError"] == "timeout"
    receiver.delay = 0
    deadline = time.monotonic() + 10
    while api.get(f"/api/webhooks/{hook['id']}/deliveries").json()[0]["status"] != "delivered":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_management_api_crud_and_validation(hooked, api):
    hook = _create(hooked, "https://hooks.example.com/x", triggers=["lead.created"], secret="s" * 20)
    assert hook["secret"] == "s" * 20 and hook["linkIds"] == [] and hook["disabledAt"] is None
    assert [h["id"] for h in hooked.get("/api/webhooks").json()] == [hook["id"]]
    updated = hooked.patch(f"/api/webhooks/{hook['id']}", json={"name": "renamed", "triggers": ["sale.created"]})
    assert updated.status_code == 200 and updated.json()["name"] == "renamed"
    assert updated.json()["triggers"] == ["sale.created"]
    bad = [
        {"name": "x", "url": "ftp://example.com", "triggers": ["lead.created"]},
        {"name": "x", "url": "http://169.254.169.254/latest/meta-data", "triggers": ["lead.created"]},
        {"name": "x", "url": "http://[fe80::1]/", "triggers": ["lead.created"]},
        {"name": "x", "url": "http://100.100.100.200/", "triggers": ["lead.created"]},
        {"name": "x", "url": "http://0.0.0.0:8080/", "triggers": ["lead.created"]},
        {"name": "x", "url": "https://example.com", "triggers": ["link.exploded"]},
        {"name": "x", "url": "https://example.com", "triggers": []},
        {"name": "x" * 41, "url": "https://example.com", "triggers": ["lead.created"]},
        {"name": "x", "url": "https://example.com", "triggers": ["lead.created"], "secret": "short"},
        {"name": "x", "url": "https://example.com", "triggers": ["lead.created"], "linkIds": ["link_nope"]},
    ]
    for body in bad:
        r = hooked.post("/api/webhooks", json=body)
        assert r.status_code == 422, body
    r = hooked.post("/api/webhooks", content=b'{"name": "\\ud800", "url": "https://e.com", "triggers": ["lead.created"]}')
    assert r.status_code == 422
    # without webhook_allow_private, loopback and private targets are refused too
    for url in ("http://127.0.0.1:9000/", "http://localhost/x", "http://10.1.2.3/", "http://[::1]/"):
        r = api.post("/api/webhooks", json={"name": "x", "url": url, "triggers": ["lead.created"]})
        assert r.status_code == 422 and "private" in r.json()["error"]["message"], url
    assert hooked.get("/api/webhooks/wh_missing").status_code == 404
    assert hooked.delete(f"/api/webhooks/{hook['id']}").json() == {"id": hook["id"]}
    assert hooked.get(f"/api/webhooks/{hook['id']}").status_code == 404
    assert len(hooked.get("/api/webhooks").json()) == 0
    assert api.get("/api/webhooks", headers={"Authorization": ""}).status_code == 401


@pytest.mark.parametrize("ip,allow_private,blocked", [
    ("169.254.169.254", True, True), ("fe80::1", True, True), ("fd00:ec2::254", True, True),
    ("100.100.100.200", True, True), ("::ffff:169.254.169.254", True, True), ("224.0.0.1", True, True),
    ("127.0.0.1", False, True), ("10.0.0.1", False, True), ("192.168.1.1", False, True), ("::1", False, True),
    ("127.0.0.1", True, False), ("10.0.0.1", True, False), ("93.184.215.14", False, False),
])
def test_address_checks(ip, allow_private, blocked):
    if blocked:
        with pytest.raises(Blocked):
            check_address(ip, allow_private=allow_private)
    else:
        check_address(ip, allow_private=allow_private)


def test_a_name_resolving_to_a_refused_address_is_never_contacted(settings, receiver):
    """Delivery re-resolves the host: `localhost` passes creation only with allow_private, and the
    delivery-time check refuses it in an app without it (no request reaches the receiver)."""
    import asyncio

    from shortener.core import Core

    async def scenario() -> dict:
        core = await Core.open(settings.replace(webhook_allow_private=True))
        hook = await core.webhooks.create({"name": "x", "url": f"http://localhost:{receiver.port}/h",
                                           "triggers": ["link.created"]})
        await core.close()
        strict = await Core.open(settings)
        await strict.start()
        try:
            await strict.webhooks.enqueue("link.created", {"id": "link_x"})
            for _ in range(200):  # the worker's first attempt comes at once
                [delivery] = await strict.webhooks.deliveries(hook["id"])
                if delivery["attempts"]:
                    return delivery
                await asyncio.sleep(0.025)
            raise AssertionError("no attempt")
        finally:
            await strict.close()

    delivery = asyncio.run(scenario())
    assert delivery["status"] == "pending" and delivery["attempts"] == 1
    assert delivery["lastError"].startswith("blocked:") and receiver.got == []


def test_deliveries_survive_a_restart_when_the_receiver_was_down(live_server):
    server = live_server(SHORTENER_WEBHOOK_ALLOW_PRIVATE="1")
    receiver = Receiver()  # not started: its port refuses connections
    auth = {"Authorization": f"Bearer {server.key}"}
    hook = httpx.post(f"{server.api_url}/webhooks", headers=auth, timeout=10,
                      json={"name": "down", "url": receiver.url, "triggers": ["link.created"]}).json()
    r = httpx.post(f"{server.api_url}/links", headers=auth, json={"url": "https://example.com", "key": "boot"})
    assert r.status_code == 200
    deadline = time.monotonic() + 10
    while True:
        [delivery] = httpx.get(f"{server.api_url}/webhooks/{hook['id']}/deliveries", headers=auth).json()
        if delivery["attempts"] >= 1:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert delivery["status"] == "pending" and delivery["responseStatus"] is None
    server.stop()
    receiver.start()
    try:
        server.start()
        receiver.wait_for(1, timeout=15)
        time.sleep(0.3)
        [(headers, body)] = receiver.got
        assert _signed(hook["secret"], headers, body)
        event = json.loads(body)
        assert event["id"] == delivery["eventId"] and event["data"]["key"] == "boot"
    finally:
        receiver.stop()


def test_cli_manages_webhooks(tmp_path, shortener_cli):
    shortener = shortener_cli(tmp_path / "d")

    def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        r = shortener(*args)
        if check:
            r.check_returncode()
        return r

    cli("init")
    created = json.loads(cli("webhooks", "create", "https://hooks.example.com/in", "--name", "cli",
                             "--trigger", "lead.created", "--trigger", "sale.created").stdout)
    assert created["triggers"] == ["lead.created", "sale.created"]
    listed = cli("webhooks", "list").stdout
    assert created["id"] in listed and "https://hooks.example.com/in" in listed
    secret = cli("webhooks", "rotate-secret", created["id"]).stdout.strip()
    assert secret.startswith("whsec_") and secret != created["secret"]
    assert json.loads(cli("webhooks", "list", "--json").stdout)[0]["secret"] == secret
    refused = cli("webhooks", "create", "http://169.254.169.254/", "--name", "x", "--trigger", "lead.created",
                  check=False)
    assert refused.returncode == 1 and "link-local" in refused.stderr
    cli("webhooks", "delete", created["id"])
    assert json.loads(cli("webhooks", "list", "--json").stdout) == []


def _store_unvalidated_webhooks(client, urls: list[str]) -> None:
    """Rows as an older version stored them, before host labels were checked at creation."""
    from shortener.ids import new_id
    from shortener.timeutil import now_iso

    core = client.app_state["core"]
    for n, url in enumerate(urls):
        now = now_iso()
        row = {"id": new_id("wh_"), "name": f"bad{n}", "url": url, "secret": "s" * 20,
               "triggers": json.dumps(["link.created"]), "created_at": now, "updated_at": now}
        client.portal.call(core.store.insert_webhook, row)
    client.portal.call(core.webhooks.reload)


def test_fifty_unresolvable_hosts_do_not_block_a_good_webhook(hooked, receiver):
    """issue 14 item 5: a 64-character label makes getaddrinfo raise UnicodeError; every such
    delivery is recorded as a failed attempt and rescheduled, and a good webhook behind a full
    batch of them is still delivered."""
    api = hooked
    _store_unvalidated_webhooks(hooked, [f"http://{'a' * 64}.hooks{n}.test/h" for n in range(50)])
    good = _create(api, receiver.url, triggers=["link.created"])
    new_link(api, "behind-bad-ones")  # 51 outbox rows, the 50 bad ones first in the queue
    receiver.wait_for(1)
    assert receiver.events()[0]["event"] == "link.created"
    bad = [h for h in api.get("/api/webhooks").json() if h["id"] != good["id"]]
    assert len(bad) == 50
    deadline = time.monotonic() + 10
    while True:
        [first] = api.get(f"/api/webhooks/{bad[0]['id']}/deliveries").json()
        if first["attempts"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert first["attempts"] >= 1 and first["status"] in ("pending", "failed")
    assert "UnicodeError" in first["lastError"] or "label" in first["lastError"]


@pytest.mark.parametrize("url", [
    f"http://{'a' * 64}.example.com/h",                      # a label over 63 characters
    "http://" + ".".join(["a" * 60] * 5) + "/h",             # a name over 253 characters
    "http://exa..mple.com/h",                                # an empty label
    "http://" + "\u00e9" * 60 + ".example.com/h",            # over 63 once IDNA-encoded
    "http://hooks.example.com:0/h",                          # port 0, which urlsplit takes
    "http://hooks.example.com:65536/h",
])
def test_urls_no_delivery_could_reach_are_422(hooked, url):
    r = hooked.post("/api/webhooks", json={"name": "x", "url": url, "triggers": ["link.created"]})
    assert r.status_code == 422, r.text
    assert "url" in r.json()["error"]["message"]
    hook = _create(hooked, "https://hooks.example.com/x", triggers=["link.created"])
    r = hooked.patch(f"/api/webhooks/{hook['id']}", json={"url": url})
    assert r.status_code == 422, r.text
    assert hooked.get(f"/api/webhooks/{hook['id']}").json()["url"] == "https://hooks.example.com/x"


def test_an_international_host_name_is_accepted(hooked):
    hook = _create(hooked, "https://b\u00fccher.example/x", triggers=["link.created"])
    assert hook["url"] == "https://b\u00fccher.example/x"


@pytest.mark.parametrize("ip", [
    "2002:a9fe:a9fe::1",                      # 6to4 of 169.254.169.254
    "2002:808:808::1",                        # 6to4 of a public address: still through a relay
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",   # Teredo
    "64:ff9b::a9fe:a9fe",                     # NAT64 well-known prefix
    "64:ff9b:1::a9fe:a9fe",                   # NAT64 local-use prefix
    "::a9fe:a9fe",                            # IPv4-compatible
    "::ffff:169.254.169.254",                 # IPv4-mapped link-local
])
def test_embedded_ipv4_forms_are_refused_even_with_allow_private(hooked, ip):
    """issue 14 item 7: the 6to4 address 2002:a9fe:a9fe::1 passed the SSRF check."""
    with pytest.raises(Blocked):
        check_address(ip, allow_private=True)
    r = hooked.post("/api/webhooks", json={"name": "x", "url": f"http://[{ip}]/h", "triggers": ["link.created"]})
    assert r.status_code == 422 and "not allowed" in r.json()["error"]["message"]


def test_a_slow_receiver_does_not_hold_up_events_that_become_due_meanwhile(settings):
    """Issue 13.7: deliveries ran in rounds gathered together, so an event that became due
    while a round was running waited for the round's slowest receiver."""
    gate = threading.Event()
    slow = Receiver().start()
    fast = Receiver().start()
    slow_started = threading.Event()

    class Blocking(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            slow_started.set()
            gate.wait(30)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    slow.stop()
    slow.server = ThreadingHTTPServer(("127.0.0.1", slow.port), Blocking)
    threading.Thread(target=slow.server.serve_forever, daemon=True).start()
    app = create_app(settings.replace(webhook_allow_private=True, webhook_timeout=30.0))
    try:
        with TestClient(app, base_url="http://go.test", follow_redirects=False) as api:
            core = api.app_state["core"]
            _, key = api.portal.call(core.api_keys.create, "hooks")
            api.headers["Authorization"] = f"Bearer {key}"
            _create(api, slow.url, triggers=["link.created"])
            new_link(api, "first")  # link.created: in flight at the slow receiver
            assert slow_started.wait(15)
            _create(api, fast.url, triggers=["link.updated"])
            link = api.get("/api/links/info", params={"domain": "go.test", "key": "first"}).json()
            assert api.patch(f"/api/links/{link['id']}", json={"title": "now"}).status_code == 200
            fast.wait_for(1)  # delivered while the slow one is still waiting
            assert not gate.is_set()
            gate.set()
    finally:
        gate.set()
        slow.stop()
        fast.stop()


def test_a_delivery_that_ends_while_the_due_rows_are_read_is_not_sent_again(hooked, receiver):
    """CI caught attempt 1 logged twice for one event: the pipeline read the due rows while the
    delivery was in flight, the delivery finished before the read answered, and the stale row
    (attempts 0, no longer in flight) was started again. Here every read is held until the
    deliveries in flight when it started have finished, which makes that order certain."""
    api = hooked
    service = api.app_state["core"].webhooks
    original = service.store.due_deliveries

    async def stale_read(now, limit):
        in_flight = list(service._inflight.values())
        rows = await original(now, limit)
        for task in in_flight:
            await asyncio.wait([task], timeout=5)
        return rows

    service.store.due_deliveries = stale_read
    try:
        receiver.delay = 0.5
        hook = _create(api, receiver.url, triggers=["link.created"])
        new_link(api, "once")
        deadline = time.monotonic() + 5
        while not service._inflight:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        api.portal.call(service._wake.set)  # a round while the delivery is in flight
        deadline = time.monotonic() + 10
        while api.get(f"/api/webhooks/{hook['id']}/deliveries").json()[0]["status"] != "delivered":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(1.0)  # time for a wrongly restarted delivery to arrive
        assert len(receiver.got) == 1
        delivery = api.get(f"/api/webhooks/{hook['id']}/deliveries").json()[0]
        assert delivery["attempts"] == 1
    finally:
        service.store.due_deliveries = original
