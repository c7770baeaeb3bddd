"""Malformed requests: each gets the right 4xx with Dub's error body and leaves the database unchanged."""
from __future__ import annotations

import json
import random

import pytest

SEED_KEY, SEED_EXT = "taken", "ext1"
U = "https://example.com"

# (id, method, path, kind, payload, status, code); kind is "json" (serialised), "raw" (bytes as
# sent) or "params" (query string). "{id}" in a path is the seeded link's id.
CASES = [
    ("bad-json", "POST", "/api/links", "raw", b'{"url": ', 400, "bad_request"),
    ("empty-body", "POST", "/api/links", "raw", b"", 400, "bad_request"),
    ("not-utf8", "POST", "/api/links", "raw", b'{"url": "\xff\xfe"}', 400, "bad_request"),
    ("deeply-nested-json", "POST", "/api/links", "raw", b"[" * 100_000 + b"]" * 100_000, 400, "bad_request"),
    ("oversized-body", "POST", "/api/links", "raw", b'{"url": "' + b"a" * (5 * 1024 * 1024) + b'"}', 400, "bad_request"),
    ("array-body", "POST", "/api/links", "json", [{"url": U}], 422, "unprocessable_entity"),
    ("string-body", "POST", "/api/links", "json", "https://example.com", 422, "unprocessable_entity"),
    ("missing-url", "POST", "/api/links", "json", {"key": "x"}, 422, "unprocessable_entity"),
    ("url-null", "POST", "/api/links", "json", {"url": None}, 422, "unprocessable_entity"),
    ("url-number", "POST", "/api/links", "json", {"url": 42}, 422, "unprocessable_entity"),
    ("url-too-long", "POST", "/api/links", "json", {"url": U + "/" + "a" * 32000}, 422, "unprocessable_entity"),
    ("url-javascript", "POST", "/api/links", "json", {"url": "javascript:alert(document.cookie)"}, 422, "unprocessable_entity"),
    ("url-data", "POST", "/api/links", "json", {"url": "data:text/html;base64,PHNjcmlwdD4="}, 422, "unprocessable_entity"),
    ("url-vbscript", "POST", "/api/links", "json", {"url": "vbscript:msgbox(1)"}, 422, "unprocessable_entity"),
    ("url-file", "POST", "/api/links", "json", {"url": "file:///etc/passwd"}, 422, "unprocessable_entity"),
    ("url-nul-byte", "POST", "/api/links", "json", {"url": "https://exa\u0000mple.com"}, 422, "unprocessable_entity"),
    ("key-number", "POST", "/api/links", "json", {"url": U, "key": 7}, 422, "unprocessable_entity"),
    ("key-too-long", "POST", "/api/links", "json", {"url": U, "key": "k" * 191}, 422, "unprocessable_entity"),
    ("key-space", "POST", "/api/links", "json", {"url": U, "key": "a b"}, 422, "unprocessable_entity"),
    ("key-underscore", "POST", "/api/links", "json", {"url": U, "key": "_internal"}, 422, "unprocessable_entity"),
    ("key-own-pages", "POST", "/api/links", "json", {"url": U, "key": "/_/dashboard"}, 422, "unprocessable_entity"),
    ("key-php", "POST", "/api/links", "json", {"url": U, "key": "wp-admin.php"}, 422, "unprocessable_entity"),
    ("key-lone-surrogate", "POST", "/api/links", "raw", b'{"url": "https://example.com", "key": "a\\ud800"}', 422, "unprocessable_entity"),
    ("key-reserved", "POST", "/api/links", "json", {"url": U, "key": "robots.txt"}, 403, "forbidden"),
    ("key-api", "POST", "/api/links", "json", {"url": U, "key": "api/links"}, 403, "forbidden"),
    ("key-duplicate", "POST", "/api/links", "json", {"url": U, "key": SEED_KEY.upper()}, 409, "conflict"),
    ("external-id-duplicate", "POST", "/api/links", "json", {"url": U, "externalId": "ext_" + SEED_EXT, "tagNames": ["brand-new"]}, 409, "conflict"),
    ("external-id-empty", "POST", "/api/links", "json", {"url": U, "externalId": ""}, 422, "unprocessable_entity"),
    ("external-id-too-long", "POST", "/api/links", "json", {"url": U, "externalId": "e" * 256}, 422, "unprocessable_entity"),
    ("tag-ids-unknown", "POST", "/api/links", "json", {"url": U, "tagIds": ["tag_unknown"]}, 422, "unprocessable_entity"),
    ("tag-names-number", "POST", "/api/links", "json", {"url": U, "tagNames": 5}, 422, "unprocessable_entity"),
    ("tag-names-mixed", "POST", "/api/links", "json", {"url": U, "tagNames": ["ok", 5]}, 422, "unprocessable_entity"),
    ("bool-as-string", "POST", "/api/links", "json", {"url": U, "trackConversion": "yes"}, 422, "unprocessable_entity"),
    ("bool-as-number", "POST", "/api/links", "json", {"url": U, "archived": 1}, 422, "unprocessable_entity"),
    ("expires-at-words", "POST", "/api/links", "json", {"url": U, "expiresAt": "next tuesday"}, 422, "unprocessable_entity"),
    ("expires-at-number", "POST", "/api/links", "json", {"url": U, "expiresAt": 1700000000}, 422, "unprocessable_entity"),
    ("utm-too-long", "POST", "/api/links", "json", {"url": U, "utm_source": "s" * 256}, 422, "unprocessable_entity"),
    ("title-number", "POST", "/api/links", "json", {"url": U, "title": 3}, 422, "unprocessable_entity"),
    ("geo-list", "POST", "/api/links", "json", {"url": U, "geo": ["DE"]}, 422, "unprocessable_entity"),
    ("geo-bad-country", "POST", "/api/links", "json", {"url": U, "geo": {"Germany": U}}, 422, "unprocessable_entity"),
    ("geo-javascript", "POST", "/api/links", "json", {"url": U, "geo": {"DE": "javascript:alert(1)"}}, 422, "unprocessable_entity"),
    ("ios-data-url", "POST", "/api/links", "json", {"url": U, "ios": "data:,x"}, 422, "unprocessable_entity"),
    ("image-tel", "POST", "/api/links", "json", {"url": U, "image": "tel:123"}, 422, "unprocessable_entity"),
    ("key-length-small", "POST", "/api/links", "json", {"url": U, "keyLength": 2}, 422, "unprocessable_entity"),
    ("key-length-big", "POST", "/api/links", "json", {"url": U, "keyLength": 191}, 422, "unprocessable_entity"),
    ("key-length-string", "POST", "/api/links", "json", {"url": U, "keyLength": "7"}, 422, "unprocessable_entity"),
    ("key-length-fraction", "POST", "/api/links", "json", {"url": U, "keyLength": 7.5}, 422, "unprocessable_entity"),
    ("key-length-nan", "POST", "/api/links", "raw", b'{"url": "https://example.com", "keyLength": NaN}', 400, "bad_request"),
    ("key-length-infinity", "POST", "/api/links", "raw", b'{"url": "https://example.com", "keyLength": Infinity}', 400, "bad_request"),
    ("prefix-underscore", "POST", "/api/links", "json", {"url": U, "prefix": "_x"}, 422, "unprocessable_entity"),
    ("redirect-status-200", "POST", "/api/links", "json", {"url": U, "redirectStatus": 200}, 422, "unprocessable_entity"),
    ("redirect-status-bool", "POST", "/api/links", "json", {"url": U, "redirectStatus": True}, 422, "unprocessable_entity"),
    ("webhook-ids-string", "POST", "/api/links", "json", {"url": U, "webhookIds": "wh_1"}, 422, "unprocessable_entity"),
    ("password-number", "POST", "/api/links", "json", {"url": U, "password": 1234}, 422, "unprocessable_entity"),
    ("domain-unknown", "POST", "/api/links", "json", {"url": U, "domain": "evil.test"}, 403, "forbidden"),
    ("domain-number", "POST", "/api/links", "json", {"url": U, "domain": 1}, 422, "unprocessable_entity"),
    ("no-auth", "POST", "/api/links", "noauth", {"url": U}, 401, "unauthorized"),
    ("bulk-oversized", "POST", "/api/links/bulk", "json", [{"url": U}] * 101, 422, "unprocessable_entity"),
    ("bulk-object", "POST", "/api/links/bulk", "json", {"url": U}, 422, "unprocessable_entity"),
    ("bulk-bad-json", "POST", "/api/links/bulk", "raw", b"[{", 400, "bad_request"),
    ("bulk-update-data-missing", "PATCH", "/api/links/bulk", "json", {"linkIds": ["{id}"]}, 422, "unprocessable_entity"),
    ("bulk-update-bad-url", "PATCH", "/api/links/bulk", "json", {"linkIds": ["{id}"], "data": {"url": "javascript:x"}}, 422, "unprocessable_entity"),
    ("bulk-update-ids-not-list", "PATCH", "/api/links/bulk", "json", {"linkIds": "{id}", "data": {"archived": True}}, 422, "unprocessable_entity"),
    ("bulk-delete-oversized", "DELETE", "/api/links/bulk", "params", {"linkIds": ",".join(["{id}"] + [f"link_{i}" for i in range(100)])}, 422, "unprocessable_entity"),
    ("bulk-delete-none", "DELETE", "/api/links/bulk", "params", {}, 400, "bad_request"),
    ("update-bad-json", "PATCH", "/api/links/{id}", "raw", b"{nope}", 400, "bad_request"),
    ("update-reserved-key", "PATCH", "/api/links/{id}", "json", {"key": "favicon.ico"}, 403, "forbidden"),
    ("update-empty-url", "PATCH", "/api/links/{id}", "json", {"url": ""}, 400, "bad_request"),
    ("update-bad-tag", "PATCH", "/api/links/{id}", "json", {"tagIds": ["tag_nope"]}, 422, "unprocessable_entity"),
    ("update-missing-link", "PATCH", "/api/links/link_missing", "json", {"key": "x"}, 404, "not_found"),
    ("delete-missing-link", "DELETE", "/api/links/ext_missing", "json", None, 404, "not_found"),
    ("upsert-missing-url", "PUT", "/api/links/upsert", "json", {"key": "x"}, 422, "unprocessable_entity"),
    ("upsert-bad-url", "PUT", "/api/links/upsert", "json", {"url": "javascript:alert(1)"}, 422, "unprocessable_entity"),
    ("tag-bad-colour", "POST", "/api/tags", "json", {"name": "x", "color": "orange"}, 422, "unprocessable_entity"),
    ("tag-duplicate", "POST", "/api/tags", "json", {"name": "T1"}, 409, "conflict"),
    ("tag-bad-json", "POST", "/api/tags", "raw", b"{", 400, "bad_request"),
    ("domain-bad-slug", "POST", "/api/domains", "json", {"slug": "not a domain"}, 422, "unprocessable_entity"),
    ("domain-bad-cookie-domain", "POST", "/api/domains", "json", {"slug": "x.example", "cookieDomain": ".elsewhere.com"}, 422, "unprocessable_entity"),
    ("domain-delete-default", "DELETE", "/api/domains/go.test", "json", None, 403, "forbidden"),
    ("list-page-size", "GET", "/api/links", "params", {"pageSize": "1000"}, 422, "unprocessable_entity"),
    ("list-page-text", "GET", "/api/links", "params", {"page": "two"}, 422, "unprocessable_entity"),
]


@pytest.fixture
def seeded(api):
    link = api.post("/api/links", json={"url": U, "key": SEED_KEY, "externalId": SEED_EXT, "tagNames": ["t1"]})
    assert link.status_code == 200
    return link.json()


def snapshot(api) -> str:
    """Everything the API can show about the stored state."""
    state = {
        "links": api.get("/api/links", params={"showArchived": "true"}).json(),
        "tags": api.get("/api/tags").json(),
        "domains": api.get("/api/domains").json() + api.get("/api/domains", params={"archived": "true"}).json(),
    }
    return json.dumps(state, sort_keys=True)


def test_there_are_enough_cases():
    assert len(CASES) >= 30
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_request(api, seeded, case):
    _, method, path, kind, payload, status, code = case
    path = path.replace("{id}", seeded["id"])
    if isinstance(payload, (dict, list)):
        payload = json.loads(json.dumps(payload).replace("{id}", seeded["id"]))
    before = snapshot(api)
    headers = {"content-type": "application/json"}
    if kind == "raw":
        r = api.request(method, path, content=payload, headers=headers)
    elif kind == "params":
        r = api.request(method, path, params=payload)
    elif kind == "noauth":
        r = api.request(method, path, json=payload, headers={"authorization": ""})
    else:
        r = api.request(method, path, content=None if payload is None else json.dumps(payload), headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert error["code"] == code and error["message"] and error["doc_url"]
    assert snapshot(api) == before


# Random bodies built from field names and awkward values: whatever the mix, never a 500.
FUZZ_FIELDS = [
    "url", "domain", "key", "keyLength", "prefix", "externalId", "tenantId", "identifier", "trackConversion",
    "archived", "publicStats", "tagId", "tagIds", "tagNames", "comments", "expiresAt", "expiredUrl", "password",
    "proxy", "title", "description", "image", "video", "rewrite", "ios", "android", "geo", "doIndex",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "ref", "programId", "webhookIds",
    "redirectStatus", "testVariants", "name", "color", "slug", "cookieDomain", "notFoundUrl", "assetLinks",
    "data", "linkIds", "externalIds",
]
FUZZ_VALUES = [
    None, True, False, 0, -1, 3, 7.5, 1e308, 301, "", " ", "/", "//", "_root", "x", "a" * 300,
    "https://example.com", "example.com", "javascript:alert(1)", "ext_x", "ü", "🔥", "\u202e", "2030-01-01",
    "2030-01-01T00:00:00Z", [], [1], ["a"], ["https://x.com"], {}, {"DE": "https://x.de"}, {"x": 1}, "red",
    "tag_x", "go.test", ".go.test", "[]", "{", "http://[::1", "https://a.com:0", "https://a.com:-1", "mailto:",
    "tel:+1", "a,b,,c", "%00", "\x00",
]
FUZZ_QUERIES = [
    {"domain": "\x00"}, {"key": "\xed\xb3\xbf"}, {"tagIds": "," * 500}, {"search": "%_\\"}, {"sort": "x"},
    {"groupBy": "x"}, {"page": "-1"}, {"startingAfter": "x" * 300},
]


def test_random_bodies_never_cause_a_500(api):
    rnd = random.Random(7)
    seed = api.post("/api/links", json={"url": "https://s.com", "key": "seed"}).json()
    tag = api.post("/api/tags", json={"name": "seedtag"}).json()
    targets = [
        ("POST", "/api/links"), ("PATCH", f"/api/links/{seed['id']}"), ("PUT", "/api/links/upsert"),
        ("POST", "/api/links/bulk"), ("PATCH", "/api/links/bulk"), ("POST", "/api/tags"),
        ("PATCH", f"/api/tags/{tag['id']}"), ("POST", "/api/domains"), ("PATCH", "/api/domains/other.test"),
    ]
    bad = []
    for _ in range(600):
        body: object = {rnd.choice(FUZZ_FIELDS): rnd.choice(FUZZ_VALUES) for _ in range(rnd.randint(0, 6))}
        if rnd.random() < 0.7:
            body.setdefault("url", rnd.choice(FUZZ_VALUES))
        method, path = rnd.choice(targets)
        if path == "/api/links/bulk":
            if method == "PATCH":
                body = {"linkIds": [seed["id"]], "data": body}
            elif rnd.random() < 0.8:
                body = [body, {"url": "https://ok.com"}]
        r = api.request(method, path, content=json.dumps(body), headers={"content-type": "application/json"})
        if r.status_code >= 500:
            bad.append((method, path, body, r.text[:200]))
    for query in FUZZ_QUERIES:
        for path in ("/api/links", "/api/links/count", "/api/links/info", "/api/tags", "/api/domains"):
            r = api.get(path, params=query)
            if r.status_code >= 500:
                bad.append(("GET", path, query, r.text[:200]))
    assert bad == []
