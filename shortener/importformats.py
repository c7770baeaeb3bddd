"""Reading other shorteners' exports (and our own) into link bodies. Pure parsing, no I/O beyond
the text given.

Every reader yields `Row`s: the line (or record) number, a create body in our API's shape (the
same validation as `POST /api/links` runs on it later) and the counters to carry over; or, for a
record that cannot be read at all, the reason. Formats, as each project documents or produces them:

- `ours`: `shortener export` output, JSON lines of API link objects (or its CSV).
- `dub`: Dub's links export (Links > Export as CSV): columns labelled "Link ID", "Short link",
  "Destination URL", "Title", "Description", "Clicks", "Leads", "Sales", "Sale amount",
  "Created at", "Updated at", "Tags" (comma-separated), "Archived"; only the short link and the
  destination are required.
- `shlink`: shlink-web-client's CSV export: createdAt, domain, shortCode, shortUrl, longUrl,
  title, tags (`|`-separated), visits.
- `yourls`: the `yourls_url` table (keyword, url, title, timestamp, ip, clicks) as an SQL dump
  (`mysqldump`, phpMyAdmin) or as CSV with or without that header.
- `kutt`: Kutt's API listing (`GET /api/v2/links`: `{"data": [...]}`, a JSON array, or JSON
  lines) with address, target, visit_count, description, created_at, expire_in, password,
  banned, domain.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator
from urllib.parse import unquote, urlsplit

FORMATS = ("ours", "dub", "shlink", "yourls", "kutt")


@dataclass
class Row:
    number: int
    body: dict = field(default_factory=dict)
    counters: dict = field(default_factory=dict)
    # Our own export carries these through unchanged (not settable through the API).
    extra: dict = field(default_factory=dict)
    error: str | None = None


def read(fmt: str, text: str) -> Iterator[Row]:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    text = text.lstrip("\ufeff")  # Excel's byte-order mark
    return {"ours": _ours, "dub": _dub, "shlink": _shlink, "yourls": _yourls, "kutt": _kutt}[fmt](text)


# -- helpers ---------------------------------------------------------------------------------

# The largest counter an import may set: JavaScript's largest exact integer, so the TypeScript
# SDK reads it unchanged, and far enough below SQLite's 2**63 that the counters can still grow
# (at 2**63 - 1 the next click turned the column into a float).
MAX_COUNTER = 2**53 - 1


def _int(value: Any, name: str) -> int:
    if value in (None, ""):
        return 0
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{name} is not a whole number: {str(value)[:40]!r}")
    text = None if isinstance(value, (int, float)) else str(value).replace(",", "").strip()
    try:
        if text is not None and not text.isascii():  # int() also reads "١٢" and "１２"
            raise ValueError
        number = int(value) if text is None else int(text)
    except (ValueError, OverflowError):
        raise ValueError(f"{name} is not a whole number: {str(value)[:40]!r}") from None
    if number < 0:
        raise ValueError(f"{name} is negative")
    if number > MAX_COUNTER:
        raise ValueError(f"{name} is too large (at most {MAX_COUNTER:,})")
    return number


# `12.34`, `1,234.50`, `$1,234.50`, `USD 12`, `12.34 EUR`: digits with thousands commas and at
# most two decimals, and a currency sign or code around them; anything else is refused rather
# than read as some other number (`12abc` is not 12).
_AMOUNT = re.compile(r"^\s*(?:[$€£¥]|[A-Z]{3})?\s*([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]{1,2}))?\s*(?:[A-Z]{3})?\s*$")


def _cents(value: Any) -> int:
    """A money amount as exported (`12.34`, `$1,234.50`) in cents."""
    if value in (None, ""):
        return 0
    text = str(value)
    if text.strip().startswith("-"):
        raise ValueError("sale amount is negative")
    m = _AMOUNT.match(text)
    if m is None:
        raise ValueError(f"sale amount is not an amount such as 12.34: {text[:40]!r}")
    cents = int(m.group(1).replace(",", "")) * 100 + int((m.group(2) or "0").ljust(2, "0"))
    if cents > MAX_COUNTER:
        raise ValueError(f"sale amount is too large (at most {MAX_COUNTER:,} cents)")
    return cents


def _date(value: Any) -> str | None:
    """An ISO-8601 UTC timestamp with milliseconds, from the formats peers write; None if empty."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    candidate = text.replace(" ", "T", 1) if re.match(r"\d{4}-\d\d-\d\d \d", text) else text
    if candidate.endswith("Z"):
        candidate = candidate[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(candidate)
    except ValueError:
        raise ValueError(f"not a date: {text[:40]!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)  # YOURLS and Kutt store UTC without a zone
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _bool(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def _short_link(value: str) -> tuple[str, str]:
    """(domain with port, key) of a short link URL; the key "_root" for the bare domain."""
    parts = urlsplit(value.strip() if "://" in value else "https://" + value.strip())
    if not parts.netloc:
        raise ValueError(f"not a short link: {value[:80]!r}")
    key = unquote(parts.path.strip("/"))
    return parts.netloc.lower(), key or "_root"


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _norm(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def _rows(records: list[dict[str, str]], convert) -> Iterator[Row]:
    for number, record in enumerate(records, start=2):  # line 1 is the header
        try:
            yield convert(number, record)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            yield Row(number, error=str(exc))


# -- our own export ----------------------------------------------------------------------------

# Fields of the API link object that go back in as they are (the rest is derived or read-only).
OUR_BODY_FIELDS = (
    "domain", "key", "url", "externalId", "tenantId", "identifier", "trackConversion", "archived",
    "expiresAt", "expiredUrl", "proxy", "title", "description", "image", "video", "rewrite", "doIndex",
    "ios", "android", "geo", "publicStats", "folderId", "comments", "programId", "partnerId",
    "redirectStatus", "webhookIds", "testVariants", "testStartedAt", "testCompletedAt",
)
OUR_COUNTERS = ("clicks", "lastClicked", "leads", "conversions", "sales", "saleAmount")
OUR_EXTRA = ("id", "createdAt", "updatedAt", "passwordHash", "passwordProtected", "disabledAt", "userId", "folderName")


def _ours(text: str) -> Iterator[Row]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            whole = json.loads(stripped)
        except ValueError:
            whole = None
        if isinstance(whole, list):  # a JSON array of link objects (an export edited by a tool)
            for number, obj in enumerate(whole, start=1):
                yield _our_object(number, obj)
            return
    if stripped.startswith(("{", "[")):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                yield Row(number, error=f"unreadable line: {exc}")
                continue
            yield _our_object(number, obj)
        return

    def convert(number: int, record: dict[str, str]) -> Row:
        obj: dict[str, Any] = {}
        for name, value in record.items():
            if name is None:
                continue
            if value == "":
                obj[name] = None
            elif name in ("geo", "tags", "webhookIds", "testVariants") or value in ("true", "false"):
                obj[name] = json.loads(value)
            else:
                obj[name] = value
        return _our_row(number, obj)

    yield from _rows(_csv(text), convert)


def _our_object(number: int, obj: Any) -> Row:
    if not isinstance(obj, dict):
        return Row(number, error="unreadable line: not a JSON object")
    try:
        return _our_row(number, obj)
    except ValueError as exc:
        return Row(number, error=str(exc))


def _our_row(number: int, obj: dict) -> Row:
    body = {name: obj[name] for name in OUR_BODY_FIELDS if name in obj}
    tags = obj.get("tags") or []
    body["tagNames"] = [t["name"] if isinstance(t, dict) else str(t) for t in tags]
    counters = {
        "clicks": _int(obj.get("clicks"), "clicks"), "leads": _int(obj.get("leads"), "leads"),
        "conversions": _int(obj.get("conversions"), "conversions"), "sales": _int(obj.get("sales"), "sales"),
        "sale_amount": _int(obj.get("saleAmount"), "saleAmount"), "last_clicked": _date(obj.get("lastClicked")),
    }
    extra = {name: obj[name] for name in OUR_EXTRA if obj.get(name) is not None}
    return Row(number, body, counters, extra)


# -- Dub ---------------------------------------------------------------------------------------

_DUB_COLUMNS = {
    "linkid": "id", "shortlink": "link", "destinationurl": "url", "title": "title",
    "description": "description", "clicks": "clicks", "leads": "leads", "sales": "sales",
    "saleamount": "saleAmount", "createdat": "createdAt", "updatedat": "updatedAt", "tags": "tags",
    "archived": "archived",
}


def _dub(text: str) -> Iterator[Row]:
    records = _csv(text)
    # header label -> our name, worked out once (labels vary in case and spacing between versions)
    names = {k: _DUB_COLUMNS[_norm(k)] for k in (records[0] if records else ()) if k and _norm(k) in _DUB_COLUMNS}
    if records and not {"link", "url"} <= set(names.values()):
        yield Row(1, error="not a Dub links export: needs the columns 'Short link' and 'Destination URL'")
        return

    def convert(number: int, record: dict[str, str]) -> Row:
        r = {names[k]: v for k, v in record.items() if k in names}
        domain, key = _short_link(r.get("link") or "")
        body: dict[str, Any] = {"domain": domain, "key": key, "url": r.get("url") or ""}
        for name in ("title", "description"):
            if r.get(name):
                body[name] = r[name]
        if r.get("tags"):
            body["tagNames"] = [t.strip() for t in r["tags"].split(",") if t.strip()]
        if r.get("archived"):
            body["archived"] = _bool(r["archived"])
        counters = {"clicks": _int(r.get("clicks"), "clicks"), "leads": _int(r.get("leads"), "leads"),
                    "sales": _int(r.get("sales"), "sales"), "sale_amount": _cents(r.get("saleAmount"))}
        extra = {k: v for k, v in (("createdAt", _date(r.get("createdAt"))),
                                   ("updatedAt", _date(r.get("updatedAt")))) if v}
        return Row(number, body, counters, extra)

    yield from _rows(records, convert)


# -- Shlink ------------------------------------------------------------------------------------

def _shlink(text: str) -> Iterator[Row]:
    records = _csv(text)
    if records and not {"shortCode", "longUrl"} <= set(records[0]):
        yield Row(1, error="not a Shlink export: needs the columns shortCode and longUrl")
        return

    def convert(number: int, r: dict[str, str]) -> Row:
        domain = (r.get("domain") or "").strip().lower()
        if not domain and r.get("shortUrl"):
            domain = _short_link(r["shortUrl"])[0]
        body: dict[str, Any] = {"key": r["shortCode"], "url": r["longUrl"]}
        if domain:
            body["domain"] = domain
        if r.get("title"):
            body["title"] = r["title"]
        if r.get("tags"):
            body["tagNames"] = [t.strip() for t in r["tags"].split("|") if t.strip()]
        extra = {"createdAt": _date(r.get("createdAt"))} if r.get("createdAt") else {}
        return Row(number, body, {"clicks": _int(r.get("visits"), "visits")}, extra)

    yield from _rows(records, convert)


# -- YOURLS ------------------------------------------------------------------------------------

YOURLS_COLUMNS = ("keyword", "url", "title", "timestamp", "ip", "clicks")


def _yourls(text: str) -> Iterator[Row]:
    if re.search(r"(?i)\binsert\s+into\b", text):
        records = list(_yourls_sql(text))
        if not records:
            yield Row(1, error="no INSERT INTO a yourls_url table found")
            return
    else:
        rows = list(csv.reader(io.StringIO(text)))
        if rows and [c.strip().lower() for c in rows[0][:2]] == ["keyword", "url"]:
            header = [c.strip().lower() for c in rows[0]]
            records = [(i, dict(zip(header, row))) for i, row in enumerate(rows[1:], start=2) if row]
        else:
            records = [(i, dict(zip(YOURLS_COLUMNS, row))) for i, row in enumerate(rows, start=1) if row]
    for number, r in records:
        try:
            body: dict[str, Any] = {"key": r["keyword"], "url": r["url"]}
            if r.get("title"):
                body["title"] = r["title"]
            extra = {"createdAt": _date(r.get("timestamp"))} if r.get("timestamp") else {}
            yield Row(number, body, {"clicks": _int(r.get("clicks"), "clicks")}, extra)
        except (ValueError, KeyError) as exc:
            yield Row(number, error=str(exc))


_INSERT = re.compile(r"(?is)insert\s+(?:ignore\s+)?into\s+[`\"]?(\w+)[`\"]?\s*(\(([^)]*)\))?\s*values\s*")


def _yourls_sql(text: str) -> Iterator[tuple[int, dict]]:
    """(statement line, record) for every row inserted into a table named like `yourls_url`."""
    pos = 0
    while True:
        m = _INSERT.search(text, pos)
        if m is None:
            return
        table, columns = m.group(1), m.group(3)
        names = [c.strip(" `\"\n\t") for c in columns.split(",")] if columns else list(YOURLS_COLUMNS)
        line = text.count("\n", 0, m.start()) + 1
        tuples, pos = _sql_values(text, m.end())
        if table.lower().endswith("url") and "keyword" in names:
            for values in tuples:
                yield line, dict(zip(names, values))


def _sql_values(text: str, i: int) -> tuple[list[list[Any]], int]:
    """Parse `(v, ...), (...);` from position i: MySQL literals (quoted strings with backslash
    or doubled-quote escapes, numbers, NULL). Returns the tuples and the position after `;`."""
    out: list[list[Any]] = []
    n = len(text)
    escapes = {"n": "\n", "r": "\r", "t": "\t", "0": "\0", "Z": "\x1a", "b": "\b"}
    while i < n:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n or text[i] == ";":
            return out, i + 1
        if text[i] != "(":
            raise ValueError(f"unexpected {text[i]!r} in VALUES at offset {i}")
        i += 1
        values: list[Any] = []
        while True:
            while text[i] in " \t\r\n":
                i += 1
            c = text[i]
            if c in "'\"":
                quote, buf = c, []
                i += 1
                while True:
                    ch = text[i]
                    if ch == "\\":
                        buf.append(escapes.get(text[i + 1], text[i + 1]))
                        i += 2
                    elif ch == quote and text[i + 1: i + 2] == quote:
                        buf.append(quote)
                        i += 2
                    elif ch == quote:
                        i += 1
                        break
                    else:
                        buf.append(ch)
                        i += 1
                values.append("".join(buf))
            else:
                m = re.compile(r"[^,)\s]+").match(text, i)
                token = m.group(0) if m else ""
                i += len(token)
                values.append(None if token.upper() == "NULL" else token)
            while text[i] in " \t\r\n":
                i += 1
            if text[i] == ",":
                i += 1
                continue
            if text[i] == ")":
                i += 1
                break
            raise ValueError(f"unexpected {text[i]!r} in a VALUES tuple at offset {i}")
        out.append(values)
    return out, i


# -- Kutt --------------------------------------------------------------------------------------

def _kutt(text: str) -> Iterator[Row]:
    stripped = text.strip()
    records: list[tuple[int, Any]]
    try:
        data = json.loads(stripped) if stripped else []
        if isinstance(data, dict):
            # Kutt's API answer ({"data": [...]}), or a file of one link (a JSON line alone)
            data = data.get("data", []) if "data" in data or "address" not in data else [data]
        # Anything else (a bare string or number) is one row that is not a link.
        records = list(enumerate(data if isinstance(data, list) else [data], start=1))
    except ValueError:
        records = [(i, json.loads(line)) for i, line in enumerate(stripped.splitlines(), start=1) if line.strip()]
    for number, link in records:
        try:
            if not isinstance(link, dict):
                raise ValueError("not a JSON object")
            if link.get("password"):
                raise ValueError("password-protected in Kutt, whose export does not carry the password")
            if link.get("banned"):
                raise ValueError("banned in Kutt")
            body: dict[str, Any] = {"key": link["address"], "url": link["target"]}
            if link.get("domain"):
                body["domain"] = str(link["domain"]).lower()
            elif link.get("link"):
                body["domain"] = _short_link(link["link"])[0]
            if link.get("description"):
                body["comments"] = str(link["description"])
            if link.get("expire_in"):
                body["expiresAt"] = _date(link["expire_in"])
            extra = {"createdAt": _date(link.get("created_at"))} if link.get("created_at") else {}
            yield Row(number, body, {"clicks": _int(link.get("visit_count"), "visit_count")}, extra)
        except (ValueError, KeyError, TypeError) as exc:
            yield Row(number, error=str(exc) if not isinstance(exc, KeyError) else f"missing {exc}")
