"""The link form: HTML form fields to and from the API's link body.

The dashboard validates nothing itself: it turns the form into the same JSON body the API takes
and lets the link service judge it, then shows the service's message beside the field it names.
Only what HTML cannot carry is read here (a list from lines of text, a local time, a number);
text that cannot be read that way is a FormErrors beside its field.

One function, `link_body`, serves both forms. A new link's body has what was filled in; an
edit's body has only what differs from the stored link, like a PATCH: re-sending unchanged
values is not harmless (times shown to the minute would lose their seconds, and re-sending an
A/B test marks a decided test undecided again).
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from shortener.errors import ApiError, Unprocessable
from shortener.timeutil import parse_iso
from shortener.urls import UTM_FIELDS

TEXT_FIELDS = ("url", "domain", "key", "externalId", "tenantId", "programId", "partnerId", "folderId", "comments",
               "title", "description", "image", "video", "ios", "android", "expiredUrl", *UTM_FIELDS)
CREATE_ONLY = ("prefix", "keyLength")     # how a random key is drawn; meaningless once it exists
FLAGS = ("proxy", "rewrite", "doIndex", "trackConversion", "publicStats", "archived")
TIMES = ("expiresAt", "testStartedAt", "testCompletedAt")
REDIRECT_CHOICES = ("", "301", "302", "307", "308")
# The destination and the UTM fields go together: the service writes the UTM fields into the URL.
_URL_GROUP = ("url", *UTM_FIELDS)

_PREFIX = re.compile(r"^[a-z_]+: [A-Za-z0-9_.\[\]-]+: ")


class FormErrors(Exception):
    """Errors keyed by form field ("" for the form as a whole)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _local_time(form: Any, name: str) -> str | None:
    """A datetime-local value in the browser's time zone, as UTC ISO. The offset (JS's
    getTimezoneOffset() for that date) comes in tzOffset-<name>, else tzOffset, else 0 (UTC)."""
    value = str(form.get(name, "")).strip()
    if not value:
        return None
    try:
        offset = int(form.get(f"tzOffset-{name}") or form.get("tzOffset") or 0)
    except ValueError:
        offset = 0
    if not -24 * 60 < offset < 24 * 60:
        offset = 0
    try:
        local = datetime.fromisoformat(value)
    except ValueError:
        raise FormErrors({name: "Enter a date and time, such as 2030-01-31 18:00."}) from None
    if local.tzinfo is not None:
        return local.astimezone(timezone.utc).isoformat()
    return (local.replace(tzinfo=timezone.utc) + timedelta(minutes=offset)).isoformat()


def _lines(text: str, name: str, shape: str) -> list[tuple[str, str]]:
    """(first word, rest) per non-empty line; a comma may stand for the space between them."""
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        first, _, rest = line.replace(",", " ", 1).partition(" ")
        if not rest.strip():
            raise FormErrors({name: f"Line {number}: write {shape}."})
        pairs.append((first.strip(), rest.strip()))
    return pairs


def _geo(text: str) -> dict[str, str] | None:
    """One target a line: `US https://example.com/us`."""
    return dict(_lines(text, "geo", "a country code, a space, then a URL")) or None


def _variants(text: str) -> list[dict] | None:
    """One A/B destination a line: `50 https://example.com/a` (a percentage, then the URL)."""
    shape = "a percentage, a space, then a URL"
    variants = []
    for number, (pct, url) in enumerate(_lines(text, "testVariants", shape), 1):
        try:
            value = float(pct.rstrip("%"))
        except ValueError:
            raise FormErrors({"testVariants": f"Line {number}: write {shape}."}) from None
        if not math.isfinite(value):
            raise FormErrors({"testVariants": f"Line {number}: write {shape}."})
        variants.append({"url": url, "percentage": int(value) if value.is_integer() else value})
    return variants or None


def _form_fields(form: Any) -> dict:
    """Every field of the form as the API names and types it; None where left empty."""
    body: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        # Browsers send a textarea's line breaks as CRLF; the API stores what it was sent (LF).
        body[name] = str(form.get(name, "")).replace("\r\n", "\n").strip() or None
    for name in FLAGS:
        body[name] = form.get(name) == "on"
    body["tagNames"] = [t.strip() for t in str(form.get("tags", "")).split(",") if t.strip()]
    status = str(form.get("redirectStatus", ""))
    if status not in REDIRECT_CHOICES:
        raise FormErrors({"redirectStatus": "Choose 301, 302, 307, 308 or the default."})
    body["redirectStatus"] = int(status) if status else None
    for name in TIMES:
        body[name] = _local_time(form, name)
    body["geo"] = _geo(str(form.get("geo", "")))
    body["testVariants"] = _variants(str(form.get("testVariants", "")))
    body["webhookIds"] = [str(w) for w in form.getlist("webhookIds") if str(w)]
    return body


def _create_only(form: Any) -> dict:
    body: dict[str, Any] = {}
    prefix = str(form.get("prefix", "")).strip()
    if prefix:
        body["prefix"] = prefix
    length = str(form.get("keyLength", "")).strip()
    if length:
        if not length.isdigit():
            raise FormErrors({"keyLength": "Enter a whole number of characters."})
        body["keyLength"] = int(length)
    return body


def _minute(value: str | None) -> datetime | None:
    return parse_iso(value).replace(second=0, microsecond=0) if value else None


def _unchanged(name: str, value: Any, link: dict) -> bool:
    """Whether the form's `value` for `name` says what the stored `link` says."""
    if name == "tagNames":
        return sorted(n.lower() for n in value) == sorted(t["name"].lower() for t in link.get("tags") or [])
    current = link.get(name)
    if name in TIMES:
        return _minute(value) == _minute(current)   # the form shows minutes
    if name == "webhookIds":
        return sorted(value) == sorted(current or [])
    if name == "geo":
        return {k.upper(): v for k, v in (value or {}).items()} == (current or {})
    if name in FLAGS:
        return value == bool(current)
    return (value if value != "" else None) == (current if current != "" else None)


def link_body(form: Any, link: dict | None = None) -> dict:
    """The API body for a submitted link form: creating when `link` is None, else editing it.

    Creating: the fields that were filled in (and the random key's prefix and length).
    Editing: the fields whose value differs from `link` (an emptied field clears the value), but
    an empty key or domain keeps it; the destination is sent with its UTM fields when any of them
    changed. The password is only sent when typed (or, on edit, removed)."""
    fields = _form_fields(form)
    if link is None:
        body = {k: v for k, v in fields.items() if v not in (None, [], False)}
        body.update(_create_only(form))
    else:
        body = {k: v for k, v in fields.items() if not _unchanged(k, v, link)}
        for name in ("key", "domain"):
            if not fields[name]:
                body.pop(name, None)
        if any(name in body for name in _URL_GROUP):
            body.update({name: fields[name] for name in _URL_GROUP})
            body["url"] = body["url"] or ""
    password = str(form.get("password", ""))
    if password:
        body["password"] = password
    elif link is not None and form.get("removePassword") == "on":
        body["password"] = None
    return body


def form_values(link: dict | None, form: Any = None) -> dict:
    """Values to fill the form with: what was submitted, else the link, else defaults."""
    if form is not None:
        names = (*TEXT_FIELDS, *CREATE_ONLY, *TIMES, "tags", "redirectStatus", "geo", "testVariants")
        values: dict[str, Any] = {name: str(form.get(name, "")) for name in names}
        values.update({name: form.get(name) == "on" for name in FLAGS})
        values["webhookIds"] = [str(w) for w in form.getlist("webhookIds")]
        return values
    if link is None:
        return {"redirectStatus": "", "webhookIds": []}
    values = {name: link.get(name) or "" for name in TEXT_FIELDS}
    values.update({name: bool(link.get(name)) for name in FLAGS})
    values["tags"] = ", ".join(t["name"] for t in link.get("tags") or [])
    values["redirectStatus"] = str(link["redirectStatus"] or "")
    values["geo"] = "\n".join(f"{c} {u}" for c, u in (link.get("geo") or {}).items())
    values["testVariants"] = "\n".join(f"{v['percentage']} {v['url']}" for v in link.get("testVariants") or [])
    values["webhookIds"] = list(link.get("webhookIds") or [])
    # Shown in UTC without JavaScript; static/dashboard.js turns them into the browser's time.
    for name in TIMES:
        stored = link.get(name)
        values[name] = parse_iso(stored).strftime("%Y-%m-%dT%H:%M") if stored else ""
        values[name + "Utc"] = stored or ""
    return values


_MESSAGES = {
    "Duplicate key": "key",
    "externalId": "externalId",
    "Domain does not belong": "domain",
    "Missing destination URL": "url",
    "reserved": "key",
    "Invalid tagIds": "tags",
    "Invalid webhookIds": "webhookIds",
}


def field_errors(exc: ApiError) -> dict[str, str]:
    """{form field: message} for an error from the link service."""
    message = _PREFIX.sub("", exc.message)
    field = getattr(exc, "field", None) if isinstance(exc, Unprocessable) else None
    if field:
        field = field.split(".")[0].split("[")[0]
        field = {"tagNames": "tags", "tagIds": "tags", "tagId": "tags"}.get(field, field)
        return {field: message}
    for needle, name in _MESSAGES.items():
        if needle in exc.message:
            return {name: message}
    return {"": message}
