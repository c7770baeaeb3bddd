"""The dashboard in a real browser: Playwright driving Debian's chromium against a live server.

Everything stays on 127.0.0.1: the short links point at a small local page this module serves,
which also plays the "other site" for the cross-site POST and receives the webhook deliveries. Screenshots of the main pages go to
tests/screenshots/ (git-ignored; .ci/run prints the folder).
"""
from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import threading
import httpx
import pytest

from tests.conftest import ROOT, LiveServer, free_port

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "tests" / "screenshots"
EMAIL, PASSWORD = "owner@example.com", "browser test password"
DESKTOP_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/126.0.0.0 Safari/537.36")
MARKUP_TITLE = '<img src=x onerror="window.__xss=1">Spring <b>sale</b>'
MARKUP_REFERER = "https://ref.test/<script>window.__xss=1</script>"

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (pip install -e '.[test]')"),
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                       reason=f"no chromium at {CHROMIUM}: install Debian's package (apt-get install chromium); "
                              ".ci/run does this when it can"),
]


class Landing(http.server.BaseHTTPRequestHandler):
    """The destination of the test links, and a foreign site with a form aimed at the dashboard."""

    seen: list[tuple[str, str]] = []
    posted: list[tuple[str, dict]] = []   # webhook deliveries: (path, payload)
    target = ""

    def do_GET(self) -> None:  # noqa: N802
        Landing.seen.append((self.path, self.headers.get("user-agent", "")))
        if self.path.startswith("/evil"):
            body = (f'<form method="post" action="{Landing.target}/_/settings/keys">'
                    '<input name="name" value="planted"><button id="go">Win a prize</button></form>')
        else:
            body = "<h1>Landing page</h1>"
        data = f"<!doctype html><title>local</title>{body}".encode()
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        Landing.posted.append((self.path, json.loads(body or b"{}")))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def landing():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Landing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def live(tmp_path_factory, landing):
    port = free_port()
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHORTENER_")}
    env.update({"SHORTENER_DOMAIN": f"127.0.0.1:{port}", "SHORTENER_SQLITE_SYNCHRONOUS": "normal",
                "SHORTENER_CLICK_FLUSH_MS": "20", "PYTHONPATH": str(ROOT),
                "SHORTENER_WEBHOOK_ALLOW_PRIVATE": "1"})  # the webhook receiver is the local page
    server = LiveServer(data_dir=data_dir, port=port, env=env)
    server.cli("init")
    created = create_owner(server)
    assert created.returncode == 0, created.stderr
    server.start()
    Landing.target = server.url
    yield server
    server.stop()


def create_owner(server: LiveServer) -> subprocess.CompletedProcess:
    """`shortener users create` with the password on stdin, as a script would run it."""
    return subprocess.run([sys.executable, "-m", "shortener", "--data-dir", str(server.data_dir), "users", "create",
                           EMAIL], input=PASSWORD + "\n", env=server.env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
        ])
        yield b
        b.close()


@pytest.fixture(scope="module")
def context(browser, live):
    ctx = browser.new_context(user_agent=DESKTOP_UA, viewport={"width": 1280, "height": 900}, base_url=live.url)
    # Nothing leaves the machine, whatever a page asks for.
    ctx.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    page = ctx.new_page()
    page.goto("/_/links")
    expect(page).to_have_url(re.compile(r"/_/signin\?next=/_/links$"))
    shot(page, "signin")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/_/links$"))
    page.close()
    yield ctx
    ctx.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def no_horizontal_scroll(page: Page) -> bool:
    # A phone browser (is_mobile) widens its layout viewport to fit wide content instead of
    # scrolling, so innerWidth must also still be the screen's width.
    width = page.viewport_size["width"]
    return page.evaluate(f"document.documentElement.scrollWidth <= window.innerWidth && window.innerWidth === {width}")


def test_link_life_cycle(context, live, landing):
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    # A webhook for the link's clicks, received by the local page.
    page.goto("/_/settings")
    page.locator("#wh-name").fill("clicks-hook")
    page.locator("#wh-url").fill(f"{landing}/hook")
    page.get_by_label("link.clicked").check()
    page.get_by_role("button", name="Create webhook").click()
    expect(page.locator("#webhooks .secret")).to_contain_text("clicks-hook")

    page.goto("/_/links")
    page.get_by_role("link", name="Create link").click()
    page.get_by_label("Destination URL").fill(f"{landing}/landing")
    page.get_by_label("Short key").fill("spring")
    page.get_by_label("Tags").fill("launch, newsletter")
    page.get_by_label("Source").fill("newsletter")
    page.get_by_label("Campaign").fill("spring")
    expect(page.locator("#utm-preview")).to_have_text(f"{landing}/landing?utm_source=newsletter&utm_campaign=spring")
    page.get_by_label("Title", exact=True).fill(MARKUP_TITLE)
    page.get_by_label("Description").fill("Everything must go")
    expect(page.locator("#og-title")).to_have_text(MARKUP_TITLE)  # the live card shows it as text
    expect(page.locator("#og-host")).to_have_text(landing.removeprefix("http://"))
    page.get_by_label("Redirect status").select_option("307")
    page.get_by_label("iOS destination").fill(f"{landing}/ios")
    page.get_by_label("Public statistics page").check()
    page.get_by_label("Video URL (og:video)").fill(f"{landing}/clip.mp4")
    page.get_by_label("clicks-hook").check()
    page.get_by_label("Tenant id").fill("tenant-7")
    shot(page, "link-form")
    page.get_by_role("button", name="Create link").click()
    expect(page.locator("p.notice")).to_have_text("Link created.")
    link_url = page.url.split("?")[0]
    short = f"{live.url}/spring"
    expect(page.locator("aside a.short")).to_have_text(short)
    # Polled with evaluate: wait_for_function compiles its string in the page, which our CSP forbids.
    expect(page.locator("img.qr")).to_have_js_property("complete", True)
    assert page.evaluate("document.querySelector('img.qr').naturalWidth") > 0
    shot(page, "link")
    # The API returns what the form set.
    got = httpx.get(f"{live.url}/api/links/{link_url.rsplit('/', 1)[1]}",
                    headers={"authorization": f"Bearer {live_key(live)}"}).json()
    hook = httpx.get(f"{live.url}/api/webhooks", headers={"authorization": f"Bearer {live_key(live)}"}).json()
    hook_id = next(h["id"] for h in (hook["data"] if isinstance(hook, dict) else hook) if h["name"] == "clicks-hook")
    assert got["webhookIds"] == [hook_id] and got["tenantId"] == "tenant-7"
    assert got["video"] == f"{landing}/clip.mp4" and got["redirectStatus"] == 307 and got["publicStats"]
    expect(page.get_by_label("clicks-hook")).to_be_checked()
    expect(page.get_by_label("Tenant id")).to_have_value("tenant-7")

    # Follow the short link as a person; the local landing page gets the visit with the UTM tags.
    visitor = context.new_page()
    response = visitor.goto(short)
    assert response.status == 200 and visitor.url == f"{landing}/landing?utm_source=newsletter&utm_campaign=spring"
    expect(visitor.locator("h1")).to_have_text("Landing page")
    assert Landing.seen[-1] == ("/landing?utm_source=newsletter&utm_campaign=spring", DESKTOP_UA)
    visitor.close()
    # A second visitor arrives from a referer carrying markup (a browser would percent-encode it).
    r = httpx.get(short, headers={"user-agent": DESKTOP_UA + " other", "referer": MARKUP_REFERER})
    assert r.status_code == 307
    # The link's webhook gets its clicks (delivered by the server in the background).
    for _ in range(100):
        if any(p[1].get("event") == "link.clicked" for p in Landing.posted):
            break
        page.wait_for_timeout(100)
    clicked = [p for p in Landing.posted if p[1].get("event") == "link.clicked"]
    assert clicked and clicked[0][0] == "/hook" and clicked[0][1]["data"]["link"]["key"] == "spring"

    # The clicks show in the table and in the events list, with the markup as text.
    for _ in range(50):
        page.goto("/_/links")
        row = page.locator("tr", has_text="/spring")
        if row.locator("td[data-label=Clicks]").inner_text() == "2":
            break
        page.wait_for_timeout(100)
    expect(row.locator("td[data-label=Clicks]")).to_have_text("2")
    expect(row.locator(".title")).to_have_text(MARKUP_TITLE)
    shot(page, "links")
    page.goto("/_/events?event=clicks&interval=24h")
    referer = page.locator("td[data-label=Referer]", has_text="ref.test")
    expect(referer).to_contain_text(MARKUP_REFERER)  # the markup is shown as text
    page.get_by_role("link", name="ref.test").click()  # a click on a row's value filters by it
    expect(page.locator("p.chips")).to_contain_text("referer: ref.test")
    shot(page, "events")
    assert page.evaluate("window.__xss") is None and dialogs == []

    # The link's analytics: the clicks on the chart and in the breakdowns; a row filters.
    page.goto(f"{link_url}/analytics?interval=24h")
    expect(page.locator("#total-clicks")).to_have_text("2")
    hits = page.locator("svg.chart-timeseries rect.chart-hit title").all_text_contents()
    assert sum(int(t.rsplit(": ", 1)[1]) for t in hits) == 2
    browsers = page.locator("section.breakdown", has=page.get_by_role("heading", name="Browsers"))
    expect(browsers.locator("tbody tr")).to_have_count(1)
    expect(browsers.locator("td[data-label=Clicks]")).to_have_text("2")
    referers = page.locator("section.breakdown", has=page.get_by_role("heading", name="Referers"))
    referers.get_by_role("link", name="ref.test").click()
    expect(page.locator("p.chips")).to_contain_text("referer: ref.test")
    expect(page.locator("#total-clicks")).to_have_text("1")
    shot(page, "link-analytics")
    page.goto("/_/analytics?interval=24h")
    expect(page.locator("#total-clicks")).to_have_text("2")
    shot(page, "analytics")
    page.goto(f"/_/stats/{live.url.removeprefix('http://')}/spring")
    expect(page.locator("svg").first).to_be_visible()
    shot(page, "public-stats")
    assert page.evaluate("window.__xss") is None and dialogs == []

    # Edit, archive, delete.
    page.goto(link_url)
    page.get_by_label("Title", exact=True).fill("Spring sale")
    page.get_by_label("Destination URL").fill(f"{landing}/landing-2")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("p.notice")).to_have_text("Changes saved.")
    expect(page.get_by_label("Title", exact=True)).to_have_value("Spring sale")
    page.get_by_role("button", name="Archive").click()
    expect(page.get_by_role("button", name="Unarchive")).to_be_visible()
    page.goto("/_/links")
    expect(page.locator("tr", has_text="/spring")).to_have_count(0)
    page.get_by_label("Show").select_option("only")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("tr", has_text="/spring")).to_have_count(1)
    page.goto(link_url)
    page.get_by_role("link", name="Delete…").click()
    expect(page.get_by_role("heading")).to_have_text("Delete this link?")
    page.get_by_role("button", name="Delete the link").click()
    expect(page.locator("p.notice")).to_have_text("Link deleted.")
    assert httpx.get(short).status_code == 404
    page.close()


def test_api_key_create_and_revoke(context, live):
    page = context.new_page()
    page.goto("/_/settings")
    page.get_by_label("New key name").fill("browser")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key").inner_text()
    assert key.startswith("dub_")
    shot(page, "settings")
    api = f"{live.url}/api/links"
    assert httpx.get(api, headers={"authorization": f"Bearer {key}"}).status_code == 200
    page.get_by_role("button", name="Revoke key browser").click()
    expect(page.locator("p.notice")).to_contain_text("keys revoked")
    assert httpx.get(api, headers={"authorization": f"Bearer {key}"}).status_code == 401
    page.close()


def test_cross_site_form_post_is_refused(context, live, landing):
    page = context.new_page()
    page.goto(f"{landing}/evil")
    page.click("#go")
    expect(page.get_by_role("heading")).to_have_text("Request refused")
    page.goto("/_/settings")
    expect(page.locator("#keys td[data-label=Name]", has_text="planted")).to_have_count(0)
    page.close()


def test_conversion_pages(context, live, landing):
    # A visitor signs up through a link: a customer with a lead (and its metadata) to search for.
    auth = {"authorization": f"Bearer {live_key(live)}"}
    httpx.post(f"{live.url}/api/links", headers=auth, json={"url": f"{landing}/signup", "key": "signup"})
    click = httpx.get(f"{live.url}/signup", headers={"user-agent": DESKTOP_UA}).cookies["dub_id"]
    r = httpx.post(f"{live.url}/api/track/lead", headers=auth, json={
        "clickId": click, "eventName": "Sign up", "customerExternalId": "cus-ada", "customerName": "Ada <b>L</b>",
        "customerEmail": "ada@example.com", "metadata": {"plan": "Grüne <i>pro</i>"}})
    assert r.status_code == 200, r.text
    page = context.new_page()
    page.goto("/_/customers")
    page.get_by_role("searchbox", name="Search").fill("ada@")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Ada <b>L</b>")).to_be_visible()
    shot(page, "customers")
    page.get_by_role("link", name="Ada <b>L</b>").click()
    expect(page.get_by_role("heading", name="Ada <b>L</b>")).to_be_visible()
    expect(page.locator("td[data-label=Event]")).to_have_text("lead: Sign up")
    expect(page.locator("td[data-label=Metadata]")).to_have_text('{"plan": "Grüne <i>pro</i>"}')
    shot(page, "customer")
    page.close()


def test_phone_viewport_has_no_horizontal_scroll(browser, context, live, landing):
    phone = browser.new_context(user_agent=DESKTOP_UA, viewport={"width": 375, "height": 740}, base_url=live.url,
                                storage_state=context.storage_state(), is_mobile=True, has_touch=True)
    phone.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    page = phone.new_page()
    link = httpx.post(f"{live.url}/api/links", headers={"authorization": f"Bearer {live_key(live)}"},
                      json={"url": f"{landing}/" + "very-long-path-segment/" * 8 + "?q=" + "x" * 120, "key": "phone",
                            "title": "A title long enough to wrap on a small screen", "tagNames": ["mobile"]}).json()
    for path, name in (("/_/links", "links-phone"), ("/_/links/new", "link-form-phone"),
                       (f"/_/links/{link['id']}", "link-phone"), (f"/_/links/{link['id']}/delete", "link-delete-phone"),
                       ("/_/settings", "settings-phone"), ("/_/events?event=clicks", "events-phone"), ("/_/analytics", "analytics-phone")):
        page.goto(path)
        shot(page, name)
        assert no_horizontal_scroll(page), path
    # Keyboard: the skip link is the first stop and lands on the content.
    page.goto("/_/links")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    phone.close()


def live_key(live: LiveServer) -> str:
    if not live.key:
        live.key = live.cli("keys", "create", "--name", "phone").stdout.strip()
    return live.key
