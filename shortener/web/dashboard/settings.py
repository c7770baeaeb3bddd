"""Settings: domains, tags, API keys, webhooks and the list of owners."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from shortener.errors import ApiError
from shortener.webhooks import TRIGGERS

from ..common import core_of
from ..templating import render
from .forms import _PREFIX
from .session import context, page

TAG_COLORS = ("red", "yellow", "green", "blue", "purple", "brown", "gray", "pink")


async def _settings_page(request: Request, *, errors: dict | None = None, shown: dict | None = None,
                         status: int = 200) -> Response:
    core = core_of(request)
    return render("dashboard/settings.html", context(
        request, domains=await core.domains.list(page_size=100), tags=await core.tags.list(),
        keys=await core.api_keys.list(), webhooks=await core.webhooks.list(), owners=await core.users.list(),
        triggers=TRIGGERS, colors=TAG_COLORS, errors=errors or {}, shown=shown or {},
        done=request.query_params.get("done", ""),
    ), status_code=status)


def _done(what: str) -> Response:
    return RedirectResponse(f"/_/settings?done={what}#{what.split('-')[0]}", status_code=303)


async def _attempt(request: Request, section: str, action, done: str) -> Response:
    """Run `action()`; on a service error show the settings page with the message in `section`."""
    try:
        await action()
    except ApiError as exc:
        return await _settings_page(request, errors={section: _PREFIX.sub("", exc.message)}, status=exc.status)
    return _done(done)


def _text(form, name: str) -> str | None:
    value = str(form.get(name, "")).strip()
    return value or None


@page
async def settings_page(request: Request, form) -> Response:
    return await _settings_page(request)


# -- domains ---------------------------------------------------------------------------------

def _domain_body(form) -> dict:
    return {"notFoundUrl": _text(form, "notFoundUrl"), "expiredUrl": _text(form, "expiredUrl"),
            "cookieDomain": _text(form, "cookieDomain")}


@page
async def create_domain(request: Request, form) -> Response:
    body = {"slug": str(form.get("slug", "")), **_domain_body(form)}
    return await _attempt(request, "domains", lambda: core_of(request).domains.create(body), "domains-created")


@page
async def update_domain(request: Request, form) -> Response:
    slug = request.path_params["slug"]
    return await _attempt(request, "domains", lambda: core_of(request).domains.update(slug, _domain_body(form)),
                          "domains-saved")


@page
async def delete_domain(request: Request, form) -> Response:
    slug = request.path_params["slug"]
    return await _attempt(request, "domains", lambda: core_of(request).domains.delete(slug), "domains-deleted")


# -- tags ------------------------------------------------------------------------------------

@page
async def create_tag(request: Request, form) -> Response:
    body = {"name": str(form.get("name", "")).strip(), "color": str(form.get("color", "")) or None}
    body = {k: v for k, v in body.items() if v is not None}
    return await _attempt(request, "tags", lambda: core_of(request).tags.create(body), "tags-created")


@page
async def update_tag(request: Request, form) -> Response:
    tag_id = request.path_params["id"]
    body = {"name": str(form.get("name", "")).strip(), "color": str(form.get("color", ""))}
    return await _attempt(request, "tags", lambda: core_of(request).tags.update(tag_id, body), "tags-saved")


@page
async def delete_tag(request: Request, form) -> Response:
    tag_id = request.path_params["id"]
    return await _attempt(request, "tags", lambda: core_of(request).tags.delete(tag_id), "tags-deleted")


# -- API keys --------------------------------------------------------------------------------

@page
async def create_key(request: Request, form) -> Response:
    try:
        row, key = await core_of(request).api_keys.create(str(form.get("name", "")))
    except ApiError as exc:
        return await _settings_page(request, errors={"keys": exc.message}, status=exc.status)
    # Shown on this one response only; the store keeps its SHA-256 (no-store keeps it out of caches).
    return await _settings_page(request, shown={"key": key, "key_name": row["name"]})


@page
async def revoke_key(request: Request, form) -> Response:
    key_id = request.path_params["id"]
    return await _attempt(request, "keys", lambda: core_of(request).api_keys.revoke(key_id), "keys-revoked")


# -- webhooks --------------------------------------------------------------------------------

@page
async def create_webhook(request: Request, form) -> Response:
    body = {"name": str(form.get("name", "")), "url": str(form.get("url", "")).strip(),
            "triggers": [t for t in form.getlist("triggers") if isinstance(t, str)]}
    try:
        hook = await core_of(request).webhooks.create(body)
    except ApiError as exc:
        return await _settings_page(request, errors={"webhooks": _PREFIX.sub("", exc.message)}, status=exc.status)
    return await _settings_page(request, shown={"secret": hook["secret"], "secret_for": hook["name"]})


@page
async def show_webhook(request: Request, form) -> Response:
    webhooks = core_of(request).webhooks
    hook = await webhooks.get(request.path_params["id"])
    deliveries = await webhooks.deliveries(hook["id"], 50)
    return render("dashboard/webhook.html", context(request, hook=hook, deliveries=deliveries,
                                                    secret=None))


@page
async def toggle_webhook(request: Request, form) -> Response:
    hook_id = request.path_params["id"]
    disabled = form.get("disabled") == "true"
    await core_of(request).webhooks.update(hook_id, {"disabled": disabled})
    return RedirectResponse(f"/_/settings/webhooks/{hook_id}", status_code=303)


@page
async def rotate_webhook(request: Request, form) -> Response:
    webhooks = core_of(request).webhooks
    hook = await webhooks.rotate_secret(request.path_params["id"])
    deliveries = await webhooks.deliveries(hook["id"], 50)
    return render("dashboard/webhook.html", context(request, hook=hook, deliveries=deliveries, secret=hook["secret"]))


@page
async def delete_webhook(request: Request, form) -> Response:
    hook_id = request.path_params["id"]
    return await _attempt(request, "webhooks", lambda: core_of(request).webhooks.delete(hook_id), "webhooks-deleted")
