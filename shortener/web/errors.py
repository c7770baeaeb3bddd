"""One translator from errors to responses: Dub's JSON error body for the API, a page elsewhere."""
from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from shortener.errors import ERROR_CODES, ApiError, InternalError

from .common import JSONResponse

log = logging.getLogger("shortener.web")

_STATUS_CODES = {status: code for code, status in ERROR_CODES.items()}
_STATUS_CODES.update({405: "method_not_allowed", 413: "bad_request"})


def doc_url(request: Request, code: str) -> str:
    # The configured domain, never the request's Host header: an error body must not carry an
    # address the client made up.
    settings = request.state.core.settings
    return f"{settings.scheme}://{settings.domain}/_/docs/errors#{code.replace('_', '-')}"


def error_body(request: Request, code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "doc_url": doc_url(request, code)}}


def _is_api(request: Request) -> bool:
    return request.scope.get("shortener.api", False) or request.url.path.startswith("/api")


def _render(request: Request, status: int, code: str, message: str, headers=None) -> Response:
    if _is_api(request):
        return JSONResponse(error_body(request, code, message), status_code=status, headers=headers)
    from .templating import render

    return render("error.html", {"status": status, "message": message}, status_code=status, headers=headers)


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _render(request, exc.status, exc.code, exc.message, exc.headers or None)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _STATUS_CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "internal_server_error")
    if exc.status_code == 404:
        message = "The requested resource was not found."
    elif exc.status_code == 405:
        code, message = "bad_request", f"Method {request.method} is not allowed here."
        exc.status_code = 405
    else:
        message = str(exc.detail)
    return _render(request, exc.status_code, code, message, getattr(exc, "headers", None))


async def server_error(request: Request, exc: Exception) -> Response:
    # The API app and the outer app both run this handler for the same exception (Starlette's
    # ServerErrorMiddleware re-raises); log it the first time only. The dispatcher keeps it from
    # the server, which would log it a third time.
    if not getattr(exc, "_shortener_logged", False):
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        try:
            exc._shortener_logged = True  # type: ignore[attr-defined]
        except AttributeError:
            pass
    return _render(
        request, 500, InternalError.code,
        "An internal server error occurred. Please contact our support if the problem persists.",
    )


EXCEPTION_HANDLERS = {ApiError: api_error, HTTPException: http_error, Exception: server_error}
