"""GET /api/qr: QR codes for any URL, public like Dub's; PNG by default, SVG with format=svg.

The link object's `qrCode` points here with `url=<shortLink>?qr=1`, so scans are recorded as
QR clicks.
"""
from __future__ import annotations

import io
import re

import segno
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shortener.errors import Unprocessable

from ..common import api, query_int

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

    qr = segno.make(url, error=level, micro=False, boost_error=False)
    modules = qr.symbol_size(scale=1, border=margin)[0]
    # The largest whole-pixel scale that fits in `size`: exact sizes would need resampling,
    # which blurs module edges.
    scale = max(1, size // modules)
    out = io.BytesIO()
    headers = {"cache-control": "public, max-age=86400"}
    if fmt == "svg":
        qr.save(out, kind="svg", scale=scale, border=margin, dark=fg, light=bg, xmldecl=False,
                svgns=True, title=None, unit=None)
        return Response(out.getvalue(), media_type="image/svg+xml", headers=headers)
    qr.save(out, kind="png", scale=scale, border=margin, dark=fg, light=bg)
    return Response(out.getvalue(), media_type="image/png", headers=headers)


routes: list = [Route("/qr", qr_code, methods=["GET", "HEAD"])]
