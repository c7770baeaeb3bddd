"""The owner's dashboard under /_/: server-rendered pages, no JavaScript build step.

Pages reach data only through the Core's services; see session.py for what every page shares
(sign-in, CSRF and Origin checks, security headers).
"""
from __future__ import annotations

from starlette.routing import Route

from . import analytics, auth, conversions, filters, links, settings  # noqa: F401  (filters registers Jinja filters)

GET, POST, BOTH = ["GET", "HEAD"], ["POST"], ["GET", "HEAD", "POST"]

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
]
