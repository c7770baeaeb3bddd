"""`shortener users create|list|delete`: dashboard owners.

The password is never an argument (it would land in the shell history and in `ps`): it is
prompted for twice on a terminal, or read as the first line of standard input otherwise, so
`printf '%s\n' "$PW" | shortener users create me@example.com` works in scripts.
"""
from __future__ import annotations

import getpass
import sys

from shortener.cli import with_core


def _read_password() -> str | None:
    if sys.stdin is not None and sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            print("error: the two passwords differ", file=sys.stderr)
            return None
        return first
    line = sys.stdin.readline() if sys.stdin is not None else ""
    return line.rstrip("\r\n")


@with_core
async def _create(core, args) -> int:
    password = _read_password()
    if password is None:
        return 1
    user, created = await core.users.set(args.email, password)
    verb = "created owner" if created else "set a new password for"
    print(f"{verb} {user['email']}; sign in at {core.settings.scheme}://{core.settings.domain}/_/", file=sys.stderr)
    return 0


@with_core
async def _list(core, args) -> int:
    for user in await core.users.list():
        print(f"{user['email']}\t{user['created_at']}\t{user['last_sign_in_at'] or 'never signed in'}")
    return 0


@with_core
async def _delete(core, args) -> int:
    await core.users.delete(args.email)
    print(f"deleted owner {args.email}", file=sys.stderr)
    return 0


def add_users_commands(sub) -> None:
    users = sub.add_parser("users", help="dashboard owners").add_subparsers(dest="users_command", required=True)
    p = users.add_parser("create", help="create an owner (or set a new password); the password is "
                                        "prompted for, or read from the first line of stdin")
    p.add_argument("email")
    p.set_defaults(func=_create)
    p = users.add_parser("list", help="list owners")
    p.set_defaults(func=_list)
    p = users.add_parser("delete", help="delete an owner")
    p.add_argument("email")
    p.set_defaults(func=_delete)
