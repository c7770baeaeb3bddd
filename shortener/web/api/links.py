"""API routes: links (Dub's /links endpoints)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from shortener.errors import Unprocessable

from ..common import JSONResponse, api, core_of, query_bool, query_int, read_json

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


def _text_param(request: Request, name: str, max_len: int = 255) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if len(value) > max_len:
        raise Unprocessable(f"Too big: expected string to have <={max_len} characters", field=name, issue="too_big")
    return value


def _filters(request: Request) -> dict:
    tag_id = _text_param(request, "tagId")
    tag_ids = _list_param(request, "tagIds") + ([tag_id] if tag_id else [])
    domain = _text_param(request, "domain", 190)
    return {
        "domain": domain.lower() if domain else None,
        "tag_ids": tag_ids,
        "tag_names": _list_param(request, "tagNames"),
        "search": _text_param(request, "search", 1000),
        "show_archived": query_bool(request, "showArchived"),
        "with_tags": query_bool(request, "withTags"),
        "tenant_id": _text_param(request, "tenantId"),
        "user_id": _text_param(request, "userId"),
        "folder_id": _text_param(request, "folderId"),
    }


def _choice(request: Request, name: str, choices: tuple, default):
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if value not in choices:
        raise Unprocessable(f"Invalid option: expected one of {'|'.join(choices)}", field=name, issue="invalid_value")
    return value


@api(scope="links.write")
async def create_link(request: Request) -> JSONResponse:
    return JSONResponse(await core_of(request).links.create(await read_json(request)))


@api(scope="links.read")
async def list_links(request: Request) -> JSONResponse:
    # `sort` is Dub's older name for `sortBy`.
    sort = _choice(request, "sortBy", SORTS, None) or _choice(request, "sort", SORTS, "createdAt")
    order = _choice(request, "sortOrder", ("asc", "desc"), "desc")
    links = await core_of(request).links.list(
        _filters(request),
        sort=sort,
        descending=order == "desc",
        page=query_int(request, "page", 1, lo=1, hi=1_000_000),
        page_size=query_int(request, "pageSize", 100, lo=1, hi=100),
        starting_after=_text_param(request, "startingAfter"),
        ending_before=_text_param(request, "endingBefore"),
    )
    return JSONResponse(links)


@api(scope="links.read")
async def count_links(request: Request) -> JSONResponse:
    group_by = _choice(request, "groupBy", GROUPS, None)
    return JSONResponse(await core_of(request).links.count(_filters(request), group_by))


@api(scope="links.read")
async def link_info(request: Request) -> JSONResponse:
    q = request.query_params
    link = await core_of(request).links.info(
        link_id=q.get("linkId") or None, external_id=q.get("externalId") or None,
        domain=q.get("domain") or None, key=q.get("key"),
    )
    return JSONResponse(link)


@api(scope="links.read")
async def get_link(request: Request) -> JSONResponse:
    return JSONResponse(await core_of(request).links.get(request.path_params["link_id"]))


@api(scope="links.write")
async def update_link(request: Request) -> JSONResponse:
    core = core_of(request)
    link_id = request.path_params["link_id"]
    await core.links.get(link_id)  # 404 before reading a body for a link that does not exist
    return JSONResponse(await core.links.update(link_id, await read_json(request)))


@api(scope="links.write")
async def delete_link(request: Request) -> JSONResponse:
    return JSONResponse(await core_of(request).links.delete(request.path_params["link_id"]))


@api(scope="links.write")
async def upsert_link(request: Request) -> JSONResponse:
    return JSONResponse(await core_of(request).links.upsert(await read_json(request)))


@api(scope="links.write")
async def bulk_create(request: Request) -> JSONResponse:
    return JSONResponse(await core_of(request).links.create_many(await read_json(request, expect=list)))


@api(scope="links.write")
async def bulk_update(request: Request) -> JSONResponse:
    return JSONResponse(await core_of(request).links.update_many(await read_json(request)))


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
