"""What every API endpoint shares: the core, authentication, JSON in and out."""
from __future__ import annotations

import functools
import json
import re
from decimal import Decimal
from typing import Any, Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from shortener import scopes
from shortener.errors import ApiError, BadRequest, Unprocessable, echo
from shortener.inputs import bad_text, check_value

MAX_BODY = 4 * 1024 * 1024  # a bulk create of 100 links with 32,000-character URLs is ~3.3 MB
TOO_LARGE = f"Request body too large (over {MAX_BODY} bytes)."
# JavaScript's safe integers: up to here 308.0 and 308 are the same number, as they are to Dub.
SAFE_INT = 2**53

INVALID_JSON = (
    "Invalid JSON format in request body. Please ensure the request body is a valid JSON object."
)


def core_of(request: Request):
    return request.state.core


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        try:
            return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except UnicodeEncodeError:
            # Text the edge did not see (a stored value, an exception's words) may hold a lone
            # surrogate; \uXXXX escapes are valid JSON for it, so the answer still renders.
            return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def check_params(request: Request) -> None:
    """The text rule for path parameters and query parameters (names and values)."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and bad_text(value):
            raise Unprocessable(bad_text(value), field=name, issue="invalid_string")  # type: ignore[arg-type]
    for name, value in request.query_params.multi_items():
        problem = bad_text(name) or bad_text(value)
        if problem:
            raise Unprocessable(problem, field=echo(name), issue="invalid_string")


def api(fn: Callable[[Request], Awaitable[Response]] | None = None, *, public: bool = False,
        scope: str | None = None):
    """Decorate an API endpoint: authenticate with the Bearer key and require `scope`, unless
    `public`. Every authenticated endpoint names its scope (tests/test_scopes.py reads `.scope`)."""
    if not public and scope not in scopes.SCOPES:
        raise ValueError(f"an authenticated endpoint needs one of the scopes {scopes.SCOPES}, not {scope!r}")

    def decorate(fn):
        @functools.wraps(fn)
        async def endpoint(request: Request) -> Response:
            try:
                if not public:
                    key = await core_of(request).api_keys.authenticate(request.headers.get("authorization"))
                    scopes.require(key, scope)
                    request.state.api_key = key
                check_params(request)
                return await fn(request)
            except (ApiError, HTTPException):
                raise
            except Exception as exc:
                # Answered here, not by Starlette's ServerErrorMiddleware: that one re-raises after
                # answering, so each nested app logged the error again and uvicorn then closed the
                # keep-alive connection, failing the client's next request (issue 14, #7).
                from .errors import server_error

                return await server_error(request, exc)

        endpoint.scope = None if public else scope  # type: ignore[attr-defined]
        return endpoint

    return decorate(fn) if fn is not None else decorate


def _not_json(name: str) -> Any:
    # Python's json module accepts NaN and Infinity; JSON does not.
    raise ValueError(f"{name} is not JSON")


def _number(text: str) -> float | int:
    # JSON has one number type: 308.0 is the integer 308 to a JavaScript client (and to Dub).
    value = float(text)
    return int(value) if value.is_integer() and abs(value) <= SAFE_INT else value


async def read_body(request: Request) -> bytes:
    """The body, refused once it passes MAX_BODY: a declared length is checked before reading,
    a chunked body while it arrives, so an oversized upload is never held in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise BadRequest(TOO_LARGE)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise BadRequest(TOO_LARGE)
    return bytes(body)


async def read_json(request: Request, *, expect: type | tuple = dict) -> Any:
    """The request body as JSON of the expected type; 400 on bad JSON, 422 on the wrong shape or
    on text or numbers that cannot be stored (check_value)."""
    body = await read_body(request)
    if not body.strip():
        raise BadRequest(INVALID_JSON)
    try:
        data = json.loads(body, parse_constant=_not_json, parse_float=_number)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: a body of 100k nested brackets is still bad JSON, not a 500.
        raise BadRequest(INVALID_JSON) from None
    check_value(data)
    if not isinstance(data, expect):
        names = expect.__name__ if isinstance(expect, type) else " or ".join(t.__name__ for t in expect)
        kind = {"dict": "object", "list": "array"}
        raise Unprocessable(
            f"Expected {kind.get(names, names)}, received {type(data).__name__}.",
            field="body", issue="invalid_type",
        )
    return data


_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def query_int(request: Request, name: str, default: int, *, lo: int, hi: int) -> int:
    """An integer query parameter read as Dub's `z.coerce.number().int()` reads it: any decimal
    number that is whole (`600`, `600.0`, `6e2`, ` 600 `) is taken; anything else is a 422."""
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    if not _DECIMAL.fullmatch(text):
        raise Unprocessable(f"Expected number, received '{echo(raw)}'.", field=name, issue="invalid_type")
    number = Decimal(text)  # exact: no float rounding turns 600.0000000000000001 into 600
    if number < lo:
        raise Unprocessable(f"Must be between {lo} and {hi}.", field=name, issue="too_small")
    if number > hi:
        raise Unprocessable(f"Must be between {lo} and {hi}.", field=name, issue="too_big")
    if number != number.to_integral_value():
        raise Unprocessable("Expected integer, received float.", field=name, issue="invalid_type")
    return int(number)


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise Unprocessable(f"Expected boolean, received '{echo(raw)}'.", field=name, issue="invalid_type")


def query_text(request: Request, name: str, max_len: int = 255) -> str | None:
    """A text query parameter; absent or empty is None, longer than `max_len` a 422."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if len(value) > max_len:
        raise Unprocessable(f"Too big: expected string to have <={max_len} characters", field=name, issue="too_big")
    return value


def query_choice(request: Request, name: str, choices: tuple, default):
    """One of `choices`; absent or empty is `default`, anything else a 422."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if value not in choices:
        raise Unprocessable(f"Invalid option: expected one of {'|'.join(choices)}", field=name, issue="invalid_value")
    return value


def query_page(request: Request, *, size: int, max_size: int) -> dict[str, int]:
    """`page` and `pageSize` as the list endpoints take them, for the service's page/page_size."""
    return {"page": query_int(request, "page", 1, lo=1, hi=1_000_000),
            "page_size": query_int(request, "pageSize", size, lo=1, hi=max_size)}
