"""What every API endpoint shares: the core, authentication, JSON in and out."""
from __future__ import annotations

import functools
import json
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from shortener import scopes
from shortener.errors import BadRequest, Unprocessable

MAX_BODY = 4 * 1024 * 1024  # a bulk create of 100 links with 32,000-character URLs is ~3.3 MB

INVALID_JSON = (
    "Invalid JSON format in request body. Please ensure the request body is a valid JSON object."
)


def core_of(request: Request):
    return request.state.core


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def api(fn: Callable[[Request], Awaitable[Response]] | None = None, *, public: bool = False,
        scope: str | None = None):
    """Decorate an API endpoint: authenticate with the Bearer key and require `scope`, unless
    `public`. Every authenticated endpoint names its scope (tests/test_scopes.py reads `.scope`)."""
    if not public and scope not in scopes.SCOPES:
        raise ValueError(f"an authenticated endpoint needs one of the scopes {scopes.SCOPES}, not {scope!r}")

    def decorate(fn):
        @functools.wraps(fn)
        async def endpoint(request: Request) -> Response:
            if not public:
                key = await core_of(request).api_keys.authenticate(request.headers.get("authorization"))
                scopes.require(key, scope)
                request.state.api_key = key
            return await fn(request)

        endpoint.scope = None if public else scope  # type: ignore[attr-defined]
        return endpoint

    return decorate(fn) if fn is not None else decorate


def _not_json(name: str) -> Any:
    # Python's json module accepts NaN and Infinity; JSON does not.
    raise ValueError(f"{name} is not JSON")


async def read_json(request: Request, *, expect: type | tuple = dict) -> Any:
    """The request body as JSON of the expected type; 400 on bad JSON, 422 on the wrong shape."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise BadRequest(f"Request body too large (over {MAX_BODY} bytes).")
    if not body.strip():
        raise BadRequest(INVALID_JSON)
    try:
        data = json.loads(body, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: a body of 100k nested brackets is still bad JSON, not a 500.
        raise BadRequest(INVALID_JSON) from None
    if not isinstance(data, expect):
        names = expect.__name__ if isinstance(expect, type) else " or ".join(t.__name__ for t in expect)
        kind = {"dict": "object", "list": "array"}
        raise Unprocessable(
            f"Expected {kind.get(names, names)}, received {type(data).__name__}.",
            field="body", issue="invalid_type",
        )
    return data


def query_int(request: Request, name: str, default: int, *, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Unprocessable(f"Expected number, received {raw!r}.", field=name, issue="invalid_type") from None
    if not lo <= value <= hi:
        raise Unprocessable(f"Must be between {lo} and {hi}.", field=name, issue="too_big" if value > hi else "too_small")
    return value


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise Unprocessable(f"Expected boolean, received {raw!r}.", field=name, issue="invalid_type")
