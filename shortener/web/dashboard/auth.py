"""Sign-in and sign-out."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..common import core_of
from ..templating import render
from .session import (
    SESSION_SECONDS, clear_session, client_address, context, limiter_of, new_sid, page, set_session,
)
from shortener.services.users import password_stamp


def _next(value: str | None) -> str:
    # Only our own pages: "//evil.example" and absolute URLs would make this an open redirect.
    if value and value.startswith("/_/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/_/links"


@page(public=True)
async def signin(request: Request, form) -> Response:
    if form is None:
        if request.state.user is not None:
            return RedirectResponse(_next(request.query_params.get("next")), status_code=303)
        return render("dashboard/signin.html", context(request, next=request.query_params.get("next", ""), email=""))

    email = str(form.get("email", ""))[:254].strip()
    password = str(form.get("password", ""))
    target = _next(str(form.get("next", "")))
    keys = [f"ip:{client_address(request)}", f"email:{email.lower()}"]
    limiter = limiter_of(request)
    wait = limiter.retry_after(keys)
    if wait:
        return render("dashboard/signin.html",
                      context(request, next=target, email=email,
                              error=f"Too many sign-in attempts. Try again in {wait // 60 + 1} minutes."),
                      status_code=429, headers={"retry-after": str(wait)})
    limiter.hit(keys)  # before the (slow) check: parallel guesses count too
    user = await core_of(request).users.authenticate(email, password)
    if user is None:
        return render("dashboard/signin.html",
                      context(request, next=target, email=email, error="Wrong email or password."),
                      status_code=401)
    limiter.forget(keys)
    response = RedirectResponse(target, status_code=303)
    set_session(request, response, {"sid": new_sid(), "uid": user["id"], "pw": password_stamp(user["password_hash"])},
                max_age=SESSION_SECONDS)
    return response


@page
async def signout(request: Request, form) -> Response:
    response = RedirectResponse("/_/signin", status_code=303)
    clear_session(request, response)
    return response


@page(public=True)
async def home(request: Request, form) -> Response:
    return RedirectResponse("/_/links" if request.state.user else "/_/signin", status_code=303)
