"""API routes: webhooks (not in Dub's public API; our management endpoints) and their deliveries."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..common import JSONResponse, api, core_of, query_int, read_json


@api(scope="webhooks.write")
async def create_webhook(request: Request) -> Response:
    body = await read_json(request)
    return JSONResponse(await core_of(request).webhooks.create(body), status_code=201)


@api(scope="webhooks.read")
async def list_webhooks(request: Request) -> Response:
    return JSONResponse(await core_of(request).webhooks.list())


@api(scope="webhooks.read")
async def get_webhook(request: Request) -> Response:
    return JSONResponse(await core_of(request).webhooks.get(request.path_params["webhook_id"]))


@api(scope="webhooks.write")
async def update_webhook(request: Request) -> Response:
    body = await read_json(request)
    return JSONResponse(await core_of(request).webhooks.update(request.path_params["webhook_id"], body))


@api(scope="webhooks.write")
async def delete_webhook(request: Request) -> Response:
    return JSONResponse(await core_of(request).webhooks.delete(request.path_params["webhook_id"]))


@api(scope="webhooks.write")
async def rotate_secret(request: Request) -> Response:
    return JSONResponse(await core_of(request).webhooks.rotate_secret(request.path_params["webhook_id"]))


@api(scope="webhooks.read")
async def list_deliveries(request: Request) -> Response:
    limit = query_int(request, "limit", 100, lo=1, hi=1000)
    return JSONResponse(await core_of(request).webhooks.deliveries(request.path_params["webhook_id"], limit))


routes = [
    Route("/webhooks", create_webhook, methods=["POST"]),
    Route("/webhooks", list_webhooks, methods=["GET"]),
    Route("/webhooks/{webhook_id}", get_webhook, methods=["GET"]),
    Route("/webhooks/{webhook_id}", update_webhook, methods=["PATCH"]),
    Route("/webhooks/{webhook_id}", delete_webhook, methods=["DELETE"]),
    Route("/webhooks/{webhook_id}/rotate-secret", rotate_secret, methods=["POST"]),
    Route("/webhooks/{webhook_id}/deliveries", list_deliveries, methods=["GET"]),
]
