"""API routes: folders (Dub's /folders endpoints)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from ..common import JSONResponse, api, core_of, query_int, read_json
from .links import _text_param


@api(scope="folders.read")
async def list_folders(request: Request) -> JSONResponse:
    folders = await core_of(request).folders.list(
        search=_text_param(request, "search", 190),
        page=query_int(request, "page", 1, lo=1, hi=1_000_000),
        page_size=query_int(request, "pageSize", 50, lo=1, hi=50),
    )
    return JSONResponse(folders)


@api(scope="folders.write")
async def create_folder(request: Request) -> JSONResponse:
    return JSONResponse(await core_of(request).folders.create(await read_json(request)), status_code=201)


@api(scope="folders.read")
async def get_folder(request: Request) -> JSONResponse:
    return JSONResponse(await core_of(request).folders.get(request.path_params["folder_id"]))


@api(scope="folders.write")
async def update_folder(request: Request) -> JSONResponse:
    core = core_of(request)
    folder_id = request.path_params["folder_id"]
    await core.folders.get(folder_id)  # 404 before reading the body
    return JSONResponse(await core.folders.update(folder_id, await read_json(request)))


@api(scope="folders.write")
async def delete_folder(request: Request) -> JSONResponse:
    return JSONResponse(await core_of(request).folders.delete(request.path_params["folder_id"]))


routes = [
    Route("/folders", list_folders, methods=["GET"]),
    Route("/folders", create_folder, methods=["POST"]),
    Route("/folders/{folder_id}", get_folder, methods=["GET"]),
    Route("/folders/{folder_id}", update_folder, methods=["PATCH", "PUT"]),
    Route("/folders/{folder_id}", delete_folder, methods=["DELETE"]),
]
