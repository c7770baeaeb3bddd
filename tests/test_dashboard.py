"""The dashboard over HTTP (in-process): owners, sessions, CSRF and Origin, headers, escaping,
the link form against the link service, conversions and settings pages."""
from __future__ import annotations

import asyncio
import html as htmllib
import json
import re
import subprocess
import sys
from html.parser import HTMLParser

import httpx
import pytest

from shortener.attempts import MemoryAttemptLimiter
from shortener.web.dashboard.session import COOKIE

ORIGIN = {"origin": "http://go.test"}
EMAIL, PASSWORD = "owner@example.com", "correct horse battery"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


@pytest.fixture
def owner(core, run):
    user, created = run(core.users.set, EMAIL, PASSWORD)
    assert created
    return user


def sign_in(client, email=EMAIL, password=PASSWORD, **headers):
    token = csrf_of(client.get("/_/signin").text)
    return client.post("/_/signin", data={"csrf": token, "email": email, "password": password},
                       headers={**ORIGIN, **headers})


@pytest.fixture
def dash(client, owner):
    r = sign_in(client)
    assert r.status_code == 303, r.text
    return client


def post(client, path: str, data: dict, page: str | None = None, **headers):
    token = csrf_of(client.get(page or "/_/settings").text)
    return client.post(path, data={"csrf": token, **data}, headers={**ORIGIN, **headers})


class _FormReader(HTMLParser):
    """The fields a browser without JavaScript would submit from the link form, as it shows them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._in_form = False
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._in_form = "link-form" in (a.get("class") or "")
        if not self._in_form:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value") or "on"))
            elif a.get("type") != "password":
                self.fields.append((a["name"], a.get("value") or ""))
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields.append((a["name"], ""))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a.get("value", "")))

    def handle_data(self, data):
        if self._textarea:
            name, value = self.fields[-1]
            self.fields[-1] = (name, value + data)

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "form":
            self._in_form = False


def shown_form(html: str) -> dict:
    reader = _FormReader()
    reader.feed(html)
    out: dict = {}
    for name, value in reader.fields:
        if name in out:
            out[name] = (out[name] if isinstance(out[name], list) else [out[name]]) + [value]
        else:
            out[name] = value
    return out


def field_errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'class="field-error" id="([^"]+)-error" role="alert">([^<]*)<', html))


# -- accounts --------------------------------------------------------------------------------

def test_pages_need_an_owner(client):
    for path in ("/_/links", "/_/links/new", "/_/customers", "/_/events", "/_/settings"):
        r = client.get(path)
        assert r.status_code == 303
        assert r.headers["location"] == f"/_/signin?next={path}"
    assert client.get("/_/").headers["location"] == "/_/signin"


def test_sign_in_sets_a_signed_expiring_http_only_cookie(client, owner):
    r = sign_in(client)
    assert r.status_code == 303 and r.headers["location"] == "/_/links"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=1209600" in cookie
    assert "Path=/_/" in cookie and "Secure" not in cookie
    page = client.get("/_/links")
    assert page.status_code == 200 and EMAIL in page.text
    # A tampered cookie is no session.
    value = client.cookies.get(COOKIE)
    client.cookies.set(COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"), domain="go.test", path="/_/")
    assert client.get("/_/links").status_code == 303


def test_sign_in_redirects_to_next_but_never_off_site(client, owner):
    token = csrf_of(client.get("/_/signin?next=/_/settings").text)
    r = client.post("/_/signin", data={"csrf": token, "email": EMAIL, "password": PASSWORD, "next": "/_/settings"},
                    headers=ORIGIN)
    assert r.headers["location"] == "/_/settings"
    client.cookies.clear()
    token = csrf_of(client.get("/_/signin").text)
    r = client.post("/_/signin", data={"csrf": token, "email": EMAIL, "password": PASSWORD,
                                       "next": "//evil.test/x"}, headers=ORIGIN)
    assert r.headers["location"] == "/_/links"


def test_secure_cookie_under_https(settings, tmp_path):
    from starlette.testclient import TestClient

    from shortener.web.app import create_app

    with TestClient(create_app(settings.replace(scheme="https")), base_url="https://go.test",
                    follow_redirects=False) as c:
        c.portal.call(c.app_state["core"].users.set, EMAIL, PASSWORD)
        token = csrf_of(c.get("/_/signin").text)
        r = c.post("/_/signin", data={"csrf": token, "email": EMAIL, "password": PASSWORD},
                   headers={"origin": "https://go.test"})
        assert r.status_code == 303
        assert "Secure" in r.headers["set-cookie"]


def test_wrong_password_then_rate_limited(client, owner):
    for _ in range(10):
        r = sign_in(client, password="wrong password")
        assert r.status_code == 401
        assert "Wrong email or password." in r.text
    r = sign_in(client)  # right password, but the limit is reached
    assert r.status_code == 429
    assert 0 < int(r.headers["retry-after"]) <= 600
    assert COOKIE not in r.headers.get("set-cookie", "") or "uid" not in r.headers.get("set-cookie", "")
    assert client.get("/_/links").status_code == 303


async def _sign_ins(client, ip: str, attempts: list[tuple[str, str]], *, together: bool = False) -> list:
    """Sign-in POSTs from client address `ip` (one session, its CSRF token), one after another
    or all at once, on the app's own loop (TestClient sends one request at a time)."""
    app, state = client.app, client.app_state

    async def asgi(scope, receive, send):
        await app(dict(scope, state=dict(state)), receive, send)

    transport = httpx.ASGITransport(app=asgi, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://go.test") as c:
        token = csrf_of((await c.get("/_/signin")).text)

        async def one(email: str, password: str):
            return await c.post("/_/signin", data={"csrf": token, "email": email, "password": password},
                                headers=ORIGIN)

        if together:
            return await asyncio.gather(*(one(e, p) for e, p in attempts))
        return [await one(e, p) for e, p in attempts]


def _message(r) -> str:
    return htmllib.unescape(re.search(r'class="error"[^>]*>([^<]+)<', r.text).group(1))


@pytest.fixture
def three_tries(core):
    # The limiter sits behind AttemptLimiter: a test (or a shared implementation) replaces it.
    core.signin_attempts = MemoryAttemptLimiter(3, 600)


def test_sign_in_is_limited_per_network_and_per_email(client, owner, run, three_tries):
    def sign_ins(ip, attempts):
        return [r.status_code for r in run(_sign_ins, client, ip, attempts)]

    # One address trying many accounts.
    assert sign_ins("10.0.0.1", [(f"u{i}@example.com", "guess") for i in range(3)]) == [401] * 3
    [r] = run(_sign_ins, client, "10.0.0.1", [(EMAIL, PASSWORD)])
    assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 600
    assert _message(r) == "Too many failed sign-in attempts from your network. Try again in 10 minutes."
    # The refused attempt was not counted against the owner's email: another address signs in.
    assert sign_ins("10.0.0.2", [(EMAIL, PASSWORD)]) == [303]
    # An IPv6 client holds its whole /64: new addresses in it are the same network.
    assert sign_ins("2001:db8::1", [("a@example.com", "guess")]) == [401]
    assert sign_ins("2001:db8::2", [("a@example.com", "guess"), ("b@example.com", "guess")]) == [401, 401]
    assert sign_ins("2001:db8::3", [("c@example.com", "guess")]) == [429]

    # Many addresses trying one account.
    for i in range(3):
        assert sign_ins(f"10.1.0.{i}", [(EMAIL.upper(), "guess")]) == [401]
    [r] = run(_sign_ins, client, "10.2.0.1", [(EMAIL, PASSWORD)])
    assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 600
    assert _message(r).startswith("Too many failed sign-in attempts for this email address.")
    assert "uid" not in r.headers.get("set-cookie", "")
    assert sign_ins("10.2.0.1", [("other@example.com", "guess")]) == [401]  # that network is not blocked


def test_concurrent_sign_ins_cannot_all_pass_the_limit(client, owner, run, three_tries):
    results = run(_sign_ins, client, "10.3.0.1", [(EMAIL, f"guess {i}") for i in range(12)], together=True)
    codes = sorted(r.status_code for r in results)
    assert codes == [401] * 3 + [429] * 9
    assert all(r.headers["retry-after"] for r in results if r.status_code == 429)
    # Even the right password now waits: only 3 guesses were checked.
    assert [r.status_code for r in run(_sign_ins, client, "10.3.0.9", [(EMAIL, PASSWORD)])] == [429]


def test_a_right_password_gives_its_attempt_back_but_forgives_no_failure(client, owner, run, three_tries):
    def sign_ins(attempts):  # a new session each time: signing in changes the CSRF token
        return [r.status_code for r in run(_sign_ins, client, "10.4.0.1", attempts)]

    assert sign_ins([(EMAIL, "guess"), (EMAIL, "guess"), (EMAIL, PASSWORD)]) == [401, 401, 303]
    assert sign_ins([(EMAIL, "guess"), (EMAIL, PASSWORD)]) == [401, 429]


def test_sign_in_reads_the_client_address_from_the_configured_header_only(settings):
    import ipaddress

    from redirect_support import client_with

    trusted = (ipaddress.ip_network("10.0.0.0/8"),)
    with client_with(settings, peer=("10.1.2.3", 4000), trusted_proxies=trusted, forwarded_header="x-real-ip") as c:
        c.app_state["core"].signin_attempts = MemoryAttemptLimiter(3, 600)
        for n in range(3):  # a client's own X-Forwarded-For, passed through by the proxy: ignored
            r = sign_in(c, email=f"u{n}@example.com", **{"x-real-ip": "203.0.113.5", "x-forwarded-for": f"198.51.100.{n}"})
            assert r.status_code == 401
        r = sign_in(c, email="u9@example.com", **{"x-real-ip": "203.0.113.5", "x-forwarded-for": "198.51.100.99"})
        assert r.status_code == 429 and "from your network" in r.text
        assert sign_in(c, email="u9@example.com", **{"x-real-ip": "203.0.113.6"}).status_code == 401


def test_unknown_email_reads_like_a_wrong_password(client, owner):
    r = sign_in(client, email="nobody@example.com")
    assert r.status_code == 401 and "Wrong email or password." in r.text


def test_sign_out_ends_the_session(dash):
    r = post(dash, "/_/signout", {})
    assert r.status_code == 303 and r.headers["location"] == "/_/signin"
    assert 'Max-Age=0' in r.headers["set-cookie"] or "expires=" in r.headers["set-cookie"].lower()
    assert dash.get("/_/links").status_code == 303


def test_sign_out_ends_the_session_on_the_server_too(client, owner):
    """A copy of the cookie (another tab's, a stolen one) is worthless once its session signed
    out; another session of the same owner goes on."""
    def use(cookie):
        client.cookies.clear()
        client.cookies.set(COOKIE, cookie, domain="go.test", path="/_/")

    assert sign_in(client).status_code == 303
    first = client.cookies.get(COOKIE)
    client.cookies.clear()
    assert sign_in(client).status_code == 303
    second = client.cookies.get(COOKIE)
    use(first)
    assert post(client, "/_/signout", {}).status_code == 303
    use(first)
    r = client.get("/_/links")
    assert r.status_code == 303 and r.headers["location"].startswith("/_/signin")
    use(second)
    assert client.get("/_/links").status_code == 200


def test_a_deleted_owner_is_signed_out(dash, core, run):
    assert dash.get("/_/links").status_code == 200
    run(core.users.delete, EMAIL)
    assert dash.get("/_/links").status_code == 303


def test_a_new_password_ends_old_sessions(dash, core, run):
    assert dash.get("/_/links").status_code == 200
    run(core.users.set, EMAIL, "another long password")
    assert dash.get("/_/links").status_code == 303


def test_several_owners_share_the_workspace(client, core, run, owner):
    run(core.users.set, "second@example.com", "second password")
    sign_in(client)
    post(client, "/_/links/new", {"url": "https://example.com/shared", "key": "shared"}, page="/_/links/new")
    client.cookies.clear()
    assert sign_in(client, email="second@example.com", password="second password").status_code == 303
    assert "go.test/shared" in client.get("/_/links").text


def test_cli_users_create_reads_the_password_from_stdin(tmp_path):
    data = tmp_path / "cli-data"
    cmd = [sys.executable, "-m", "shortener", "--data-dir", str(data), "users"]
    subprocess.run([*cmd[:-1], "init"], capture_output=True, text=True, timeout=60, check=True)
    r = subprocess.run([*cmd, "create", "cli@example.com"], input="a long password\n", capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "created owner cli@example.com" in r.stderr
    listed = subprocess.run([*cmd, "list"], capture_output=True, text=True, timeout=60)
    assert listed.stdout.splitlines()[0].split() == ["EMAIL", "CREATED", "LAST", "SIGN-IN"]
    assert listed.stdout.splitlines()[1].startswith("cli@example.com ")
    short = subprocess.run([*cmd, "create", "cli@example.com"], input="short\n", capture_output=True, text=True,
                           timeout=60)
    assert short.returncode == 1 and "8 to 1000 characters" in short.stderr


def test_password_is_stored_as_scrypt(core, run, owner):
    stored = run(core.store.find_user_by_email, EMAIL)["password_hash"]
    assert stored.startswith("scrypt$16384$8$") and PASSWORD not in stored


# -- security on every page ------------------------------------------------------------------

def test_security_headers(dash):
    for path in ("/_/signin", "/_/links", "/_/links/new", "/_/settings", "/_/customers", "/_/events"):
        h = dash.get(path).headers
        csp = h["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert h["referrer-policy"] == "same-origin"
        assert h["x-frame-options"] == "DENY"


def test_no_inline_script_in_any_page(dash):
    post(dash, "/_/links/new", {"url": "https://example.com/", "key": "k"}, page="/_/links/new")
    link_id = re.search(r'href="/_/links/(link_[0-9A-Z]+)"', dash.get("/_/links").text).group(1)
    for path in ("/_/signin", "/_/links", "/_/links/new", f"/_/links/{link_id}", "/_/settings"):
        html = dash.get(path).text
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
        assert not re.search(r"\son[a-z]+=", html)


@pytest.mark.parametrize("headers", [
    {"origin": "http://evil.test"},
    {"origin": "null"},
    {"referer": "http://evil.test/form"},
    {},
])
def test_a_post_from_another_origin_is_refused(dash, core, run, headers):
    token = csrf_of(dash.get("/_/links/new").text)
    r = dash.post("/_/links/new", data={"csrf": token, "url": "https://example.com/", "key": "csrf"}, headers=headers)
    assert r.status_code == 403
    assert run(core.links.count, {}) == 0


def test_a_post_without_the_token_is_refused(dash, core, run):
    for data in ({}, {"csrf": "forged"}):
        r = dash.post("/_/settings/keys", data={"name": "sneaky", **data}, headers=ORIGIN)
        assert r.status_code == 403
    assert [k["name"] for k in run(core.api_keys.list)] == []


def test_a_token_from_another_session_is_refused(client, owner, core, run):
    foreign = csrf_of(client.get("/_/signin").text)
    client.cookies.clear()
    sign_in(client)
    r = client.post("/_/settings/keys", data={"csrf": foreign, "name": "x"}, headers=ORIGIN)
    assert r.status_code == 403


def test_sign_in_form_needs_a_token_and_origin(client, owner):
    client.get("/_/signin")
    r = client.post("/_/signin", data={"email": EMAIL, "password": PASSWORD}, headers=ORIGIN)
    assert r.status_code == 403
    token = csrf_of(client.get("/_/signin").text)
    r = client.post("/_/signin", data={"csrf": token, "email": EMAIL, "password": PASSWORD},
                    headers={"origin": "http://evil.test"})
    assert r.status_code == 403


MARKUP = '<img src=x onerror="alert(1)">"\'&'


def test_link_values_are_escaped(dash, core, run):
    run(core.links.create, {"url": "https://example.com/?q=<script>", "key": "esc", "title": MARKUP,
                            "description": MARKUP, "comments": MARKUP, "tagNames": ["<b>tag</b>"]})
    link_id = re.search(r'href="/_/links/(link_[0-9A-Z]+)"', dash.get("/_/links").text).group(1)
    for path in ("/_/links", f"/_/links/{link_id}", f"/_/links/{link_id}/delete"):
        html = dash.get(path).text
        assert "<img src=x" not in html and "<b>tag</b>" not in html and "<script>" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in dash.get(f"/_/links/{link_id}").text


def test_customers_and_events_show_visitor_values_escaped(api, owner, core, run):
    from tests.conversion_support import DESKTOP, lead, new_link, sale

    link = new_link(api, "conv")
    r = api.get("/conv", headers={"user-agent": DESKTOP, "referer": "https://ref.test/<script>x</script>"})
    click = r.cookies["dub_id"]
    api.cookies.clear()
    run(core.clicks.flush)
    assert lead(api, click, "cust-1", customerName=MARKUP, customerEmail="c@example.com",
                metadata={"note": MARKUP, "city": "Zürich"}).status_code == 200
    assert sale(api, "cust-1", 1999, invoiceId="inv-1").status_code == 200
    del api.headers["Authorization"]
    sign_in(api)
    customers = api.get("/_/customers").text
    assert "&lt;img src=x" in customers and "<img src=x" not in customers
    customer_id = re.search(r'href="/_/customers/(cus_[0-9A-Z]+)"', customers).group(1)
    assert "c@example.com" in api.get("/_/customers?q=c@example").text
    assert "cust-1" not in api.get("/_/customers?q=nobody").text
    page = api.get(f"/_/customers/{customer_id}").text
    assert "Sign up" in page and "19.99" in page and "<img src=x" not in page
    events = api.get("/_/events?event=leads&interval=all").text
    assert "Sign up" in events and "<img src=x" not in events and "&lt;img src=x" in events
    # The metadata reads as it was sent (not \u003c or \u00fc escapes), HTML-escaped.
    cell = re.search(r'data-label="Metadata" class="dest"><code>(.*?)</code>', events).group(1)
    assert "<" not in cell and json.loads(htmllib.unescape(cell)) == {"note": MARKUP, "city": "Zürich"}
    assert "Zürich" in cell and "\\u" not in cell
    clicks = api.get("/_/events?event=clicks&interval=all").text
    assert '<option value="all" selected>All time</option>' in clicks   # the period reads as on Analytics
    assert "ref.test" in clicks and "<script>x" not in clicks
    assert "Sign up" not in api.get("/_/events?event=leads&interval=all&country=ZZ").text
    assert link["id"] in api.get(f"/_/events?event=sales&interval=all&linkId={link['id']}").text


# -- links -----------------------------------------------------------------------------------

def _hook(core, run, name="hook") -> str:
    # Subscribed to sales only: nothing in these tests makes one, so nothing is delivered.
    return run(core.webhooks.create, {"name": name, "url": "https://hooks.example.com/in",
                                      "triggers": ["sale.created"]})["id"]


def test_create_link_with_every_option(dash, core, run):
    hooks = [_hook(core, run, "first"), _hook(core, run, "second")]
    form = dash.get("/_/links/new").text
    assert all(f'value="{h}"' in form for h in hooks)
    r = post(dash, "/_/links/new", {
        "url": "https://example.com/landing", "domain": "other.test", "key": "opts", "tags": "news, promo",
        "comments": "spring", "utm_source": "nl", "utm_medium": "email", "utm_campaign": "spring",
        "title": "Title", "description": "Desc", "image": "https://example.com/i.png", "proxy": "on",
        "ios": "https://apps.apple.com/app/x", "android": "https://play.google.com/store/apps/x",
        "geo": "de https://example.com/de\nFR, https://example.com/fr", "password": "secret pw",
        "expiresAt": "2031-06-01T12:30", "tzOffset": "-120", "expiredUrl": "https://example.com/expired",
        "redirectStatus": "308", "externalId": "ext-1", "rewrite": "on", "doIndex": "on",
        "trackConversion": "on", "publicStats": "on", "archived": "on",
        "video": "https://example.com/v.mp4", "tenantId": "tenant-7", "programId": "prog_1", "partnerId": "pn_1",
        "webhookIds": hooks[1:],
        "testVariants": "30 https://example.com/a\n70%, https://example.com/b",
        "testStartedAt": "2031-01-01T09:00", "testCompletedAt": "2031-02-01T09:00", "tzOffset-testCompletedAt": "60",
    }, page="/_/links/new")
    assert r.status_code == 303, r.text
    link = run(core.links.get, "ext_ext-1")
    assert (link["video"], link["tenantId"], link["programId"], link["partnerId"]) == (
        "https://example.com/v.mp4", "tenant-7", "prog_1", "pn_1")
    assert link["webhookIds"] == [hooks[1]] and link["archived"]
    assert link["testVariants"] == [{"url": "https://example.com/a", "percentage": 30},
                                    {"url": "https://example.com/b", "percentage": 70}]
    # Each date in its own offset, else the form's (tzOffset, -120 here): DST may differ between them.
    assert (link["testStartedAt"], link["testCompletedAt"]) == ("2031-01-01T07:00:00.000Z", "2031-02-01T10:00:00.000Z")
    page = dash.get(f"/_/links/{link['id']}").text
    assert f'value="{hooks[1]}" checked' in page and f'value="{hooks[0]}">' in page
    assert 'value="tenant-7"' in page and "30 https://example.com/a\n70 https://example.com/b" in page
    assert 'data-utc="2031-02-01T10:00:00.000Z"' in page
    assert link["url"] == "https://example.com/landing?utm_source=nl&utm_medium=email&utm_campaign=spring"
    assert (link["domain"], link["key"], link["comments"]) == ("other.test", "opts", "spring")
    assert sorted(t["name"] for t in link["tags"]) == ["news", "promo"]
    assert link["geo"] == {"DE": "https://example.com/de", "FR": "https://example.com/fr"}
    assert link["expiresAt"] == "2031-06-01T10:30:00.000Z"
    assert link["passwordProtected"] and link["redirectStatus"] == 308
    assert all(link[f] for f in ("proxy", "rewrite", "doIndex", "trackConversion", "publicStats"))
    assert (link["title"], link["image"], link["ios"]) == ("Title", "https://example.com/i.png", "https://apps.apple.com/app/x")


def test_validation_errors_come_from_the_link_service_beside_the_field(dash, core, run):
    run(core.links.create, {"url": "https://example.com/", "key": "taken"})
    cases = [
        ({"url": "javascript:alert(1)"}, "url", "javascript"),
        ({"url": "https://example.com/", "key": "taken"}, "key", "already exists"),
        ({"url": "https://example.com/", "key": "_x"}, "key", ""),
        ({"url": "https://example.com/", "image": "ftp://x/y"}, "image", ""),
        ({"url": "https://example.com/", "geo": "USA https://example.com"}, "geo", "country"),
        ({"url": "https://example.com/", "expiresAt": "not a date"}, "expiresAt", "date"),
        ({"url": ""}, "url", "required"),
    ]
    for data, field, needle in cases:
        r = post(dash, "/_/links/new", data, page="/_/links/new")
        assert r.status_code in (400, 403, 409, 422), (data, r.status_code)
        errors = field_errors(r.text)
        assert field in errors, (data, errors)
        assert needle.lower() in errors[field].lower()
        assert 'aria-invalid="true"' in r.text
    assert run(core.links.count, {}) == 1


def test_random_key_prefix_and_length_on_create(dash, core, run):
    r = post(dash, "/_/links/new", {"url": "https://example.com/", "prefix": "docs", "keyLength": "12"},
             page="/_/links/new")
    assert r.status_code == 303, r.text
    [link] = run(core.links.list, {}, sort="createdAt", descending=True, page=1, page_size=10)
    assert re.fullmatch(r"docs/[0-9A-Za-z]{12}", link["key"])
    assert 'name="prefix"' not in dash.get(f"/_/links/{link['id']}").text  # create only


def test_new_fields_show_the_service_errors_beside_them(dash, core, run):
    later = {"testCompletedAt": "2031-02-01T09:00"}
    cases = [
        ({"keyLength": "ten"}, "keyLength", "whole number"),
        ({"keyLength": "2"}, "keyLength", ">=3"),
        ({"video": "ftp://example.com/v"}, "video", ""),
        ({"testVariants": "50 https://example.com/a\n40 https://example.com/b", **later}, "testVariants", "add up to 100"),
        ({"testVariants": "half https://example.com/a", **later}, "testVariants", "line 1"),
        ({"testVariants": "50 https://example.com/a\n50 https://example.com/b"}, "testCompletedAt", "required"),
        ({"testVariants": "50 https://example.com/a\n50 https://example.com/b", "testCompletedAt": "soon"},
         "testCompletedAt", "date"),
        ({"webhookIds": "wh_nosuchhook"}, "webhookIds", "wh_nosuchhook"),
        ({"tenantId": "t" * 256}, "tenantId", "255"),
    ]
    for data, field, needle in cases:
        r = post(dash, "/_/links/new", {"url": "https://example.com/", **data}, page="/_/links/new")
        assert r.status_code in (400, 422), (data, r.status_code)
        errors = field_errors(r.text)
        assert field in errors, (data, errors)
        assert needle.lower() in htmllib.unescape(errors[field]).lower(), (data, errors)
    assert run(core.links.count, {}) == 0


def test_editing_sends_only_what_changed(dash, core, run):
    hook = _hook(core, run)
    link = run(core.links.create, {
        "url": "https://example.com/a", "key": "ab", "webhookIds": [hook], "tenantId": "t1",
        "comments": "line one\nline two",
        "expiresAt": "2032-01-01T10:00:42Z", "testVariants": [{"url": "https://example.com/x", "percentage": 50},
                                                              {"url": "https://example.com/y", "percentage": 50}],
        "testStartedAt": "2031-01-01T10:00:30Z", "testCompletedAt": "2031-03-01T10:00:30Z"})
    page = f"/_/links/{link['id']}"
    shown = shown_form(dash.get(page).text)
    shown["comments"] = shown["comments"].replace("\n", "\r\n")   # as a browser sends a textarea
    # Submitted as shown (times to the minute): nothing is written.
    r = dash.post(page, data=shown, headers=ORIGIN)
    assert r.status_code == 303 and run(core.links.get, link["id"])["updatedAt"] == link["updatedAt"]
    # One field changed: only it changes; the seconds of the times and the A/B test stay.
    r = dash.post(page, data={**shown, "title": "Now titled"}, headers=ORIGIN)
    assert r.status_code == 303
    got = run(core.links.get, link["id"])
    assert got["title"] == "Now titled"
    for name in ("expiresAt", "testStartedAt", "testCompletedAt", "testVariants", "webhookIds", "tenantId", "url",
                 "comments"):
        assert got[name] == link[name], name
    # Emptied fields clear their values.
    cleared = {k: v for k, v in shown.items() if k not in ("webhookIds",)}
    cleared.update({"tenantId": "", "testVariants": "", "testStartedAt": "", "testCompletedAt": "", "expiresAt": ""})
    assert dash.post(page, data=cleared, headers=ORIGIN).status_code == 303
    got = run(core.links.get, link["id"])
    assert (got["webhookIds"], got["tenantId"], got["testVariants"], got["expiresAt"]) == ([], None, None, None)


def test_edit_archive_and_delete(dash, core, run):
    link = run(core.links.create, {"url": "https://example.com/a", "key": "edit", "password": "pw12345678",
                                   "tagNames": ["one"]})
    page = f"/_/links/{link['id']}"
    html = dash.get(page).text
    assert 'value="https://example.com/a"' in html and 'value="one"' in html
    r = post(dash, page, {"url": "https://example.com/b", "key": "edited", "domain": "go.test", "tags": "",
                          "title": "New"}, page=page)
    assert r.status_code == 303
    got = run(core.links.get, link["id"])
    assert (got["url"], got["key"], got["title"], got["tags"]) == ("https://example.com/b", "edited", "New", [])
    assert got["passwordProtected"]  # an empty password field keeps it
    post(dash, page, {"url": "https://example.com/b", "removePassword": "on"}, page=page)
    assert not run(core.links.get, link["id"])["passwordProtected"]

    post(dash, f"{page}/archive", {"archived": "true"}, page=page)
    assert run(core.links.get, link["id"])["archived"]
    assert "go.test/edited" not in dash.get("/_/links").text
    assert "go.test/edited" in dash.get("/_/links?archived=only").text

    confirm = dash.get(f"{page}/delete")
    assert "Delete this link?" in confirm.text
    r = post(dash, f"{page}/delete", {}, page=f"{page}/delete")
    assert r.status_code == 303
    assert run(core.links.count, {"show_archived": True}) == 0
    assert dash.get(page).status_code == 404


def test_links_table_filters_sorts_and_pages(dash, core, run):
    for start in (0, 100):
        run(core.links.create_many, [{"url": f"https://example.com/{i}", "key": f"k{i:03d}"}
                                     for i in range(start, min(start + 100, 105))])
    run(core.links.create, {"url": "https://findme.example/", "key": "zz", "domain": "other.test",
                            "tagNames": ["red"]})
    html = dash.get("/_/links").text
    assert "1–100 of 106 links" in html and "Page 1 of 2" in html
    assert "6 of 106" not in html
    assert "101–106 of 106 links" in dash.get("/_/links?page=2").text
    assert "1–1 of 1 links" in dash.get("/_/links?q=findme").text
    assert "1–1 of 1 links" in dash.get("/_/links?domain=other.test").text
    tag = run(core.tags.list)[0]
    assert "go.test/k" not in dash.get(f"/_/links?tag={tag['id']}").text
    # A batch is created within a millisecond or two: equal createdAt values must still come back
    # in the order the links were made (ties break on the id, which is monotonic), on both pages.
    oldest_first = dash.get("/_/links?sort=createdAt&order=asc").text
    shown = re.findall(r"go\.test/(k\d{3})<", oldest_first)
    assert shown == [f"k{i:03d}" for i in range(100)]
    newest_first = dash.get("/_/links?page=2").text
    assert re.findall(r"go\.test/(k\d{3})<", newest_first) == [f"k{i:03d}" for i in range(5, -1, -1)]
    assert dash.get("/_/links?sort=bogus&page=x").status_code == 200


def test_counters_in_the_table(dash, core, run):
    link = run(core.links.create, {"url": "https://example.com/", "key": "counted"})
    run(core.store.write, "UPDATE links SET clicks = 7, leads = 3, sales = 2, sale_amount = 4990 WHERE id = ?",
        (link["id"],))
    row = re.search(r"go.test/counted.*?</tr>", dash.get("/_/links").text, re.S).group(0)
    assert ">7<" in row and ">3<" in row and "49.90" in row


def test_qr_links_on_the_link_page(dash, core, run, client):
    link = run(core.links.create, {"url": "https://example.com/", "key": "qr"})
    html = dash.get(f"/_/links/{link['id']}").text
    srcs = re.findall(r'(?:src|href)="(/api/qr\?[^"]+)"', html)
    assert len(srcs) == 3
    for src in srcs:
        r = client.get(src.replace("&amp;", "&"))
        assert r.status_code == 200
    assert any("format=svg" in s for s in srcs) and any("download" in html for s in srcs)


# -- settings --------------------------------------------------------------------------------

def test_api_key_is_shown_once_then_revoked(dash, client, core, run):
    r = post(dash, "/_/settings/keys", {"name": "from the dashboard"})
    key = re.search(r'<code id="new-key">([^<]+)</code>', r.text).group(1)
    assert client.get("/api/links", headers={"authorization": f"Bearer {key}"}).status_code == 200
    assert key not in dash.get("/_/settings").text
    # The answer was shown at the form's address; loading that address again (a GET) goes back
    # to the form's page, creating nothing and showing no key.
    again = dash.get("/_/settings/keys")
    assert again.status_code == 303 and again.headers["location"] == "/_/settings#keys"
    assert len(run(core.api_keys.list)) == 1
    key_id = run(core.api_keys.list)[0]["id"]
    hook = _hook(core, run)
    for path, target in ((f"/_/settings/keys/{key_id}/revoke", "/_/settings#keys"),
                         (f"/_/settings/webhooks/{hook}/rotate", f"/_/settings/webhooks/{hook}"),
                         ("/_/links/link_x/archive", "/_/links/link_x"), ("/_/signout", "/_/")):
        r = dash.get(path)
        assert (r.status_code, r.headers["location"]) == (303, target), path
    assert client.get("/api/links", headers={"authorization": f"Bearer {key}"}).status_code == 200
    post(dash, f"/_/settings/keys/{key_id}/revoke", {})
    assert client.get("/api/links", headers={"authorization": f"Bearer {key}"}).status_code == 401


def test_tags_and_domains(dash, core, run):
    post(dash, "/_/settings/tags", {"name": "launch", "color": "blue"})
    tag = run(core.tags.list)[0]
    assert (tag["name"], tag["color"]) == ("launch", "blue")
    post(dash, f"/_/settings/tags/{tag['id']}", {"name": "launched", "color": "green"})
    assert run(core.tags.list)[0]["name"] == "launched"
    r = post(dash, "/_/settings/tags", {"name": "x" * 60})
    assert r.status_code == 422 and 'role="alert"' in r.text

    post(dash, "/_/settings/domains", {"slug": "new.test"})
    post(dash, "/_/settings/domains/new.test", {"notFoundUrl": "https://example.com/404",
                                                "cookieDomain": "new.test"})
    dom = run(core.domains.get, "new.test")
    assert (dom["notFoundUrl"], dom["cookieDomain"]) == ("https://example.com/404", "new.test")
    r = post(dash, "/_/settings/domains/new.test", {"notFoundUrl": "javascript:x"})
    assert r.status_code == 422
    post(dash, "/_/settings/domains/new.test/delete", {"confirm": "on"})
    assert [d["slug"] for d in run(core.domains.list)] == ["go.test", "other.test"]


def test_webhooks(dash, core, run):
    r = post(dash, "/_/settings/webhooks", {"name": "hook", "url": "https://example.com/hook",
                                            "triggers": ["lead.created", "sale.created"]})
    hook = run(core.webhooks.list)[0]
    assert hook["secret"] in r.text and hook["triggers"] == ["lead.created", "sale.created"]
    page = f"/_/settings/webhooks/{hook['id']}"
    assert hook["secret"] not in dash.get(page).text
    post(dash, page, {"disabled": "true"}, page=page)
    assert run(core.webhooks.get, hook["id"])["disabledAt"]
    post(dash, page, {"disabled": "false"}, page=page)
    assert run(core.webhooks.get, hook["id"])["disabledAt"] is None
    r = post(dash, f"{page}/rotate", {}, page=page)
    new = run(core.webhooks.get, hook["id"])["secret"]
    assert new != hook["secret"] and new in r.text
    post(dash, f"{page}/delete", {}, page=page)
    assert run(core.webhooks.list) == []


def test_folders_in_the_form_and_the_filter(dash, core, run):
    folder = run(core.folders.create, {"name": "Campaigns"})
    html = dash.get("/_/links/new").text
    assert f'<option value="{folder["id"]}">Campaigns</option>' in html
    post(dash, "/_/links/new", {"url": "https://example.com/f", "key": "infolder", "folderId": folder["id"]},
         page="/_/links/new")
    post(dash, "/_/links/new", {"url": "https://example.com/g", "key": "outside"}, page="/_/links/new")
    assert run(core.links.get, run(core.links.list, {"search": "infolder"})[0]["id"])["folderId"] == folder["id"]
    listed = dash.get(f"/_/links?folder={folder['id']}").text
    assert "go.test/infolder" in listed and "go.test/outside" not in listed
    r = post(dash, "/_/links/new", {"url": "https://example.com/h", "folderId": "fold_missing"}, page="/_/links/new")
    assert r.status_code == 422 and "folderId" in field_errors(r.text)


def test_a_signed_cookie_holding_text_the_store_cannot_take_is_no_session(client, core, owner):
    """Only the secret key's holder can sign one, but it was a 500 when the session was looked up."""
    from itsdangerous import URLSafeTimedSerializer
    from itsdangerous.encoding import base64_encode

    from shortener.web.dashboard.session import SESSION_PURPOSE

    assert core.signer.loads(SESSION_PURPOSE, core.signer.dumps(SESSION_PURPOSE, {"sid": "x"}), max_age=60)
    # The JSON text with the escape, as a forger writes it (json.dumps would refuse to encode it).
    signer = URLSafeTimedSerializer(core.signer._secret, salt=f"shortener.{SESSION_PURPOSE}").make_signer(
        f"shortener.{SESSION_PURPOSE}")
    uid = owner["id"]
    for text in ('{"sid":"\\ud800","uid":"%s"}' % uid, '{"sid":"ssssssssssssssssssssssss","uid":"\\ud800"}',
                 '{"sid":"a\\u0000b","uid":"%s"}' % uid, '{"sid":"ssssssssssssssssssssssss","uid":7}'):
        client.cookies.clear()
        client.cookies.set(COOKIE, signer.sign(base64_encode(text.encode())).decode(), domain="go.test", path="/_/")
        r = client.get("/_/links")
        assert r.status_code == 303 and r.headers["location"].startswith("/_/signin"), text
