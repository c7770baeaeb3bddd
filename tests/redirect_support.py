"""Helpers shared by the redirect tests: user agents, link creation, a client with other settings."""
from __future__ import annotations

import contextlib

from starlette.testclient import TestClient

from shortener.web.app import create_app

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
IPAD = ("Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
# iPadOS Safari asks for the desktop site by default and then claims to be a Mac (as in Dub).
IPAD_DESKTOP = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
                "(KHTML, like Gecko) Version/17.4 Safari/605.1.15")
ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
           "(KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36")
ANDROID_TABLET = ("Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 "
                  "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
CUBOT = ("Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 "
         "(KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36")
DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
           "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
FACEBOOK = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
SLACK = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
TWITTER = "Twitterbot/1.0"
WHATSAPP = "WhatsApp/2.23.20.0 A"
CURL = "curl/8.5.0"


def make_link(run, core, **body) -> dict:
    """Create a link through the link service (as the API does) and return the API object."""
    body.setdefault("url", "https://example.com/landing")
    return run(core.links.create, body)


def clicks(run, core, link: dict) -> list[dict]:
    """Every click row of a link, after writing what is queued."""
    run(core.clicks.flush)
    return run(core.store.clicks_of_link, link["id"])


def totals(run, core, link: dict) -> dict:
    run(core.clicks.flush)
    return run(core.store.click_totals, link["id"])


@contextlib.contextmanager
def client_with(settings, peer: tuple[str, int] = ("testclient", 50000), **overrides):
    """A TestClient on an app built with changed settings (e.g. scheme="https"), from `peer`."""
    app = create_app(settings.replace(**overrides))
    with TestClient(app, base_url="http://go.test", follow_redirects=False, client=peer) as c:
        yield c


def cookie_attrs(set_cookie: str) -> tuple[str, str, dict]:
    """(name, value, {attribute lowercased: value or True}) of one Set-Cookie header."""
    first, *rest = [p.strip() for p in set_cookie.split(";")]
    name, _, value = first.partition("=")
    attrs: dict = {}
    for part in rest:
        k, eq, v = part.partition("=")
        attrs[k.lower()] = v if eq else True
    return name, value, attrs
