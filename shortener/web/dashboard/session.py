"""What every dashboard page shares: the owner's session, CSRF and Origin checks, security headers.

The session is a cookie signed with itsdangerous (its own salt, a max age) holding a random
session id and the owner's id. A signed-in session also has a row on the server (its id hashed):
signing out deletes it, and so do a new password and deleting the owner, so a copy of the cookie
is worthless after any of them. A visitor who is not signed in gets an anonymous session (an id only), so
the sign-in form has a CSRF token too; signing in issues a new id (no session fixation).

A form's CSRF token is the session id signed for another purpose: it cannot be read by another
site (HttpOnly cookie, no CORS) and is worthless with another session. State-changing requests
must also carry an Origin (or, failing that, a Referer) naming this host.
"""
from __future__ import annotations

import functools
import hmac
import secrets
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from shortener.errors import ApiError
from shortener.inputs import bad_text
from shortener.visitor import client_ip

from ..common import core_of
from ..templating import render

COOKIE = "shortener_session"
SESSION_PURPOSE = "dashboard-session"
CSRF_PURPOSE = "dashboard-csrf"
SESSION_SECONDS = 14 * 24 * 3600
ANONYMOUS_SECONDS = 24 * 3600

SECURITY_HEADERS = {
    # No inline script anywhere: scripts come from /_/static only. Images may come from anywhere
    # over http(s) because the OG preview shows the image URL the owner typed.
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https: http:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


class Forbidden403(Exception):
    """A refused state change (bad CSRF token or a foreign Origin)."""


def client_address(request: Request) -> str:
    """The client's address as the redirector reads it: behind a trusted proxy, from the one
    configured forwarded header only (reading X-Forwarded-For when the proxy sets another header
    let a client name a new address, and get fresh sign-in attempts, with every request)."""
    settings = core_of(request).settings
    headers = {k: v for k, v in request.scope["headers"]}
    return client_ip(request.scope, headers, tuple(settings.trusted_proxies),
                     settings.forwarded_header.encode("latin-1"))


def _secure(request: Request) -> bool:
    return core_of(request).settings.secure_cookies or request.url.scheme == "https"


def _text(value: object) -> bool:
    return isinstance(value, str) and bad_text(value) is None


def read_session(request: Request) -> dict:
    data = core_of(request).signer.loads(SESSION_PURPOSE, request.cookies.get(COOKIE), max_age=SESSION_SECONDS)
    # Signed, so ours, but held to the rule for text that reaches the store all the same: a
    # lone surrogate in it was a 500 when the session was looked up.
    if not isinstance(data, dict) or not _text(data.get("sid")) or ("uid" in data and not _text(data["uid"])):
        return {}
    return data


def set_session(request: Request, response: Response, data: dict, *, max_age: int) -> None:
    token = core_of(request).signer.dumps(SESSION_PURPOSE, data)
    response.set_cookie(COOKIE, token, max_age=max_age, path="/_/", httponly=True, samesite="lax",
                        secure=_secure(request))


def clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, path="/_/", httponly=True, samesite="lax", secure=_secure(request))


def new_sid() -> str:
    return secrets.token_urlsafe(18)


def csrf_token(request: Request) -> str:
    return core_of(request).signer.dumps(CSRF_PURPOSE, request.state.dash_session["sid"])


def _csrf_ok(request: Request, token: Any) -> bool:
    sid = request.state.dash_session.get("sid")
    if not sid or not isinstance(token, str):
        return False
    value = core_of(request).signer.loads(CSRF_PURPOSE, token, max_age=SESSION_SECONDS)
    return isinstance(value, str) and hmac.compare_digest(value, sid)


def _same_origin(request: Request) -> bool:
    """The Origin header (or the Referer when a browser sends no Origin) names this host."""
    host = request.headers.get("host", "").lower()
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null" or not host:
        return False
    parts = urlsplit(source)
    schemes = {request.url.scheme, core_of(request).settings.scheme}
    return parts.scheme in schemes and parts.netloc.lower() == host


async def check_post(request: Request) -> Any:
    """The submitted form, after the Origin and CSRF checks; raises Forbidden403."""
    if not _same_origin(request):
        raise Forbidden403("This form was sent from another site.")
    form = await request.form(max_files=0, max_fields=2000)
    if not _csrf_ok(request, form.get("csrf")):
        raise Forbidden403("The form expired or came from elsewhere. Reload the page and try again.")
    return form


def secure_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def page(fn: Callable[..., Awaitable[Response]] | None = None, *, public: bool = False):
    """A dashboard endpoint: loads the session, requires a signed-in owner unless `public`,
    checks Origin and CSRF on every state-changing method, and adds the security headers.
    The endpoint gets `(request, form)`; `form` is None on GET."""

    def decorate(fn):
        @functools.wraps(fn)
        async def endpoint(request: Request) -> Response:
            session = read_session(request)
            fresh = not session
            if fresh:
                session = {"sid": new_sid()}
            request.state.dash_session = session
            request.state.user = None
            if isinstance(session.get("uid"), str):
                request.state.user = await core_of(request).users.session_user(session["sid"], session["uid"])
            try:
                if request.state.user is None and not public:
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    response: Response = RedirectResponse(f"/_/signin?next={_quote(target)}", status_code=303)
                else:
                    form = await check_post(request) if request.method not in ("GET", "HEAD") else None
                    response = await fn(request, form)
            except Forbidden403 as exc:
                response = render("dashboard/refused.html", context(request, message=str(exc)), status_code=403)
            except ApiError as exc:
                response = render("dashboard/error.html", context(request, status=exc.status, message=exc.message),
                                  status_code=exc.status, headers=exc.headers or None)
            if fresh and COOKIE not in response.headers.get("set-cookie", ""):
                set_session(request, response, session, max_age=ANONYMOUS_SECONDS)
            return secure_headers(response)

        return endpoint

    return decorate(fn) if fn is not None else decorate


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="/")


def context(request: Request, **values: Any) -> dict:
    """The template context every dashboard page gets."""
    core = core_of(request)
    return {
        "request": request,
        "user": getattr(request.state, "user", None),
        "csrf": csrf_token(request) if getattr(request.state, "dash_session", None) else "",
        "default_domain": core.settings.domain,
        "path": request.url.path,
        **values,
    }
