"""Logging in and out, the landing page, and changing one's own password."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.console.access import home
from bot.console.auth import Login, new_token, same
from bot.console.common import (
    CONSOLE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    action,
    client_ip,
    current_login,
    first,
    message_page,
    page,
    query,
    respond,
    safe_next,
    set_cookie,
)
from bot.console.texts import ConsoleError
from bot.console.users import ROLES
from bot.store import StoreUnavailable

log = logging.getLogger(__name__)


def _login_page(
    request: web.Request, next_path: str, error: str | None, status: int = 200
) -> web.Response:
    token = new_token()
    response = respond(
        request, "login", None, status=status, next=next_path, login_csrf=token, error=error
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token)
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    try:
        login = await current_login(request)
    except StoreUnavailable:
        return message_page(request, None, 503, "unavailable")
    if login is not None:
        raise web.HTTPSeeOther(home(login.user))
    return _login_page(request, safe_next(query(request, "next")) or "", None)


async def login_submit(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    form = await request.post()
    next_path = safe_next(first(form, "next")) or ""
    if not same(first(form, "csrf"), request.cookies.get(LOGIN_CSRF_COOKIE)):
        return message_page(request, None, 403, "csrf")
    password = form.get("password")
    try:
        attempt = await console.auth.attempt(
            first(form, "name"), password if isinstance(password, str) else "", client_ip(request)
        )
        if attempt.outcome != "ok" or attempt.user is None:
            log.info("console login refused (%s)", attempt.outcome)
            if console.extra.get("logins") is not None:
                console.extra["logins"].labels(attempt.outcome).inc()
            if attempt.outcome == "locked":
                return _login_page(request, next_path, "login_locked", 429)
            return _login_page(request, next_path, "login_failed", 401)
        token, login = await console.auth.start(attempt.user)
    except StoreUnavailable:
        return message_page(request, None, 503, "unavailable")
    log.info("console login: %s (%s)", login.user.name, login.user.role)
    if console.extra.get("logins") is not None:
        console.extra["logins"].labels("ok").inc()
    response = web.HTTPSeeOther(next_path or home(login.user))
    set_cookie(request, response, SESSION_COOKIE, token)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/")
    raise response


@action(*ROLES)
async def logout(request: web.Request, login: Login) -> web.StreamResponse:
    await request.app[CONSOLE].auth.end(request.cookies.get(SESSION_COOKIE))
    response = web.HTTPSeeOther("/console/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


@page(*ROLES)
async def landing(request: web.Request, login: Login) -> web.StreamResponse:
    raise web.HTTPSeeOther(home(login.user))


@page(*ROLES)
async def password_form(request: web.Request, login: Login) -> web.StreamResponse:
    done = query(request, "done") == "password"  # the one code password_submit sends
    return respond(request, "password", login, error=None, done=done)


@action(*ROLES)
async def password_submit(request: web.Request, login: Login) -> web.StreamResponse:
    console = request.app[CONSOLE]
    form = await request.post()
    current, new, repeat = (first(form, k, strip=False) for k in ("current", "new", "repeat"))
    attempt = await console.auth.attempt(login.user.name, current, client_ip(request))
    if attempt.outcome != "ok":
        code = "login_locked" if attempt.outcome == "locked" else "login_failed"
        return respond(request, "password", login, status=403, error=code, done="")
    if new != repeat:
        return respond(request, "password", login, status=400, error="password_mismatch", done="")
    try:
        user = await console.users.set_password(login.user.name, new)
    except ConsoleError as exc:
        return respond(
            request, "password", login, status=400, error=exc.code, values=exc.values, done=""
        )
    # The change ends every session, this one too: start a fresh one for this browser.
    await console.auth.end(request.cookies.get(SESSION_COOKIE))
    token, _ = await console.auth.start(user)
    response = web.HTTPSeeOther("/console/password?done=password")
    set_cookie(request, response, SESSION_COOKIE, token)
    raise response
