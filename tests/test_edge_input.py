"""Input at the HTTP edge (issue 14 items 1, 3, 7; issue 11 item 1): text that cannot be stored
never gets past parsing, numbers are read as Dub reads them, errors are safe to render."""
from __future__ import annotations

import json
import logging

import pytest
from starlette.testclient import TestClient

from shortener.web.app import create_app
from shortener.web.common import JSONResponse

U = "https://example.com"
SURROGATE = "\\ud800"   # as it appears in a JSON body: valid JSON, not encodable text


def _state(api) -> dict:
    """Everything a rejected request must leave unchanged (and every list must still answer)."""
    out = {}
    for path in ("/api/links", "/api/tags", "/api/domains", "/api/webhooks", "/api/customers"):
        r = api.get(path)
        assert r.status_code == 200, (path, r.text[:200])
        out[path] = r.json()
    return out


@pytest.fixture
def hooked(settings):
    """An in-process app that may name loopback webhook targets, with an API key."""
    with TestClient(create_app(settings.replace(webhook_allow_private=True)), base_url="http://go.test",
                    follow_redirects=False) as c:
        _, key = c.portal.call(c.app_state["core"].api_keys.create, "edge")
        c.headers["Authorization"] = f"Bearer {key}"
        yield c


@pytest.fixture
def seeded(hooked):
    link = hooked.post("/api/links", json={"url": U, "key": "seed", "externalId": "seed"}).json()
    tag = hooked.post("/api/tags", json={"name": "seedtag"}).json()
    hook = hooked.post("/api/webhooks", json={"name": "h", "url": "http://127.0.0.1:9/hook",
                                              "triggers": ["lead.created"]})
    assert hook.status_code == 201, hook.text
    return {"link": link["id"], "tag": tag["id"], "hook": hook.json()["id"]}


def _raw(template: str) -> bytes:
    return template.replace("BAD", SURROGATE).encode()


# (id, method, path, raw JSON body with BAD where a lone surrogate goes, field the error must name)
SURROGATE_CASES = [
    ("link-webhookIds", "PATCH", "/api/links/{link}", '{"webhookIds": ["BAD"]}', "webhookIds.0"),
    ("link-create-webhookIds", "POST", "/api/links", '{"url": "%s", "webhookIds": ["BAD"]}' % U, "webhookIds.0"),
    ("link-title", "POST", "/api/links", '{"url": "%s", "title": "aBAD"}' % U, "title"),
    ("link-description", "POST", "/api/links", '{"url": "%s", "description": "BAD"}' % U, "description"),
    ("link-comments", "POST", "/api/links", '{"url": "%s", "comments": "BAD"}' % U, "comments"),
    ("link-externalId", "POST", "/api/links", '{"url": "%s", "externalId": "BAD"}' % U, "externalId"),
    ("link-tenantId", "POST", "/api/links", '{"url": "%s", "tenantId": "BAD"}' % U, "tenantId"),
    ("link-folderId", "POST", "/api/links", '{"url": "%s", "folderId": "BAD"}' % U, "folderId"),
    ("link-domain", "POST", "/api/links", '{"url": "%s", "domain": "BAD"}' % U, "domain"),
    ("link-tagIds", "POST", "/api/links", '{"url": "%s", "tagIds": ["x", "BAD"]}' % U, "tagIds.1"),
    ("link-tagNames", "POST", "/api/links", '{"url": "%s", "tagNames": "xBAD"}' % U, "tagNames"),
    ("link-password", "POST", "/api/links", '{"url": "%s", "password": "BAD"}' % U, "password"),
    ("link-utm", "POST", "/api/links", '{"url": "%s", "utm_source": "BAD"}' % U, "utm_source"),
    ("link-ref", "POST", "/api/links", '{"url": "%s", "ref": "BAD"}' % U, "ref"),
    ("link-url", "POST", "/api/links", '{"url": "%s/BAD"}' % U, "url"),
    ("link-geo-url", "POST", "/api/links", '{"url": "%s", "geo": {"DE": "%s/BAD"}}' % (U, U), "geo.DE"),
    ("link-geo-key", "POST", "/api/links", '{"url": "%s", "geo": {"BAD": "%s"}}' % (U, U), "geo"),
    ("link-unknown-key", "POST", "/api/links", '{"url": "%s", "BAD": 1}' % U, "body"),
    ("upsert-title", "PUT", "/api/links/upsert", '{"url": "%s", "title": "BAD"}' % U, "title"),
    ("bulk-create", "POST", "/api/links/bulk", '[{"url": "%s", "title": "BAD"}, {"url": "%s"}]' % (U, U),
     "0.title"),
    ("bulk-update-ids", "PATCH", "/api/links/bulk", '{"linkIds": ["BAD"], "data": {"title": "x"}}', "linkIds.0"),
    ("bulk-update-data", "PATCH", "/api/links/bulk", '{"linkIds": ["{link}"], "data": {"title": "BAD"}}',
     "data.title"),
    ("tag-name", "POST", "/api/tags", '{"name": "BAD"}', "name"),
    ("tag-update", "PATCH", "/api/tags/{tag}", '{"name": "BAD"}', "name"),
    ("domain-placeholder", "POST", "/api/domains", '{"slug": "new.test", "placeholder": "https://x.test/BAD"}',
     "placeholder"),
    ("domain-update", "PATCH", "/api/domains/other.test", '{"expiredUrl": "https://x.test/BAD"}', "expiredUrl"),
    ("lead-mode", "POST", "/api/track/lead",
     '{"clickId": "x", "eventName": "e", "customerExternalId": "c", "mode": "BAD"}', "mode"),
    ("lead-metadata-key", "POST", "/api/track/lead",
     '{"clickId": "x", "eventName": "e", "customerExternalId": "c", "metadata": {"a": {"BAD": 1}}}', "metadata.a"),
    ("sale-processor", "POST", "/api/track/sale",
     '{"customerExternalId": "c", "amount": 1, "paymentProcessor": "BAD"}', "paymentProcessor"),
    ("customer-name", "PATCH", "/api/customers/cus_x", '{"name": "BAD"}', "name"),
    ("webhook-name", "POST", "/api/webhooks",
     '{"name": "BAD", "url": "http://127.0.0.1:9/h", "triggers": ["lead.created"]}', "name"),
    ("webhook-update", "PATCH", "/api/webhooks/{hook}", '{"linkIds": ["BAD"]}', "linkIds.0"),
    ("webhook-trigger", "POST", "/api/webhooks",
     '{"name": "n", "url": "http://127.0.0.1:9/h", "triggers": ["BAD"]}', "triggers.0"),
    ("folder-name", "POST", "/api/folders", '{"name": "BAD"}', "name"),
]


def test_lone_surrogates_are_refused_at_the_edge(hooked, seeded):
    # one app for every case (each is refused, so none changes what the next one sees)
    before = _state(hooked)
    wrong = []
    for case, method, path, body, field in SURROGATE_CASES:
        r = hooked.request(method, path.format(**seeded), content=_raw(body.replace("{link}", seeded["link"])),
                           headers={"content-type": "application/json"})
        error = r.json().get("error", {}) if r.headers["content-type"].startswith("application/json") else {}
        if (r.status_code != 422 or error.get("code") != "unprocessable_entity" or set(error) != {"code", "message", "doc_url"}
                or not error["message"].startswith(f"invalid_string: {field}: ")):
            wrong.append((case, r.status_code, r.text[:200]))
    assert wrong == []
    assert _state(hooked) == before


def test_the_webhook_ids_surrogate_no_longer_breaks_reads(hooked, seeded):
    r = hooked.patch(f"/api/links/{seeded['link']}", content=_raw('{"webhookIds": ["BAD"]}'))
    assert r.status_code == 422
    assert hooked.get(f"/api/links/{seeded['link']}").json()["webhookIds"] == []
    assert hooked.get("/api/links/info", params={"linkId": seeded["link"]}).status_code == 200
    assert hooked.get("/api/webhooks").status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"url": U, "title": "a\x00b"}, "title"),
    ({"url": U, "comments": "\x00"}, "comments"),
    ({"url": U, "geo": {"DE": U + "/\x00"}}, "geo.DE"),
    ({"url": U, "tagNames": ["ok", "n\x00"]}, "tagNames.1"),
    ({"url": U, "a\x00": 1}, "body"),
])
def test_nul_in_any_string_is_refused(api, body, field):
    before = api.get("/api/links").json()
    r = api.post("/api/links", json=body)
    assert r.status_code == 422, r.text[:300]
    assert r.json()["error"]["message"].startswith(f"invalid_string: {field}: ")
    assert api.get("/api/links").json() == before


NUL_QUERIES = [
    ("/api/links", {"search": "a\x00"}, "search"),
    ("/api/links/count", {"domain": "\x00"}, "domain"),
    ("/api/links/info", {"domain": "go.test", "key": "k\x00"}, "key"),
    ("/api/tags", {"search": "\x00"}, "search"),
    ("/api/domains", {"search": "\x00"}, "search"),
    ("/api/customers", {"email": "\x00"}, "email"),
    ("/api/events", {"country": "\x00"}, "country"),
    ("/api/qr", {"url": "https://go.test/\x00"}, "url"),
    ("/api/links/bulk", {"linkIds": "a\x00"}, "linkIds"),
    ("/api/folders", {"search": "\x00"}, "search"),
    ("/api/domains/status", {"domains": "a\x00.test"}, "domains"),
]


def test_nul_in_a_query_parameter_is_refused(api):
    wrong = []
    for path, params, field in NUL_QUERIES:
        method = "DELETE" if path == "/api/links/bulk" else "GET"
        r = api.request(method, path, params=params)
        if r.status_code != 422 or not r.json()["error"]["message"].startswith(f"invalid_string: {field}: "):
            wrong.append((path, params, r.status_code, r.text[:200]))
    assert wrong == []


def test_nul_in_a_path_parameter_is_refused(api):
    for method, path in (("GET", "/api/links/link_%00"), ("DELETE", "/api/tags/t%00"),
                         ("GET", "/api/customers/c%00"), ("GET", "/api/webhooks/w%00")):
        r = api.request(method, path)
        assert r.status_code == 422, (path, r.text[:200])
        assert r.json()["error"]["code"] == "unprocessable_entity"


def test_non_finite_and_huge_numbers_are_422(api):
    for raw in (b'{"url": "https://example.com", "keyLength": 1e309}',
                b'{"url": "https://example.com", "keyLength": 1' + b"0" * 309 + b"}",
                b'{"url": "https://example.com", "redirectStatus": -1e400}'):
        r = api.post("/api/links", content=raw)
        assert r.status_code == 422, r.text[:300]
    assert api.get("/api/links").json() == []


def test_json_rendering_survives_odd_text():
    body = JSONResponse({"a": "x\ud800y", "\udfff": ["\x00", "ü"]}).body
    assert json.loads(body) == {"a": "x\ud800y", "\udfff": ["\x00", "ü"]}
    assert JSONResponse({"a": "ü"}).body == '{"a":"ü"}'.encode()


def test_enum_errors_echo_input_safely(hooked):
    api = hooked
    long_value = "v" * 5000
    r = api.post("/api/track/lead", json={"clickId": "x", "eventName": "e", "customerExternalId": "c",
                                          "mode": long_value})
    message = r.json()["error"]["message"]
    assert r.status_code == 422 and "invalid_enum_value: mode" in message and len(message) < 400
    r = api.get("/api/customers", params={"sortBy": "<script>" + "s" * 5000})
    message = r.json()["error"]["message"]
    assert r.status_code == 422 and "sortBy" in message and len(message) < 400
    r = api.post("/api/track/lead", json={"clickId": "c" * 3000 + "\n", "eventName": "e", "customerExternalId": "c"})
    message = r.json()["error"]["message"]
    assert r.status_code in (404, 422) and len(message) < 400 and "\n" not in message
    r = api.post("/api/webhooks", json={"name": "n", "url": "http://127.0.0.1:9/h", "triggers": ["t" * 5000]})
    message = r.json()["error"]["message"]
    assert r.status_code == 422 and "triggers" in message and len(message) < 400


def test_unknown_webhook_ids_are_422_like_tag_ids(hooked, seeded):
    r = hooked.post("/api/links", json={"url": U, "webhookIds": ["wh_nope"]})
    assert r.status_code == 422 and "wh_nope" in r.json()["error"]["message"]
    r = hooked.patch(f"/api/links/{seeded['link']}", json={"webhookIds": [seeded["hook"], "wh_nope"]})
    assert r.status_code == 422
    r = hooked.patch("/api/links/bulk", json={"linkIds": [seeded["link"]], "data": {"webhookIds": ["wh_x"]}})
    assert r.status_code == 422
    r = hooked.post("/api/links/bulk", json=[{"url": U, "webhookIds": ["wh_nope"]}])
    assert r.status_code == 200 and r.json()[0]["code"] == "unprocessable_entity"
    assert hooked.get(f"/api/links/{seeded['link']}").json()["webhookIds"] == []
    r = hooked.patch(f"/api/links/{seeded['link']}", json={"webhookIds": [seeded["hook"]]})
    assert r.status_code == 200 and r.json()["webhookIds"] == [seeded["hook"]]


def test_redirect_status_as_a_whole_float_comes_back_as_an_integer(api):
    r = api.post("/api/links", content=b'{"url": "https://example.com", "redirectStatus": 308.0}')
    assert r.status_code == 200
    assert '"redirectStatus":308,' in r.text
    link_id = r.json()["id"]
    r = api.patch(f"/api/links/{link_id}", content=b'{"redirectStatus": 301.0}')
    assert '"redirectStatus":301,' in r.text
    assert api.post("/api/links", json={"url": U, "redirectStatus": 308.5}).status_code == 422


@pytest.mark.parametrize("params", [
    {"start": "0001-01-01T00:00:00+14:00"},
    {"end": "0001-01-01T00:00:00+14:00"},
    {"start": "9999-12-31T23:59:59-14:00"},
])
def test_dates_that_overflow_utc_are_422(api, params):
    r = api.get("/api/events", params=params)
    assert r.status_code == 422, r.text[:300]
    assert r.json()["error"]["code"] == "unprocessable_entity"


def test_link_expiry_that_overflows_utc_is_422(api):
    r = api.post("/api/links", json={"url": U, "expiresAt": "0001-01-01T00:00:00+14:00"})
    assert r.status_code == 422


def test_doc_url_does_not_echo_the_host_header(api):
    r = api.get("/api/links/link_nope", headers={"host": "evil.example"})
    assert r.status_code == 404
    assert r.json()["error"]["doc_url"] == "http://go.test/_/docs/errors#not-found"


def test_a_500_is_logged_once_and_answered_in_dubs_shape(api, core, monkeypatch, caplog):
    async def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(core.tags, "list", broken)
    with caplog.at_level(logging.ERROR):
        r = api.get("/api/tags")   # the test client re-raises anything the app lets escape
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_server_error"
    assert "boom" not in r.text
    logged = [rec for rec in caplog.records if rec.exc_info and "boom" in str(rec.exc_info[1])]
    assert len(logged) == 1


# -- numbers in the query string, as Dub's z.coerce.number() reads them ----------------------------

WHOLE_NUMBERS = [
    ("/api/qr", {"url": "https://go.test/x", "size": "600.0", "margin": "2.0"}),
    ("/api/qr", {"url": "https://go.test/x", "size": " 64 ", "margin": "0.0"}),
    ("/api/qr", {"url": "https://go.test/x", "size": "1e2"}),
    ("/api/links", {"page": "1.0", "pageSize": "10.0"}),
    ("/api/tags", {"page": "1.00", "pageSize": "5.0"}),
    ("/api/domains", {"page": "+1", "pageSize": "50.0"}),
    ("/api/customers", {"page": "1.0", "pageSize": "100.0"}),
    ("/api/events", {"page": "1.0", "limit": "10.0"}),
]

BAD_NUMBERS = [
    ("/api/qr", {"url": "https://go.test/x", "size": "600.5"}, "size"),
    ("/api/qr", {"url": "https://go.test/x", "margin": "two"}, "margin"),
    ("/api/qr", {"url": "https://go.test/x", "size": "Infinity"}, "size"),
    ("/api/qr", {"url": "https://go.test/x", "size": "1e400"}, "size"),
    ("/api/qr", {"url": "https://go.test/x", "size": "9" * 5000}, "size"),
    ("/api/links", {"page": "0.5"}, "page"),
    ("/api/links", {"pageSize": "nan"}, "pageSize"),
    ("/api/tags", {"page": "1,0"}, "page"),
    ("/api/events", {"limit": "1e9"}, "limit"),
]


def test_whole_number_floats_are_integers_in_the_query(api):
    wrong = [(path, params, r.text[:200]) for path, params in WHOLE_NUMBERS
             if (r := api.get(path, params=params)).status_code != 200]
    assert wrong == []


def test_bad_numbers_in_the_query_are_422_naming_the_parameter(api):
    wrong = []
    for path, params, field in BAD_NUMBERS:
        r = api.get(path, params=params)
        message = r.json()["error"]["message"] if r.status_code == 422 else ""
        if f": {field}: " not in message or len(message) >= 300:
            wrong.append((path, params, r.status_code, r.text[:200]))
    assert wrong == []


def _numeric_query_parameters() -> list[tuple[str, str, dict]]:
    """(path, name, schema) of every integer or number query parameter in our OpenAPI document."""
    from shortener.openapi import document

    out = []
    for path, ops in document()["paths"].items():
        for method, op in ops.items():
            if method != "get":
                continue
            for param in op.get("parameters", []):
                if param.get("in") == "query" and param["schema"].get("type") in ("integer", "number"):
                    out.append((path, param["name"], param["schema"]))
    return out


def test_every_numeric_query_parameter_of_the_api_reads_numbers_as_dub(api):
    """Whole-number floats (as the SDKs send them) are taken, fractions and text are 422 naming the
    parameter: for every numeric query parameter the OpenAPI document lists, not a hand-kept list."""
    hook = api.post("/api/webhooks", json={"name": "n", "url": "https://hooks.test/n", "triggers": ["link.created"]})
    ids = {"webhookId": hook.json()["id"]}
    required = {"/qr": {"url": "https://go.test/x"}}
    params = _numeric_query_parameters()
    assert {(p, n) for p, n, _ in params} >= {("/qr", "size"), ("/qr", "margin"), ("/links", "page"),
                                              ("/folders", "pageSize"), ("/events", "limit"),
                                              ("/webhooks/{webhookId}/deliveries", "limit")}
    wrong = []
    for path, name, schema in params:
        url = "/api" + path.format(**ids)
        low = max(schema.get("minimum", 1), 1)
        fraction = f"{low}.5"
        for value, ok in ((f"{low}.0", True), (f"{low}", True), (f"{low}e0", True), (f" {low}.00 ", True),
                          (fraction, False), ("abc", False), ("0x10", False), ("", True)):
            r = api.get(url, params={**required.get(path, {}), name: value})
            message = r.json().get("error", {}).get("message", "") if r.status_code != 200 else ""
            if ok and r.status_code != 200 or not ok and (r.status_code != 422 or f": {name}: " not in message):
                wrong.append((path, name, value, r.status_code, r.text[:120]))
    assert wrong == []


def test_sdk_qr_codes_get_works(dub, server):
    # the SDK sends size=600.0&margin=2.0 and hands back the body as text
    png = dub.qr_codes.get(request={"url": f"{server.url}/abc", "size": 600, "margin": 2})
    assert png[1:4] == "PNG"


# -- the body cap applies while the body arrives -----------------------------------------------------

MIB = 1024 * 1024


def test_an_oversized_chunked_body_is_refused_without_reading_it_all(client, api_key):
    """Calls the app directly with a body of 200 chunks of 1 MiB and no length, counting what it
    reads: the app must stop shortly after the 4 MiB cap."""
    app, state = client.app, client.app_state
    read = 0
    sent: list[dict] = []

    async def receive():
        nonlocal read
        read += MIB
        return {"type": "http.request", "body": b"x" * MIB, "more_body": read < 200 * MIB}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/links", "raw_path": b"/api/links", "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5000), "server": ("go.test", 80), "state": dict(state),
        "headers": [(b"host", b"go.test"), (b"authorization", f"Bearer {api_key}".encode()),
                    (b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
    }
    client.portal.call(app, scope, receive, send)
    assert sent[0]["status"] == 400
    assert read <= 5 * MIB
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert "too large" in body["error"]["message"]


def test_a_declared_oversized_body_is_refused_before_reading(client, api_key):
    read = 0
    sent: list[dict] = []

    async def receive():
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/track/lead", "raw_path": b"/api/track/lead", "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5000), "server": ("go.test", 80),
        "state": dict(client.app_state),
        "headers": [(b"host", b"go.test"), (b"authorization", f"Bearer {api_key}".encode()),
                    (b"content-length", str(200 * MIB).encode())],
    }
    client.portal.call(client.app, scope, receive, send)
    assert sent[0]["status"] == 400 and read == 0


def test_a_live_server_answers_a_200_mb_upload_early(live_server):
    """A real socket: the server answers while the client is still sending, long before 200 MB."""
    import socket
    import select

    server = live_server()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(30)
    sock.sendall((f"POST /api/links HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                  f"Authorization: Bearer {server.key}\r\nContent-Type: application/json\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n").encode())
    chunk = b"%x\r\n" % (64 * 1024) + b"x" * (64 * 1024) + b"\r\n"
    sent = 0
    answer = b""
    try:
        while sent < 200 * MIB:
            readable, writable, _ = select.select([sock], [sock], [], 10)
            if readable:
                answer = sock.recv(65536)
                break
            if not writable:
                break
            sock.sendall(chunk)
            sent += 64 * 1024
    except (BrokenPipeError, ConnectionResetError):
        pass
    if not answer:
        answer = sock.recv(65536)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    # 4 MiB for the cap plus what the kernel's socket buffers hold
    assert sent < 40 * MIB, sent


# -- one behaviour for a cursor that names nothing ---------------------------------------------------

def test_an_unknown_cursor_gives_an_empty_page_on_every_list(api):
    from conversion_support import lead, new_link, visit

    older = new_link(api, key="cur")
    newer = new_link(api, key="cur2")
    assert lead(api, visit(api, "cur"), "c1").status_code == 200
    assert len(api.get("/api/links").json()) == 2 and len(api.get("/api/customers").json()) == 1
    for path in ("/api/links", "/api/customers"):
        for name in ("startingAfter", "endingBefore"):
            for cursor in ("x", "link_0000000000000000000000000", "cus_ZZZZZZZZZZZZZZZZZZZZZZZZZ"):
                r = api.get(path, params={name: cursor})
                assert r.status_code == 200 and r.json() == [], (path, name, cursor, r.text[:200])
    # a known cursor still pages
    page = api.get("/api/links", params={"startingAfter": newer["id"]}).json()
    assert [link["id"] for link in page] == [older["id"]]
    doc = api.get("/api/openapi.json").json()
    for path in ("/links", "/customers"):
        params = {p["name"]: p for p in doc["paths"][path]["get"]["parameters"]}
        for name in ("startingAfter", "endingBefore"):
            assert "empty list (200)" in params[name]["description"], (path, name)
