"""Jinja filters for the dashboard's values: money in cents, ISO times, metadata as text."""
from __future__ import annotations

import json

from markupsafe import Markup, escape

from shortener.timeutil import parse_iso

from ..templating import env


def cents(value) -> str:
    try:
        return f"{int(value or 0) / 100:,.2f}"
    except (TypeError, ValueError):
        return ""


def when(value) -> Markup:
    """A <time> in UTC; static/dashboard.js rewrites its text in the browser's time zone."""
    if not value:
        return Markup("")
    try:
        text = parse_iso(str(value)).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return escape(value)
    return Markup('<time datetime="{}">{}</time>').format(value, text)


def json_text(value) -> str:
    """JSON as the sender wrote it, for HTML text: autoescaping escapes it. (Jinja's tojson is for
    <script>: it writes < as \\u003c and every non-ASCII letter as \\uXXXX, unreadable on a page.)"""
    return json.dumps(value, ensure_ascii=False, default=str)


env.filters["cents"] = cents
env.filters["json_text"] = json_text
env.filters["when"] = when
