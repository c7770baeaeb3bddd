"""Jinja filters for the dashboard's values: money in cents, ISO times."""
from __future__ import annotations

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


env.filters["cents"] = cents
env.filters["when"] = when
