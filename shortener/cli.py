"""`shortener` command line: init, serve, migrate, keys, links, tags, folders, domains, customers,
events, track, webhooks, systemd-unit.

Commands call the services through a Core, never the HTTP API. Results go to stdout, messages to
stderr, so `KEY=$(shortener keys create --name ci)` captures only the key. Every command that
reads or changes data takes `--json`; lists print a table with a header otherwise.

The CLI never creates a database by accident: only `init` and `serve` do. Other commands look
for `<data dir>/shortener.db` and, when it is not there, say where they looked and how to point
elsewhere (a key created in a stray database would be refused by the real server).

Sub-command groups are added by small `add_*_commands(sub)` functions, so a module can register
its own group (see `build_parser`).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Sequence

from shortener.config import Settings
from shortener.errors import ApiError
from shortener.inputs import check_value

EXIT_ERROR = 1
EXIT_NO_DATABASE = 2


class NoDatabase(Exception):
    pass


# -- settings and the core -------------------------------------------------------------------

def _settings(args: argparse.Namespace, **extra: Any) -> tuple[Settings, frozenset[str]]:
    return Settings.load(data_dir=getattr(args, "data_dir", None), **extra)


def _where(args: argparse.Namespace, settings: Settings) -> str:
    if getattr(args, "data_dir", None):
        source = "given with --data-dir"
    elif os.environ.get("SHORTENER_DATA_DIR"):
        source = "from SHORTENER_DATA_DIR"
    else:
        source = f"the default ./data, relative to the current folder {os.getcwd()}"
    return f"the data folder {Path(settings.data_dir).resolve()} ({source})"


def require_database(args: argparse.Namespace, settings: Settings) -> None:
    """Stop with a helpful message unless the database exists (see the module docstring)."""
    from shortener.store import database_exists, sqlite_path

    if database_exists(settings):
        return
    path = Path(sqlite_path(settings.resolved_database_url) or "").resolve()
    raise NoDatabase(
        f"no database at {path}\n"
        f"  looked in {_where(args, settings)}\n"
        "  point at your data folder with --data-dir DIR (before the command) or SHORTENER_DATA_DIR=DIR,\n"
        "  or create a new one here with `shortener init`"
    )


async def open_core(args: argparse.Namespace):
    """A Core for a CLI command (migrated, no background work): the configured settings, with
    the database's primary domain as the default domain unless one was configured, so short
    links printed here are the ones the server answers."""
    from shortener.config import load_secret_key
    from shortener.core import Core
    from shortener.store import open_store

    settings, given = _settings(args)
    require_database(args, settings)
    store = await open_store(settings)
    try:
        if "domain" not in given:
            primary = await store.primary_domain()
            if primary:
                settings = settings.replace(domain=primary)
        core = Core(settings, store, load_secret_key(settings))
        await core.domains.ensure_configured()
    except BaseException:
        await store.close()
        raise
    return core


def _run(main: Callable[[], Awaitable[int | None]]) -> int:
    try:
        return asyncio.run(main()) or 0
    except ApiError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    except NoDatabase as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_DATABASE


# Paths may hold any bytes the file system allows; every other argument is a value for the store.
_PATH_ARGS = frozenset({"data_dir", "exec", "func"})


def _check_args(args: argparse.Namespace) -> None:
    """The API's text rule for command-line values: an argument that is not valid UTF-8 arrives
    as a lone surrogate (Python's surrogateescape) and is refused like one sent over HTTP."""
    for name, value in vars(args).items():
        if name not in _PATH_ARGS and not callable(value):
            check_value(value, name.removeprefix("opt_"))


def with_core(fn: Callable[..., Awaitable[int | None]]) -> Callable[[argparse.Namespace], int]:
    """Run `fn(core, args)` with a Core open (migrated, no background work started)."""

    def run(args: argparse.Namespace) -> int:
        async def main() -> int:
            _check_args(args)
            core = await open_core(args)
            try:
                return (await fn(core, args)) or 0
            finally:
                await core.close()

        return _run(main)

    return run


_with_core = with_core  # the name other modules used before


# -- output ----------------------------------------------------------------------------------

def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


_print_json = print_json


Column = tuple[str, Callable[[dict], Any]]


def report(args: argparse.Namespace, message: str, result: Any) -> int:
    """A command's outcome: a line for people on stderr, and the data as JSON on stdout with --json."""
    print(message, file=sys.stderr)
    if args.json:
        print_json(result)
    return 0


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ",".join(_cell(v) for v in value) or "-"
    return str(value).replace("\t", " ").replace("\n", " ")


def print_table(rows: Sequence[dict], columns: Sequence[Column], *, empty: str) -> None:
    """A table with a header, columns padded to their widest cell; `empty` (to stderr) when
    there are no rows, so an empty answer is never silence."""
    if not rows:
        print(empty, file=sys.stderr)
        return
    cells = [[_cell(get(r)) for _, get in columns] for r in rows]
    header = [name for name, _ in columns]
    widths = [max(len(header[i]), *(len(c[i]) for c in cells)) for i in range(len(columns))]
    for line in [header, *cells]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip())


def output(args: argparse.Namespace, data: Any, columns: Sequence[Column] | None = None, *,
           empty: str = "nothing yet") -> None:
    """`--json`: the API's JSON. Otherwise a table for lists with `columns`, JSON for objects."""
    if getattr(args, "json", False) or columns is None:
        print_json(data)
    else:
        print_table(data, columns, empty=empty)


def command(sub, name: str, fn: Callable, help: str, *, json_flag: bool = True, **kwargs: Any) -> argparse.ArgumentParser:
    """A sub-command with `--json` (unless it prints something that is not data)."""
    p = sub.add_parser(name, help=help, description=help, **kwargs)
    if json_flag:
        p.add_argument("--json", action="store_true", help="print the result as JSON (the API's shapes)")
    p.set_defaults(func=fn)
    return p


def group(sub, name: str, help: str):
    return sub.add_parser(name, help=help, description=help).add_subparsers(dest=f"{name}_command", required=True)


def parse_json_option(value: str, name: str = "--data") -> Any:
    try:
        data = json.loads(value)
    except ValueError:
        raise ApiError(f"{name} is not valid JSON: {value[:80]}") from None
    check_value(data, name)
    return data


# -- init / serve / migrate / systemd-unit ---------------------------------------------------

INIT_FLAGS = ("domain", "host", "port", "scheme", "trusted_proxies", "extra_domains")


def cmd_init(args: argparse.Namespace) -> int:
    """Create the data folder (0700), shortener.toml, the database (0600) and the secret key."""
    from shortener.config import config_path, ensure_private_dir, load_secret_key, render_config_file
    from shortener.core import Core
    from shortener.store import database_exists

    data_dir = args.data_dir or os.environ.get("SHORTENER_DATA_DIR") or "./data"
    ensure_private_dir(data_dir)
    path = config_path(data_dir)
    values = {name: getattr(args, name) for name in INIT_FLAGS if getattr(args, name, None) is not None}
    for name in ("trusted_proxies", "extra_domains"):
        if name in values:
            values[name] = [v.strip() for v in values[name].split(",") if v.strip()]
    wrote_config = False
    if not path.exists() or args.force:
        if path.exists() and args.force:
            print(f"replacing {path}", file=sys.stderr)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(render_config_file(values))
        wrote_config = True
    elif values:
        print(f"error: {path} exists; edit it, or pass --force to write a new one", file=sys.stderr)
        return EXIT_ERROR

    settings, _ = _settings(args)
    existed = database_exists(settings)

    async def main() -> int:
        core = await Core.open(settings)
        try:
            load_secret_key(settings)
            await core.domains.ensure_configured()
            version = await core.store.schema_version()
        finally:
            await core.close()
        result = {
            "dataDir": str(Path(settings.data_dir).resolve()),
            "config": str(path.resolve()),
            "configWritten": wrote_config,
            "database": settings.resolved_database_url,
            "databaseCreated": not existed,
            "schemaVersion": version,
            "domain": settings.domain,
        }
        if args.json:
            print_json(result)
        else:
            print(f"{'wrote' if wrote_config else 'kept'} {result['config']}", file=sys.stderr)
            print(f"{'created' if not existed else 'found'} {result['database']} (schema version {version})",
                  file=sys.stderr)
            print(f"default domain {settings.domain}; next: shortener --data-dir {data_dir} serve", file=sys.stderr)
        return 0

    return _run(main)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from shortener.web.app import create_app

    from shortener.config import load_secret_key

    # --access-log is our own log (no full IPs, no `pw` values), never uvicorn's.
    settings, given = _settings(args, host=args.host, port=args.port, access_log="text" if args.access_log else None)
    load_secret_key(settings)  # a bad key file stops here with its own message, not a traceback
    app = create_app(settings)
    print(f"serving on http://{settings.host}:{settings.port} (data in {settings.data_dir}); "
          f"short links on {settings.scheme}://{settings.domain}/", file=sys.stderr)
    for warning in serve_warnings(settings, given):
        print(f"warning: {warning}", file=sys.stderr)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,  # ours replaces it (SHORTENER_ACCESS_LOG)
        proxy_headers=False,  # forwarded headers are judged by our own trusted_proxies setting
        server_header=False,
    )
    return 0


def serve_warnings(settings: Settings, given: frozenset[str]) -> list[str]:
    """What `serve` should say before it starts about settings that will surprise a visitor."""
    out = []
    if "domain" not in given and settings.host in ("0.0.0.0", "::", "[::]", ""):
        out.append(f"listening on every address, but short links say {settings.domain}: set SHORTENER_DOMAIN "
                   "(or `domain` in shortener.toml) to the name visitors use")
    return out


def _progress_bar(label: str):
    """progress(done, total) drawing a bar on stderr (ends its line when done)."""
    def progress(done: int, total: int) -> None:
        share = done / total if total else 1.0
        filled = int(share * 30)
        end = "\n" if done >= total else ""
        print(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {share:6.1%}", end=end, file=sys.stderr, flush=True)
    return progress


def _progress_bars():
    """progress(label, done, total): a bar per label, each on its own line."""
    bars: dict[str, object] = {}

    def progress(label: str, done: int, total: int) -> None:
        bar = bars.get(label)
        if bar is None:
            bar = bars[label] = _progress_bar(label)
        bar(done, total)  # type: ignore[operator]
    return progress


def cmd_migrate(args: argparse.Namespace) -> int:
    from shortener.store import open_store

    settings, _ = _settings(args)

    async def main() -> int:
        require_database(args, settings)
        store = await open_store(settings, migrate=False)
        try:
            before = await store.schema_version()
            applied = await store.migrate(progress=_progress_bars())
            version = await store.schema_version()
        finally:
            await store.close()
        if args.json:
            print_json({"applied": applied, "schemaVersionBefore": before, "schemaVersion": version})
            return 0
        for name in applied:
            print(f"applied {name}", file=sys.stderr)
        print(f"schema version {version}" + ("" if applied else " (up to date)"), file=sys.stderr)
        return 0

    return _run(main)


def cmd_systemd_unit(args: argparse.Namespace) -> int:
    from importlib import resources

    text = resources.files("shortener").joinpath("deploy/shortener.service").read_text(encoding="utf-8")
    exe = args.exec
    if not exe and Path(sys.argv[0]).name == "shortener":
        exe = os.path.abspath(sys.argv[0])  # the console script of this installation
    if exe:
        text = text.replace("/opt/shortener/.venv/bin/shortener", exe)
    sys.stdout.write(text)
    return 0


def add_server_commands(sub) -> None:
    p = command(sub, "init", cmd_init, "create the data folder, shortener.toml, the database and the secret key")
    p.add_argument("--domain", help="default short domain, host[:port] as visitors type it")
    p.add_argument("--host", help="listen address")
    p.add_argument("--port", type=int, help="listen port")
    p.add_argument("--scheme", choices=("http", "https"), help="scheme of the short links")
    p.add_argument("--trusted-proxies", help="comma-separated CIDRs of your reverse proxies")
    p.add_argument("--extra-domains", help="comma-separated extra short domains")
    p.add_argument("--force", action="store_true", help="replace an existing shortener.toml")

    p = command(sub, "serve", cmd_serve, "run the server (uvicorn)", json_flag=False)
    p.add_argument("--host", help="listen address (SHORTENER_HOST)")
    p.add_argument("--port", type=int, help="listen port (SHORTENER_PORT)")
    p.add_argument("--data-dir", dest="data_dir", default=argparse.SUPPRESS, help="data folder")
    p.add_argument("--access-log", action="store_true", help="log every request, one line each (SHORTENER_ACCESS_LOG=text; no secrets, no full IPs)")

    command(sub, "migrate", cmd_migrate, "apply pending database migrations (after an upgrade)")

    p = command(sub, "systemd-unit", cmd_systemd_unit, "print a systemd unit for this installation",
                json_flag=False)
    p.add_argument("--exec", help="path of the shortener program (default: this one)")


# -- keys ------------------------------------------------------------------------------------

def _key_kind(row: dict) -> str:
    return "publishable" if row.get("kind") == "publishable" else "secret"


def _key_scopes(row: dict) -> str:
    from shortener import scopes

    return "track/click only" if _key_kind(row) == "publishable" else scopes.describe(row.get("scopes"))


def add_keys_create_options(p: argparse.ArgumentParser) -> None:
    from shortener import scopes

    p.add_argument("--scope", action="append", dest="scopes", metavar="SCOPE",
                   help="grant only this scope; repeatable (default: every scope). One of: "
                        + ", ".join((*scopes.SCOPES, *scopes.ALIASES)))
    p.add_argument("--publishable", action="store_true",
                   help="a publishable key (dub_pk_...) for client-side click tracking (POST /track/click)")


def add_keys_commands(sub) -> None:
    @with_core
    async def create(core, args) -> int:
        row, key = await core.api_keys.create(args.name, args.scopes, publishable=args.publishable)
        print(f"created {_key_kind(row)} key {row['id']} ({row['name']}, scopes: {_key_scopes(row)}); "
              "it is shown only once", file=sys.stderr)
        if args.json:
            print_json({"id": row["id"], "name": row["name"], "key": key, "partialKey": row["partial_key"],
                        "kind": _key_kind(row), "scopes": _key_scopes(row), "createdAt": row["created_at"]})
        else:
            print(key)
        return 0

    @with_core
    async def list_(core, args) -> int:
        rows = [{"id": r["id"], "name": r["name"], "partialKey": r["partial_key"], "createdAt": r["created_at"],
                 "revokedAt": r["revoked_at"], "kind": _key_kind(r), "scopes": _key_scopes(r)}
                for r in await core.api_keys.list()]
        output(args, rows, [
            ("ID", lambda r: r["id"]), ("NAME", lambda r: r["name"]), ("KEY", lambda r: r["partialKey"]),
            ("CREATED", lambda r: r["createdAt"]),
            ("STATE", lambda r: f"revoked {r['revokedAt']}" if r["revokedAt"] else "active"),
            ("KIND", lambda r: r["kind"]), ("SCOPES", lambda r: r["scopes"]),
        ], empty="no API keys yet; create one with `shortener keys create --name NAME`")
        return 0

    @with_core
    async def revoke(core, args) -> int:
        await core.api_keys.revoke(args.key)
        return report(args, f"revoked {args.key}", {"revoked": args.key})

    keys = group(sub, "keys", "API keys")
    p = command(keys, "create", create, "create a key; prints it alone on stdout")
    p.add_argument("--name", required=True)
    add_keys_create_options(p)
    command(keys, "list", list_, "list keys (partial keys only)")
    p = command(keys, "revoke", revoke, "revoke a key by id or name")
    p.add_argument("key")


def build_parser() -> argparse.ArgumentParser:
    from shortener import cli_api, cli_data, cli_stats

    parser = argparse.ArgumentParser(prog="shortener", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="data folder (SHORTENER_DATA_DIR; default ./data)")
    sub = parser.add_subparsers(dest="command", required=True)
    add_server_commands(sub)
    add_keys_commands(sub)
    cli_api.add_links_commands(sub)
    cli_api.add_tags_commands(sub)
    cli_api.add_folders_commands(sub)
    cli_api.add_domains_commands(sub)
    cli_api.add_customers_commands(sub)
    cli_api.add_events_commands(sub)
    cli_api.add_track_commands(sub)
    cli_stats.add_stats_commands(sub)
    cli_api.add_webhook_commands(sub)
    __import__("shortener.cli_users").cli_users.add_users_commands(sub)
    cli_data.add_data_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`shortener export | head`): stop quietly, as other tools do.
        # Python would try to flush stdout again at exit and complain: point it at /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    sys.exit(code)


async def fetch_pages(fetch: Callable[[int, int], Awaitable[list]], limit: int, page_size: int = 100) -> list:
    """Up to `limit` items from a paged service call `fetch(page, page_size)`."""
    size = max(1, min(page_size, limit))
    out: list = []
    page = 1
    while len(out) < limit:
        batch = await fetch(page, size)
        out += batch
        if len(batch) < size:
            break
        page += 1
    return out[:max(limit, 0)]


__all__: Iterable[str] = ("main", "build_parser", "with_core", "output", "command", "group", "print_json")
