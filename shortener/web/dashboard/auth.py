"""Sign-in and sign-out."""
from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from shortener.attempts import attempt_key, release_all, reserve_all

from ..common import core_of
from ..templating import render
from .session import SESSION_SECONDS, clear_session, client_address, context, page, set_session

NETWORK_SCOPE = "signin"        # attempt_key adds the client's address (its /64 for IPv6)
EMAIL_SCOPE = "signin-email|"


def _next(value: str | None) -> str:
    # Only our own pages: "//evil.example" and absolute URLs would make this an open redirect.
    if value and value.startswith("/_/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/_/links"


def _minutes(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


@page(public=True)
async def signin(request: Request, form) -> Response:
    if form is None:
        if request.state.user is not None:
            return RedirectResponse(_next(request.query_params.get("next")), status_code=303)
        return render("dashboard/signin.html", context(request, next=request.query_params.get("next", ""), email=""))

    email = str(form.get("email", ""))[:254].strip()
    password = str(form.get("password", ""))
    target = _next(str(form.get("next", "")))
    # Limited per client network and per email: the first stops one client guessing many
    # accounts, the second many clients (a botnet) guessing one. Each attempt is counted before
    # the password is checked (scrypt, in a thread), so concurrent guesses cannot all pass one
    # check; a right password gives its attempt back.
    limiter = core_of(request).signin_attempts
    keys = [attempt_key(NETWORK_SCOPE, client_address(request)), EMAIL_SCOPE + email.lower()]
    attempt = await reserve_all(limiter, keys)
    if not attempt.allowed:
        source = "for this email address" if attempt.refused_key == keys[1] else "from your network"
        return render("dashboard/signin.html",
                      context(request, next=target, email=email,
                              error=f"Too many failed sign-in attempts {source}. "
                                    f"Try again in {_minutes(attempt.retry_after)}."),
                      status_code=429, headers={"retry-after": str(attempt.retry_after)})
    user = await core_of(request).users.authenticate(email, password)
    if user is None:
        return render("dashboard/signin.html",
                      context(request, next=target, email=email, error="Wrong email or password."),
                      status_code=401)
    await release_all(limiter, attempt)
    response = RedirectResponse(target, status_code=303)
    sid = await core_of(request).users.start_session(user["id"], SESSION_SECONDS)
    set_session(request, response, {"sid": sid, "uid": user["id"]}, max_age=SESSION_SECONDS)
    return response


@page
async def signout(request: Request, form) -> Response:
    response = RedirectResponse("/_/signin", status_code=303)
    await core_of(request).users.end_session(request.state.dash_session["sid"])
    clear_session(request, response)
    return response


@page(public=True)
async def home(request: Request, form) -> Response:
    return RedirectResponse("/_/links" if request.state.user else "/_/signin", status_code=303)
