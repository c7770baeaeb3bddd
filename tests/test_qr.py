"""GET /api/qr: public, PNG by default, SVG on request, options validated."""
from __future__ import annotations

import pytest


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_png_by_default_without_auth(client):
    r = client.get("/api/qr", params={"url": "https://go.test/abc?qr=1"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    w, h = _png_size(r.content)
    assert w == h and 500 < w <= 600  # the largest whole-pixel scale inside the default 600


def test_size_margin_and_level_change_the_image(client):
    small = client.get("/api/qr", params={"url": "https://go.test/abc", "size": 100, "margin": 0})
    w, _ = _png_size(small.content)
    assert 80 <= w <= 100
    low = client.get("/api/qr", params={"url": "https://go.test/abc", "level": "L", "format": "svg", "size": 1000})
    high = client.get("/api/qr", params={"url": "https://go.test/abc", "level": "H", "format": "svg", "size": 1000})
    assert low.text != high.text


def test_svg_with_colours(client):
    r = client.get("/api/qr", params={"url": "https://go.test/x", "format": "svg", "fgColor": "#FF0000", "bgColor": "00ff00"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.text.startswith("<svg")
    assert 'stroke="red"' in r.text and 'fill="#0f0"' in r.text  # segno writes the shortest form


def test_the_link_objects_qr_code_url_answers(client, core, run):
    link = run(core.links.create, {"url": "https://example.com", "key": "qrl"})
    path = link["qrCode"].split("go.test", 1)[1]
    assert path.startswith("/api/qr?url=")
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"


@pytest.mark.parametrize("params, field", [
    ({}, "url"),
    ({"url": ""}, "url"),
    ({"url": "x" * 3000}, "url"),
    ({"url": "https://a.b", "size": "big"}, "size"),
    ({"url": "https://a.b", "size": "5"}, "size"),
    ({"url": "https://a.b", "size": "99999"}, "size"),
    ({"url": "https://a.b", "level": "Z"}, "level"),
    ({"url": "https://a.b", "fgColor": "red;x"}, "fgColor"),
    ({"url": "https://a.b", "bgColor": "#12"}, "bgColor"),
    ({"url": "https://a.b", "margin": "-1"}, "margin"),
    ({"url": "https://a.b", "format": "gif"}, "format"),
])
def test_bad_options_are_422_naming_the_field(client, params, field):
    r = client.get("/api/qr", params=params)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "unprocessable_entity" and f": {field}: " in err["message"]
