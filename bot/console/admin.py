"""The admin's users page: list, add, disable or enable, set a password, lift a lock.

The same operations as `residentbot users` (bot/console/cli.py), for admins in a browser.
Disabling a user here also puts the referrals they hold back in the queue, taken over by
the admin (the command line has no queue: there, the holder shows as gone and the
district's supervisors or the township's staff take them over, bot/console/access.py).
"""

from __future__ import annotations

from aiohttp import web

from bot.console import access, queue
from bot.console.auth import Login
from bot.console.common import CONSOLE, action, done_code, first, page, query, respond
from bot.console.texts import ConsoleError
from bot.console.users import PASSWORD_MIN, ROLES

# The `done=` codes the actions below redirect with; no other is shown.
DONE = frozenset({"done_user_added", "done_user_changed", "done_user_disabled"})


async def _users_page(
    request: web.Request,
    login: Login,
    *,
    status: int = 200,
    error: ConsoleError | None = None,
    form: dict[str, str] | None = None,
) -> web.Response:
    console = request.app[CONSOLE]
    return respond(
        request,
        "users",
        login,
        status=status,
        users=await console.users.list(),
        roles=ROLES,
        error={"code": error.code, "values": error.values} if error else None,
        done=done_code(request, DONE),
        done_values={"name": query(request, "name")},
        form=form or {},
        password_min=PASSWORD_MIN,
    )


@page(*access.ADMIN_ROLES)
async def users_page(request: web.Request, login: Login) -> web.StreamResponse:
    return await _users_page(request, login)


@action(*access.ADMIN_ROLES)
async def add_user(request: web.Request, login: Login) -> web.StreamResponse:
    console = request.app[CONSOLE]
    form = await request.post()
    fields = {k: first(form, k) for k in ("name", "role", "scope", "display")}
    password = form.get("password")
    try:
        user = await console.users.add(
            fields["name"].lower(),
            fields["role"],
            fields["scope"] or None,
            password if isinstance(password, str) else "",
            fields["display"],
        )
    except ConsoleError as exc:
        return await _users_page(request, login, status=400, error=exc, form=fields)
    raise web.HTTPSeeOther(f"/console/users?done=done_user_added&name={user.name}")


@action(*access.ADMIN_ROLES)
async def change_user(request: web.Request, login: Login) -> web.StreamResponse:
    console = request.app[CONSOLE]
    name = request.match_info["name"]
    form = await request.post()
    what = first(form, "do")
    try:
        if await console.users.get(name) is None:
            raise ConsoleError("no_user", name=name)
        if what == "disable":
            user = await console.users.set_disabled(name, True)
            await queue.release_held(console, user, login.user.name)
            raise web.HTTPSeeOther(f"/console/users?done=done_user_disabled&name={name}")
        elif what == "enable":
            await console.users.set_disabled(name, False)
        elif what == "password":
            password = form.get("password")
            await console.users.set_password(name, password if isinstance(password, str) else "")
        elif what == "unlock":
            await console.auth.unlock(name)
        else:
            raise web.HTTPBadRequest(text="unknown change")
    except ConsoleError as exc:
        return await _users_page(request, login, status=400, error=exc)
    raise web.HTTPSeeOther(f"/console/users?done=done_user_changed&name={name}")
