"""API routes: domains."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from shortener.errors import Unprocessable

from ..common import JSONResponse, api, core_of, query_bool, query_int, read_json


@api(scope="domains.read")
async def list_domains(request: Request) -> JSONResponse:
    search = request.query_params.get("search") or None
    if search is not None and len(search) > 190:
        raise Unprocessable("Too big: expected string to have <=190 characters", field="search", issue="too_big")
    domains = await core_of(request).domains.list(
        archived=query_bool(request, "archived", False),
        search=search,
        page=query_int(request, "page", 1, lo=1, hi=1_000_000),
        page_size=query_int(request, "pageSize", 50, lo=1, hi=100),
    )
    return JSONResponse(domains)


@api(scope="domains.read")
async def domain_status(request: Request) -> JSONResponse:
    # ?domains=a.com,b.com (the SDK's explode=false form) or ?domains=a.com&domains=b.com
    names = [n.strip() for raw in request.query_params.getlist("domains") for n in raw.split(",") if n.strip()]
    return JSONResponse(await core_of(request).domains.status(list(dict.fromkeys(names))))


@api(scope="domains.write")
async def create_domain(request: Request) -> JSONResponse:
    return JSONResponse(await core_of(request).domains.create(await read_json(request)), status_code=201)


@api(scope="domains.write")
async def update_domain(request: Request) -> JSONResponse:
    core = core_of(request)
    slug = request.path_params["slug"]
    await core.domains.get(slug)
    return JSONResponse(await core.domains.update(slug, await read_json(request)))


@api(scope="domains.write")
async def delete_domain(request: Request) -> JSONResponse:
    return JSONResponse(await core_of(request).domains.delete(request.path_params["slug"]))


routes = [
    Route("/domains", list_domains, methods=["GET"]),
    Route("/domains", create_domain, methods=["POST"]),
    # before /domains/{slug}, which would otherwise take "status" for a domain name
    Route("/domains/status", domain_status, methods=["GET"]),
    Route("/domains/{slug}", update_domain, methods=["PATCH", "PUT"]),
    Route("/domains/{slug}", delete_domain, methods=["DELETE"]),
]
