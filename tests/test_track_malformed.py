"""Malformed /track/lead and /track/sale requests: each gets the right 4xx and changes nothing."""
from __future__ import annotations

import json

import pytest

from conversion_support import all_events, lead, new_link, visit

CLICK = "{click}"          # replaced by a real click id
BIG_METADATA = {"blob": "x" * 10_000}


def _lead(**fields):
    body = {"clickId": CLICK, "eventName": "Sign up", "customerExternalId": "m1", "mode": "wait"}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not _DROP}


def _sale(**fields):
    body = {"customerExternalId": "known", "amount": 100}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not _DROP}


_DROP = object()

# (id, path, body (dict, or str for a raw body), status, code, text expected in the message)
CASES = [
    ("lead-bad-json", "lead", '{"clickId": ', 400, "bad_request", "Invalid JSON"),
    ("lead-empty-body", "lead", "", 400, "bad_request", "Invalid JSON"),
    ("lead-array-body", "lead", "[1, 2]", 422, "unprocessable_entity", "body"),
    ("lead-no-event-name", "lead", _lead(eventName=_DROP), 422, "unprocessable_entity", "eventName"),
    ("lead-empty-event-name", "lead", _lead(eventName="  "), 422, "unprocessable_entity", "too_small: eventName"),
    ("lead-long-event-name", "lead", _lead(eventName="e" * 256), 422, "unprocessable_entity", "too_big: eventName"),
    ("lead-event-name-number", "lead", _lead(eventName=42), 422, "unprocessable_entity", "invalid_type: eventName"),
    ("lead-click-id-number", "lead", _lead(clickId=123), 422, "unprocessable_entity", "invalid_type: clickId"),
    ("lead-no-customer", "lead", _lead(customerExternalId=_DROP), 400, "bad_request", "customerExternalId is required"),
    ("lead-empty-customer", "lead", _lead(customerExternalId=""), 400, "bad_request", "customerExternalId is required"),
    ("lead-customer-object", "lead", _lead(customerExternalId={"id": 1}), 422, "unprocessable_entity",
     "invalid_type: customerExternalId"),
    ("lead-long-customer", "lead", _lead(customerExternalId="c" * 101), 422, "unprocessable_entity",
     "too_big: customerExternalId"),
    ("lead-long-name", "lead", _lead(customerName="n" * 101), 422, "unprocessable_entity", "too_big: customerName"),
    ("lead-bad-email", "lead", _lead(customerEmail="not-an-email"), 422, "unprocessable_entity",
     "invalid_string: customerEmail"),
    ("lead-long-email", "lead", _lead(customerEmail="a" * 95 + "@x.com"), 422, "unprocessable_entity",
     "too_big: customerEmail"),
    ("lead-avatar-number", "lead", _lead(customerAvatar=7), 422, "unprocessable_entity", "customerAvatar"),
    ("lead-unknown-mode", "lead", _lead(mode="sync"), 422, "unprocessable_entity", "invalid_enum_value: mode"),
    ("lead-mode-bool", "lead", _lead(mode=True), 422, "unprocessable_entity", "mode"),
    ("lead-quantity-zero", "lead", _lead(eventQuantity=0), 422, "unprocessable_entity", "too_small: eventQuantity"),
    ("lead-quantity-negative", "lead", _lead(eventQuantity=-3), 422, "unprocessable_entity", "eventQuantity"),
    ("lead-quantity-fraction", "lead", _lead(eventQuantity=1.5), 422, "unprocessable_entity", "eventQuantity"),
    ("lead-quantity-string", "lead", _lead(eventQuantity="3"), 422, "unprocessable_entity", "eventQuantity"),
    ("lead-quantity-too-big", "lead", _lead(eventQuantity=101), 422, "unprocessable_entity", "too_big: eventQuantity"),
    ("lead-metadata-oversized", "lead", _lead(metadata=BIG_METADATA), 422, "unprocessable_entity",
     "Metadata must be less than 10,000 characters"),
    ("lead-metadata-array", "lead", _lead(metadata=[1, 2]), 422, "unprocessable_entity", "invalid_type: metadata"),
    ("lead-unknown-click", "lead", _lead(clickId="AAAAAAAAAAAAAAAA"), 404, "not_found", "Click event not found"),
    ("lead-no-click-no-customer", "lead", _lead(clickId="", customerExternalId="nobody"), 400, "bad_request",
     "clickId"),
    ("lead-lone-surrogate", "lead", '{"clickId": "x", "eventName": "Sign up", "customerExternalId": "\\ud800"}',
     422, "unprocessable_entity", "invalid_string: customerExternalId"),
    ("lead-surrogate-metadata", "lead",
     '{"clickId": "x", "eventName": "Sign up", "customerExternalId": "m1", "metadata": {"k": "\\udfff"}}',
     422, "unprocessable_entity", "invalid_string: metadata"),
    ("sale-bad-json", "sale", "{amount: 5}", 400, "bad_request", "Invalid JSON"),
    ("sale-no-amount", "sale", _sale(amount=_DROP), 422, "unprocessable_entity", "amount is required"),
    ("sale-negative-amount", "sale", _sale(amount=-1), 422, "unprocessable_entity", "too_small: amount"),
    ("sale-fractional-amount", "sale", _sale(amount=10.5), 422, "unprocessable_entity", "invalid_type: amount"),
    ("sale-string-amount", "sale", _sale(amount="100"), 422, "unprocessable_entity", "invalid_type: amount"),
    ("sale-bool-amount", "sale", _sale(amount=True), 422, "unprocessable_entity", "invalid_type: amount"),
    ("sale-huge-amount", "sale", _sale(amount=10**15), 422, "unprocessable_entity", "too_big: amount"),
    ("sale-no-customer", "sale", _sale(customerExternalId=_DROP), 400, "bad_request", "customerExternalId"),
    ("sale-bad-currency", "sale", _sale(currency="dollars"), 422, "unprocessable_entity", "currency"),
    ("sale-currency-number", "sale", _sale(currency=840), 422, "unprocessable_entity", "invalid_type: currency"),
    ("sale-bad-processor", "sale", _sale(paymentProcessor="visa"), 422, "unprocessable_entity",
     "invalid_enum_value: paymentProcessor"),
    ("sale-long-event-name", "sale", _sale(eventName="e" * 256), 422, "unprocessable_entity", "too_big: eventName"),
    ("sale-invoice-number", "sale", _sale(invoiceId=12), 422, "unprocessable_entity", "invalid_type: invoiceId"),
    ("sale-metadata-oversized", "sale", _sale(metadata=BIG_METADATA), 422, "unprocessable_entity", "Metadata"),
    ("sale-bad-email", "sale", _sale(customerExternalId="new", clickId=CLICK, customerEmail="x@"), 422,
     "unprocessable_entity", "customerEmail"),
    ("sale-unknown-lead-name", "sale", _sale(leadEventName="Nope"), 404, "not_found", "Lead event not found"),
]


@pytest.fixture
def world(api, client, core, run):
    link = new_link(api, "mal")
    assert lead(api, visit(client, "mal"), "known").status_code == 200
    click_id = visit(client, "mal")
    run(core.clicks.flush)  # the click counter must not move during the comparison
    return {"link": link, "click": click_id}


def _state(api, link_id: str) -> dict:
    link = api.get(f"/api/links/{link_id}").json()
    return {
        "counters": (link["leads"], link["conversions"], link["sales"], link["saleAmount"]),
        "customers": api.get("/api/customers", params={"includeExpandedFields": "true"}).json(),
        "leads": all_events(api, "leads"),
        "sales": all_events(api, "sales"),
    }


def test_there_are_at_least_25_cases():
    assert len(CASES) >= 25


@pytest.mark.parametrize("name,path,body,status,code,text", CASES, ids=[c[0] for c in CASES])
def test_malformed_request_is_refused_and_changes_nothing(api, world, name, path, body, status, code, text):
    before = _state(api, world["link"]["id"])
    if isinstance(body, str):
        raw = body
    else:
        raw = json.dumps({k: (world["click"] if v == CLICK else v) for k, v in body.items()})
    r = api.post(f"/api/track/{path}", content=raw.encode(), headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and text in error["message"], error
    assert error["doc_url"].endswith("#" + code.replace("_", "-"))
    assert _state(api, world["link"]["id"]) == before
