"""API routes: customers (GET /customers, GET|PATCH|DELETE /customers/{id})."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shortener.errors import Unprocessable, echo
from shortener.store.sqlite.conversions import CUSTOMER_SORTS

from ..common import JSONResponse, api, core_of, query_bool, query_page, read_json
from .handlers import on_id


def _choice(request: Request, name: str, allowed, default: str) -> str:
    value = request.query_params.get(name) or default
    if value not in allowed:
        expected = " | ".join(f"'{a}'" for a in allowed)
        raise Unprocessable(f"Invalid enum value. Expected {expected}, received '{echo(value)}'",
                            field=name, issue="invalid_enum_value")
    return value


@api(scope="customers.read")
async def list_customers(request: Request) -> Response:
    q = request.query_params
    filters = {
        "email": q.get("email") or None,
        "external_id": q.get("externalId") or None,
        "country": q.get("country") or None,
        "link_id": q.get("linkId") or None,
        "search": q.get("search") or None,
    }
    result = await core_of(request).conversions.list_customers(
        filters=filters,
        sort_by=_choice(request, "sortBy", tuple(CUSTOMER_SORTS), "createdAt"),
        desc=_choice(request, "sortOrder", ("asc", "desc"), "desc") == "desc",
        **query_page(request, size=100, max_size=100),
        starting_after=q.get("startingAfter") or None,
        ending_before=q.get("endingBefore") or None,
        expanded=query_bool(request, "includeExpandedFields"),
    )
    return JSONResponse(result)


@api(scope="customers.read")
async def get_customer(request: Request) -> Response:
    return JSONResponse(await core_of(request).conversions.get_customer(
        request.path_params["id"], expanded=query_bool(request, "includeExpandedFields")))


@api(scope="customers.write")
async def update_customer(request: Request) -> Response:
    body = await read_json(request)
    return JSONResponse(await core_of(request).conversions.update_customer(
        request.path_params["id"], body, expanded=query_bool(request, "includeExpandedFields")))


delete_customer = on_id("customers.write", "id", lambda core, customer_id: core.conversions.delete_customer(
    customer_id))


routes = [
    Route("/customers", list_customers, methods=["GET"]),
    Route("/customers/{id}", get_customer, methods=["GET"]),
    Route("/customers/{id}", update_customer, methods=["PATCH"]),
    Route("/customers/{id}", delete_customer, methods=["DELETE"]),
]
