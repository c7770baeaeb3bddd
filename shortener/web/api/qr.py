"""GET /api/qr: QR codes for any URL, public like Dub's; PNG by default, SVG with format=svg.

The link object's `qrCode` points here with `url=<shortLink>?qr=1`, so scans are recorded as
QR clicks. Drawing happens in worker processes (shortener/qrcodes.py), never on the event loop.
"""
from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shortener.errors import RateLimited, Unprocessable
from shortener.qrcodes import Busy, DataTooLong

from ..common import api, core_of, query_int

MAX_DATA = 2048  # characters; longer payloads make unscannable codes
_COLOR = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")


def _color(request: Request, name: str, default: str) -> str:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    m = _COLOR.fullmatch(raw.strip())
    if m is None:
        raise Unprocessable("Expected a hex colour such as #000000.", field=name, issue="invalid_string")
    return "#" + m.group(1).lower()


@api(public=True)
async def qr_code(request: Request) -> Response:
    url = request.query_params.get("url", "")
    if not url.strip():
        raise Unprocessable("Required.", field="url", issue="invalid_type")
    if len(url) > MAX_DATA:
        raise Unprocessable(f"String must contain at most {MAX_DATA} character(s).", field="url", issue="too_big")
    size = query_int(request, "size", 600, lo=32, hi=2000)
    margin = query_int(request, "margin", 2, lo=0, hi=20)
    level = (request.query_params.get("level") or "L").upper()
    if level not in ("L", "M", "Q", "H"):
        raise Unprocessable("Invalid enum value. Expected 'L' | 'M' | 'Q' | 'H'.", field="level", issue="invalid_enum_value")
    fg = _color(request, "fgColor", "#000000")
    bg = _color(request, "bgColor", "#ffffff")
    fmt = (request.query_params.get("format") or "png").lower()
    if fmt not in ("png", "svg"):
        raise Unprocessable("Invalid enum value. Expected 'png' | 'svg'.", field="format", issue="invalid_enum_value")

    try:
        image = await core_of(request).qr.render(url, size=size, margin=margin, level=level, dark=fg, light=bg,
                                                 kind=fmt)
    except Busy as exc:
        raise RateLimited("Too many QR codes are being drawn; retry shortly.",
                          headers={"Retry-After": str(exc.retry_after)}) from None
    except DataTooLong:
        raise Unprocessable(
            f"Too much data for a QR code at error correction level {level}: use a lower level or a shorter URL.",
            field="url", issue="too_big",
        ) from None
    media_type = "image/svg+xml" if fmt == "svg" else "image/png"
    return Response(image, media_type=media_type, headers={"cache-control": "public, max-age=86400"})


routes: list = [Route("/qr", qr_code, methods=["GET", "HEAD"])]
