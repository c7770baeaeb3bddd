"""POST /track/sale through HTTP: counters on link and customer, invoice idempotency, direct sales."""
from __future__ import annotations

from conversion_support import all_events, lead, link_counts, new_link, sale, visit


def _customer(api, external_id: str) -> dict:
    [c] = api.get("/api/customers", params={"externalId": external_id}).json()
    return c


def test_sale_after_a_lead_counts_on_link_and_customer(api, client):
    link = new_link(api, "buy")
    lead(api, visit(client, "buy"), "c1", customerName="Cee")
    r = sale(api, "c1", 4999, currency="USD", paymentProcessor="stripe", invoiceId="in_1",
             metadata={"sku": "pro"})
    assert r.status_code == 200
    body = r.json()
    assert body["eventName"] == "Purchase"
    assert body["customer"] == {"id": _customer(api, "c1")["id"], "name": "Cee", "email": None, "avatar": None,
                                "externalId": "c1"}
    assert body["sale"] == {"amount": 4999, "currency": "usd", "paymentProcessor": "stripe", "invoiceId": "in_1",
                            "metadata": {"sku": "pro"}}
    assert link_counts(api, link["id"]) == (1, 1, 1, 4999)
    c = _customer(api, "c1")
    assert (c["sales"], c["saleAmount"]) == (1, 4999) and c["firstSaleAt"] is not None
    # a second sale adds to sales and amount; the conversion was the first sale only
    assert sale(api, "c1", 1, eventName="Renewal").status_code == 200
    assert link_counts(api, link["id"]) == (1, 1, 2, 5000)
    assert _customer(api, "c1")["firstSaleAt"] == c["firstSaleAt"]
    [newest, oldest] = all_events(api, "sales")
    assert (newest["eventName"], newest["sale"]["amount"], newest["saleAmount"]) == ("Renewal", 1, 1)
    assert oldest["sale"] == {"amount": 4999, "currency": "usd", "invoiceId": "in_1", "paymentProcessor": "stripe"}
    assert oldest["metadata"] == {"sku": "pro"} and oldest["link"]["sales"] == 2


def test_repeated_invoice_id_returns_the_first_answer_and_changes_nothing(api, client):
    link = new_link(api, "inv")
    lead(api, visit(client, "inv"), "c2")
    first = sale(api, "c2", 1000, invoiceId="in_same").json()
    for amount in (1000, 2500):
        again = sale(api, "c2", amount, invoiceId="in_same")
        assert again.status_code == 200 and again.json() == first
    assert link_counts(api, link["id"]) == (1, 1, 1, 1000)
    assert len(all_events(api, "sales")) == 1


def test_without_invoice_id_every_repeat_is_a_sale(api, client):
    link = new_link(api, "rep")
    lead(api, visit(client, "rep"), "c3")
    for _ in range(3):
        assert sale(api, "c3", 700).status_code == 200
    assert link_counts(api, link["id"]) == (1, 1, 3, 2100)


def test_unknown_customer_without_click_is_200_with_nulls(api, client):
    link = new_link(api, "none")
    r = sale(api, "stranger", 100, eventName="Upgrade")
    assert r.status_code == 200
    assert r.json() == {"eventName": "Upgrade", "customer": None, "sale": None}
    assert api.get("/api/customers").json() == [] and all_events(api, "sales") == []
    assert link_counts(api, link["id"]) == (0, 0, 0, 0)


def test_zero_amount_records_nothing(api, client):
    link = new_link(api, "zero")
    lead(api, visit(client, "zero"), "c4")
    assert sale(api, "c4", 0).json() == {"eventName": "Purchase", "customer": None, "sale": None}
    assert link_counts(api, link["id"]) == (1, 0, 0, 0)


def test_direct_sale_with_a_click_creates_customer_and_lead(api, client):
    link = new_link(api, "direct")
    click_id = visit(client, "direct")
    r = sale(api, "walk-in", 1500, clickId=click_id, customerEmail="w@example.com")
    assert r.status_code == 200
    assert r.json()["customer"]["externalId"] == "walk-in" and r.json()["customer"]["name"] == "w@example.com"
    assert link_counts(api, link["id"]) == (1, 1, 1, 1500)
    [lead_event] = all_events(api, "leads")
    assert lead_event["eventName"] == "Direct sale tracking lead event" and lead_event["click"]["id"] == click_id
    # with leadEventName the direct lead takes that name
    r = sale(api, "walk-in-2", 10, clickId=visit(client, "direct"), leadEventName="Checkout")
    assert r.status_code == 200
    assert {e["eventName"] for e in all_events(api, "leads")} == {"Direct sale tracking lead event", "Checkout"}


def test_direct_sale_with_unknown_click_is_404(api, client):
    r = sale(api, "ghost", 100, clickId="NoSuchClick00000")
    assert r.status_code == 404 and api.get("/api/customers").json() == []


def test_lead_event_name_picks_the_lead_and_a_missing_one_is_404(api, client):
    a, b = new_link(api, "la"), new_link(api, "lb")
    lead(api, visit(client, "la"), "c5", event="Sign up")
    lead(api, visit(client, "lb"), "c5", event="Trial")
    # default: the latest lead (Trial on lb); with leadEventName: that lead's link
    assert sale(api, "c5", 100).status_code == 200
    assert sale(api, "c5", 200, leadEventName="Sign up").status_code == 200
    # conversions (Dub's rule): the customer's first sale (on lb) or a sale on another link than the
    # customer's own; la is the customer's link and the customer already bought, so no conversion there
    assert link_counts(api, b["id"]) == (1, 1, 1, 100)
    assert link_counts(api, a["id"]) == (1, 0, 1, 200)
    r = sale(api, "c5", 300, leadEventName="Never")
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "Lead event not found for externalId: c5 and leadEventName: Never"
    assert link_counts(api, a["id"]) == (1, 0, 1, 200)


def test_deferred_customer_without_lead_cannot_buy(api, client):
    link = new_link(api, "def")
    lead(api, visit(client, "def"), "c6", mode="deferred")
    assert sale(api, "c6", 100).status_code == 404
    assert link_counts(api, link["id"]) == (0, 0, 0, 0)


def test_expired_idempotency_keys_are_pruned(api, client, core, run):
    link = new_link(api, "old")
    lead(api, visit(client, "old"), "c7")
    sale(api, "c7", 100, invoiceId="in_old")
    assert run(core.conversions.prune) == 0
    run(core.store.write, "UPDATE sale_invoices SET created_at = '2000-01-01T00:00:00.000Z'")
    run(core.store.write, "UPDATE lead_keys SET created_at = '2000-01-01T00:00:00.000Z'")
    assert run(core.conversions.prune) == 2
    # past the window, the same invoice is a new sale
    assert sale(api, "c7", 100, invoiceId="in_old").status_code == 200
    assert link_counts(api, link["id"]) == (1, 1, 2, 200)
