"""`shortener` command line: serve, migrate, keys, links, webhooks.

Commands call the services through a Core, never the HTTP API. Results go to stdout, messages to
stderr, so `KEY=$(shortener keys create --name ci)` captures only the key.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any, Awaitable, Callable

from shortener.config import Settings
from shortener.errors import ApiError


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    return Settings.from_env(data_dir=getattr(args, "data_dir", None), **extra)


def _with_core(fn: Callable[..., Awaitable[int | None]]) -> Callable[[argparse.Namespace], int]:
    """Run `fn(core, args)` with a Core open (migrated, no background work started)."""

    def run(args: argparse.Namespace) -> int:
        from shortener.core import Core

        async def main() -> int:
            core = await Core.open(_settings(args))
            try:
                await core.domains.ensure_configured()
                return (await fn(core, args)) or 0
            finally:
                await core.close()

        try:
            return asyncio.run(main())
        except ApiError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1

    return run


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


# -- serve / migrate -------------------------------------------------------------------------

def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from shortener.web.app import create_app

    settings = _settings(args, host=args.host, port=args.port)
    app = create_app(settings)
    print(f"serving on http://{settings.host}:{settings.port} (data in {settings.data_dir})", file=sys.stderr)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=args.access_log,
        proxy_headers=False,  # forwarded headers are judged by our own trusted_proxies setting
        server_header=False,
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from shortener.store import open_store

    async def main() -> int:
        store = await open_store(_settings(args), migrate=False)
        try:
            applied = await store.migrate()
            version = await store.schema_version()
        finally:
            await store.close()
        for name in applied:
            print(f"applied {name}", file=sys.stderr)
        print(f"schema version {version}", file=sys.stderr)
        return 0

    return asyncio.run(main())


# -- keys ------------------------------------------------------------------------------------

@_with_core
async def cmd_keys_create(core, args) -> int:
    row, key = await core.api_keys.create(args.name, args.scopes, publishable=args.publishable)
    print(f"created {_key_kind(row)} key {row['id']} ({row['name']}, scopes: {_key_scopes(row)}); "
          "it is shown only once", file=sys.stderr)
    print(key)
    return 0


def _key_kind(row: dict) -> str:
    return "publishable" if row.get("kind") == "publishable" else "secret"


def _key_scopes(row: dict) -> str:
    from shortener import scopes

    return "track/click only" if _key_kind(row) == "publishable" else scopes.describe(row.get("scopes"))


@_with_core
async def cmd_keys_list(core, args) -> int:
    for row in await core.api_keys.list():
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        print(f"{row['id']}\t{row['name']}\t{row['partial_key']}\t{row['created_at']}\t{state}"
              f"\t{_key_kind(row)}\t{_key_scopes(row)}")
    return 0


def add_keys_create_options(p: argparse.ArgumentParser) -> None:
    from shortener import scopes

    p.add_argument("--scope", action="append", dest="scopes", metavar="SCOPE",
                   help="grant only this scope; repeatable (default: every scope). One of: "
                        + ", ".join((*scopes.SCOPES, *scopes.ALIASES)))
    p.add_argument("--publishable", action="store_true",
                   help="a publishable key (dub_pk_...) for client-side click tracking (POST /track/click)")


@_with_core
async def cmd_keys_revoke(core, args) -> int:
    await core.api_keys.revoke(args.key)
    print(f"revoked {args.key}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shortener", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="data folder (SHORTENER_DATA_DIR)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the server (uvicorn)")
    p.add_argument("--host", help="listen address (SHORTENER_HOST)")
    p.add_argument("--port", type=int, help="listen port (SHORTENER_PORT)")
    p.add_argument("--data-dir", dest="data_dir", default=argparse.SUPPRESS, help="data folder")
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(func=cmd_migrate)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    p = keys.add_parser("create", help="create a key; prints it alone on stdout")
    p.add_argument("--name", required=True)
    add_keys_create_options(p)
    p.set_defaults(func=cmd_keys_create)
    p = keys.add_parser("list", help="list keys (partial keys only): id, name, key, created, state, kind, scopes")
    p.set_defaults(func=cmd_keys_list)
    p = keys.add_parser("revoke", help="revoke a key by id or name")
    p.add_argument("key")
    p.set_defaults(func=cmd_keys_revoke)

    add_links_commands(sub)
    add_webhook_commands(sub)
    return parser


def add_links_commands(sub) -> None:
    """`shortener links create|list|delete`: the link service directly, not the HTTP API."""
    links = sub.add_parser("links", help="short links").add_subparsers(dest="links_command", required=True)

    p = links.add_parser("create", help="create a link; prints the link object as JSON")
    p.add_argument("url", help="destination URL")
    p.add_argument("--key", help="short key (random when omitted)")
    p.add_argument("--domain", help="short domain (the default domain when omitted)")
    p.add_argument("--prefix", help="prefix for a random key (prefix/random)")
    p.add_argument("--key-length", type=int, help="length of a random key (3-190, default 7)")
    p.add_argument("--external-id", help="your own id for the link")
    p.add_argument("--tag", action="append", dest="tags", help="tag name (created if unknown); repeatable")
    p.add_argument("--password", help="password visitors must enter")
    p.add_argument("--expires-at", help="ISO-8601 expiry time")
    p.add_argument("--redirect-status", type=int, choices=(301, 302, 307, 308))
    p.add_argument("--short", action="store_true", help="print only the short link")
    p.set_defaults(func=cmd_links_create)

    p = links.add_parser("list", help="list links, newest first: id, short link, destination, clicks")
    p.add_argument("--domain")
    p.add_argument("--search", help="substring of the key or destination")
    p.add_argument("--tag", action="append", dest="tags", help="tag name; repeatable (any of them)")
    p.add_argument("--archived", action="store_true", help="include archived links")
    p.add_argument("--limit", type=int, default=100, help="at most this many links (default 100)")
    p.add_argument("--json", action="store_true", help="print link objects as JSON")
    p.set_defaults(func=cmd_links_list)

    p = links.add_parser("delete", help="delete links by id or ext_<externalId>")
    p.add_argument("ids", nargs="+")
    p.set_defaults(func=cmd_links_delete)


@_with_core
async def cmd_links_create(core, args) -> int:
    body: dict[str, Any] = {"url": args.url}
    for name, value in (("key", args.key), ("domain", args.domain), ("prefix", args.prefix),
                        ("keyLength", args.key_length), ("externalId", args.external_id),
                        ("tagNames", args.tags), ("password", args.password),
                        ("expiresAt", args.expires_at), ("redirectStatus", args.redirect_status)):
        if value is not None:
            body[name] = value
    link = await core.links.create(body)
    if args.short:
        print(link["shortLink"])
    else:
        _print_json(link)
    return 0


@_with_core
async def cmd_links_list(core, args) -> int:
    filters = {"domain": args.domain.lower() if args.domain else None, "search": args.search,
               "tag_names": args.tags or [], "show_archived": args.archived}
    remaining, page, out = max(args.limit, 0), 1, []
    while remaining > 0:
        batch = await core.links.list(filters, page=page, page_size=min(100, remaining))
        out += batch
        remaining -= len(batch)
        if len(batch) < 100:
            break
        page += 1
    if args.json:
        _print_json(out)
        return 0
    for link in out:
        print(f"{link['id']}\t{link['shortLink']}\t{link['url']}\t{link['clicks']}")
    return 0


@_with_core
async def cmd_links_delete(core, args) -> int:
    failed = 0
    for link_id in args.ids:
        try:
            await core.links.delete(link_id)
        except ApiError as exc:
            print(f"error: {link_id}: {exc.message}", file=sys.stderr)
            failed += 1
            continue
        print(f"deleted {link_id}", file=sys.stderr)
    return 1 if failed else 0


def add_webhook_commands(sub) -> None:
    """`shortener webhooks create|list|delete|rotate-secret|deliveries`: the webhook service directly."""

    @_with_core
    async def create(core, args) -> int:
        body = {"name": args.name, "url": args.url, "triggers": args.triggers}
        if args.secret:
            body["secret"] = args.secret
        if args.link_ids:
            body["linkIds"] = args.link_ids
        hook = await core.webhooks.create(body)
        print(f"created webhook {hook['id']}; signing secret: {hook['secret']}", file=sys.stderr)
        _print_json(hook)
        return 0

    @_with_core
    async def list_(core, args) -> int:
        hooks = await core.webhooks.list()
        if args.json:
            _print_json(hooks)
            return 0
        for h in hooks:
            state = f"disabled {h['disabledAt']}" if h["disabledAt"] else "enabled"
            print(f"{h['id']}\t{h['name']}\t{h['url']}\t{','.join(h['triggers'])}\t{state}")
        return 0

    @_with_core
    async def delete(core, args) -> int:
        for webhook_id in args.ids:
            await core.webhooks.delete(webhook_id)
            print(f"deleted {webhook_id}", file=sys.stderr)
        return 0

    @_with_core
    async def rotate(core, args) -> int:
        hook = await core.webhooks.rotate_secret(args.id)
        print(hook["secret"])
        return 0

    @_with_core
    async def deliveries(core, args) -> int:
        _print_json(await core.webhooks.deliveries(args.id, args.limit))
        return 0

    hooks = sub.add_parser("webhooks", help="webhooks").add_subparsers(dest="webhooks_command", required=True)
    p = hooks.add_parser("create", help="create a webhook; prints it as JSON (with its secret)")
    p.add_argument("url", help="receiver URL (http or https)")
    p.add_argument("--name", required=True)
    p.add_argument("--trigger", action="append", dest="triggers", required=True,
                   help="event to deliver (link.created, link.updated, link.deleted, link.clicked, "
                        "lead.created, sale.created); repeatable")
    p.add_argument("--secret", help="signing secret (16-128 chars; generated when omitted)")
    p.add_argument("--link-id", action="append", dest="link_ids", help="link whose clicks are delivered; repeatable")
    p.set_defaults(func=create)
    p = hooks.add_parser("list", help="list webhooks")
    p.add_argument("--json", action="store_true", help="print webhook objects as JSON")
    p.set_defaults(func=list_)
    p = hooks.add_parser("delete", help="delete webhooks by id")
    p.add_argument("ids", nargs="+")
    p.set_defaults(func=delete)
    p = hooks.add_parser("rotate-secret", help="replace a webhook's secret; prints the new one")
    p.add_argument("id")
    p.set_defaults(func=rotate)
    p = hooks.add_parser("deliveries", help="a webhook's deliveries, newest first, as JSON")
    p.add_argument("id")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=deliveries)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    sys.exit(args.func(args))
