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


HEAVY = {"url": "https://go.test/" + "a" * 2000, "size": "2000"}  # ~0.4 s of drawing each


def _gather(c, make_requests):
    """Run `make_requests(ac, done)` on the app's loop with an httpx.AsyncClient; `done` is the
    list to which each request appends its tag when its answer arrives."""
    import asyncio

    import httpx

    app, state = c.app, c.app_state

    async def asgi(scope, receive, send):
        await app(dict(scope, state=dict(state)), receive, send)

    async def go():
        done: list[str] = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://go.test") as ac:
            answers = await make_requests(ac, done, asyncio)
        return answers, done

    return c.portal.call(go)


def test_redirects_are_served_while_qr_codes_are_drawn(client, core, run):
    """issue 14 item 2: segno drew on the event loop, so a few large codes a second stopped every
    redirect. Every redirect started after the codes must be answered before the last code is."""
    run(core.links.create, {"url": "https://example.com/landing", "key": "busy"})

    async def requests(ac, done, asyncio):
        async def qr(n):
            r = await ac.get("/api/qr", params=HEAVY)
            done.append(f"qr{n}")
            return r

        async def redirects():
            answers = []
            for n in range(20):
                answers.append(await ac.get("/busy"))
                done.append(f"r{n}")
            return answers

        codes = [asyncio.ensure_future(qr(n)) for n in range(3)]
        await asyncio.sleep(0)  # the code requests are on their way first
        return await asyncio.gather(asyncio.gather(*codes), redirects())

    (codes, redirects), done = _gather(client, requests)
    assert [r.status_code for r in codes] == [200, 200, 200]
    assert all(r.content[:8] == b"\x89PNG\r\n\x1a\n" for r in codes)
    assert [r.status_code for r in redirects] == [302] * 20
    last_code = max(done.index(f"qr{n}") for n in range(3))
    assert all(done.index(f"r{n}") < last_code for n in range(20)), done


def test_past_the_pending_limit_qr_answers_429_with_retry_after(settings):
    from redirect_support import client_with

    with client_with(settings, qr_workers=1, qr_max_pending=2) as c:
        async def requests(ac, done, asyncio):
            return await asyncio.gather(*(ac.get("/api/qr", params=HEAVY) for _ in range(6)))

        answers, _ = _gather(c, requests)
        statuses = sorted(r.status_code for r in answers)
        assert statuses.count(200) >= 2 and statuses.count(429) >= 1 and set(statuses) == {200, 429}, statuses
        for r in answers:
            if r.status_code == 429:
                assert r.headers["retry-after"] == "1"
                assert r.json()["error"]["code"] == "rate_limit_exceeded"
        assert c.get("/api/qr", params={"url": "https://go.test/x"}).status_code == 200  # slots are given back
        responses = c.get("/api/openapi.json").json()["paths"]["/qr"]["get"]["responses"]
        assert {"200", "422", "429"} <= set(responses)


@pytest.mark.parametrize("params", [
    {"url": "https://go.test/" + "a" * 2032, "level": "H"},   # 2,048 characters at level H
    {"url": "https://go.test/" + "a" * 1700, "level": "q"},
    {"url": "\u20ac" * 1200},                                   # 3,600 bytes of UTF-8 at level L
])
def test_data_too_long_for_the_level_is_422_not_500(client, params):
    r = client.get("/api/qr", params=params)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "unprocessable_entity" and ": url: " in err["message"] and "level" in err["message"]
    assert client.get("/api/qr", params={**params, "url": params["url"][:500], "level": "L"}).status_code == 200
