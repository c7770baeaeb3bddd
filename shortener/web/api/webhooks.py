"""API routes: webhooks (not in Dub's public API; our management endpoints) and their deliveries."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..common import JSONResponse, api, core_of, query_int
from .handlers import on_body, on_id, on_id_and_body


create_webhook = on_body("webhooks.write", lambda core, body: core.webhooks.create(body), status_code=201)


@api(scope="webhooks.read")
async def list_webhooks(request: Request) -> Response:
    return JSONResponse(await core_of(request).webhooks.list())


get_webhook = on_id("webhooks.read", "webhook_id", lambda core, webhook_id: core.webhooks.get(webhook_id))
update_webhook = on_id_and_body("webhooks.write", "webhook_id",
                                lambda core, webhook_id, body: core.webhooks.update(webhook_id, body))
delete_webhook = on_id("webhooks.write", "webhook_id", lambda core, webhook_id: core.webhooks.delete(webhook_id))
rotate_secret = on_id("webhooks.write", "webhook_id",
                      lambda core, webhook_id: core.webhooks.rotate_secret(webhook_id))


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
