"""GET /api/openapi.json: a valid OpenAPI 3.1 document that stays true to the app.

"True" is checked three ways: the routes registered in the app and the documented paths are the
same set with the same methods (and the same auth), real responses validate against the documented
schemas, and the documented models carry every field the official Dub SDK reads or sends.
"""
from __future__ import annotations

import inspect
import re

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi
from starlette.routing import Mount, Route

from shortener.analytics import GROUP_BYS, TIME_PARAMS
from shortener.eventfilters import FIELDS
from shortener.openapi import document
from shortener.web.app import api_routes

DOC = document()
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _normalise(path: str) -> str:
    # the app names path parameters its own way ({link_id}, {id:path}); the document uses Dub's names
    return re.sub(r"\{[^}]*\}", "{}", path)


def _app_operations() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}

    def walk(routes, prefix: str) -> None:
        for route in routes:
            if isinstance(route, Mount):
                walk(route.routes, prefix + route.path)
            elif isinstance(route, Route):
                methods = {m.lower() for m in (route.methods or {"GET"})} - {"head"}
                found.setdefault(_normalise(prefix + route.path), set()).update(methods)

    walk(api_routes(), "")
    return found


def _doc_operations() -> dict[str, set[str]]:
    return {_normalise(path): {m for m in item if m in HTTP_METHODS} for path, item in DOC["paths"].items()}


def _operation(method: str, path: str) -> dict:
    """The documented operation answering `method path` (path under /api, with real values)."""
    for doc_path, item in DOC["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(doc_path)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            # literal paths (/links/info) win over templated ones (/links/{linkId})
            if "{" in doc_path and path in DOC["paths"]:
                continue
            return item[method.lower()]
    raise AssertionError(f"{method} {path} is not documented")


def _resolve(obj: dict) -> dict:
    while "$ref" in obj:
        section, name = obj["$ref"].split("/")[-2:]
        obj = DOC["components"][section][name]
    return obj


def _strict(node):
    """The schemas with additionalProperties: false wherever properties are listed, so a response field
    the document does not mention fails validation (the served document stays open for extensions)."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


STRICT_COMPONENTS = _strict(DOC["components"])


def assert_documented(response, method: str, path: str) -> None:
    """The response's status is documented for the operation and its JSON body fits the schema."""
    operation = _operation(method, path)
    status = str(response.status_code)
    documented = operation["responses"]
    assert status in documented, f"{method} {path} answered {status}, documented: {sorted(documented)}"
    content = _resolve(documented[status]).get("content", {})
    if not content and not response.content:
        return  # a documented empty answer (204)
    media_type = response.headers["content-type"].split(";")[0]
    assert media_type in content, f"{method} {path} {status} answered {media_type}, documented: {list(content)}"
    if media_type == "application/json":
        schema = {**content[media_type]["schema"], "components": STRICT_COMPONENTS}
        jsonschema.Draft202012Validator(schema).validate(response.json())


# --- the document itself ------------------------------------------------------------------------


def test_served_document_is_valid_openapi_31(client):
    r = client.get("/api/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    served = r.json()
    validate_openapi(served)
    assert served["openapi"] == "3.1.0"
    assert served["servers"] == [{"url": "http://go.test/api",
                                  "description": "The API under /api/ on the default short domain"}]
    assert served["paths"] == DOC["paths"] and served["components"] == DOC["components"]


def test_document_is_public_and_names_the_api_host(settings, tmp_path):
    from starlette.testclient import TestClient

    from shortener.web.app import create_app

    app = create_app(settings.replace(api_host="api.go.test", scheme="https"))
    with TestClient(app, base_url="http://api.go.test") as c:
        r = c.get("/openapi.json")  # the API host serves the API at its root
    assert r.status_code == 200
    assert [s["url"] for s in r.json()["servers"]] == ["https://go.test/api", "https://api.go.test"]


def test_every_operation_has_a_unique_id_and_a_documented_error_body():
    ids = [op["operationId"] for item in DOC["paths"].values() for m, op in item.items() if m in HTTP_METHODS]
    assert len(ids) == len(set(ids))
    for item in DOC["paths"].values():
        for method, op in ((m, op) for m, op in item.items() if m in HTTP_METHODS):
            assert "500" in op["responses"], op["operationId"]
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    body = _resolve(response)["content"]["application/json"]["schema"]
                    assert _resolve(body)["properties"]["error"]["required"] == ["code", "message", "doc_url"]


def test_bearer_security_is_declared():
    assert DOC["components"]["securitySchemes"]["bearerToken"] == {
        **DOC["components"]["securitySchemes"]["bearerToken"], "type": "http", "scheme": "bearer"}
    assert DOC["security"] == [{"bearerToken": []}]


# --- kept true: the app's routes and the documented paths are the same ---------------------------


def test_every_app_route_is_documented_with_its_methods():
    documented = _doc_operations()
    undocumented = {path: methods - documented.get(path, set())
                    for path, methods in _app_operations().items() if methods - documented.get(path, set())}
    assert undocumented == {}


def test_every_documented_path_exists_in_the_app():
    served = _app_operations()
    missing = {path: methods - served.get(path, set())
               for path, methods in _doc_operations().items() if methods - served.get(path, set())}
    assert missing == {}


# How route handlers read query parameters: query_int(request, "page", ...), _choice(request, ...),
# request.query_params.get("x"), q.get("x") with q = request.query_params.
_PARAM_READS = (re.compile(r'\(\s*request\s*,\s*"([A-Za-z_]+)"'),
                re.compile(r'(?:query_params|\bq)\.(?:get|getlist)\(\s*"([A-Za-z_]+)"'))


def _query_params_read(fn, seen: set | None = None) -> set[str]:
    """Query parameter names a handler reads, following the module-level helpers it calls."""
    seen = set() if seen is None else seen
    fn = inspect.unwrap(fn)
    if fn in seen:
        return set()
    seen.add(fn)
    source = inspect.getsource(fn)
    names = {name for pattern in _PARAM_READS for name in pattern.findall(source)}
    # The analytics parser reads the filters and the time range for /analytics and /events.
    if "parse_request(" in source or ".analytics.retrieve(" in source:
        names |= set(TIME_PARAMS) | set(FIELDS)
    if ".analytics.retrieve(" in source:
        names |= {"event", "groupBy"}
    for helper in re.findall(r"\b(_[a-z_]+|query_[a-z_]+)\(", source):  # query_page reads page, pageSize
        obj = fn.__globals__.get(helper)
        if inspect.isfunction(obj):
            names |= _query_params_read(obj, seen)
    return names


def _handlers():
    for route in api_routes():
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            yield pytest.param(route, method.lower(), id=f"{method} {route.path}")


@pytest.mark.parametrize("route, method", list(_handlers()))
def test_documented_query_parameters_are_the_ones_read(route, method):
    path = next(p for p in DOC["paths"] if _normalise(p) == _normalise(route.path))
    item = DOC["paths"][path]
    params = item.get("parameters", []) + item[method].get("parameters", [])
    documented = {p["name"] for p in params if p["in"] == "query"}
    assert documented == _query_params_read(route.endpoint)


def _operations():
    for path, item in DOC["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield pytest.param(method, path, op, id=f"{method.upper()} {path}")


@pytest.mark.parametrize("method, path, op", list(_operations()))
def test_documented_auth_is_enforced(client, method, path, op):
    """Operations under bearer security answer 401 without a key; public ones (no security, or
    an empty alternative: the key is optional) never do."""
    url = "/api" + re.sub(r"\{[^}]*\}", "nope", path)
    r = client.request(method.upper(), url)
    if op.get("security") == [] or {} in op.get("security", ()):
        assert r.status_code != 401
    else:
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert r.status_code < 500
    assert_documented(r, method, url[len("/api"):])


# --- kept true: real responses fit the documented schemas -----------------------------------------


def test_created_link_fits_the_link_schema(api):
    body = {"url": "https://example.com/page", "key": "docs", "externalId": "e-1", "tagNames": ["a"],
            "password": "s3cret", "expiresAt": "2030-01-01T00:00:00.000Z", "geo": {"US": "https://us.example"},
            "utm_source": "news", "redirectStatus": 308, "title": "T", "comments": "c"}
    r = api.post("/api/links", json=body)
    assert r.status_code == 200, r.text
    assert_documented(r, "POST", "/links")
    link = r.json()
    assert link["password"] is None and link["passwordProtected"] is True
    for method, path in (("GET", f"/links/info?linkId={link['id']}"), ("GET", "/links"),
                         ("PATCH", f"/links/{link['id']}")):
        r = api.request(method, "/api" + path, json={"comments": "d"} if method == "PATCH" else None)
        assert r.status_code == 200, r.text
        assert_documented(r, method, path.split("?")[0])


def test_bulk_and_count_fit_their_schemas(api):
    r = api.post("/api/links/bulk", json=[{"url": "https://a.example"}, {"url": "javascript:alert(1)"}])
    assert r.status_code == 200, r.text
    assert_documented(r, "POST", "/links/bulk")
    first, second = r.json()
    assert first["url"].startswith("https://a.example") and second["code"] == "unprocessable_entity"
    r = api.get("/api/links/count")
    assert r.status_code == 200 and r.json() == 1
    assert_documented(r, "GET", "/links/count")


def test_tags_and_domains_fit_their_schemas(api):
    r = api.post("/api/tags", json={"name": "news", "color": "blue"})
    assert r.status_code == 201, r.text
    assert_documented(r, "POST", "/tags")
    r = api.get("/api/tags")
    assert r.status_code == 200 and [t["name"] for t in r.json()] == ["news"]
    assert_documented(r, "GET", "/tags")
    r = api.get("/api/domains")
    assert r.status_code == 200 and {d["slug"] for d in r.json()} == {"go.test", "other.test"}
    assert_documented(r, "GET", "/domains")


@pytest.mark.parametrize("method, path, body, status, code", [
    ("POST", "/links", {"url": "javascript:alert(1)"}, 422, "unprocessable_entity"),
    ("POST", "/links", b"{not json", 400, "bad_request"),
    ("GET", "/links/info?linkId=link_missing", None, 404, "not_found"),
    ("DELETE", "/links/link_missing", None, 404, "not_found"),
    ("POST", "/tags", {"name": "x", "color": "octarine"}, 422, "unprocessable_entity"),
    ("POST", "/track/lead", {"clickId": "0000000000000000", "eventName": "Sign up", "customerExternalId": "u1"},
     404, "not_found"),
])
def test_errors_fit_the_documented_error_body(api, method, path, body, status, code):
    kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
    r = api.request(method, "/api" + path, **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert_documented(r, method, path.split("?")[0])


def test_qr_code_is_documented_as_an_image(client):
    r = client.get("/api/qr", params={"url": "https://go.test/abc"})
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
    assert_documented(r, "GET", "/qr")


def test_reference_examples_fit_the_schemas():
    # the response example of shared/reference/dub-api-track-lead.txt
    lead = {
        "click": {"id": "cm2xyz123abc"},
        "link": {"id": "clx1y2z3a4b5c6d7e8f9", "domain": "dub.sh", "key": "example",
                 "shortLink": "https://dub.sh/example", "url": "https://example.com", "partnerId": None,
                 "programId": None, "tenantId": None, "externalId": None},
        "customer": {"name": "John Doe", "email": "john@example.com", "avatar": None, "externalId": "user_123456"},
    }
    schema = {"$ref": "#/components/schemas/TrackLeadResponse", "components": DOC["components"]}
    jsonschema.Draft202012Validator(schema).validate(lead)
    jsonschema.Draft202012Validator(schema).validate({**lead, "link": None})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate({"click": {"id": "x"}, "customer": lead["customer"]})


# --- kept true: the documented models carry every field the official SDK reads or sends -----------


# document schema -> (SDK module, model name); request models list what the SDK may send
SDK_MODELS = {
    "Link": ("components", "LinkSchema"),
    "LinkTag": ("components", "LinkTagSchemaOutput"),
    "LinkError": ("components", "LinkErrorSchema"),
    "Domain": ("components", "DomainSchema"),
    "DomainStatus": ("operations", "CheckDomainStatusResponseBody"),
    "Folder": ("components", "FolderSchema"),
    "FolderCreate": ("operations", "CreateFolderRequestBody"),
    "FolderUpdate": ("operations", "UpdateFolderRequestBody"),
    "Customer": ("operations", "GetCustomerResponseBody"),
    "TrackLeadResponse": ("operations", "TrackLeadResponseBody"),
    "TrackSaleResponse": ("operations", "TrackSaleResponseBody"),
    "Click": ("operations", "ListEventsResponseBodyClick"),
    "LinkCreate": ("operations", "CreateLinkRequestBody"),
    "LinkUpdate": ("operations", "UpdateLinkRequestBody"),
    "LinkBulkUpdate": ("operations", "Data"),
    "TagCreate": ("operations", "CreateTagRequestBody"),
    "TagUpdate": ("operations", "UpdateTagRequestBody"),
    "DomainCreate": ("operations", "CreateDomainRequestBody"),
    "DomainUpdate": ("operations", "UpdateDomainRequestBody"),
    "TrackLeadRequest": ("operations", "TrackLeadRequestBody"),
    "TrackSaleRequest": ("operations", "TrackSaleRequestBody"),
    "CustomerUpdate": ("operations", "UpdateCustomerRequestBody"),
    "LinkWebhookEvent": ("components", "LinkWebhookEvent"),
    "LinkClickedEvent": ("components", "LinkClickedEvent"),
    "LinkClickedEventData": ("components", "LinkClickedEventData"),
    "LeadCreatedEvent": ("components", "LeadCreatedEvent"),
    "LeadCreatedEventData": ("components", "LeadCreatedEventData"),
    "SaleCreatedEvent": ("components", "SaleCreatedEvent"),
    "SaleCreatedEventData": ("components", "SaleCreatedEventData"),
}
@pytest.mark.parametrize("name", sorted(SDK_MODELS))
def test_schema_covers_the_sdk_model(name):
    import importlib

    module, model_name = SDK_MODELS[name]
    model = getattr(importlib.import_module(f"dub.models.{module}"), model_name)
    fields = {f.alias or n: f for n, f in model.model_fields.items()}
    schema = DOC["components"]["schemas"][name]
    assert set(fields) - set(schema["properties"]) == set()
    required = {n for n, f in fields.items() if f.is_required()}
    assert required - set(schema.get("required", [])) == set()


# --- kept true: every documented operation's success answer, from a real request ------------------


@pytest.fixture
def tour(settings):
    """A client on a server that accepts loopback webhook URLs, recording which operations answered 2xx."""
    from starlette.testclient import TestClient

    from shortener.web.app import create_app

    app = create_app(settings.replace(webhook_allow_private=True, track_allowed_hostnames=("shop.example",)))
    with TestClient(app, base_url="http://go.test", follow_redirects=False) as c:
        core = c.app_state["core"]
        _, key = c.portal.call(lambda: core.api_keys.create("tour"))
        _, pk = c.portal.call(lambda: core.api_keys.create("tour-site", publishable=True))
        c.click_headers = {"Authorization": f"Bearer {pk}", "Origin": "https://shop.example"}
        c.headers["Authorization"] = f"Bearer {key}"
        c.flush_clicks = lambda: c.portal.call(core.clicks.flush)
        c.seen = set()

        def call(method: str, path: str, status: int, **kwargs):
            r = c.request(method, "/api" + path, **kwargs)
            assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text[:300]}"
            plain = path.split("?")[0]
            if "json" in kwargs:  # what we sent is what the document says a client may send
                body_schema = _operation(method, plain)["requestBody"]["content"]["application/json"]["schema"]
                jsonschema.Draft202012Validator({**body_schema, "components": STRICT_COMPONENTS}).validate(
                    kwargs["json"])
            assert_documented(r, method, plain)
            c.seen.add(_operation(method, plain)["operationId"])
            return r.json() if r.headers.get("content-type", "").startswith("application/json") else r

        c.call = call
        yield c


def test_every_documented_operation_answers_as_documented(tour):
    call = tour.call
    tag = call("POST", "/tags", 201, json={"name": "promo", "color": "green"})
    tag = call("PATCH", f"/tags/{tag['id']}", 200, json={"color": "red"})
    call("PUT", f"/tags/{tag['id']}", 200, json={"name": "promo2"})
    call("GET", "/tags?sortBy=createdAt", 200)

    domain = call("POST", "/domains", 201, json={"slug": "third.test", "notFoundUrl": "https://example.com/404"})
    call("PATCH", "/domains/third.test", 200, json={"expiredUrl": "https://example.com/gone"})
    call("PUT", "/domains/third.test", 200, json={"placeholder": "https://example.com"})
    call("GET", "/domains", 200)
    assert domain["slug"] == "third.test"
    assert call("GET", "/domains/status?domains=third.test,free.test", 200) == [
        {"domain": "third.test", "available": False, "premium": None, "prices": None, "price": None},
        {"domain": "free.test", "available": True, "premium": None, "prices": None, "price": None}]

    folder = call("POST", "/folders", 201, json={"name": "Campaigns", "description": "spring"})
    call("PATCH", f"/folders/{folder['id']}", 200, json={"accessLevel": "read"})
    call("PUT", f"/folders/{folder['id']}", 200, json={"name": "Campaigns 2026"})
    call("GET", f"/folders/{folder['id']}", 200)
    call("GET", "/folders?search=camp", 200)

    link = call("POST", "/links", 200, json={"url": "https://example.com/a", "key": "tour", "externalId": "t-1",
                                             "tagIds": [tag["id"]], "trackConversion": True,
                                             "folderId": folder["id"]})
    call("GET", f"/links/{link['id']}", 200)
    call("GET", "/links/ext_t-1", 200)
    call("GET", "/links/info?domain=go.test&key=tour", 200)
    call("PATCH", f"/links/{link['id']}", 200, json={"title": "Tour"})
    call("PUT", f"/links/{link['id']}", 200, json={"description": "put"})
    call("PUT", "/links/upsert", 200, json={"url": "https://example.com/a", "comments": "upserted"})
    call("GET", "/links?withTags=true&sortBy=clicks", 200)
    assert call("GET", "/links/count?groupBy=domain", 200) == [{"domain": "go.test", "_count": 1}]
    bulk = call("POST", "/links/bulk", 200, json=[{"url": "https://example.com/b"}, {"url": "https://example.com/c"}])
    call("PATCH", "/links/bulk", 200, json={"linkIds": [b["id"] for b in bulk], "data": {"archived": True}})
    assert call("DELETE", f"/links/bulk?linkIds={bulk[0]['id']},{bulk[1]['id']}", 200) == {"deletedCount": 2}

    hook = call("POST", "/webhooks", 201, json={"name": "tour", "url": "http://127.0.0.1:9/hook",
                                                "triggers": ["lead.created", "sale.created"]})
    call("GET", "/webhooks", 200)
    call("GET", f"/webhooks/{hook['id']}", 200)
    call("PATCH", f"/webhooks/{hook['id']}", 200, json={"name": "tour2"})
    call("POST", f"/webhooks/{hook['id']}/rotate-secret", 200)

    visit = tour.get("/tour", headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"})
    assert visit.status_code in (301, 302, 307, 308), visit.text
    click_id = visit.cookies["dub_id"]
    tour.flush_clicks()
    lead = call("POST", "/track/lead", 200, json={"clickId": click_id, "eventName": "Sign up",
                                                  "customerExternalId": "cust-1", "mode": "wait"})
    assert lead["link"]["id"] == link["id"]
    sale = call("POST", "/track/sale", 200, json={"customerExternalId": "cust-1", "amount": 1999,
                                                  "invoiceId": "inv-1"})
    assert sale["sale"]["amount"] == 1999
    customers = call("GET", "/customers?includeExpandedFields=true", 200)
    customer_id = customers[0]["id"]
    call("GET", f"/customers/{customer_id}", 200)
    call("PATCH", f"/customers/{customer_id}", 200, json={"name": "Ada"})
    for kind in ("clicks", "leads", "sales"):
        events = call("GET", f"/events?event={kind}&interval=24h", 200)
        assert len(events) == 1, kind
    for group_by in GROUP_BYS:
        for event in ("clicks", "composite"):
            call("GET", f"/analytics?event={event}&groupBy={group_by}&interval=24h&timezone=Europe/Berlin", 200)
    assert call("GET", "/analytics?event=composite", 200) == {"clicks": 1, "leads": 1, "sales": 1, "saleAmount": 1999}
    call("GET", "/webhooks/{hook['id']}/deliveries".replace("{hook['id']}", hook["id"]), 200)
    click = call("POST", "/track/click", 200, json={"domain": "go.test", "key": "tour"}, headers=tour.click_headers)
    assert len(click["clickId"]) == 16 and click["link"]["id"] == link["id"]
    call("OPTIONS", "/track/click", 204, headers={"Origin": "https://shop.example"})
    call("GET", "/qr?url=https://go.test/tour&format=svg", 200)
    call("GET", "/qr?url=https://go.test/tour", 200)
    call("GET", "/openapi.json", 200)

    call("DELETE", f"/customers/{customer_id}", 200)
    call("DELETE", f"/webhooks/{hook['id']}", 200)
    call("DELETE", f"/links/{link['id']}", 200)
    call("DELETE", f"/tags/{tag['id']}", 200)
    call("DELETE", f"/folders/{folder['id']}", 200)
    call("DELETE", "/domains/third.test", 200)

    documented = {op["operationId"] for item in DOC["paths"].values() for m, op in item.items() if m in HTTP_METHODS}
    assert documented - tour.seen == set()


# --- kept true: every documented request field is one the server reads -----------------------------

# Fields the SDK sends that we accept and ignore (documented as such), and deprecated aliases whose
# errors name the field they stand for.
IGNORED_FIELDS: set[str] = set()
ALIASES = {"tag": "name"}


def _wrong_value(schema: dict):
    """A JSON value of a type the schema does not allow."""
    options = schema.get("anyOf", [schema])
    types: set[str] = set()
    for option in options:
        t = option.get("type")
        types |= set(t if isinstance(t, list) else [t])
    return 12345 if "boolean" in types else True


def _refs(node) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _probe_targets(client) -> dict[str, tuple[str, str, dict]]:
    """Schema name -> (method, path, a valid body) for every documented request body schema."""
    link = client.post("/api/links", json={"url": "https://example.com/p", "key": "probe"}).json()
    tag = client.post("/api/tags", json={"name": "probe"}).json()
    client.post("/api/domains", json={"slug": "probe.test"})
    hook = client.post("/api/webhooks", json={"name": "p", "url": "http://127.0.0.1:9/",
                                              "triggers": ["lead.created"]}).json()
    click_id = client.get("/probe").cookies["dub_id"]
    client.flush_clicks()
    lead = client.post("/api/track/lead", json={"clickId": click_id, "eventName": "e", "customerExternalId": "c1"})
    assert lead.status_code == 200, lead.text
    customer = client.get("/api/customers").json()[0]
    folder = client.post("/api/folders", json={"name": "probe"}).json()
    return {
        "TrackClickRequest": ("POST", "/api/track/click", {"domain": "go.test", "key": "probe"}),
        "FolderCreate": ("POST", "/api/folders", {"name": "f2"}),
        "FolderUpdate": ("PATCH", f"/api/folders/{folder['id']}", {}),
        "LinkCreate": ("POST", "/api/links", {"url": "https://example.com"}),
        "LinkUpdate": ("PATCH", f"/api/links/{link['id']}", {}),
        "LinkBulkUpdate": ("PATCH", "/api/links/bulk", {"linkIds": [link["id"]]}),
        "TagCreate": ("POST", "/api/tags", {"name": "t2"}),
        "TagUpdate": ("PATCH", f"/api/tags/{tag['id']}", {}),
        "DomainCreate": ("POST", "/api/domains", {"slug": "new.test"}),
        "DomainUpdate": ("PATCH", "/api/domains/probe.test", {}),
        "TrackLeadRequest": ("POST", "/api/track/lead", {"clickId": click_id, "eventName": "e2",
                                                         "customerExternalId": "c2"}),
        "TrackSaleRequest": ("POST", "/api/track/sale", {"customerExternalId": "c1", "amount": 100}),
        "CustomerUpdate": ("PATCH", f"/api/customers/{customer['id']}", {}),
        "WebhookCreate": ("POST", "/api/webhooks", {"name": "w", "url": "http://127.0.0.1:9/",
                                                    "triggers": ["lead.created"]}),
        "WebhookUpdate": ("PATCH", f"/api/webhooks/{hook['id']}", {}),
    }


def test_every_documented_request_field_is_read(tour):
    """A value of the wrong type in any documented field is refused with a 422 naming that field,
    so the document lists no field the server silently drops (besides the ignored A/B fields)."""
    targets = _probe_targets(tour)
    documented_bodies = {ref.split("/")[-1] for item in DOC["paths"].values() for m, op in item.items()
                         if m in HTTP_METHODS and "requestBody" in op for ref in _refs(op["requestBody"])}
    assert documented_bodies == set(targets)
    unread = []
    for name, (method, path, base) in targets.items():
        for field, schema in DOC["components"]["schemas"][name]["properties"].items():
            if field in IGNORED_FIELDS:
                continue
            body = {**{k: v for k, v in base.items() if k != ALIASES.get(field)}, field: _wrong_value(schema)}
            if name == "LinkBulkUpdate":
                body = {**base, "data": {field: _wrong_value(schema)}}
            headers = tour.click_headers if name == "TrackClickRequest" else None
            r = tour.request(method, path, json=body, headers=headers)
            if r.status_code != 422 or f": {ALIASES.get(field, field)}:" not in r.json()["error"]["message"]:
                unread.append((name, field, r.status_code, r.text[:120]))
    assert unread == []


# --- kept true: malformed input gets a documented 4xx, never a 500 ---------------------------------


def _bad_query_value(schema: dict) -> str | None:
    t = schema.get("type")
    if "enum" in schema:
        return "zzz"
    if t == "integer":
        return "abc"
    if t == "boolean":
        return "maybe"
    return None


def _malformed_requests():
    for path, item in DOC["paths"].items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            url = "/api" + re.sub(r"\{[^}]*\}", "nope", path)
            if "requestBody" in op:
                yield pytest.param(method, url, {"content": b"{bad json"}, id=f"{method.upper()} {path} bad JSON")
                yield pytest.param(method, url, {"json": {}}, id=f"{method.upper()} {path} empty object")
                yield pytest.param(method, url, {"json": [1, "x"]}, id=f"{method.upper()} {path} wrong shape")
            for param in op.get("parameters", []):
                bad = _bad_query_value(param["schema"])
                if param["in"] == "query" and bad is not None:
                    yield pytest.param(method, f"{url}?{param['name']}={bad}", {},
                                       id=f"{method.upper()} {path} {param['name']}={bad}")


@pytest.mark.parametrize("method, url, kwargs", list(_malformed_requests()))
def test_malformed_requests_get_a_documented_error(api, method, url, kwargs):
    r = api.request(method.upper(), url, **kwargs)
    if r.status_code == 200 and url.endswith("/links/bulk"):
        assert all(item["code"] == "unprocessable_entity" for item in r.json())  # per-item errors, as Dub
    else:
        assert 400 <= r.status_code < 500, r.text
    assert_documented(r, method, url[len("/api"):].split("?")[0])


# --- kept true: the webhook payloads we send fit the document's top-level `webhooks` ---------------


class _Receiver:
    """A webhook receiver on loopback collecting (headers, body) per delivery."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.deliveries: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, events: set[str], timeout: float = 10.0) -> dict[str, list[dict]]:
        import json
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got: dict[str, list[dict]] = {}
            for _, body in self.deliveries:
                payload = json.loads(body)
                got.setdefault(payload["event"], []).append(payload)
            if events <= set(got):
                return got
            time.sleep(0.05)
        raise AssertionError(f"deliveries seen: {sorted(got)}, waited for {sorted(events)}")


def test_webhook_payloads_fit_the_documented_webhooks(tour):
    import hashlib
    import hmac

    receiver = _Receiver()
    try:
        link = tour.call("POST", "/links", 200, json={"url": "https://example.com/w", "key": "hooked"})
        hook = tour.call("POST", "/webhooks", 201, json={
            "name": "all", "url": receiver.url, "triggers": list(DOC["webhooks"]), "linkIds": [link["id"]]})
        tour.call("POST", "/links", 200, json={"url": "https://example.com/w2"})
        tour.call("PATCH", f"/links/{link['id']}", 200, json={"title": "Hooked"})
        click_id = tour.get("/hooked").cookies["dub_id"]
        tour.flush_clicks()
        tour.call("POST", "/track/lead", 200, json={"clickId": click_id, "eventName": "Sign up",
                                                    "customerExternalId": "w1"})
        tour.call("POST", "/track/sale", 200, json={"customerExternalId": "w1", "amount": 500})
        tour.call("DELETE", f"/links/{link['id']}", 200)
        got = receiver.wait_for(set(DOC["webhooks"]))
    finally:
        receiver.server.shutdown()

    for trigger, payloads in got.items():
        operation = DOC["webhooks"][trigger]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        for payload in payloads:
            jsonschema.Draft202012Validator({**schema, "components": STRICT_COMPONENTS}).validate(payload)
            assert payload["event"] == trigger
    secret = tour.call("GET", f"/webhooks/{hook['id']}", 200)["secret"].encode()
    for headers, body in receiver.deliveries:
        assert headers["dub-signature"] == hmac.new(secret, body, hashlib.sha256).hexdigest()
