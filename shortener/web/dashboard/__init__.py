"""The owner's dashboard under /_/: server-rendered pages, no JavaScript build step.

Pages reach data only through the Core's services; see session.py for what every page shares
(sign-in, CSRF and Origin checks, security headers).
"""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from . import analytics, auth, conversions, filters, links, settings  # noqa: F401  (filters registers Jinja filters)
from .session import page

GET, POST, BOTH = ["GET", "HEAD"], ["POST"], ["GET", "HEAD", "POST"]


def _back_to(target: str):
    """GET of an address only a form posts to: some answers (a new API key, a new webhook
    secret, an error) are shown at the form's address, and a browser asked to load it again
    (Enter in the address bar, a bookmark) sends a GET. It goes to the form's page, not a 405."""

    @page
    async def endpoint(request: Request, form) -> Response:
        return RedirectResponse(target.format(**request.path_params), status_code=303)

    return endpoint


# Each POST-only address and the page its form is on.
_FORM_PAGES = {
    "/signout": "/_/",
    "/links/{id}/archive": "/_/links/{id}",
    "/settings/domains": "/_/settings#domains",
    "/settings/domains/{slug}": "/_/settings#domains",
    "/settings/domains/{slug}/delete": "/_/settings#domains",
    "/settings/tags": "/_/settings#tags",
    "/settings/tags/{id}": "/_/settings#tags",
    "/settings/tags/{id}/delete": "/_/settings#tags",
    "/settings/keys": "/_/settings#keys",
    "/settings/keys/{id}/revoke": "/_/settings#keys",
    "/settings/webhooks": "/_/settings#webhooks",
    "/settings/webhooks/{id}/rotate": "/_/settings/webhooks/{id}",
    "/settings/webhooks/{id}/delete": "/_/settings#webhooks",
}

routes: list = [
    Route("/", auth.home, methods=GET),
    Route("/signin", auth.signin, methods=BOTH),
    Route("/signout", auth.signout, methods=POST),
    Route("/links", links.list_links, methods=GET),
    Route("/links/new", links.new_link, methods=BOTH),
    Route("/links/{id}", links.edit_link, methods=BOTH),
    Route("/links/{id}/archive", links.archive_link, methods=POST),
    Route("/links/{id}/delete", links.delete_link, methods=BOTH),
    Route("/links/{id}/analytics", analytics.link_analytics, methods=GET),
    Route("/analytics", analytics.workspace, methods=GET),
    Route("/customers", conversions.list_customers, methods=GET),
    Route("/customers/{id}", conversions.show_customer, methods=GET),
    Route("/events", conversions.list_events, methods=GET),
    Route("/settings", settings.settings_page, methods=GET),
    Route("/settings/domains", settings.create_domain, methods=POST),
    Route("/settings/domains/{slug}", settings.update_domain, methods=POST),
    Route("/settings/domains/{slug}/delete", settings.delete_domain, methods=POST),
    Route("/settings/tags", settings.create_tag, methods=POST),
    Route("/settings/tags/{id}", settings.update_tag, methods=POST),
    Route("/settings/tags/{id}/delete", settings.delete_tag, methods=POST),
    Route("/settings/keys", settings.create_key, methods=POST),
    Route("/settings/keys/{id}/revoke", settings.revoke_key, methods=POST),
    Route("/settings/webhooks", settings.create_webhook, methods=POST),
    Route("/settings/webhooks/{id}", settings.show_webhook, methods=GET),
    Route("/settings/webhooks/{id}", settings.toggle_webhook, methods=POST),
    Route("/settings/webhooks/{id}/rotate", settings.rotate_webhook, methods=POST),
    Route("/settings/webhooks/{id}/delete", settings.delete_webhook, methods=POST),
    *(Route(path, _back_to(target), methods=GET) for path, target in _FORM_PAGES.items()),
]
