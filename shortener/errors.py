"""Domain errors. Each carries Dub's error code and HTTP status; web/errors.py renders them."""
from __future__ import annotations


class ApiError(Exception):
    status = 500
    code = "internal_server_error"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        if not message.isprintable():
            # whatever a message quotes, it renders as one line of encodable text
            message = "".join(c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else ascii(c)[1:-1]
                              for c in message)
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class Unprocessable(ApiError):
    """Validation failure; the message names the field (Dub: "<issue>: <path>: <message>")."""

    status, code = 422, "unprocessable_entity"

    def __init__(self, message: str, *, field: str | None = None, issue: str = "invalid") -> None:
        if field is not None:
            message = f"{issue}: {field}: {message}"
        super().__init__(message)
        self.field = field


class RateLimited(ApiError):
    status, code = 429, "rate_limit_exceeded"


class StoreUnavailable(ApiError):
    """The database cannot answer now (locked by another process, disk full, a query over its
    deadline). Not a bug: the client may retry, and nothing was changed."""

    status, code = 503, "service_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Retry-After": "2"})


class InternalError(ApiError):
    status, code = 500, "internal_server_error"


ERROR_CODES: dict[str, int] = {
    cls.code: cls.status
    for cls in (BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Unprocessable, RateLimited, InternalError,
                StoreUnavailable)
}


ECHO_MAX = 60


def echo(value: object, limit: int = ECHO_MAX) -> str:
    """User input as an error message may quote it: cut to `limit` characters, with control
    characters and lone surrogates written as escapes, so a message is always short, printable
    and encodable."""
    text = value if isinstance(value, str) else repr(value)
    cut = len(text) > limit
    text = text[:limit]
    if not text.isprintable() or not text.isascii():
        text = "".join(c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else ascii(c)[1:-1] for c in text)
    return text + ("…" if cut else "")


def json_type(value: object) -> str:
    """The JSON type name of a decoded value, as Dub's zod messages say it ("received number")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
