"""API routes: folders (Dub's /folders endpoints)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from ..common import JSONResponse, api, core_of, query_page, query_text
from .handlers import on_body, on_id, on_id_and_body


@api(scope="folders.read")
async def list_folders(request: Request) -> JSONResponse:
    folders = await core_of(request).folders.list(search=query_text(request, "search", 190),
                                                  **query_page(request, size=50, max_size=50))
    return JSONResponse(folders)


create_folder = on_body("folders.write", lambda core, body: core.folders.create(body), status_code=201)
get_folder = on_id("folders.read", "folder_id", lambda core, folder_id: core.folders.get(folder_id))
update_folder = on_id_and_body("folders.write", "folder_id", lambda core, folder_id, body: core.folders.update(
    folder_id, body), exists=lambda core, folder_id: core.folders.get(folder_id))
delete_folder = on_id("folders.write", "folder_id", lambda core, folder_id: core.folders.delete(folder_id))

routes = [
    Route("/folders", list_folders, methods=["GET"]),
    Route("/folders", create_folder, methods=["POST"]),
    Route("/folders/{folder_id}", get_folder, methods=["GET"]),
    Route("/folders/{folder_id}", update_folder, methods=["PATCH", "PUT"]),
    Route("/folders/{folder_id}", delete_folder, methods=["DELETE"]),
]
