"""`shortener users create|list|delete`: dashboard owners.

The password is never an argument (it would land in the shell history and in `ps`): it is
prompted for twice on a terminal, or read as the first line of standard input otherwise, so
`printf '%s\n' "$PW" | shortener users create me@example.com` works in scripts.
"""
from __future__ import annotations

import getpass
import sys

from shortener.cli import command, group, output, report, with_core


def _read_password() -> str | None:
    if sys.stdin is not None and sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            print("error: the two passwords differ", file=sys.stderr)
            return None
        return first
    line = sys.stdin.readline() if sys.stdin is not None else ""
    return line.rstrip("\r\n")


def _public(user: dict) -> dict:
    return {"id": user["id"], "email": user["email"], "createdAt": user["created_at"],
            "lastSignInAt": user["last_sign_in_at"]}


@with_core
async def _create(core, args) -> int:
    password = _read_password()
    if password is None:
        return 1
    user, created = await core.users.set(args.email, password)
    verb = "created owner" if created else "set a new password for"
    return report(args, f"{verb} {user['email']}; sign in at {core.settings.scheme}://{core.settings.domain}/_/",
                  {**_public(user), "created": created})


@with_core
async def _list(core, args) -> int:
    output(args, [_public(u) for u in await core.users.list()], [
        ("EMAIL", lambda u: u["email"]), ("CREATED", lambda u: u["createdAt"]),
        ("LAST SIGN-IN", lambda u: u["lastSignInAt"] or "never"),
    ], empty="no owners yet; create one with `shortener users create EMAIL`")
    return 0


@with_core
async def _delete(core, args) -> int:
    await core.users.delete(args.email)
    return report(args, f"deleted owner {args.email}", {"deleted": args.email})


def add_users_commands(sub) -> None:
    users = group(sub, "users", "dashboard owners (all of them see the whole workspace)")
    p = command(users, "create", _create, "create an owner, or set a new password for one; the password "
                                          "is prompted for, or read from the first line of stdin")
    p.add_argument("email")
    command(users, "list", _list, "list owners")
    p = command(users, "delete", _delete, "delete an owner")
    p.add_argument("email")
