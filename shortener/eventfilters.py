"""The filters of GET /analytics and GET /events, parsed once for both.

Dub's rules: a filter value is one value or a comma-separated list (any of them matches); a
leading `-` turns the whole list into an exclusion (`country=-US,DE`: neither US nor DE, and
clicks of unknown country are kept). `device`, `browser` and `os` match case-insensitively
(Dub capitalises them); country, continent and region codes are upper-cased.

The result is a list of `Condition`s: plain values, no SQL. The store compiles them
(shortener/store/sqlite/analytics.py), so both endpoints filter through the same code.
"""
from __future__ import annotations

import re
from typing import Mapping, NamedTuple

from shortener import keys as keyrules
from shortener.errors import Unprocessable, echo
from shortener.geo import CONTINENTS
from shortener.services.domains import lookup_slug

TRIGGERS = ("qr", "link", "pageview", "deeplink")
SALE_TYPES = ("new", "recurring")
MAX_QUERY = 10_000


class Condition(NamedTuple):
    """`field` is one of FIELDS' values; `values` match any; `exclude` negates the whole list.

    For `root` and `qr` the single value is True or False; for `metadata` each value is a
    (connector, path, value) triple from the `query` parameter, connector "AND" or "OR".
    """

    field: str
    values: tuple
    exclude: bool = False


# query parameter -> field. Order is the documentation order.
FIELDS: dict[str, str] = {
    "domain": "domain",
    "key": "key",
    "linkId": "link_id",
    "externalId": "external_id",
    "tenantId": "tenant_id",
    "tagId": "tag_id",
    "tagIds": "tag_id",
    "folderId": "folder_id",
    "programId": "program_id",
    "partnerId": "partner_id",
    "groupId": "group_id",
    "partnerTagId": "partner_tag_id",
    "customerId": "customer_id",
    "country": "country",
    "city": "city",
    "region": "region",
    "continent": "continent",
    "device": "device",
    "browser": "browser",
    "os": "os",
    "trigger": "trigger",
    "eventName": "event_name",
    "referer": "referer",
    "refererUrl": "referer_url",
    "url": "url",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_term": "utm_term",
    "utm_content": "utm_content",
    "saleType": "sale_type",
    "root": "root",
    "qr": "qr",
    "query": "metadata",
}

_UPPER = {"country", "continent", "region"}
_BOOLEAN = {"root", "qr"}


def split_values(raw: str) -> tuple[tuple[str, ...], bool]:
    """(values, exclude) of one parameter: `a,b` -> ((a, b), False); `-a,b` -> ((a, b), True)."""
    exclude = raw.startswith("-")
    if exclude:
        raw = raw[1:]
    return tuple(v.strip() for v in raw.split(",") if v.strip()), exclude


def _boolean(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise Unprocessable(f"Expected boolean, received '{echo(raw)}'", field=name, issue="invalid_type")


def _enum(name: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    for v in values:
        if v not in allowed:
            expected = " | ".join(f"'{a}'" for a in allowed)
            raise Unprocessable(f"Invalid enum value. Expected {expected}, received '{echo(v)}'",
                                field=name, issue="invalid_enum_value")


_TERM = re.compile(
    r"""\s*metadata(?:\[\s*(?P<q>['"])(?P<bracket>.+?)(?P=q)\s*\]|\.(?P<dotted>[A-Za-z0-9_.\-]+))"""
    r"""\s*:\s*(?:(?P<vq>['"])(?P<quoted>.*?)(?P=vq)|(?P<bare>[^\s'"]+))\s*"""
)
_CONNECTOR = re.compile(r"(AND|OR)\s+", re.IGNORECASE)


def parse_metadata_query(raw: str) -> tuple[tuple[str, str, str], ...]:
    """Dub's `query`: `metadata['plan']:'pro'` terms joined by AND / OR (AND binds first).

    Returns (connector, path, value) triples; the first connector is "AND". A nested key is
    written with dots: `metadata.order.id:42`.
    """
    if len(raw) > MAX_QUERY:
        raise Unprocessable(f"String must contain at most {MAX_QUERY} character(s)", field="query", issue="too_big")
    terms: list[tuple[str, str, str]] = []
    pos, connector = 0, "AND"
    while True:
        m = _TERM.match(raw, pos)
        if m is None:
            raise Unprocessable("Invalid query: expected metadata['key']:'value' terms joined by AND or OR",
                                field="query")
        path = m.group("bracket") if m.group("bracket") is not None else m.group("dotted")
        value = m.group("quoted") if m.group("quoted") is not None else m.group("bare")
        terms.append((connector, path, value))
        pos = m.end()
        if pos >= len(raw):
            return tuple(terms)
        c = _CONNECTOR.match(raw, pos)
        if c is None:
            raise Unprocessable("Invalid query: expected AND or OR between terms", field="query")
        connector, pos = c.group(1).upper(), c.end()


def parse_filters(params: Mapping[str, str]) -> list[Condition]:
    """The conditions named by a request's query parameters; 422 for a malformed value."""
    found: list[Condition] = []
    tag_values: list[str] = []
    for name, field in FIELDS.items():
        raw = params.get(name)
        if raw is None or raw.strip() == "":
            continue
        if field in _BOOLEAN:
            found.append(Condition(field, (_boolean(name, raw),)))
            continue
        if field == "metadata":
            found.append(Condition(field, parse_metadata_query(raw.strip())))
            continue
        values, exclude = split_values(raw)
        if not values:
            continue
        if field in _UPPER:
            values = tuple(v.upper() for v in values)
        if field == "key":
            # As stored, and as GET /links/info reads a key: `emoji🎉` is `xn--emoji-xz93d`.
            values = tuple(keyrules.punycode(v.strip("/")) if v.strip("/") else keyrules.ROOT for v in values)
        elif field == "domain":
            values = tuple(lookup_slug(v) for v in values)
        if field == "external_id":
            values = tuple(v[4:] if v.startswith("ext_") else v for v in values)
        if field == "continent":
            _enum(name, values, CONTINENTS)
        elif field == "trigger":
            _enum(name, values, TRIGGERS)
        elif field == "sale_type":
            if exclude or len(values) != 1:
                raise Unprocessable("Expected 'new' or 'recurring'", field=name, issue="invalid_enum_value")
            _enum(name, values, SALE_TYPES)
        if field == "tag_id" and not exclude:
            # tagId (deprecated) and tagIds name one filter, as Dub's combineTagIds does.
            tag_values.extend(v for v in values if v not in tag_values)
            continue
        found.append(Condition(field, values, exclude))
    if tag_values:
        found.append(Condition("tag_id", tuple(tag_values)))
    return found


def single_value(conditions: list[Condition], field: str) -> str | None:
    """The one included value of `field`, if the filter names exactly one (e.g. a link)."""
    for c in conditions:
        if c.field == field and not c.exclude and len(c.values) == 1:
            return c.values[0]
    return None
