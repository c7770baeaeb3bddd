"""GET/PATCH/DELETE /customers and GET /events through HTTP."""
from __future__ import annotations

import re

import pytest

from conversion_support import all_events, lead, link_counts, new_link, sale, visit


@pytest.fixture
def shop(api, client, core, run):
    """Two links, three customers with leads, two sales; clicks flushed."""
    a, b = new_link(api, "shop-a"), new_link(api, "shop-b")
    lead(api, visit(client, "shop-a"), "alice", customerName="Alice", customerEmail="alice@example.com")
    lead(api, visit(client, "shop-a"), "bob", customerName="Bob", event="Trial")
    lead(api, visit(client, "shop-b"), "carol", customerName="Carol")
    sale(api, "alice", 1000)
    sale(api, "carol", 5000, invoiceId="in_c")
    run(core.clicks.flush)
    return {"a": a, "b": b}


def test_customers_list_has_dubs_fields_newest_first(api, shop):
    customers = api.get("/api/customers").json()
    assert [c["externalId"] for c in customers] == ["carol", "bob", "alice"]
    alice = customers[2]
    assert re.fullmatch(r"cus_[0-9A-Z]{25}", alice["id"])
    assert alice == {
        "id": alice["id"], "externalId": "alice", "name": "Alice", "email": "alice@example.com", "avatar": None,
        "stripeCustomerId": None, "country": None, "sales": 1, "saleAmount": 1000,
        "firstSaleAt": alice["firstSaleAt"], "subscriptionCanceledAt": None, "createdAt": alice["createdAt"],
    }
    assert "link" not in alice


def test_customers_filters_sorting_and_paging(api, shop):
    def ext(**params):
        r = api.get("/api/customers", params=params)
        assert r.status_code == 200, r.text
        return [c["externalId"] for c in r.json()]

    assert ext(email="ALICE@example.com") == ["alice"]
    assert ext(externalId="bob") == ["bob"]
    assert ext(search="aro") == ["carol"]
    assert ext(search="%") == []
    assert ext(linkId=shop["a"]["id"]) == ["bob", "alice"]
    assert ext(sortBy="saleAmount", sortOrder="desc") == ["carol", "alice", "bob"]
    assert ext(sortOrder="asc") == ["alice", "bob", "carol"]
    assert ext(pageSize="2") == ["carol", "bob"] and ext(pageSize="2", page="2") == ["alice"]
    first = api.get("/api/customers", params={"pageSize": 1}).json()[0]
    assert ext(startingAfter=first["id"]) == ["bob", "alice"]
    assert ext(endingBefore=customers_last(api)["id"]) == ["carol", "bob"]
    assert ext(endingBefore=customers_last(api)["id"], pageSize=1) == ["bob"]
    [expanded] = api.get("/api/customers", params={"externalId": "carol", "includeExpandedFields": "true"}).json()
    assert expanded["link"] == {"id": shop["b"]["id"], "domain": "go.test", "key": "shop-b",
                                "shortLink": "http://go.test/shop-b", "url": "https://example.com/shop-b",
                                "programId": None}
    for params in ({"sortBy": "name"}, {"sortOrder": "up"}, {"pageSize": "0"}, {"pageSize": "101"}, {"page": "x"},
                   {"sortBy": "saleAmount", "startingAfter": first["id"]}):
        r = api.get("/api/customers", params=params)
        assert r.status_code == 422 and r.json()["error"]["code"] == "unprocessable_entity", params


def customers_last(api) -> dict:
    return api.get("/api/customers", params={"sortOrder": "asc", "pageSize": 1}).json()[0]


def test_customer_get_by_id_or_external_id(api, shop):
    bob = api.get("/api/customers", params={"externalId": "bob"}).json()[0]
    assert api.get(f"/api/customers/{bob['id']}").json() == bob
    assert api.get("/api/customers/ext_bob").json() == bob
    assert api.get("/api/customers/ext_bob", params={"includeExpandedFields": "true"}).json()["link"]["key"] == "shop-a"
    r = api.get("/api/customers/cus_nobody")
    assert r.status_code == 404 and r.json()["error"]["message"] == "Customer not found."


def test_customer_update(api, shop):
    bob = api.get("/api/customers/ext_bob").json()
    r = api.patch(f"/api/customers/{bob['id']}", json={
        "name": "Robert", "email": "rob@example.com", "avatar": "https://img.example/r.png", "country": "de",
        "stripeCustomerId": "cus_stripe_1", "subscriptionCanceledAt": "2026-01-02T03:04:05Z",
    })
    assert r.status_code == 200
    got = r.json()
    assert (got["name"], got["email"], got["avatar"], got["country"], got["stripeCustomerId"]) == (
        "Robert", "rob@example.com", "https://img.example/r.png", "DE", "cus_stripe_1")
    assert got["subscriptionCanceledAt"] == "2026-01-02T03:04:05.000Z"
    assert api.patch(f"/api/customers/{bob['id']}", json={"externalId": "robert"}).json()["externalId"] == "robert"
    assert api.get("/api/customers/ext_robert").json()["id"] == bob["id"]
    # its lead idempotency key moved with it: the same lead again is a repeat
    assert lead(api, visit(api, "shop-a"), "robert", event="Trial").json()["link"] is None
    # the customer's later sales follow the new external id
    assert sale(api, "robert", 10).json()["customer"]["id"] == bob["id"]
    for body, status in [({"externalId": "alice"}, 409), ({"email": "nope"}, 422), ({"name": "n" * 101}, 422),
                         ({"country": "Germany"}, 422), ({"subscriptionCanceledAt": "soon"}, 422),
                         ({"externalId": ""}, 422), ({"name": 5}, 422)]:
        r = api.patch(f"/api/customers/{bob['id']}", json=body)
        assert r.status_code == status, body
    assert api.patch(f"/api/customers/{bob['id']}", content=b'{"name": "\\ud800"}').status_code == 422
    assert api.patch("/api/customers/cus_nobody", json={"name": "x"}).status_code == 404
    assert api.get(f"/api/customers/{bob['id']}").json()["name"] == "Robert"


def test_customer_delete_removes_its_events_not_link_history(api, shop):
    alice = api.get("/api/customers/ext_alice").json()
    assert api.delete(f"/api/customers/{alice['id']}").json() == {"id": alice["id"]}
    assert api.get(f"/api/customers/{alice['id']}").status_code == 404
    assert api.delete(f"/api/customers/{alice['id']}").status_code == 404
    assert all(e["customer"]["externalId"] != "alice" for e in all_events(api, "leads") + all_events(api, "sales"))
    assert link_counts(api, shop["a"]["id"]) == (2, 1, 1, 1000)


def test_events_lists_each_kind_with_click_link_and_customer(api, shop):
    clicks = all_events(api, "clicks")
    assert len(clicks) == 3 and {c["event"] for c in clicks} == {"click"}
    assert {c["link"]["key"] for c in clicks} == {"shop-a", "shop-b"}
    leads = all_events(api, "leads")
    assert [e["customer"]["externalId"] for e in leads] == ["carol", "bob", "alice"]
    assert all(e["click"]["id"] == e["click_id"] and e["link"]["id"] == e["link_id"] for e in leads)
    sales = all_events(api, "sales")
    assert [(e["customer"]["externalId"], e["sale"]["amount"], e["invoice_id"]) for e in sales] == [
        ("carol", 5000, "in_c"), ("alice", 1000, "")]
    # the lead's click is the click of the redirect that brought the customer
    click_ids = {c["click"]["id"] for c in clicks}
    assert {e["click"]["id"] for e in leads} == click_ids


def test_events_filters_and_paging(api, shop):
    def names(kind="leads", **params):
        return [e["customer"]["externalId"] if kind != "clicks" else e["link"]["key"]
                for e in all_events(api, kind, **params)]

    assert names(linkId=shop["a"]["id"]) == ["bob", "alice"]
    assert names(domain="go.test", key="shop-b") == ["carol"]
    assert names(eventName="trial") == ["bob"]
    carol = api.get("/api/customers/ext_carol").json()
    assert names(customerId=carol["id"]) == ["carol"] and names("sales", customerId=carol["id"]) == ["carol"]
    assert names(sortOrder="asc") == ["alice", "bob", "carol"] and names(order="asc") == ["alice", "bob", "carol"]
    assert names(limit=2) == ["carol", "bob"] and names(limit=2, page=2) == ["alice"]
    assert names("clicks", device="desktop", browser="Chrome", os="Windows") != []
    assert names("clicks", qr="true") == [] and len(names("clicks", qr="false")) == 3
    assert names(start="2000-01-01T00:00:00Z", end="2000-01-02T00:00:00Z") == []
    # the default range is the last 24 hours, as Dub's
    assert len(api.get("/api/events", params={"event": "leads"}).json()) == 3
    for params in ({"event": "views"}, {"interval": "2w"}, {"limit": "0"}, {"limit": "1001"}, {"page": "0"},
                   {"start": "yesterday"}, {"qr": "maybe"}, {"sortOrder": "sideways"}):
        r = api.get("/api/events", params=params)
        assert r.status_code == 422, params


def test_events_of_a_deleted_link_are_left_out(api, shop):
    assert api.delete(f"/api/links/{shop['b']['id']}").status_code == 200
    assert [e["customer"]["externalId"] for e in all_events(api, "leads")] == ["bob", "alice"]
    assert all(e["link"]["key"] == "shop-a" for e in all_events(api, "clicks"))
