"""API routes: tags."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from shortener.errors import Unprocessable

from ..common import JSONResponse, api, core_of, query_int, read_json


def _choice(request: Request, name: str, choices: tuple, default: str) -> str:
    value = request.query_params.get(name) or default
    if value not in choices:
        raise Unprocessable(f"Invalid option: expected one of {'|'.join(choices)}", field=name, issue="invalid_value")
    return value


@api(scope="tags.read")
async def list_tags(request: Request) -> JSONResponse:
    ids: list[str] = []
    for raw in request.query_params.getlist("ids"):
        ids += [i.strip() for i in raw.split(",") if i.strip()]
    search = request.query_params.get("search") or None
    if search is not None and len(search) > 255:
        raise Unprocessable("Too big: expected string to have <=255 characters", field="search", issue="too_big")
    tags = await core_of(request).tags.list(
        search=search,
        ids=ids[:100] or None,
        sort_by=_choice(request, "sortBy", ("name", "createdAt"), "name"),
        descending=_choice(request, "sortOrder", ("asc", "desc"), "asc") == "desc",
        page=query_int(request, "page", 1, lo=1, hi=1_000_000),
        page_size=query_int(request, "pageSize", 100, lo=1, hi=100),
    )
    return JSONResponse(tags)


@api(scope="tags.write")
async def create_tag(request: Request) -> JSONResponse:
    return JSONResponse(await core_of(request).tags.create(await read_json(request)), status_code=201)


@api(scope="tags.write")
async def update_tag(request: Request) -> JSONResponse:
    return JSONResponse(await core_of(request).tags.update(request.path_params["tag_id"], await read_json(request)))


@api(scope="tags.write")
async def delete_tag(request: Request) -> JSONResponse:
    return JSONResponse(await core_of(request).tags.delete(request.path_params["tag_id"]))


routes = [
    Route("/tags", list_tags, methods=["GET"]),
    Route("/tags", create_tag, methods=["POST"]),
    Route("/tags/{tag_id}", update_tag, methods=["PATCH", "PUT"]),
    Route("/tags/{tag_id}", delete_tag, methods=["DELETE"]),
]
