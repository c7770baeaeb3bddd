"""Endpoints that hand the request to one service call and answer what it returns: an object by
its path id, a new object from the body, a change to an object. Each resource's routes name the
call and the scope; the reading of the request is written once here."""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from ..common import JSONResponse, api, core_of, read_json

OnId = Callable[[Any, str], Awaitable[Any]]


def on_id(scope: str, param: str, call: OnId) -> Callable[[Request], Awaitable[Response]]:
    """`call(core, id)` with the id from the path parameter `param` (a get, a delete...)."""

    @api(scope=scope)
    async def endpoint(request: Request) -> Response:
        return JSONResponse(await call(core_of(request), request.path_params[param]))

    return endpoint


def on_body(scope: str, call: Callable[[Any, Any], Awaitable[Any]], *, status_code: int = 200,
            expect: type | tuple = dict) -> Callable[[Request], Awaitable[Response]]:
    """`call(core, body)` with the JSON body (a create)."""

    @api(scope=scope)
    async def endpoint(request: Request) -> Response:
        return JSONResponse(await call(core_of(request), await read_json(request, expect=expect)),
                            status_code=status_code)

    return endpoint


def on_id_and_body(scope: str, param: str, call: Callable[[Any, str, Any], Awaitable[Any]], *,
                   exists: OnId | None = None) -> Callable[[Request], Awaitable[Response]]:
    """`call(core, id, body)` (an update). With `exists`, an object that is not there is a 404
    before the body is read, so a bad body for a missing object still answers 404."""

    @api(scope=scope)
    async def endpoint(request: Request) -> Response:
        core = core_of(request)
        object_id = request.path_params[param]
        if exists is not None:
            await exists(core, object_id)
        return JSONResponse(await call(core, object_id, await read_json(request)))

    return endpoint
