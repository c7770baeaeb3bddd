"""CLI commands for what the API does: links, tags, domains, customers, events, webhooks.

Each command calls the same service method as the matching API endpoint, with the same body or
filters, so the CLI can do nothing the API refuses and `--json` prints what the API answers.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Awaitable, Callable

from shortener.cli import (command, fetch_pages, group, output, parse_json_option, print_json, report,
                           with_core)
from shortener.errors import ApiError

# -- what every group's commands share --------------------------------------------------------

def _fields(args: argparse.Namespace, pairs) -> dict[str, Any]:
    """A request body from the options given, as `(attribute, API field)` pairs: an option left out
    (None) is not sent, so an update changes only what was asked for."""
    return {field: value for attr, field in pairs if (value := getattr(args, attr, None)) is not None}


Call = Callable[[Any, argparse.Namespace], Awaitable[Any]]


def counting(low: int = 1, high: int | None = None) -> Callable[[str], int]:
    """An argparse type for a count: an integer from `low` to `high`, else a usage error (the API
    answers 422 for the same values; the CLI must not quietly read 0 as "none")."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            shown = text if len(text) <= 20 else text[:20] + "..."
            raise argparse.ArgumentTypeError(
                f"expected {low} to {high}, got {shown}" if high is not None else f"expected at least {low}, got {shown}")
        return value

    parse.__name__ = "count"
    return parse


def _command(call: Call, answer: Callable[[argparse.Namespace, Any], Any]):
    """A command: the service call `call(core, args)`, then `answer(args, result)` prints it."""

    @with_core
    async def run(core, args) -> int:
        answer(args, await call(core, args))
        return 0

    return run


def _shows(call: Call):
    """A command printing what the service answers as JSON (the API's answer)."""
    return _command(call, lambda args, result: print_json(result))


def _reports(call: Call, message: Callable[[argparse.Namespace, Any], str]):
    """A command that says what it did in a line on stderr, with the result as JSON under --json."""
    return _command(call, lambda args, result: report(args, message(args, result), result))


def _lists(fetch: Callable[[Any, argparse.Namespace, int, int], Awaitable[list]], columns, *, empty: str,
           page_size: int = 100):
    """A command paging through `fetch(core, args, page, size)` up to --limit: a table, or JSON."""

    async def rows(core, args) -> list:
        return await fetch_pages(lambda page, size: fetch(core, args, page, size), args.limit, page_size=page_size)

    return _command(rows, lambda args, result: output(args, result, columns, empty=empty))


def _on(parent, name: str, fn, help: str, *positionals: str) -> argparse.ArgumentParser:
    """A sub-command taking the given positional arguments (an id, a slug...)."""
    p = command(parent, name, fn, help)
    for positional in positionals:
        p.add_argument(positional)
    return p


def _searchable(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--search")
    p.add_argument("--limit", type=counting(), default=100)
    return p


# -- links -----------------------------------------------------------------------------------

# (flag, body field, type); a repeated or paired option is handled in _link_body.
_LINK_TEXT = (
    ("--key", "key", "short key (random when omitted)"),
    ("--domain", "domain", "short domain (the default domain when omitted)"),
    ("--prefix", "prefix", "prefix for a random key (prefix/random)"),
    ("--external-id", "externalId", "your own id for the link"),
    ("--tenant-id", "tenantId", "the tenant the link belongs to"),
    ("--identifier", "identifier", "an identifier of your own"),
    ("--folder-id", "folderId", "folder id (see `shortener folders list`)"),
    ("--program-id", "programId", "program id (stored, not used)"),
    ("--partner-id", "partnerId", "partner id (stored, not used)"),
    ("--comments", "comments", "a note for yourself"),
    ("--password", "password", "password visitors must enter"),
    ("--expires-at", "expiresAt", "ISO-8601 expiry time"),
    ("--expired-url", "expiredUrl", "where visitors go after expiry"),
    ("--title", "title", "Open Graph title"),
    ("--description", "description", "Open Graph description"),
    ("--image", "image", "Open Graph image URL"),
    ("--video", "video", "Open Graph video URL"),
    ("--ios", "ios", "destination for iOS visitors"),
    ("--android", "android", "destination for Android visitors"),
    ("--utm-source", "utm_source", "UTM source written into the URL"),
    ("--utm-medium", "utm_medium", "UTM medium"),
    ("--utm-campaign", "utm_campaign", "UTM campaign"),
    ("--utm-term", "utm_term", "UTM term"),
    ("--utm-content", "utm_content", "UTM content"),
    ("--ref", "ref", "`ref` parameter written into the URL"),
)
_LINK_BOOL = (
    ("--track-conversion", "trackConversion", "append ?dub_id= to the destination"),
    ("--proxy", "proxy", "show crawlers an Open Graph page"),
    ("--rewrite", "rewrite", "show the destination in a frame"),
    ("--do-index", "doIndex", "allow search engines to index the link"),
    ("--archived", "archived", "hide the link from listings"),
    ("--public-stats", "publicStats", "public statistics (stored)"),
)


def _dest(field: str) -> str:
    return "opt_" + field


def _add_link_options(p: argparse.ArgumentParser, *, creating: bool) -> None:
    for flag, field, help_ in _LINK_TEXT:
        p.add_argument(flag, dest=_dest(field), help=help_)
    for flag, field, help_ in _LINK_BOOL:
        p.add_argument(flag, dest=_dest(field), action=argparse.BooleanOptionalAction, default=None, help=help_)
    p.add_argument("--key-length", dest=_dest("keyLength"), type=int, help="length of a random key (3-190, default 7)")
    p.add_argument("--redirect-status", dest=_dest("redirectStatus"), type=int, choices=(301, 302, 307, 308),
                   help="this link's redirect status")
    p.add_argument("--tag", action="append", dest="tags", help="tag name (created if unknown); repeatable")
    p.add_argument("--tag-id", action="append", dest="tag_ids", help="existing tag id; repeatable")
    p.add_argument("--webhook-id", action="append", dest="webhook_ids", help="webhook for this link's clicks; repeatable")
    p.add_argument("--geo", action="append", metavar="CC=URL", help="destination for a country (e.g. DE=https://...); repeatable")
    if not creating:
        p.add_argument("--url", dest=_dest("url"), help="new destination URL")
        p.add_argument("--clear", action="append", metavar="FIELD", default=[],
                       help="set this API field to null (e.g. password, expiresAt, tagIds, geo); repeatable")
    p.add_argument("--data", help="more fields as a JSON object, merged into the request body")


def _link_body(args: argparse.Namespace) -> dict:
    body: dict[str, Any] = {}
    if getattr(args, "url", None) is not None:
        body["url"] = args.url
    fields = [f for _, f, _ in _LINK_TEXT] + [f for _, f, _ in _LINK_BOOL] + ["keyLength", "redirectStatus", "url"]
    for field in fields:
        value = getattr(args, _dest(field), None)
        if value is not None:
            body[field] = value
    if args.tags:
        body["tagNames"] = args.tags
    if args.tag_ids:
        body["tagIds"] = args.tag_ids
    if args.webhook_ids:
        body["webhookIds"] = args.webhook_ids
    if args.geo:
        geo = {}
        for item in args.geo:
            country, sep, url = item.partition("=")
            if not sep:
                raise ApiError(f"--geo takes COUNTRY=URL, not {item!r}")
            geo[country.strip()] = url.strip()
        body["geo"] = geo
    for field in getattr(args, "clear", []):
        body[field] = None
    if args.data:
        extra = parse_json_option(args.data)
        if not isinstance(extra, dict):
            raise ApiError("--data must be a JSON object")
        body.update(extra)
    return body


LINK_COLUMNS = (
    ("ID", lambda l: l["id"]),
    ("SHORT LINK", lambda l: l["shortLink"]),
    ("DESTINATION", lambda l: l["url"]),
    ("CLICKS", lambda l: l["clicks"]),
    ("LEADS", lambda l: l["leads"]),
    ("CREATED", lambda l: l["createdAt"]),
)
NO_LINKS = "no links yet; create one with `shortener links create URL`"


def add_links_commands(sub) -> None:
    """`shortener links ...`: the link service directly, not the HTTP API."""

    @with_core
    async def create(core, args) -> int:
        link = await core.links.create(_link_body(args))
        if args.short and not args.json:
            print(link["shortLink"])
        else:
            print_json(link)
        return 0

    async def get(core, args):
        if args.id:
            return await core.links.get(args.id)
        if not (args.domain and args.key):
            raise ApiError("give a link id (or ext_<externalId>), or --domain and --key")
        return await core.links.info(domain=args.domain, key=args.key)

    async def update(core, args):
        body = _link_body(args)
        if not body:
            raise ApiError("nothing to change: give at least one option (see --help)")
        await core.links.get(args.id)
        return await core.links.update(args.id, body)

    def fetch(core, args, page, size):
        filters = {"domain": args.domain.lower() if args.domain else None, "search": args.search,
                   "tag_names": args.tags or [], "tag_ids": args.tag_ids or [], "show_archived": args.archived,
                   "tenant_id": args.tenant_id}
        return core.links.list(filters, sort=args.sort, descending=args.order == "desc", page=page, page_size=size)

    @with_core
    async def count(core, args) -> int:
        filters = {"domain": args.domain.lower() if args.domain else None, "search": args.search,
                   "tag_names": args.tags or [], "show_archived": args.archived}
        result = await core.links.count(filters, args.group_by)
        if args.json or args.group_by:
            output(args, result, None if args.json else [
                (args.group_by.upper(), lambda r: r.get(args.group_by)), ("LINKS", lambda r: r["_count"]),
            ], empty=NO_LINKS)
        else:
            print(result)
        return 0

    @with_core
    async def delete(core, args) -> int:
        failed, results = 0, []
        for link_id in args.ids:
            try:
                results.append(await core.links.delete(link_id))
            except ApiError as exc:
                print(f"error: {link_id}: {exc.message}", file=sys.stderr)
                failed += 1
                continue
            print(f"deleted {link_id}", file=sys.stderr)
        if args.json:
            print_json(results)
        return 1 if failed else 0

    links = group(sub, "links", "short links")
    p = command(links, "create", create, "create a link; prints the link object as JSON")
    p.add_argument("url", help="destination URL")
    _add_link_options(p, creating=True)
    p.add_argument("--short", action="store_true", help="print only the short link")

    p = command(links, "get", _shows(get), "one link as JSON, by id, ext_<externalId>, or --domain and --key")
    p.add_argument("id", nargs="?")
    p.add_argument("--domain")
    p.add_argument("--key")

    p = command(links, "update", _shows(update), "change a link (only the options given); prints it as JSON")
    p.add_argument("id", help="link id or ext_<externalId>")
    _add_link_options(p, creating=False)

    p = command(links, "list", _lists(fetch, LINK_COLUMNS, empty=NO_LINKS), "list links, newest first")
    p.add_argument("--domain")
    p.add_argument("--search", help="substring of the key or destination")
    p.add_argument("--tag", action="append", dest="tags", help="tag name; repeatable (any of them)")
    p.add_argument("--tag-id", action="append", dest="tag_ids", help="tag id; repeatable")
    p.add_argument("--tenant-id")
    p.add_argument("--archived", action="store_true", help="include archived links")
    p.add_argument("--sort", choices=("createdAt", "clicks", "saleAmount", "lastClicked"), default="createdAt")
    p.add_argument("--order", choices=("asc", "desc"), default="desc")
    p.add_argument("--limit", type=counting(), default=100, help="at most this many links (default 100)")

    p = command(links, "count", count, "count links (optionally grouped)")
    p.add_argument("--domain")
    p.add_argument("--search")
    p.add_argument("--tag", action="append", dest="tags")
    p.add_argument("--archived", action="store_true")
    p.add_argument("--group-by", choices=("domain", "tagId"))

    p = command(links, "delete", delete, "delete links by id or ext_<externalId>")
    p.add_argument("ids", nargs="+")


# -- tags ------------------------------------------------------------------------------------

_TAG_FIELDS = (("name", "name"), ("new_name", "name"), ("color", "color"))  # update's --name is new_name


def add_tags_commands(sub) -> None:
    colors = ("red", "yellow", "green", "blue", "purple", "brown", "gray", "pink")
    tags = group(sub, "tags", "tags")
    _searchable(command(tags, "list", _lists(
        lambda core, args, page, size: core.tags.list(search=args.search, page=page, page_size=size),
        [("ID", lambda t: t["id"]), ("NAME", lambda t: t["name"]), ("COLOR", lambda t: t["color"])],
        empty="no tags yet; create one with `shortener tags create NAME`"), "list tags"))
    p = _on(tags, "create", _shows(lambda core, args: core.tags.create(_fields(args, _TAG_FIELDS))),
            "create a tag; prints it as JSON", "name")
    p.add_argument("--color", choices=colors)
    p = _on(tags, "update", _shows(lambda core, args: core.tags.update(args.id, _fields(args, _TAG_FIELDS))),
            "rename or recolour a tag; prints it as JSON", "id")
    p.add_argument("--name", dest="new_name")
    p.add_argument("--color", choices=colors)
    _on(tags, "delete", _reports(lambda core, args: core.tags.delete(args.id), lambda args, _: f"deleted {args.id}"),
        "delete a tag (links keep existing, untagged)", "id")


# -- folders ---------------------------------------------------------------------------------

_FOLDER_FIELDS = (("name", "name"), ("new_name", "name"), ("description", "description"),
                  ("access_level", "accessLevel"))


def add_folders_commands(sub) -> None:
    async def update(core, args):
        await core.folders.get(args.id)
        return await core.folders.update(args.id, _fields(args, _FOLDER_FIELDS))

    def _options(p) -> None:
        p.add_argument("--description")
        p.add_argument("--access-level", choices=("write", "read"))

    folders = group(sub, "folders", "folders")
    _searchable(command(folders, "list", _lists(
        lambda core, args, page, size: core.folders.list(search=args.search, page=page, page_size=size),
        [("ID", lambda f: f["id"]), ("NAME", lambda f: f["name"]), ("ACCESS", lambda f: f["accessLevel"]),
         ("DESCRIPTION", lambda f: f["description"])],
        empty="no folders yet; create one with `shortener folders create NAME`", page_size=50), "list folders"))
    _options(_on(folders, "create", _shows(lambda core, args: core.folders.create(_fields(args, _FOLDER_FIELDS))),
                 "create a folder; prints it as JSON", "name"))
    _on(folders, "get", _shows(lambda core, args: core.folders.get(args.id)), "one folder as JSON", "id")
    p = _on(folders, "update", _shows(update), "rename or describe a folder; prints it as JSON", "id")
    p.add_argument("--name", dest="new_name")
    _options(p)
    _on(folders, "delete", _reports(lambda core, args: core.folders.delete(args.id),
                                    lambda args, _: f"deleted {args.id} (its links stay, outside any folder)"),
        "delete a folder (its links are kept)", "id")


# -- domains ---------------------------------------------------------------------------------

_DOMAIN_OPTIONS = (
    ("--placeholder", "placeholder", "where the bare domain sends visitors"),
    ("--expired-url", "expiredUrl", "where expired links send visitors"),
    ("--not-found-url", "notFoundUrl", "where unknown keys send visitors"),
    ("--cookie-domain", "cookieDomain", "Domain of the dub_id cookie (the domain or a parent)"),
    ("--logo", "logo", "logo URL"),
)
_DOMAIN_FIELDS = (*(("opt_" + field, field) for _, field, _ in _DOMAIN_OPTIONS), ("archived", "archived"))


def add_domains_commands(sub) -> None:
    def _options(p) -> None:
        for flag, field, help_ in _DOMAIN_OPTIONS:
            p.add_argument(flag, dest="opt_" + field, help=help_ + " ('' clears it)")
        p.add_argument("--archived", action=argparse.BooleanOptionalAction, default=None)

    @with_core
    async def list_(core, args) -> int:
        domains = await fetch_pages(
            lambda page, size: core.domains.list(archived=None if args.all else False, search=args.search,
                                                 page=page, page_size=size),
            args.limit,
        )
        counts = await core.store.domain_link_counts()
        for d in domains:
            d.setdefault("links", counts.get(d["slug"], 0))
        output(args, domains, [
            ("DOMAIN", lambda d: d["slug"]), ("PRIMARY", lambda d: d["primary"]),
            ("ARCHIVED", lambda d: d["archived"]), ("LINKS", lambda d: d["links"]), ("ID", lambda d: d["id"]),
        ], empty="no domains yet")
        return 0

    async def update(core, args):
        body = _fields(args, _DOMAIN_FIELDS)
        if not body:
            raise ApiError("nothing to change: give at least one option (to move links, use `domains rename`)")
        return await core.domains.update(args.slug, body)

    def renamed(args, result) -> str:
        verb = "merged into" if result["merged"] else "renamed to"
        return f"{result['from']} {verb} {result['to']}: {result['moved']} link(s) moved"

    domains = group(sub, "domains", "short domains")
    p = command(domains, "list", list_, "list domains with their link counts")
    p.add_argument("--search")
    p.add_argument("--all", action="store_true", help="include archived domains")
    p.add_argument("--limit", type=counting(), default=100)
    _options(_on(domains, "create", _shows(
        lambda core, args: core.domains.create({"slug": args.slug, **_fields(args, _DOMAIN_FIELDS)})),
        "add a short domain; prints it as JSON", "slug"))
    _options(_on(domains, "update", _shows(update), "change a domain's settings; prints it as JSON", "slug"))
    _on(domains, "rename", _reports(lambda core, args: core.domains.rename(args.old, args.new), renamed),
        "move a domain and all its links to a new name; merges into NEW if it exists "
        "(refused, with the list, when a key is on both)", "old", "new")
    _on(domains, "delete", _reports(lambda core, args: core.domains.delete(args.slug),
                                    lambda args, _: f"deleted {args.slug} and its links"),
        "delete a domain AND every link on it", "slug")



# -- customers and events --------------------------------------------------------------------

def add_customers_commands(sub) -> None:
    from shortener.store.sqlite.conversions import CUSTOMER_SORTS

    def fetch(core, args, page, size):
        filters = {"email": args.email, "external_id": args.external_id, "country": args.country,
                   "link_id": args.link_id, "search": args.search}
        return core.conversions.list_customers(
            filters=filters, sort_by=args.sort, desc=args.order == "desc", page=page, page_size=size,
            starting_after=None, ending_before=None, expanded=args.expanded)

    async def update(core, args):
        body = _fields(args, (("name", "name"), ("email", "email"), ("avatar", "avatar"), ("country", "country"),
                              ("external_id", "externalId")))
        if args.data:
            body.update(parse_json_option(args.data))
        if not body:
            raise ApiError("nothing to change: give at least one option")
        return await core.conversions.update_customer(args.id, body, expanded=args.expanded)

    customers = group(sub, "customers", "customers (from lead and sale tracking)")
    p = command(customers, "list", _lists(fetch, [
        ("ID", lambda c: c["id"]), ("EXTERNAL ID", lambda c: c["externalId"]), ("NAME", lambda c: c["name"]),
        ("EMAIL", lambda c: c["email"]), ("SALES", lambda c: c.get("sales")),
        ("SALE AMOUNT", lambda c: c.get("saleAmount")), ("CREATED", lambda c: c["createdAt"]),
    ], empty="no customers yet (they are created by POST /api/track/lead)"), "list customers")
    for name in ("email", "external-id", "country", "link-id", "search"):
        p.add_argument(f"--{name}")
    p.add_argument("--sort", choices=tuple(CUSTOMER_SORTS), default="createdAt")
    p.add_argument("--order", choices=("asc", "desc"), default="desc")
    p.add_argument("--expanded", action="store_true", help="include the customer's link")
    p.add_argument("--limit", type=counting(), default=100)
    p = _on(customers, "get", _shows(lambda core, args: core.conversions.get_customer(args.id, expanded=args.expanded)),
            "one customer as JSON (cus_... or ext_<externalId>)", "id")
    p.add_argument("--expanded", action="store_true")
    p = _on(customers, "update", _shows(update), "change a customer; prints it as JSON", "id")
    for name in ("name", "email", "avatar", "country", "external-id"):
        p.add_argument(f"--{name}")
    p.add_argument("--data", help="more fields as a JSON object")
    p.add_argument("--expanded", action="store_true")
    _on(customers, "delete", _reports(lambda core, args: core.conversions.delete_customer(args.id),
                                      lambda args, _: f"deleted {args.id} and its events"),
        "delete a customer and its events", "id")


def add_track_commands(sub) -> None:
    """`shortener track lead|sale`: record a conversion as POST /api/track/lead|sale does (for
    backfills and tests; your app normally calls the API)."""

    def _body(args, fields) -> dict:
        body = _fields(args, fields)
        if args.metadata is not None:
            body["metadata"] = parse_json_option(args.metadata, "--metadata")
        return body

    customer = (("customer_external_id", "customerExternalId"), ("customer_name", "customerName"),
                ("customer_email", "customerEmail"), ("customer_avatar", "customerAvatar"))
    lead = _shows(lambda core, args: core.conversions.track_lead(_body(args, (
        ("click_id", "clickId"), ("event_name", "eventName"), *customer, ("mode", "mode"),
        ("event_quantity", "eventQuantity")))))
    sale = _shows(lambda core, args: core.conversions.track_sale(_body(args, (
        *customer, ("amount", "amount"), ("currency", "currency"), ("event_name", "eventName"),
        ("payment_processor", "paymentProcessor"), ("invoice_id", "invoiceId"),
        ("lead_event_name", "leadEventName"), ("click_id", "clickId")))))

    def _customer_options(p) -> None:
        p.add_argument("--customer-external-id", required=True, help="your id for the customer")
        p.add_argument("--customer-name")
        p.add_argument("--customer-email")
        p.add_argument("--customer-avatar")
        p.add_argument("--metadata", help="a JSON object stored with the event")

    track = group(sub, "track", "record leads and sales (as the tracking API)")
    p = command(track, "lead", lead, "record a lead on a click; prints the API's answer as JSON")
    p.add_argument("--click-id", required=True, help="the visitor's dub_id ('' for a deferred customer's click)")
    p.add_argument("--event-name", required=True)
    _customer_options(p)
    p.add_argument("--mode", choices=("async", "wait", "deferred"))
    p.add_argument("--event-quantity", type=int)
    p = command(track, "sale", sale, "record a sale for a customer; prints the API's answer as JSON")
    _customer_options(p)
    p.add_argument("--amount", type=int, required=True, help="in cents")
    p.add_argument("--currency")
    p.add_argument("--event-name")
    p.add_argument("--payment-processor")
    p.add_argument("--invoice-id")
    p.add_argument("--lead-event-name")
    p.add_argument("--click-id")


_EVENT_FILTERS = ("link-id", "domain", "key", "external-id", "tenant-id", "customer-id", "country", "device",
                  "browser", "os", "referer", "referer-url", "url", "trigger", "event-name")


def add_events_commands(sub) -> None:
    from shortener.analytics import parse_request
    from shortener.conversions import EVENT_KINDS, INTERVALS

    @with_core
    async def list_(core, args) -> int:
        # The same parameters as GET /api/events, parsed by the same code (shortener/eventfilters.py).
        params: dict[str, str] = {}
        for name in _EVENT_FILTERS:
            value = getattr(args, name.replace("-", "_"))
            if value:
                head, *rest = name.split("-")
                params[head + "".join(part.title() for part in rest)] = value  # link-id -> linkId
        if args.tag_ids:
            params["tagIds"] = ",".join(args.tag_ids)
        if args.qr is not None:
            params["qr"] = "true" if args.qr else "false"
        for name in ("interval", "start", "end"):
            if getattr(args, name):
                params[name] = getattr(args, name)
        parse_request(params)
        events = await core.conversions.list_events(
            args.event, params=params, desc=args.order == "desc", page=args.page, limit=args.limit,
        )
        output(args, events, [
            ("TIME", lambda e: e.get("timestamp")), ("EVENT", lambda e: e.get("eventName") or e.get("event")),
            ("LINK", lambda e: (e.get("link") or {}).get("shortLink")),
            ("CLICK", lambda e: (e.get("click") or {}).get("id")),
            ("CUSTOMER", lambda e: (e.get("customer") or {}).get("id")),
            ("COUNTRY", lambda e: (e.get("click") or {}).get("country")),
            ("AMOUNT", lambda e: (e.get("sale") or {}).get("amount")),
        ], empty=f"no {args.event} in this period")
        return 0

    p = command(sub, "events", list_, "list click, lead or sale events (as GET /api/events)")
    p.add_argument("--event", choices=EVENT_KINDS, default="clicks")
    p.add_argument("--interval", choices=INTERVALS, help="period (default 24h)")
    p.add_argument("--start", help="ISO-8601 start (instead of --interval)")
    p.add_argument("--end", help="ISO-8601 end")
    for name in _EVENT_FILTERS:
        p.add_argument(f"--{name}")
    p.add_argument("--tag-id", action="append", dest="tag_ids")
    p.add_argument("--qr", action=argparse.BooleanOptionalAction, default=None, help="only QR scans (or --no-qr)")
    p.add_argument("--order", choices=("asc", "desc"), default="desc")
    p.add_argument("--page", type=counting(), default=1)
    p.add_argument("--limit", type=counting(1, 1000), default=100, help="events per page (1-1000)")


# -- webhooks --------------------------------------------------------------------------------

WEBHOOK_TRIGGERS = ("link.created, link.updated, link.deleted, link.clicked, lead.created, sale.created")
WEBHOOK_COLUMNS = (
    ("ID", lambda h: h["id"]), ("NAME", lambda h: h["name"]), ("URL", lambda h: h["url"]),
    ("TRIGGERS", lambda h: h["triggers"]),
    ("STATE", lambda h: f"disabled {h['disabledAt']}" if h["disabledAt"] else "enabled"),
)


def add_webhook_commands(sub) -> None:
    """`shortener webhooks ...`: the webhook service directly."""

    @with_core
    async def create(core, args) -> int:
        body = {"name": args.name, "url": args.url, "triggers": args.triggers}
        if args.secret:
            body["secret"] = args.secret
        if args.link_ids:
            body["linkIds"] = args.link_ids
        hook = await core.webhooks.create(body)
        print(f"created webhook {hook['id']}; signing secret: {hook['secret']}", file=sys.stderr)
        print_json(hook)
        return 0

    @with_core
    async def list_(core, args) -> int:
        output(args, await core.webhooks.list(), WEBHOOK_COLUMNS,
               empty="no webhooks yet; create one with `shortener webhooks create URL --name N --trigger EVENT`")
        return 0

    async def update(core, args):
        body = _fields(args, (("name", "name"), ("url", "url"), ("secret", "secret")))
        if args.triggers:
            body["triggers"] = args.triggers
        if args.link_ids is not None:
            body["linkIds"] = [] if args.link_ids == [""] else args.link_ids
        if args.disabled is not None:
            body["disabled"] = args.disabled
        if not body:
            raise ApiError("nothing to change: give at least one option")
        return await core.webhooks.update(args.id, body)

    @with_core
    async def delete(core, args) -> int:
        results = []
        for webhook_id in args.ids:
            results.append(await core.webhooks.delete(webhook_id))
            print(f"deleted {webhook_id}", file=sys.stderr)
        if args.json:
            print_json(results)
        return 0

    @with_core
    async def rotate(core, args) -> int:
        hook = await core.webhooks.rotate_secret(args.id)
        if args.json:
            print_json(hook)
        else:
            print(hook["secret"])
        return 0

    @with_core
    async def deliveries(core, args) -> int:
        rows = await core.webhooks.deliveries(args.id, args.limit)
        output(args, rows, [
            ("ID", lambda d: d["id"]), ("EVENT", lambda d: d["event"]), ("STATUS", lambda d: d["status"]),
            ("ATTEMPTS", lambda d: d["attempts"]), ("HTTP", lambda d: d["responseStatus"]),
            ("ERROR", lambda d: d["lastError"]), ("CREATED", lambda d: d["createdAt"]),
        ], empty="no deliveries yet")
        return 0

    hooks = group(sub, "webhooks", "webhooks")
    p = command(hooks, "create", create, "create a webhook; prints it as JSON (with its secret)")
    p.add_argument("url", help="receiver URL (http or https)")
    p.add_argument("--name", required=True)
    p.add_argument("--trigger", action="append", dest="triggers", required=True,
                   help=f"event to deliver ({WEBHOOK_TRIGGERS}); repeatable")
    p.add_argument("--secret", help="signing secret (16-128 chars; generated when omitted)")
    p.add_argument("--link-id", action="append", dest="link_ids", help="link whose clicks are delivered; repeatable")
    command(hooks, "list", list_, "list webhooks")
    _on(hooks, "get", _shows(lambda core, args: core.webhooks.get(args.id)), "one webhook as JSON", "id")
    p = _on(hooks, "update", _shows(update), "change a webhook; prints it as JSON", "id")
    p.add_argument("--name")
    p.add_argument("--url")
    p.add_argument("--secret")
    p.add_argument("--trigger", action="append", dest="triggers", help="replaces the triggers; repeatable")
    p.add_argument("--link-id", action="append", dest="link_ids", help="replaces the links ('' for none); repeatable")
    p.add_argument("--disabled", action=argparse.BooleanOptionalAction, default=None)
    _on(hooks, "enable", _shows(lambda core, args: core.webhooks.update(args.id, {"disabled": False})),
        "re-enable a webhook (what waited is delivered)", "id")
    _on(hooks, "disable", _shows(lambda core, args: core.webhooks.update(args.id, {"disabled": True})),
        "stop delivering to a webhook", "id")
    p = command(hooks, "delete", delete, "delete webhooks by id")
    p.add_argument("ids", nargs="+")
    _on(hooks, "rotate-secret", rotate, "replace a webhook's secret; prints the new one", "id")
    p = _on(hooks, "deliveries", deliveries, "a webhook's deliveries, newest first", "id")
    p.add_argument("--limit", type=counting(), default=20)
