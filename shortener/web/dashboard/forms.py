"""The link form: HTML form fields to and from the API's link body.

The dashboard validates nothing itself: it turns the form into the same JSON body the API takes
and lets the link service judge it, then shows the service's message beside the field it names.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from shortener.errors import ApiError, Unprocessable
from shortener.timeutil import parse_iso
from shortener.urls import UTM_FIELDS

TEXT_FIELDS = ("url", "domain", "key", "externalId", "folderId", "comments", "title", "description", "image",
               "ios", "android", "expiredUrl", *UTM_FIELDS)
FLAGS = ("proxy", "rewrite", "doIndex", "trackConversion", "publicStats", "archived")
REDIRECT_CHOICES = ("", "301", "302", "307", "308")

_PREFIX = re.compile(r"^[a-z_]+: [A-Za-z0-9_.\[\]-]+: ")


class FormErrors(Exception):
    """Errors keyed by form field ("" for the form as a whole)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _expiry(value: str, offset_minutes: str) -> str | None:
    """A datetime-local value in the browser's time zone (offset as JS's getTimezoneOffset())."""
    value = value.strip()
    if not value:
        return None
    try:
        offset = int(offset_minutes or 0)
    except ValueError:
        offset = 0
    if not -24 * 60 < offset < 24 * 60:
        offset = 0
    try:
        local = datetime.fromisoformat(value)
    except ValueError:
        raise FormErrors({"expiresAt": "Enter a date and time, such as 2030-01-31 18:00."}) from None
    if local.tzinfo is not None:
        return local.astimezone(timezone.utc).isoformat()
    return (local.replace(tzinfo=timezone.utc) + timedelta(minutes=offset)).isoformat()


def _geo(text: str) -> dict[str, str] | None:
    """One target a line: `US https://example.com/us` (a comma or spaces between the two)."""
    geo: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        country, _, url = line.replace(",", " ", 1).partition(" ")
        if not url.strip():
            raise FormErrors({"geo": f"Line {number}: write a country code, a space, then a URL."})
        geo[country.strip()] = url.strip()
    return geo or None


def link_body(form: Any, *, creating: bool) -> dict:
    """The API body for a submitted link form. On edit every field is sent, so clearing a field
    clears the value; the password is only sent when typed (or removed)."""
    body: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = str(form.get(name, "")).strip()
        if creating and not value:
            continue
        if not creating and name in ("key", "domain") and not value:
            continue  # an empty key on edit keeps the key
        body[name] = value if value or name == "url" else None
    for name in FLAGS:
        body[name] = form.get(name) == "on"
    tags = [t.strip() for t in str(form.get("tags", "")).split(",") if t.strip()]
    if tags or not creating:
        body["tagNames"] = tags
    status = str(form.get("redirectStatus", ""))
    if status not in REDIRECT_CHOICES:
        raise FormErrors({"redirectStatus": "Choose 301, 302, 307, 308 or the default."})
    if status or not creating:
        body["redirectStatus"] = int(status) if status else None
    expires = _expiry(str(form.get("expiresAt", "")), str(form.get("tzOffset", "0")))
    if expires or not creating:
        body["expiresAt"] = expires
    geo = _geo(str(form.get("geo", "")))
    if geo or not creating:
        body["geo"] = geo
    password = str(form.get("password", ""))
    if password:
        body["password"] = password
    elif not creating and form.get("removePassword") == "on":
        body["password"] = None
    return body


def form_values(link: dict | None, form: Any = None) -> dict:
    """Values to fill the form with: what was submitted, else the link, else defaults."""
    if form is not None:
        values = {name: str(form.get(name, "")) for name in (*TEXT_FIELDS, "tags", "redirectStatus",
                                                             "expiresAt", "geo")}
        values.update({name: form.get(name) == "on" for name in FLAGS})
        values["expiresAtUtc"] = ""
        return values
    if link is None:
        return {"redirectStatus": "", "expiresAtUtc": ""}
    values = {name: link.get(name) or "" for name in TEXT_FIELDS}
    values.update({name: bool(link.get(name)) for name in FLAGS})
    values["tags"] = ", ".join(t["name"] for t in link.get("tags") or [])
    values["redirectStatus"] = str(link["redirectStatus"] or "")
    values["geo"] = "\n".join(f"{c} {u}" for c, u in (link.get("geo") or {}).items())
    # Shown in UTC without JavaScript; static/dashboard.js turns it into the browser's time.
    expires = link.get("expiresAt")
    values["expiresAt"] = parse_iso(expires).strftime("%Y-%m-%dT%H:%M") if expires else ""
    values["expiresAtUtc"] = expires or ""
    return values


_MESSAGES = {
    "Duplicate key": "key",
    "externalId": "externalId",
    "Domain does not belong": "domain",
    "Missing destination URL": "url",
    "reserved": "key",
    "Invalid tagIds": "tags",
}


def field_errors(exc: ApiError) -> dict[str, str]:
    """{form field: message} for an error from the link service."""
    message = _PREFIX.sub("", exc.message)
    field = getattr(exc, "field", None) if isinstance(exc, Unprocessable) else None
    if field:
        field = field.split(".")[0].split("[")[0]
        field = {"tagNames": "tags", "tagIds": "tags", "keyLength": "key", "prefix": "key"}.get(field, field)
        return {field: message}
    for needle, name in _MESSAGES.items():
        if needle in exc.message:
            return {name: message}
    return {"": message}
