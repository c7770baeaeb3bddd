"""Links: the table, the create and edit forms, archive, delete, QR."""
from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from shortener.errors import ApiError
from shortener.store.sqlite.links import LINK_SORTS

from ..common import core_of
from ..templating import render
from .forms import REDIRECT_CHOICES, FormErrors, field_errors, form_values, link_body
from .session import context, page

PAGE_SIZE = 100
ARCHIVED_CHOICES = {"": "Active", "all": "Active and archived", "only": "Archived only"}
SORT_LABELS = {"createdAt": "Created", "clicks": "Clicks", "saleAmount": "Sales", "lastClicked": "Last click"}


async def _folders(core) -> list[dict]:
    return await core.folders.list(search=None, page=1, page_size=100)


def _page_number(raw: str | None) -> int:
    try:
        return min(max(int(raw or 1), 1), 100_000)
    except ValueError:
        return 1


@page
async def list_links(request: Request, form) -> Response:
    core = core_of(request)
    q = request.query_params
    search = (q.get("q") or "").strip()[:200]
    domain = (q.get("domain") or "").strip().lower()
    tag = q.get("tag") or ""
    folder = q.get("folder") or ""
    archived = q.get("archived") or ""
    archived = archived if archived in ARCHIVED_CHOICES else ""
    sort = q.get("sort") if q.get("sort") in LINK_SORTS else "createdAt"
    order = "asc" if q.get("order") == "asc" else "desc"
    number = _page_number(q.get("page"))
    filters = {"domain": domain or None, "search": search or None, "tag_ids": [tag] if tag else [],
               "folder_id": folder or None,
               "show_archived": archived in ("all", "only"), "archived_only": archived == "only"}
    links = await core.links.list(filters, sort=sort, descending=order == "desc", page=number, page_size=PAGE_SIZE)
    total = await core.links.count(filters)
    state = {"q": search, "domain": domain, "tag": tag, "folder": folder, "archived": archived, "sort": sort,
             "order": order}

    def url_with(**changes) -> str:
        params = {k: v for k, v in {**state, "page": number, **changes}.items() if v not in ("", None, 1)}
        return "/_/links" + ("?" + urlencode(params) if params else "")

    pages = max(1, -(-total // PAGE_SIZE))
    return render("dashboard/links.html", context(
        request, links=links, total=total, state=state, page=number, pages=pages, url_with=url_with,
        domains=await core.domains.list(page_size=100), tags=await core.tags.list(), folders=await _folders(core),
        archived_choices=ARCHIVED_CHOICES, sort_labels=SORT_LABELS,
        first=(number - 1) * PAGE_SIZE + 1 if links else 0, last=(number - 1) * PAGE_SIZE + len(links),
    ))


async def _form_page(request: Request, *, link: dict | None, values: dict, errors: dict, status: int = 200):
    core = core_of(request)
    return render("dashboard/link_form.html", context(
        request, link=link, v=values, errors=errors, domains=await core.domains.list(page_size=100),
        tags=await core.tags.list(), redirect_choices=REDIRECT_CHOICES, folders=await _folders(core),
        webhooks=await core.webhooks.list(),
    ), status_code=status)


async def _save(request: Request, form, link: dict | None) -> Response:
    """Create (`link` None) or change a link from its submitted form, through the link service
    as the API does; on an error the form again, with the message beside its field."""
    links = core_of(request).links
    try:
        body = link_body(form, link)
        if link is None:
            saved = await links.create(body)
        elif body:
            saved = await links.update(link["id"], body)
        else:
            saved = link   # nothing changed: no write, no link.updated webhook
    except (FormErrors, ApiError) as exc:
        errors, status = (exc.errors, 422) if isinstance(exc, FormErrors) else (field_errors(exc), exc.status)
        return await _form_page(request, link=link, values=form_values(link, form), errors=errors, status=status)
    done = "created" if link is None else "saved"
    return RedirectResponse(f"/_/links/{saved['id']}?{done}=1", status_code=303)


@page
async def new_link(request: Request, form) -> Response:
    if form is None:
        values = form_values(None)
        values["url"] = request.query_params.get("url", "")
        return await _form_page(request, link=None, values=values, errors={})
    return await _save(request, form, None)


@page
async def edit_link(request: Request, form) -> Response:
    link = await core_of(request).links.get(request.path_params["id"])
    if form is None:
        return await _form_page(request, link=link, values=form_values(link), errors={})
    return await _save(request, form, link)


@page
async def archive_link(request: Request, form) -> Response:
    core = core_of(request)
    link = await core.links.get(request.path_params["id"])
    await core.links.update(link["id"], {"archived": form.get("archived") == "true"})
    return RedirectResponse(f"/_/links/{link['id']}", status_code=303)


@page
async def delete_link(request: Request, form) -> Response:
    core = core_of(request)
    link = await core.links.get(request.path_params["id"])
    if form is None:
        return render("dashboard/link_delete.html", context(request, link=link))
    await core.links.delete(link["id"])
    return RedirectResponse("/_/links?deleted=" + link["id"], status_code=303)
