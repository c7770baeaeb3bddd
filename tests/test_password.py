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


def _concurrently(c, paths: list[str], headers: dict | None = None) -> list:
    """GET every path at once on the app's own loop (TestClient sends one request at a time)."""
    import asyncio

    import httpx

    app, state = c.app, c.app_state

    async def asgi(scope, receive, send):
        await app(dict(scope, state=dict(state)), receive, send)

    async def go():
        transport = httpx.ASGITransport(app=asgi, client=("198.51.100.7", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://go.test", headers=headers) as ac:
            return await asyncio.gather(*(ac.get(p) for p in paths))

    return c.portal.call(go)


def test_concurrent_guesses_cannot_pass_the_limit(settings):
    """issue 14 item 4: with the limit at 10, 60 concurrent wrong guesses all answered 403 and a
    right password sent after them was accepted. The attempt is now counted before scrypt."""
    with client_with(settings, password_attempts=10) as c:
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        make_link(run, c.app_state["core"], url="https://example.com/a", key="a", password="right")
        answers = _concurrently(c, [f"/a?pw=wrong{n}" for n in range(60)])
        statuses = [r.status_code for r in answers]
        assert statuses.count(403) <= 10 and statuses.count(403) + statuses.count(429) == 60, statuses
        assert statuses.count(429) >= 50
        for r in answers:
            if r.status_code == 429:
                assert 1 <= int(r.headers["retry-after"]) <= 600
        [late] = _concurrently(c, ["/a?pw=right"])
        assert late.status_code == 429 and int(late.headers["retry-after"]) >= 1


def test_a_right_password_gives_its_attempt_back(settings):
    with client_with(settings, password_attempts=3) as c:
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        make_link(run, c.app_state["core"], url="https://example.com/a", key="a", password="right")
        for _ in range(5):
            assert c.get("/a?pw=right").status_code == 302
        for _ in range(3):
            assert c.get("/a?pw=wrong").status_code == 403
        r = c.post("/a", data={"password": "right"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_ipv6_clients_are_limited_per_64(settings):
    import ipaddress

    trusted = (ipaddress.ip_network("10.0.0.0/8"),)
    with client_with(settings, peer=("10.1.2.3", 4000), trusted_proxies=trusted, password_attempts=3) as c:
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        make_link(run, c.app_state["core"], url="https://example.com/a", key="a", password="right")
        for n in range(3):  # three addresses of one /64
            r = c.get("/a?pw=wrong", headers={"x-forwarded-for": f"2001:db8:1:2::{n + 1:x}"})
            assert r.status_code == 403
        r = c.get("/a?pw=right", headers={"x-forwarded-for": "2001:db8:1:2:ffff::9"})
        assert r.status_code == 429
        # the next /64 is another subscriber
        assert c.get("/a?pw=right", headers={"x-forwarded-for": "2001:db8:1:3::1"}).status_code == 302


def test_the_attempt_table_is_bounded():
    import asyncio

    from shortener.attempts import MemoryAttemptLimiter, attempt_key

    now = [0.0]
    limiter = MemoryAttemptLimiter(2, 600, max_keys=1000, clock=lambda: now[0])

    async def scenario():
        for n in range(1500):  # more clients than the table holds, all inside one window
            assert (await limiter.reserve(attempt_key("link_a", f"10.0.{n // 256}.{n % 256}"))).allowed
        assert len(limiter) == 1000
        # the least recently used were dropped; the newest still count
        assert (await limiter.reserve(attempt_key("link_a", "10.0.5.219"))).allowed
        assert not (await limiter.reserve(attempt_key("link_a", "10.0.5.219"))).allowed
        now[0] = 601.0  # the window has passed: old keys go as new ones arrive
        for n in range(600):
            await limiter.reserve(f"new{n}")
        assert len(limiter) == 600

    asyncio.run(scenario())
    assert attempt_key("l", "2001:db8:1:2::1") == attempt_key("l", "2001:db8:1:2:ffff::9") == "l|2001:db8:1:2::/64"
    assert attempt_key("l", "::ffff:203.0.113.9") == "l|203.0.113.9"


def test_passwords_are_checked_while_the_default_thread_pool_is_full(settings):
    """issue 14 item 4: scrypt shared the loop's default pool with webhook DNS lookups, so either
    could starve the other. With every default worker blocked, a password still opens the link."""
    import asyncio
    import threading

    import httpx

    with client_with(settings) as c:
        run = lambda fn, *a: c.portal.call(lambda: fn(*a))  # noqa: E731
        make_link(run, c.app_state["core"], url="https://example.com/a", key="a", password="right")
        app, state = c.app, c.app_state
        release = threading.Event()

        async def asgi(scope, receive, send):
            await app(dict(scope, state=dict(state)), receive, send)

        async def scenario():
            loop = asyncio.get_running_loop()
            blockers = [loop.run_in_executor(None, release.wait) for _ in range(64)]
            try:
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://go.test",
                                             timeout=30) as ac:
                    return await asyncio.wait_for(ac.get("/a?pw=right"), 30)
            finally:
                release.set()
                await asyncio.gather(*blockers)

        r = c.portal.call(scenario)
        assert r.status_code == 302 and r.headers["location"] == "https://example.com/a"


def test_a_hash_costing_more_than_ours_is_never_computed(monkeypatch):
    """The stored hash's parameters set each guess's price (an imported p=40 took ~2 s of CPU)."""
    import hashlib

    from shortener import passwords

    good = passwords.hash_password("pw")
    _, n, r, p, salt, digest = good.split("$")
    assert passwords.is_password_hash(good) and passwords.verify_password("pw", good)
    assert not passwords.verify_password("no", good)
    computed = []
    real = hashlib.scrypt
    monkeypatch.setattr(hashlib, "scrypt", lambda *a, **k: computed.append(k) or real(*a, **k))
    for bad in (f"scrypt${n}${r}$40${salt}${digest}", f"scrypt${2**20}${r}${p}${salt}${digest}",
                f"scrypt${n}$64${p}${salt}${digest}", f"scrypt$12345${r}${p}${salt}${digest}",
                f"scrypt${n}${r}${p}$${digest}", "scrypt$x$y$z$a$b", "bcrypt$1$2$3$4$5", "",
                # too cheap to protect anything, and digits int() reads but we do not write
                f"scrypt$2$1$1${salt}${digest}", f"scrypt$１６３８４${r}${p}${salt}${digest}"):
        assert not passwords.is_password_hash(bad) and not passwords.verify_password("pw", bad), bad
    assert computed == []  # refused before any scrypt work
