"""A bad-input run against a live server: every endpoint, every field, every kind of hostile value.

Requests are built from the OpenAPI document, so a new endpoint or field is covered without
touching this file. For each operation the run makes:
- body variants: one field at a time replaced by a hostile JSON value (lone surrogates, NUL,
  300-digit and overflowing numbers, 100,000-character strings, deep nesting, a surrogate as a
  key, and every wrong type), plus whole-body attacks (invalid UTF-8 surrogate bytes, a raw NUL,
  100,000 nested brackets, a 10 MB body, empty, the wrong JSON type);
- query variants: each parameter percent-encoded as surrogate bytes, NUL, invalid UTF-8,
  overlong numbers, long strings;
- path variants: every id replaced by the same hostile text.
The variants of all operations are interleaved, so a run of any length is spread over every
endpoint. Short links get the same treatment (the redirect, the password form).

`run(server_url, key, total)` answers a Counts; tests/test_bad_input.py runs a short version and
bench/bad_input.py the long one (at least 10,000 requests).
"""
from __future__ import annotations

import asyncio
import collections
import itertools
import json
import random
from dataclasses import dataclass, field, replace
from typing import Iterator
from urllib.parse import quote

import httpx

from shortener.openapi import document

DOC = document()
TEN_MB = 10 * 1024 * 1024

# JSON text of the values planted in a field (JSON text, so lone surrogates stay \u escapes)
FIELD_VALUES = [
    '"\\ud800"', '"a\\udfffb"', '"\\udc00\\ud800"', '"\\u0000"', '"x\\u0000y"',
    "9" * 300, "-" + "9" * 300, "1" + "0" * 309, "1e400", "-1e400", "0.1e-400",
    '"' + "9" * 300 + '"', '"' + "z" * 100_000 + '"',
    "[" * 5000 + "]" * 5000, '{"a":' * 2000 + "1" + "}" * 2000,
    '{"\\ud800": 1}', '["\\ud800"]', '[{"\\u0000": "\\ud800"}]',
    "[]", "{}", "true", "false", "null", '"x"', "1", "-1", "1.5", '""',
]
# raw query/path text (already percent-encoded)
QUERY_VALUES = [
    "%ED%A0%80", "a%ED%BF%BFb", "%00", "a%00b", "%FF%FE", "%C0%80", "9" * 300, "-" + "9" * 300,
    "1e400", "z" * 6000, "%5B%5D", "true", "-1", "",
]
PATH_VALUES = ["%ED%A0%80", "%00", "x%00y", "%FF", "9" * 300, "z" * 3000, "ext_%ED%A0%80", "ext_%00"]


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = DOC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _properties(schema: dict) -> dict:
    schema = _resolve(schema)
    props = dict(schema.get("properties", {}))
    for part in schema.get("allOf", []) + schema.get("anyOf", []) + schema.get("oneOf", []):
        props.update(_properties(part))
    if schema.get("type") == "array" and "items" in schema:
        return _properties(schema["items"])
    return props


# A plausible value per field name, so a variant's other fields pass and the hostile one is reached.
PLAUSIBLE = {
    "url": "https://example.com/x", "image": "https://example.com/i.png", "video": "https://example.com/v.mp4",
    "ios": "https://example.com/ios", "android": "https://example.com/a", "expiredUrl": "https://example.com/e",
    "notFoundUrl": "https://example.com/n", "logo": "https://example.com/l.png",
    "customerEmail": "a@b.test", "email": "a@b.test", "avatar": "https://example.com/a.png",
    "customerAvatar": "https://example.com/a.png", "amount": 100, "currency": "usd", "mode": "wait",
    "eventQuantity": 1, "eventName": "Sign up", "color": "red", "name": "n", "slug": "bad.test",
    "triggers": ["lead.created"], "redirectStatus": 302, "keyLength": 7, "expiresAt": "2030-01-01T00:00:00.000Z",
    "geo": {"US": "https://example.com/us"}, "metadata": {"a": 1}, "webhookIds": [], "tagIds": [],
    "tagNames": [], "linkIds": [], "paymentProcessor": "stripe",
}


def _plausible(name: str, schema: dict):
    if name in PLAUSIBLE:
        return PLAUSIBLE[name]
    schema = _resolve(schema)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if "enum" in schema:
        return next(v for v in schema["enum"] if v is not None)
    return {"string": "x", "integer": 1, "number": 1, "boolean": False, "array": [], "object": {}}.get(kind, "x")


@dataclass
class Operation:
    method: str
    path: str  # with {param} placeholders
    query: list[str]
    fields: dict  # body field -> schema
    body_is_list: bool = False
    has_body: bool = False


def operations() -> list[Operation]:
    found = []
    for path, item in DOC["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            query = [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            fields, is_list = {}, False
            if body is not None:
                resolved = _resolve(body)
                is_list = resolved.get("type") == "array"
                fields = _properties(body)
            found.append(Operation(method.upper(), path, query, fields, is_list, body is not None))
    return found


@dataclass
class Request:
    label: str
    method: str
    url: str
    body: bytes | None = None
    content_type: str = "application/json"
    auth: bool = True


def _fill(path: str, ids: dict[str, str], hostile: str | None = None) -> str:
    out = path
    while "{" in out:
        start = out.index("{")
        end = out.index("}", start)
        name = out[start + 1:end]
        real = ids.get(path[:path.index("}") + 1], ids.get(name, "missing"))
        value = hostile if hostile is not None else quote(real, safe="")
        out = out[:start] + value + out[end + 1:]
    return out


def _base_body(op: Operation) -> dict:
    return {name: _plausible(name, schema) for name, schema in op.fields.items()}


def _body_text(op: Operation, base: dict, field_name: str | None, value: str) -> bytes:
    parts = []
    for name, v in base.items():
        text = value if name == field_name else json.dumps(v)
        parts.append(f"{json.dumps(name)}:{text}")
    obj = "{" + ",".join(parts) + "}"
    return (f"[{obj}]" if op.body_is_list else obj).encode("utf-8")


WHOLE_BODIES = [
    b'{"url": "https://example.com/\xed\xa0\x80", "name": "\xed\xbf\xbf", "eventName": "\xed\xa0\x80"}',
    b'{"url": "https://example.com/a\x00b", "name": "a\x00b"}',
    b"\xff\xfe{}", b"[" * 100_000, b'{"a":' * 50_000, b"", b"null", b"[]", b'"x"', b"9" * 300,
    b'{"url": "https://example.com/", "url": 1}', b"{" + b'"k":1,' * 50_000 + b'"z":1}',
]


def requests_for(op: Operation, ids: dict[str, str], rng: random.Random) -> Iterator[Request]:
    real_path = _fill(op.path, ids)
    label = f"{op.method} {op.path}"
    if op.method == "GET":
        yield Request(label, op.method, real_path)
    # a DELETE on a real id would remove the fixtures the other variants use
    base_path = real_path if op.method != "DELETE" else _fill(op.path, {})
    if op.has_body:
        base = _base_body(op)
        for field_name in base:
            for value in FIELD_VALUES:
                yield Request(label, op.method, base_path, _body_text(op, base, field_name, value))
        for body in WHOLE_BODIES:
            yield Request(label, op.method, base_path, body)
        yield Request(label, op.method, base_path, _body_text(op, base, None, ""), content_type="text/plain")
        big = next(iter(base), "url")
        yield Request(label, op.method, base_path, _body_text(op, base, big, '"' + "z" * TEN_MB + '"'))
        yield Request(label, op.method, base_path, b"[" * TEN_MB, auth=False)
    for name in op.query:
        for value in QUERY_VALUES:
            yield Request(label, op.method, f"{base_path}?{name}={value}")
        yield Request(label, op.method, f"{base_path}?{name}=1&{name}=%ED%A0%80&{name}[]=x")
    if "{" in op.path:
        for value in PATH_VALUES:
            yield Request(label, op.method, _fill(op.path, ids, value))


def short_link_requests(key: str) -> Iterator[Request]:
    """The redirect and the password form get the same treatment."""
    for value in QUERY_VALUES + PATH_VALUES:
        yield Request("GET /{key}", "GET", f"/{value}", auth=False)
        yield Request("GET /{key}", "GET", f"/{key}?q={value}&pw={value}&dub_id={value}", auth=False)
        yield Request("POST /{key} (password)", "POST", f"/{key}?next={value}",
                      f"password={value}".encode(), content_type="application/x-www-form-urlencoded", auth=False)
    yield Request("POST /{key} (password)", "POST", f"/{key}", b"password=" + b"z" * TEN_MB,
                  content_type="application/x-www-form-urlencoded", auth=False)
    yield Request("POST /{key} (password)", "POST", f"/{key}", b"password=%ED%A0%80\x00\xff",
                  content_type="application/x-www-form-urlencoded", auth=False)


def plan(ids: dict[str, str], total: int, seed: int = 1) -> list[Request]:
    """`total` requests, taken round-robin from every operation's variants (cycled when one runs out)."""
    rng = random.Random(seed)
    streams = [list(requests_for(op, ids, rng)) for op in operations()]
    streams.append(list(short_link_requests(ids["key"])))
    for stream in streams:
        rng.shuffle(stream)
    cycles = [itertools.cycle(s) for s in streams if s]
    out: list[Request] = []
    for source in itertools.cycle(cycles):
        if len(out) >= total:
            break
        out.append(next(source))
    return out


@dataclass
class Counts:
    requests: int = 0
    by_status: collections.Counter = field(default_factory=collections.Counter)
    by_endpoint: collections.Counter = field(default_factory=collections.Counter)
    server_errors: list[str] = field(default_factory=list)
    no_answer: list[str] = field(default_factory=list)
    not_dub_json: list[str] = field(default_factory=list)
    ten_mb: int = 0

    def line(self) -> str:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.by_status.items()))
        return (f"bad input: {self.requests} requests over {len(self.by_endpoint)} endpoints "
                f"({self.ten_mb} of 10 MB), 5xx: {len(self.server_errors)}, no answer: {len(self.no_answer)}, "
                f"API errors not in Dub's shape: {len(self.not_dub_json)}; statuses {statuses}")


def _is_dub_error(response: httpx.Response) -> bool:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(error, dict) and {"code", "message", "doc_url"} <= set(error)


async def fire(server_url: str, key: str, requests: list[Request], *, concurrency: int = 8) -> Counts:
    counts = Counts()
    queue = iter(requests)
    async with httpx.AsyncClient(base_url=server_url, timeout=60, follow_redirects=False) as client:

        async def worker() -> None:
            for req in queue:
                headers = {"content-type": req.content_type} if req.body is not None else {}
                if req.auth:
                    headers["authorization"] = f"Bearer {key}"
                counts.requests += 1
                counts.by_endpoint[req.label] += 1
                if req.body is not None and len(req.body) >= TEN_MB:
                    counts.ten_mb += 1
                try:
                    r = await client.request(req.method, req.url, content=req.body, headers=headers)
                except httpx.HTTPError as exc:
                    counts.no_answer.append(f"{req.label} {req.url[:120]} body={(req.body or b'')[:100]!r} "
                                            f"({len(req.body or b'')} bytes): {type(exc).__name__} {exc}")
                    continue
                counts.by_status[r.status_code] += 1
                if r.status_code >= 500:
                    counts.server_errors.append(
                        f"{req.label} {req.url[:120]} body={(req.body or b'')[:160]!r} -> {r.status_code} {r.text[:200]}")
                elif r.status_code >= 400 and req.url.startswith("/api") and not _is_dub_error(r):
                    counts.not_dub_json.append(f"{req.label} {req.url[:120]} -> {r.status_code} {r.text[:200]}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return counts


def seed_objects(server_url: str, key: str) -> dict[str, str]:
    """Real objects for the path parameters: a link with a password, a tag, a domain, a customer, a webhook."""
    auth = {"authorization": f"Bearer {key}"}
    api = f"{server_url}/api"
    with httpx.Client(headers=auth, timeout=30) as c:
        link = c.post(f"{api}/links", json={"url": "https://example.com/bad", "key": "bad-input"}).json()
        c.post(f"{api}/links", json={"url": "https://example.com/pw", "key": "bad-pw", "password": "secret"})
        tag = c.post(f"{api}/tags", json={"name": "bad-input"}).json()
        domain = c.post(f"{api}/domains", json={"slug": "bad-input.test"}).json()
        hook = c.post(f"{api}/webhooks", json={"name": "bad", "url": "http://127.0.0.1:9/hook",
                                                "triggers": ["lead.created"]}).json()
        click_id = c.get(f"{server_url}/bad-input", headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"}) \
            .cookies.get("dub_id", "")
        lead = c.post(f"{api}/track/lead", json={"clickId": click_id, "eventName": "Sign up",
                                                 "customerExternalId": "bad-input-customer"})
        assert lead.status_code == 200, lead.text
    return {"linkId": link["id"], "/tags/{id}": tag["id"], "slug": domain["slug"], "webhookId": hook["id"],
            "key": "bad-pw", "/customers/{id}": "ext_bad-input-customer", "clickId": click_id}


def list_endpoints() -> list[str]:
    """Every documented GET answering an array with no required parameter, events of each kind,
    and the link count."""
    found = ["/links/count", "/events?event=clicks&interval=all", "/events?event=leads&interval=all",
             "/events?event=sales&interval=all"]
    for path, item in DOC["paths"].items():
        op = item.get("get")
        if op is None or "{" in path or any(p.get("required") for p in op.get("parameters", [])):
            continue
        schema = op["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
        if schema.get("type") == "array" and path != "/events":
            found.append(path)
    return found


def after_check(server_url: str, key: str) -> dict[str, int]:
    """Status of every list endpoint and of a fresh link + click + lead + sale, after the run."""
    auth = {"authorization": f"Bearer {key}"}
    api = f"{server_url}/api"
    out: dict[str, int] = {}
    with httpx.Client(headers=auth, timeout=30) as c:
        for path in list_endpoints():
            out[f"GET {path}"] = c.get(f"{api}{path}").status_code
        link = c.post(f"{api}/links", json={"url": "https://example.com/fresh"})
        out["POST /links (fresh)"] = link.status_code
        if link.status_code == 200:
            short = link.json()["shortLink"].split("://", 1)[1].split("/", 1)[1]
            visit = c.get(f"{server_url}/{short}", headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"})
            out["GET /{key} (fresh)"] = visit.status_code
            click_id = visit.cookies.get("dub_id", "")
            lead = c.post(f"{api}/track/lead", json={"clickId": click_id, "eventName": "Sign up",
                                                     "customerExternalId": "fresh-after-bad-input"})
            out["POST /track/lead (fresh)"] = lead.status_code
            sale = c.post(f"{api}/track/sale", json={"customerExternalId": "fresh-after-bad-input", "amount": 500})
            out["POST /track/sale (fresh)"] = sale.status_code
            out["GET /links/{id} (fresh)"] = c.get(f"{api}/links/{link.json()['id']}").status_code
    return out


def run(server_url: str, key: str, total: int, *, concurrency: int = 8) -> Counts:
    ids = seed_objects(server_url, key)
    # the operation paths are under /api; the short-link ones are at the root
    # (plan() repeats Request objects when it cycles, so they are copied, never changed in place)
    reqs = [r if r.label.startswith(("GET /{key}", "POST /{key}")) else replace(r, url="/api" + r.url)
            for r in plan(ids, total)]
    return asyncio.run(fire(server_url, key, reqs, concurrency=concurrency))
