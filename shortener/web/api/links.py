"""API routes: links (Dub's /links endpoints)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from shortener.errors import Unprocessable

from ..common import JSONResponse, api, core_of, query_bool, query_choice, query_page, query_text
from .handlers import on_body, on_id, on_id_and_body

SORTS = ("createdAt", "clicks", "saleAmount", "lastClicked")
GROUPS = ("domain", "tagId", "userId", "folderId")


def _list_param(request: Request, name: str) -> list[str]:
    """`?tagIds=a,b` (the SDK's explode=false form) or `?tagIds=a&tagIds=b`."""
    out: list[str] = []
    for raw in request.query_params.getlist(name):
        for item in raw.split(","):
            item = item.strip()
            if item and item not in out:
                out.append(item)
    if len(out) > 100:
        raise Unprocessable("Too big: expected array to have <=100 items", field=name, issue="too_big")
    return out


def _filters(request: Request) -> dict:
    tag_id = query_text(request, "tagId")
    tag_ids = _list_param(request, "tagIds") + ([tag_id] if tag_id else [])
    domain = query_text(request, "domain", 190)
    return {
        "domain": domain.lower() if domain else None,
        "tag_ids": tag_ids,
        "tag_names": _list_param(request, "tagNames"),
        "search": query_text(request, "search", 1000),
        "show_archived": query_bool(request, "showArchived"),
        "with_tags": query_bool(request, "withTags"),
        "tenant_id": query_text(request, "tenantId"),
        "user_id": query_text(request, "userId"),
        "folder_id": query_text(request, "folderId"),
    }


create_link = on_body("links.write", lambda core, body: core.links.create(body))


@api(scope="links.read")
async def list_links(request: Request) -> JSONResponse:
    # `sort` is Dub's older name for `sortBy`.
    sort = query_choice(request, "sortBy", SORTS, None) or query_choice(request, "sort", SORTS, "createdAt")
    order = query_choice(request, "sortOrder", ("asc", "desc"), "desc")
    links = await core_of(request).links.list(
        _filters(request),
        sort=sort,
        descending=order == "desc",
        **query_page(request, size=100, max_size=100),
        starting_after=query_text(request, "startingAfter"),
        ending_before=query_text(request, "endingBefore"),
    )
    return JSONResponse(links)


@api(scope="links.read")
async def count_links(request: Request) -> JSONResponse:
    group_by = query_choice(request, "groupBy", GROUPS, None)
    return JSONResponse(await core_of(request).links.count(_filters(request), group_by))


@api(scope="links.read")
async def link_info(request: Request) -> JSONResponse:
    q = request.query_params
    link = await core_of(request).links.info(
        link_id=q.get("linkId") or None, external_id=q.get("externalId") or None,
        domain=q.get("domain") or None, key=q.get("key"),
    )
    return JSONResponse(link)


get_link = on_id("links.read", "link_id", lambda core, link_id: core.links.get(link_id))
# a link that does not exist is a 404 before its body is read
update_link = on_id_and_body("links.write", "link_id", lambda core, link_id, body: core.links.update(link_id, body),
                             exists=lambda core, link_id: core.links.require(link_id))
delete_link = on_id("links.write", "link_id", lambda core, link_id: core.links.delete(link_id))
upsert_link = on_body("links.write", lambda core, body: core.links.upsert(body))
bulk_create = on_body("links.write", lambda core, body: core.links.create_many(body), expect=list)
bulk_update = on_body("links.write", lambda core, body: core.links.update_many(body))


@api(scope="links.write")
async def bulk_delete(request: Request) -> JSONResponse:
    ids = _list_param(request, "linkIds")
    return JSONResponse(await core_of(request).links.delete_many(ids))


routes = [
    Route("/links", create_link, methods=["POST"]),
    Route("/links", list_links, methods=["GET"]),
    Route("/links/count", count_links, methods=["GET"]),
    Route("/links/info", link_info, methods=["GET"]),
    Route("/links/upsert", upsert_link, methods=["PUT"]),
    Route("/links/bulk", bulk_create, methods=["POST"]),
    Route("/links/bulk", bulk_update, methods=["PATCH"]),
    Route("/links/bulk", bulk_delete, methods=["DELETE"]),
    Route("/links/{link_id}", get_link, methods=["GET"]),
    Route("/links/{link_id}", update_link, methods=["PATCH", "PUT"]),
    Route("/links/{link_id}", delete_link, methods=["DELETE"]),
]
