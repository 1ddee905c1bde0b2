"""`residentbot users add|list|disable|enable|passwd|unlock`: console accounts on the
command line, on the same store as the server (Redis with `REDIS_URL`, else the embedded
store in `RESIDENTBOT_DATA_DIR`). `bot/cli.py` adds it with `register(subparsers)`.

Passwords are never arguments (they would show in `ps` and shell history): they are
asked twice without echo, or read as one line from stdin with `--password-stdin`. Output
never contains a password or its hash. Errors are one line, zh / en, exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.console.auth import Auth
from bot.console.texts import ConsoleError, text
from bot.console.users import ROLES, User, Users
from bot.store import Store, StoreUnavailable, open_store


class UsersCliError(Exception):
    """One line for stderr."""


def _open() -> Store:
    from bot.config import Config, ConfigError

    try:
        config = Config.from_env()
    except ConfigError as exc:
        raise UsersCliError(str(exc)) from None
    return open_store(config.redis_url or config.data_dir)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        raise UsersCliError(
            "没有终端可以输入密码，请用 --password-stdin / no terminal: use --password-stdin"
        )
    first = getpass.getpass("密码 / password: ")
    again = getpass.getpass("再输一遍 / again: ")
    if first != again:
        raise UsersCliError(f"{text('password_mismatch')} / {text('password_mismatch', 'en')}")
    return first


def _line(user: User) -> str:
    state = "disabled" if user.disabled else "active"
    return "\t".join([user.name, user.role, user.scope or "-", user.display or "-", state])


async def _run(work: Callable[[Users, Auth], Awaitable[str]]) -> str:
    store = _open()
    try:
        users = Users(store)
        return await work(users, Auth(store, users))
    finally:
        await store.close()


def _command(args: argparse.Namespace) -> str:
    name: str = getattr(args, "name", "")
    if args.users_command == "add":
        password = _password(args)

        async def add(users: Users, auth: Auth) -> str:
            user = await users.add(args.name, args.role, args.scope, password, args.display)
            return f"added {_line(user)}\n"

        return asyncio.run(_run(add))
    if args.users_command == "list":

        async def listing(users: Users, auth: Auth) -> str:
            found = await users.list()
            if args.json:
                data = {"users": [u.public() for u in found]}
                return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
            return "".join(_line(u) + "\n" for u in found)

        return asyncio.run(_run(listing))
    if args.users_command in ("disable", "enable"):
        disabled = args.users_command == "disable"

        async def toggle(users: Users, auth: Auth) -> str:
            return f"{args.users_command}d {_line(await users.set_disabled(name, disabled))}\n"

        return asyncio.run(_run(toggle))
    if args.users_command == "passwd":
        password = _password(args)

        async def passwd(users: Users, auth: Auth) -> str:
            user = await users.set_password(name, password)
            await auth.unlock(name)
            return f"password changed for {user.name}\n"

        return asyncio.run(_run(passwd))
    if args.users_command == "unlock":

        async def unlock(users: Users, auth: Auth) -> str:
            if await users.get(name) is None:
                raise ConsoleError("no_user", name=name)
            await auth.unlock(name)
            return f"unlocked {name}\n"

        return asyncio.run(_run(unlock))
    raise UsersCliError(f"unknown command {args.users_command}")


def run(args: argparse.Namespace) -> None:
    """The `func` of the parser: print the result, or raise `bot.cli.CliError`."""
    from bot.cli import CliError

    try:
        sys.stdout.write(_command(args))
    except (ConsoleError, UsersCliError) as exc:
        raise CliError(str(exc)) from None
    except StoreUnavailable:
        raise CliError("存储连不上", "the store is unavailable") from None


def register(subparsers: Any) -> None:
    """Add `users` to `residentbot`'s subparsers (argparse `add_subparsers()` result)."""
    users = subparsers.add_parser("users", help="console accounts: add, list, disable, passwd")
    sub = users.add_subparsers(dest="users_command", required=True, metavar="USERS_COMMAND")
    add = sub.add_parser("add", help="add a user (the password is asked, never an argument)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--scope", help="staff: DISTRICT/TOWNSHIP; supervisor: DISTRICT or unrouted")
    add.add_argument("--display", default="", help="the person's name, e.g. 张三")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    listing = sub.add_parser("list", help="list users (no passwords)")
    listing.add_argument("--json", action="store_true")
    for command, helptext in (
        ("disable", "disable a user (their sessions end)"),
        ("enable", "enable a disabled user"),
        ("unlock", "lift a lockout after failed logins"),
    ):
        one = sub.add_parser(command, help=helptext)
        one.add_argument("name")
    passwd = sub.add_parser("passwd", help="set a user's password (their sessions end)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    users.set_defaults(func=run)


def main(argv: Sequence[str] | None = None) -> None:
    """`residentbot users …` on its own (until bot/cli.py registers it)."""
    from bot.cli import CliError

    parser = argparse.ArgumentParser(prog="residentbot")
    register(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except CliError as exc:
        sys.stderr.write(f"residentbot: {exc}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
