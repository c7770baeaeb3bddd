"""POST /track/lead through HTTP: response shape, modes, idempotency, quantity, deferred tracking."""
from __future__ import annotations

import re

import pytest

from conversion_support import all_events, lead, link_counts, new_link, visit
from shortener.names import ADJECTIVES, ANIMALS, COLOURS


def test_lead_answers_dubs_shape_and_counts_on_the_link(api, client):
    link = new_link(api, "promo")
    click_id = visit(client, "promo")
    r = lead(api, click_id, "user_1", customerName="Ada Lovelace", customerEmail="ada@example.com", mode="wait")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json() == {
        "click": {"id": click_id},
        "link": {"id": link["id"], "domain": "go.test", "key": "promo", "shortLink": "http://go.test/promo",
                 "url": "https://example.com/promo", "partnerId": None, "programId": None, "tenantId": None,
                 "externalId": None},
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com", "avatar": None, "externalId": "user_1"},
    }
    assert link_counts(api, link["id"]) == (1, 0, 0, 0)
    [event] = all_events(api, "leads")
    assert event["event"] == "lead" and event["eventName"] == "Sign up"
    assert re.fullmatch(r"[0-9A-Za-z]{16}", event["eventId"])
    assert event["click"]["id"] == click_id and event["link"]["id"] == link["id"]
    assert event["customer"]["externalId"] == "user_1" and event["customer"]["id"].startswith("cus_")
    assert event["link"]["leads"] == 1


@pytest.mark.parametrize("mode", ["async", "wait", None])
def test_every_mode_is_committed_before_the_answer(api, client, mode):
    link = new_link(api, "m")
    body = {} if mode is None else {"mode": mode}
    assert lead(api, visit(client, "m"), "u", **body).status_code == 200
    # no waiting: a 200 means the event and the counter are already written
    assert link_counts(api, link["id"])[0] == 1
    assert len(all_events(api, "leads")) == 1


def test_random_name_from_our_word_lists_then_email_then_name(api, client):
    new_link(api, "n")
    r = lead(api, visit(client, "n"), "anon", customerName=None, customerEmail=None, customerAvatar=None)
    name = r.json()["customer"]["name"]
    adjective, colour, animal = name.split(" ")
    assert adjective.lower() in ADJECTIVES and colour.lower() in COLOURS and animal.lower() in ANIMALS
    assert name == " ".join(w.capitalize() for w in (adjective, colour, animal))
    r = lead(api, visit(client, "n"), "mailer", customerEmail="m@example.org")
    assert r.json()["customer"]["name"] == "m@example.org"


def test_duplicate_within_seven_days_answers_link_null_and_changes_nothing(api, client, core, run):
    link = new_link(api, "dup")
    click_id = visit(client, "dup")
    first = lead(api, click_id, "u1", customerName="First").json()
    again = lead(api, click_id, "u1", customerName="Other name")
    assert again.status_code == 200
    assert again.json() == {"click": {"id": click_id}, "link": None, "customer": first["customer"]}
    # the event name is matched case- and space-insensitively, as Dub's key does
    assert lead(api, click_id, "u1", event="SIGN   UP").json()["link"] is None
    assert link_counts(api, link["id"])[0] == 1
    # another event name for the same customer is another lead
    assert lead(api, click_id, "u1", event="Activated").json()["link"]["id"] == link["id"]
    assert link_counts(api, link["id"])[0] == 2
    # after the window the same lead counts again
    run(core.store.write, "UPDATE lead_keys SET created_at = '2000-01-01T00:00:00.000Z'")
    assert lead(api, click_id, "u1").json()["link"] is not None
    assert link_counts(api, link["id"])[0] == 3
    assert len(all_events(api, "leads")) == 3


def test_event_quantity_records_n_events_and_adds_n(api, client):
    link = new_link(api, "seats")
    r = lead(api, visit(client, "seats"), "team", eventQuantity=5, metadata={"plan": "trial"})
    assert r.status_code == 200
    assert link_counts(api, link["id"])[0] == 5
    events = all_events(api, "leads")
    assert len(events) == 5 and len({e["eventId"] for e in events}) == 5
    assert all(e["metadata"] == {"plan": "trial"} for e in events)


def test_unknown_click_is_404_and_does_not_poison_the_key(api, client):
    link = new_link(api, "late")
    r = lead(api, "NoSuchClick00000", "u2")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    assert r.json()["error"]["message"] == "Click event not found for clickId: NoSuchClick00000"
    assert api.get("/api/customers").json() == []
    # a retry with a real click is recorded, not answered as a duplicate
    r = lead(api, visit(client, "late"), "u2")
    assert r.json()["link"]["id"] == link["id"]
    assert link_counts(api, link["id"])[0] == 1


def test_deferred_binds_the_customer_then_an_empty_click_id_completes(api, client):
    link = new_link(api, "later")
    click_id = visit(client, "later")
    r = lead(api, click_id, "deferred-1", customerName="Dee", mode="deferred")
    assert r.status_code == 200 and r.json()["link"]["id"] == link["id"]
    assert link_counts(api, link["id"])[0] == 0 and all_events(api, "leads") == []
    [customer] = api.get("/api/customers", params={"externalId": "deferred-1"}).json()
    assert customer["name"] == "Dee"
    # a deferred call again is still nothing recorded (and no key is set by it)
    assert lead(api, click_id, "deferred-1", mode="deferred").status_code == 200
    r = lead(api, "", "deferred-1", mode="wait")
    assert r.status_code == 200
    assert r.json()["click"] == {"id": click_id} and r.json()["link"]["id"] == link["id"]
    assert link_counts(api, link["id"])[0] == 1
    [event] = all_events(api, "leads")
    assert event["customer"]["id"] == customer["id"] and event["click"]["id"] == click_id


def test_empty_click_id_without_a_customer_is_400(api, client):
    for click_id in ("", None, "   "):
        body = {"eventName": "Sign up", "customerExternalId": "nobody"}
        if click_id is not None:
            body["clickId"] = click_id
        r = api.post("/api/track/lead", json=body)
        assert r.status_code == 400, click_id
        assert "clickId" in r.json()["error"]["message"]
    assert api.get("/api/customers").json() == []


def test_existing_customer_is_never_updated_by_a_lead(api, client):
    new_link(api, "keep")
    lead(api, visit(client, "keep"), "k", customerName="Original", customerEmail="o@example.com")
    r = lead(api, visit(client, "keep"), "k", event="Second", customerName="Changed", customerEmail="c@example.com")
    assert r.json()["customer"] == {"name": "Original", "email": "o@example.com", "avatar": None, "externalId": "k"}


def test_deprecated_external_id_aliases_are_accepted(api, client):
    new_link(api, "alias")
    r = api.post("/api/track/lead", json={"clickId": visit(client, "alias"), "eventName": "Sign up",
                                          "externalId": "legacy"})
    assert r.status_code == 200 and r.json()["customer"]["externalId"] == "legacy"


def test_lead_on_another_domain_and_trimmed_fields(api, client):
    link = new_link(api, "x", domain="other.test")
    click_id = visit(client, "x", host="other.test")
    r = lead(api, f"  {click_id} ", "  spaced  ", event="  Sign up  ")
    assert r.status_code == 200
    assert r.json()["link"]["shortLink"] == "http://other.test/x"
    assert r.json()["customer"]["externalId"] == "spaced"
    assert all_events(api, "leads")[0]["eventName"] == "Sign up"
    assert link_counts(api, link["id"])[0] == 1


def test_lead_needs_a_bearer_key(client):
    r = client.post("/api/track/lead", json={"clickId": "x", "eventName": "e", "customerExternalId": "c"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = client.post("/api/track/lead", json={}, headers={"Authorization": "Basic abc"})
    assert r.status_code == 400
    r = client.post("/api/track/lead", json={}, headers={"Authorization": "Bearer dub_wrong"})
    assert r.status_code == 401
