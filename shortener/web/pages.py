"""Pages under /_/ that belong to links: the dub_id script for destination sites.

The password form posts back to the short link itself (decisions.md "Passwords"), so the unlock
lives in web/redirect.py next to the check it feeds.
"""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .templating import STATIC_DIR

_SCRIPT = STATIC_DIR / "dub-id.js"


async def dub_id_script(request: Request) -> Response:
    """`<script src="https://go.example.com/_/script.js">` on a landing page keeps `?dub_id=`."""
    return Response(
        _SCRIPT.read_bytes(),
        media_type="text/javascript; charset=utf-8",
        headers={"cache-control": "public, max-age=3600", "access-control-allow-origin": "*"},
    )


routes: list = [Route("/script.js", dub_id_script, methods=["GET", "HEAD"])]
