"""The unmodified official Dub SDK tracking leads and sales on a real server, with click ids taken
from the dub_id cookie of real redirects, and the link counters read back through links.get."""
from __future__ import annotations

import itertools
import time

import httpx
import pytest
from dub import Dub
from dub.models import errors

from conversion_support import DESKTOP

_visitor = itertools.count(1)


@pytest.fixture(scope="module")
def server(module_server):
    """One server for the module: each test works on its own link, customers and invoices."""
    return module_server


def click(server, key: str) -> str:
    """A real redirect by a new visitor; the click id is its dub_id cookie."""
    r = httpx.get(f"{server.url}/{key}", headers={"user-agent": f"{DESKTOP} sdk/{next(_visitor)}"})
    assert r.status_code == 302
    return r.cookies["dub_id"]


def counters(dub, link_id: str) -> tuple:
    link = dub.links.get(request={"link_id": link_id})
    return link.leads, link.conversions, link.sales, link.sale_amount


def test_track_lead_through_the_sdk(server, dub):
    link = dub.links.create(request={"url": "https://example.com/signup", "key": "signup"})

    # wait mode, with the SDK's explicit nulls for name, email and avatar
    cid = click(server, "signup")
    r = dub.track.lead(request={"click_id": cid, "event_name": "Sign up", "customer_external_id": "u-wait",
                                "mode": "wait"})
    assert r.click.id == cid and r.link.id == link.id and r.link.key == "signup"
    assert r.link.short_link == f"http://127.0.0.1:{server.port}/signup"
    assert r.customer.external_id == "u-wait" and len(r.customer.name.split(" ")) == 3
    assert r.customer.email is None and r.customer.avatar is None
    assert counters(dub, link.id) == (1, 0, 0, 0)

    # async mode (the SDK's default) is committed by the time it answers too
    r = dub.track.lead(request={"click_id": click(server, "signup"), "event_name": "Sign up",
                                "customer_external_id": "u-async", "customer_name": "Asa",
                                "customer_email": "asa@example.com"})
    assert r.customer.name == "Asa" and r.customer.email == "asa@example.com"
    assert counters(dub, link.id)[0] == 2

    # deferred, then completed with an empty click id
    cid = click(server, "signup")
    r = dub.track.lead(request={"click_id": cid, "event_name": "Sign up", "customer_external_id": "u-later",
                                "mode": "deferred"})
    assert r.link.id == link.id and counters(dub, link.id)[0] == 2
    r = dub.track.lead(request={"click_id": "", "event_name": "Sign up", "customer_external_id": "u-later",
                                "mode": "wait"})
    assert r.click.id == cid and r.link.id == link.id and counters(dub, link.id)[0] == 3

    # eventQuantity: N events, leads += N
    r = dub.track.lead(request={"click_id": click(server, "signup"), "event_name": "Seats",
                                "customer_external_id": "u-team", "event_quantity": 4, "mode": "wait",
                                "metadata": {"plan": "team"}})
    assert r.link is not None and counters(dub, link.id)[0] == 7

    # a duplicate answers link: null and changes nothing
    r = dub.track.lead(request={"click_id": click(server, "signup"), "event_name": "Sign up",
                                "customer_external_id": "u-wait", "mode": "wait"})
    assert r.link is None and r.customer.external_id == "u-wait"
    assert counters(dub, link.id)[0] == 7

    # an unknown click is a 404, and does not make the next real attempt a duplicate
    with pytest.raises(errors.NotFound):
        dub.track.lead(request={"click_id": "AAAAAAAAAAAAAAAA", "event_name": "Sign up",
                                "customer_external_id": "u-unknown", "mode": "wait"})
    r = dub.track.lead(request={"click_id": click(server, "signup"), "event_name": "Sign up",
                                "customer_external_id": "u-unknown", "mode": "wait"})
    assert r.link.id == link.id and counters(dub, link.id)[0] == 8

    # no Authorization header at all (the SDK insists on a token: a hook drops the header), and a wrong key
    keyless = httpx.Client(event_hooks={"request": [lambda request: request.headers.pop("authorization")]})
    with pytest.raises(errors.Unauthorized):
        Dub(token="unused", server_url=server.api_url, client=keyless).track.lead(request={
            "click_id": cid, "event_name": "Sign up", "customer_external_id": "x"})
    with pytest.raises(errors.Unauthorized):
        Dub(token="dub_wrong", server_url=server.api_url).track.lead(request={
            "click_id": cid, "event_name": "Sign up", "customer_external_id": "x"})
    assert counters(dub, link.id)[0] == 8

    # the SDK reads back what was recorded
    leads = dub.events.list(request={"event": "leads", "interval": "all", "link_id": link.id})
    assert len(leads) == 8 and {e.customer.external_id for e in leads} == {
        "u-wait", "u-async", "u-later", "u-team", "u-unknown"}
    customers = dub.customers.list(request={"link_id": link.id}).result
    assert len(customers) == 5
    # the clicks behind them (written in batches: wait for the last batch)
    deadline = time.monotonic() + 10
    while len(clicks := dub.events.list(request={"event": "clicks", "interval": "all", "link_id": link.id})) < 6:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert {c.click.id for c in clicks} >= {e.click.id for e in leads}


def test_track_sale_through_the_sdk(server, dub):
    link = dub.links.create(request={"url": "https://example.com/buy", "key": "buy"})
    dub.track.lead(request={"click_id": click(server, "buy"), "event_name": "Sign up",
                            "customer_external_id": "buyer", "customer_name": "Bea", "mode": "wait"})

    # repeats of one invoiceId count once and answer the same
    first = dub.track.sale(request={"customer_external_id": "buyer", "amount": 2500, "invoice_id": "in_42",
                                    "payment_processor": "stripe", "currency": "usd"})
    assert first.customer.name == "Bea" and first.sale.amount == 2500 and first.sale.invoice_id == "in_42"
    for _ in range(2):
        again = dub.track.sale(request={"customer_external_id": "buyer", "amount": 2500, "invoice_id": "in_42",
                                        "payment_processor": "stripe"})
        assert again == first
    assert counters(dub, link.id) == (1, 1, 1, 2500)

    # without an invoiceId every repeat is another sale
    for _ in range(3):
        r = dub.track.sale(request={"customer_external_id": "buyer", "amount": 1000, "event_name": "Renewal"})
        assert r.event_name == "Renewal" and r.sale.invoice_id is None
    assert counters(dub, link.id) == (1, 1, 4, 5500)

    # an unknown customer without a click id: 200 with nulls, nothing counted
    r = dub.track.sale(request={"customer_external_id": "nobody", "amount": 999})
    assert r.customer is None and r.sale is None
    assert counters(dub, link.id) == (1, 1, 4, 5500)

    # a direct sale with a click id from a real redirect
    r = dub.track.sale(request={"customer_external_id": "walk-in", "amount": 300, "click_id": click(server, "buy")})
    assert r.customer.external_id == "walk-in"
    assert counters(dub, link.id) == (2, 2, 5, 5800)

    sales = dub.events.list(request={"event": "sales", "interval": "all"})
    assert len(sales) == 5 and sum(e.sale.amount for e in sales) == 5800
    buyer = dub.customers.get(request={"id": "ext_buyer"})
    assert buyer.sales == 4 and buyer.sale_amount == 5500
