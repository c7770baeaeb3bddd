"""API routes: domains."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from ..common import JSONResponse, api, core_of, query_bool, query_page, query_text
from .handlers import on_body, on_id, on_id_and_body


@api(scope="domains.read")
async def list_domains(request: Request) -> JSONResponse:
    domains = await core_of(request).domains.list(
        search=query_text(request, "search", 190),  # checked first, as it always was
        archived=query_bool(request, "archived", False),
        **query_page(request, size=50, max_size=100),
    )
    return JSONResponse(domains)


@api(scope="domains.read")
async def domain_status(request: Request) -> JSONResponse:
    # ?domains=a.com,b.com (the SDK's explode=false form) or ?domains=a.com&domains=b.com
    names = [n.strip() for raw in request.query_params.getlist("domains") for n in raw.split(",") if n.strip()]
    return JSONResponse(await core_of(request).domains.status(list(dict.fromkeys(names))))


create_domain = on_body("domains.write", lambda core, body: core.domains.create(body), status_code=201)
update_domain = on_id_and_body("domains.write", "slug", lambda core, slug, body: core.domains.update(slug, body),
                               exists=lambda core, slug: core.domains.get(slug))
delete_domain = on_id("domains.write", "slug", lambda core, slug: core.domains.delete(slug))

routes = [
    Route("/domains", list_domains, methods=["GET"]),
    Route("/domains", create_domain, methods=["POST"]),
    # before /domains/{slug}, which would otherwise take "status" for a domain name
    Route("/domains/status", domain_status, methods=["GET"]),
    Route("/domains/{slug}", update_domain, methods=["PATCH", "PUT"]),
    Route("/domains/{slug}", delete_domain, methods=["DELETE"]),
]
