"""API routes: tags."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from ..common import JSONResponse, api, core_of, query_choice, query_page, query_text
from .handlers import on_body, on_id, on_id_and_body


@api(scope="tags.read")
async def list_tags(request: Request) -> JSONResponse:
    ids: list[str] = []
    for raw in request.query_params.getlist("ids"):
        ids += [i.strip() for i in raw.split(",") if i.strip()]
    tags = await core_of(request).tags.list(
        search=query_text(request, "search", 255),
        ids=ids[:100] or None,
        sort_by=query_choice(request, "sortBy", ("name", "createdAt"), "name"),
        descending=query_choice(request, "sortOrder", ("asc", "desc"), "asc") == "desc",
        **query_page(request, size=100, max_size=100),
    )
    return JSONResponse(tags)


create_tag = on_body("tags.write", lambda core, body: core.tags.create(body), status_code=201)
update_tag = on_id_and_body("tags.write", "tag_id", lambda core, tag_id, body: core.tags.update(tag_id, body))
delete_tag = on_id("tags.write", "tag_id", lambda core, tag_id: core.tags.delete(tag_id))

routes = [
    Route("/tags", list_tags, methods=["GET"]),
    Route("/tags", create_tag, methods=["POST"]),
    Route("/tags/{tag_id}", update_tag, methods=["PATCH", "PUT"]),
    Route("/tags/{tag_id}", delete_tag, methods=["DELETE"]),
]
