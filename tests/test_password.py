"""Password-protected links end to end: page, wrong and right password, signed cookie, ?pw=, 429."""
from __future__ import annotations

import re

from redirect_support import DESKTOP, clicks, client_with, cookie_attrs, make_link


def _form_action(html: str) -> str:
    return re.search(r'<form method="post" action="([^"]*)"', html).group(1)


def test_password_flow_end_to_end(client, core, run):
    link = make_link(run, core, url="https://example.com/secret", key="vault", password="hunter2")
    assert link["password"] is None and link["passwordProtected"] is True

    # no cookie: the password page, noindex, no click
    r = client.get("/vault?utm_source=mail", headers={"user-agent": DESKTOP})
    assert r.status_code == 200 and "Password required" in r.text
    assert r.headers["x-robots-tag"] == "noindex" and "set-cookie" not in r.headers
    assert _form_action(r.text) == "/vault?utm_source=mail"

    # wrong password: the page again with an error, no cookie
    r = client.post("/vault?utm_source=mail", data={"password": "wrong"})
    assert r.status_code == 403 and "Incorrect password" in r.text
    assert "set-cookie" not in r.headers
    assert clicks(run, core, link) == []

    # right password: a signed cookie bound to this link, then a 302 back to the link
    r = client.post("/vault?utm_source=mail", data={"password": "hunter2"})
    assert r.status_code == 302 and r.headers["location"] == "/vault?utm_source=mail"
    name, token, attrs = cookie_attrs(r.headers["set-cookie"])
    assert name == f"dub_password_{link['id']}"
    assert "hunter2" not in token
    assert attrs == {"path": "/vault", "httponly": True, "samesite": "Lax"}
    assert clicks(run, core, link) == []

    # the cookie unlocks the link, which now redirects and records the click
    cookie = {"cookie": f"{name}={token}", "user-agent": DESKTOP}
    r = client.get("/vault?utm_source=mail", headers=cookie)
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/secret?utm_source=mail"
    assert r.headers["set-cookie"].startswith("dub_id=")
    # ... and keeps doing so (cookie reuse); a repeat inside the dedup window counts once
    assert client.get("/vault", headers=cookie).status_code == 302
    assert len(clicks(run, core, link)) == 1


def test_password_in_the_query_works_and_is_stripped(client, core, run):
    link = make_link(run, core, url="https://example.com/s?a=1", key="pwq", password="open sesame")
    r = client.get("/pwq?pw=open%20sesame&b=2")
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/s?a=1&b=2"
    assert len(clicks(run, core, link)) == 1
    r = client.get("/pwq?pw=nope")
    assert r.status_code == 403 and "Incorrect password" in r.text


def test_cookie_for_another_link_is_refused(client, core, run):
    a = make_link(run, core, url="https://example.com/a", key="a", password="pa")
    b = make_link(run, core, url="https://example.com/b", key="b", password="pb")
    r = client.post("/a", data={"password": "pa"})
    _, token, _ = cookie_attrs(r.headers["set-cookie"])
    # renamed to b's cookie name: the token names link a, so b stays locked
    r = client.get("/b", headers={"cookie": f"dub_password_{b['id']}={token}"})
    assert r.status_code == 200 and "Password required" in r.text
    assert client.get("/a", headers={"cookie": f"dub_password_{a['id']}={token}"}).status_code == 302


def test_forged_cookie_is_refused(client, core, run):
    link = make_link(run, core, url="https://example.com/a", key="a", password="pa")
    for value in ("", "x", "hunter2", "pa", '["%s","x"]' % link["id"], "eyJhIjoxfQ.AAAA.BBBB"):
        r = client.get("/a", headers={"cookie": f"dub_password_{link['id']}={value}"})
        assert r.status_code == 200 and "Password required" in r.text, value


def test_changing_the_password_invalidates_old_cookies(client, core, run):
    link = make_link(run, core, url="https://example.com/a", key="a", password="first")
    _, token, _ = cookie_attrs(client.post("/a", data={"password": "first"}).headers["set-cookie"])
    cookie = {"cookie": f"dub_password_{link['id']}={token}"}
    assert client.get("/a", headers=cookie).status_code == 302
    run(core.links.update, link["id"], {"password": "second"})
    assert client.get("/a", headers=cookie).status_code == 200
    assert client.post("/a", data={"password": "first"}).status_code == 403
    assert client.post("/a", data={"password": "second"}).status_code == 302
    # removing the password opens the link
    run(core.links.update, link["id"], {"password": None})
    assert client.get("/a").status_code == 302


def test_too_many_failures_answer_429_per_link_and_ip(settings):
    with client_with(settings, password_attempts=3, trusted_proxies=()) as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        make_link(run, core, url="https://example.com/a", key="a", password="right")
        make_link(run, core, url="https://example.com/b", key="b", password="right")
        for _ in range(3):
            assert c.post("/a", data={"password": "wrong"}).status_code == 403
        r = c.post("/a", data={"password": "right"})  # even the right one, once limited
        assert r.status_code == 429 and "Too many attempts" in r.text
        assert 0 < int(r.headers["retry-after"]) <= 600  # when the oldest failure leaves the window
        r = c.get("/a?pw=right")
        assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 600
        assert c.get("/a").status_code == 200  # the form itself still shows
        # another link is counted separately
        assert c.post("/b", data={"password": "right"}).status_code == 302


def test_https_unlock_cookie_is_secure(settings):
    with client_with(settings, scheme="https") as c:
        core = c.app_state["core"]
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        make_link(run, core, url="https://example.com/a", key="Deep/Key", password="pw")
        _, _, attrs = cookie_attrs(c.post("/deep/key", data={"password": "pw"}).headers["set-cookie"])
        assert attrs == {"path": "/Deep/Key", "httponly": True, "samesite": "Lax", "secure": True}


def test_crawlers_get_the_password_page_too(client, core, run):
    make_link(run, core, url="https://example.com/a", key="a", password="pw", proxy=True, title="Secret")
    r = client.get("/a", headers={"user-agent": "Twitterbot/1.0"})
    assert r.status_code == 200 and "Password required" in r.text and "og:title" not in r.text


def test_oversized_or_odd_forms_do_not_500(client, core, run):
    make_link(run, core, url="https://example.com/a", key="a", password="pw")
    assert client.post("/a", content=b"password=" + b"x" * 20000,
                       headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 413
    assert client.post("/a", content=b"\xff\xfe=\x00", headers={"content-type": "text/plain"}).status_code == 403
    assert client.post("/a", json={"password": "pw"}).status_code == 403
