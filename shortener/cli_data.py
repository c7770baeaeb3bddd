"""`shortener backup|restore|export|import`: the data folder's database in and out.

Registered by cli.build_parser with `add_data_commands(sub)`. Messages and the progress bar go to
stderr; `export` writes to stdout unless given a file.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
import time
from pathlib import Path

from shortener.config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    from shortener import cli

    return cli._settings(args)[0]


def _database(args: argparse.Namespace, settings: Settings) -> str:
    """The database file; SystemExit (with where it looked) when there is none: these commands
    never create one."""
    from shortener import cli
    from shortener.store import sqlite_path

    try:
        cli.require_database(args, settings)
    except cli.NoDatabase as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(cli.EXIT_NO_DATABASE) from None
    path = sqlite_path(settings.resolved_database_url)
    if not path:
        raise SystemExit(f"unsupported database URL {settings.resolved_database_url!r}")
    return path


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


# -- backup / restore ------------------------------------------------------------------------

def cmd_backup(args: argparse.Namespace) -> int:
    from shortener.store.sqlite.maintenance import copy_database, integrity_errors

    source = _database(args, _settings(args))
    dest = Path(args.file)
    if dest.resolve() == Path(source).resolve():
        raise SystemExit("the backup file cannot be the database itself")
    if dest.is_dir():
        raise SystemExit(f"{dest} is a folder: name the backup file, e.g. {dest / 'shortener-backup.db'}")
    if not dest.parent.is_dir():
        raise SystemExit(f"the folder {dest.parent} does not exist: create it first, or choose another")
    if dest.exists() and not args.force:
        raise SystemExit(f"{dest} exists; choose another name or pass --force to replace it")
    started = time.perf_counter()
    try:
        pages = copy_database(source, dest, pages=args.pages, pause=args.pause)
    except OSError as exc:  # no permission, disk full: say so, as for the checks above
        raise SystemExit(f"cannot write the backup {dest}: {exc.strerror or exc}") from None
    took = time.perf_counter() - started
    errors = integrity_errors(dest)
    if errors:
        _say(f"error: the copy failed its integrity check: {'; '.join(errors[:5])}")
        return 1
    _say(f"backed up {source} to {dest}: {pages} pages, {dest.stat().st_size / 1e6:.1f} MB in {took:.1f}s; "
         "integrity check ok")
    if args.json:
        _print_json({"database": source, "file": str(dest), "pages": pages, "bytes": dest.stat().st_size,
                     "seconds": round(took, 3), "integrity": "ok"})
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from shortener import runlock
    from shortener.store import open_store
    from shortener.store.sqlite.maintenance import integrity_errors

    settings = _settings(args)
    target = _database(args, settings)
    errors = integrity_errors(args.file)
    if errors:
        _say(f"error: {args.file} is not a usable backup: {'; '.join(errors[:5])}")
        return 1
    lock = runlock.hold_exclusive(target)
    if lock is None and not args.force:
        _say(f"error: a server is running on {target}; stop it first (or pass --force, then restart it)")
        return 1
    keep = Path(target + ".bak")
    try:
        async def main() -> None:
            store = await open_store(settings, migrate=False)
            try:
                await asyncio.to_thread(store.restore_from, args.file, keep)
            finally:
                await store.close()

        asyncio.run(main())
    finally:
        runlock.release(lock)
    errors = integrity_errors(target)
    if errors:
        _say(f"error: the restored database failed its integrity check: {'; '.join(errors[:5])}; "
             f"the previous one is in {keep}")
        return 1
    _say(f"restored {target} from {args.file}; the previous database is in {keep}")
    if args.json:
        _print_json({"database": target, "restoredFrom": str(args.file), "previous": str(keep), "integrity": "ok"})
    return 0


# -- export / import -------------------------------------------------------------------------

def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def cmd_export(args: argparse.Namespace) -> int:
    from shortener.services.imports import EXPORT_CSV_COLUMNS, export_links

    from shortener import cli

    _database(args, _settings(args))
    if args.output and args.output != "-":
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        out = os.fdopen(fd, "w", encoding="utf-8", newline="")
    else:
        out = sys.stdout

    async def main() -> int:
        core = await cli.open_core(args)
        count = 0
        try:
            writer = None
            if args.format == "csv" and not args.json:
                writer = csv.writer(out)
                writer.writerow(EXPORT_CSV_COLUMNS)
            async for obj in export_links(core):
                if writer is not None:
                    obj = dict(obj, tags=[t["name"] for t in obj["tags"]])
                    writer.writerow([_cell(obj.get(c)) for c in EXPORT_CSV_COLUMNS])
                else:
                    out.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
                count += 1
        finally:
            await core.close()
        return count

    try:
        count = asyncio.run(main())
    finally:
        if out is not sys.stdout:
            out.close()
    _say(f"exported {count} links")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from shortener import cli, importformats
    from shortener.services.imports import Importer

    _database(args, _settings(args))
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"cannot read {args.file}: {exc}") from None
    rows = list(importformats.read(args.format, text))

    async def main():
        core = await cli.open_core(args)
        try:
            with tqdm(total=len(rows), unit="link", file=sys.stderr, disable=args.quiet,
                      desc=f"importing {args.format}") as bar:
                return await Importer(core, domain=args.domain).run(rows, progress=bar.update)
        finally:
            await core.close()

    started = time.perf_counter()
    report = asyncio.run(main())
    took = time.perf_counter() - started
    for number, key, reason in report.rejected:
        _say(f"rejected row {number}{f' ({key})' if key else ''}: {reason}")
    _say(f"imported {report.imported} of {report.total} links in {took:.1f}s; {len(report.rejected)} rejected")
    if args.json:
        _print_json({"imported": report.imported, "total": report.total, "seconds": round(took, 3),
                     "rejected": [{"row": n, "key": k, "reason": r} for n, k, r in report.rejected]})
    return 1 if report.rejected else 0


def add_data_commands(sub) -> None:
    p = sub.add_parser("backup", help="copy the database to FILE while the server runs (consistent snapshot)")
    p.add_argument("file", help="backup file to write (mode 0600)")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.add_argument("--pages", type=int, default=2048, help="pages copied per step (default 2048)")
    p.add_argument("--pause", type=float, default=0.002, help="seconds between steps (default 0.002)")
    p.add_argument("--json", action="store_true", help="print a summary as JSON on stdout")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="replace the database with a backup FILE (the old one is kept as .bak)")
    p.add_argument("file", help="a file written by `shortener backup`")
    p.add_argument("--force", action="store_true", help="restore even while a server runs on the database")
    p.add_argument("--json", action="store_true", help="print a summary as JSON on stdout")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("export", help="every link as JSON lines (default) or CSV")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    p.add_argument("--output", "-o", help="file to write (mode 0600); stdout when omitted")
    p.add_argument("--json", action="store_true", help="JSON lines (the same as --format jsonl)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", help="links from our export or Dub's, Shlink's, YOURLS' or Kutt's")
    p.add_argument("file", help="export file ('-' for stdin)")
    p.add_argument("--format", required=True, choices=("ours", "dub", "shlink", "yourls", "kutt"))
    p.add_argument("--domain", help="put every link on this (configured) domain instead of the file's")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the outcome (with every rejected row) as JSON")
    p.set_defaults(func=cmd_import)
