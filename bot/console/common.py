"""The console's HTTP plumbing: its state on the app, pages, login checks and CSRF.

Every page is rendered from `bot/templates/console/` with autoescaping on and sent with
headers that keep it out of caches and frames (personal data is on these pages). Each
handler is wrapped by `page(*roles)` (GET), `action(*roles)` (POST) or `api(*roles)`:

- no session → GET: the login page, coming back afterwards; POST: the login page, nothing
  done; API: 401 JSON;
- POST without the session's CSRF token, or with a wrong one → 403, nothing done (the
  token is checked before the handler runs);
- a role the route does not serve → 403.

A referral outside the user's scope is answered 404 by the handlers (bot/console/access.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web

from bot.console.auth import Auth, Login, same
from bot.console.texts import text
from bot.console.users import Users
from bot.referrals import ReferralQueue, mask_phone
from bot.render import add_word_filters
from bot.store import Store, StoreUnavailable
from dialogues.screening import short_source

SESSION_COOKIE = "rb_console"
LOGIN_CSRF_COOKIE = "rb_console_login"
CHINA = dt.timezone(dt.timedelta(hours=8))  # China Standard Time, no daylight saving
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Handler = Callable[[web.Request, Login], Awaitable[web.StreamResponse]]
Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Console:
    """What the console's handlers share, kept on the app under `CONSOLE`."""

    store: Store
    users: Users
    auth: Auth
    referrals: ReferralQueue | None = None
    delivery: Any = None  # bot.delivery.Delivery, when the channels are wired
    config: Any = None  # bot.config.Config
    clock: Callable[[], float] = time.time
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def https(self) -> bool:
        public = getattr(self.config, "public_url", None)
        return bool(public and str(public).startswith("https://"))


CONSOLE = web.AppKey("console", Console)


# --- templates ------------------------------------------------------------------------


def format_clock(at: float | None) -> str:
    """Unix time as staff read it: 11月22日 08:18 (China time)."""
    if not at:
        return ""
    moment = dt.datetime.fromtimestamp(at, CHINA)
    return f"{moment.month}月{moment.day}日 {moment:%H:%M}"


def format_left(seconds: float) -> str:
    """Time to a deadline: 剩余25分钟, 剩余3小时10分, 剩余2天; 已超时40分钟 once past."""
    past = seconds < 0
    minutes = int(abs(seconds) // 60)
    if minutes < 60:
        span = f"{max(minutes, 1)}分钟"
    elif minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        span = f"{hours}小时{rest}分" if rest else f"{hours}小时"
    else:
        span = f"{minutes // (24 * 60)}天"
    return f"已超时{span}" if past else f"剩余{span}"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    add_word_filters(env)
    env.filters["clock"] = format_clock
    env.filters["left"] = format_left
    env.filters["masked"] = mask_phone
    env.filters["source"] = short_source
    env.globals["say"] = say
    return env


def say(code: str, values: Mapping[str, Any] | None = None) -> str:
    """A message of bot/console/messages.yaml in Chinese, for the templates."""
    return text(code, "zh", **(values or {}))


def html(name: str, **values: Any) -> str:
    return environment().get_template(f"console/{name}.j2").render(**values)


def respond(
    request: web.Request,
    name: str,
    login: Login | None,
    status: int = 200,
    **values: Any,
) -> web.Response:
    console = request.app[CONSOLE]
    body = html(
        name,
        login=login,
        user=login.user if login else None,
        csrf=login.csrf if login else "",
        now=console.clock(),
        path=request.path,
        **values,
    )
    return web.Response(text=body, content_type="text/html", status=status, headers=HEADERS)


def message_page(
    request: web.Request, login: Login | None, status: int, code: str, **values: Any
) -> web.Response:
    return respond(request, "message", login, status=status, code=code, values=values)


# --- requests -------------------------------------------------------------------------


def client_ip(request: web.Request) -> str:
    """The client's address; behind a reverse proxy on this host (a loopback peer), the
    address that proxy appended last to X-Forwarded-For."""
    remote = request.remote or "unknown"
    forwarded = request.headers.get("X-Forwarded-For")
    try:
        loopback = ipaddress.ip_address(remote).is_loopback
    except ValueError:
        loopback = False
    if loopback and forwarded:
        last = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            return remote
    return remote


def is_https(request: web.Request) -> bool:
    """Served over https: directly, behind a proxy that says so, or by configuration."""
    console = request.app[CONSOLE]
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or proto == "https" or console.https


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=is_https(request),
    )


def safe_next(target: str | None) -> str | None:
    """A path inside the console or the lookup to return to; anything else is dropped
    (no open redirect: '//evil.example' and absolute URLs are refused)."""
    if not target or not target.startswith(("/console/", "/lookup")) or "//" in target:
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    return target


def to_login(request: web.Request) -> web.HTTPSeeOther:
    back = safe_next(request.path_qs if request.method == "GET" else None)
    suffix = f"?next={quote(back, safe='')}" if back else ""
    return web.HTTPSeeOther(f"/console/login{suffix}")


async def current_login(request: web.Request) -> Login | None:
    return await request.app[CONSOLE].auth.resume(request.cookies.get(SESSION_COOKIE))


async def form_text(request: web.Request, name: str) -> str:
    value = (await request.post()).get(name)
    return value if isinstance(value, str) else ""


def _guard(roles: tuple[str, ...], *, api: bool, post: bool) -> Callable[[Handler], Route]:
    def wrap(handler: Handler) -> Route:
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                login = await current_login(request)
                if login is None:
                    if api:
                        return web.json_response({"error": "login required"}, status=401)
                    raise to_login(request)
                if post and not same(await form_text(request, "csrf"), login.csrf):
                    return message_page(request, login, 403, "csrf")
                if login.user.role not in roles:
                    if api:
                        return web.json_response({"error": "forbidden"}, status=403)
                    return message_page(request, login, 403, "forbidden")
                return await handler(request, login)
            except StoreUnavailable:
                if api:
                    return web.json_response({"error": "unavailable"}, status=503)
                return message_page(request, None, 503, "unavailable")

        return run

    return wrap


def page(*roles: str) -> Callable[[Handler], Route]:
    return _guard(roles, api=False, post=False)


def action(*roles: str) -> Callable[[Handler], Route]:
    return _guard(roles, api=False, post=True)


def api(*roles: str) -> Callable[[Handler], Route]:
    return _guard(roles, api=True, post=False)


def query(request: web.Request, name: str, default: str = "") -> str:
    return request.query.get(name, default).strip()


def done_code(request: web.Request, codes: frozenset[str]) -> str:
    """The `done=` message code a redirect named, if it is one of `codes` (those the page's
    actions redirect with); anything else typed into the URL is ignored."""
    code = query(request, "done")
    return code if code in codes else ""


def first(mapping: Mapping[str, Any], name: str, *, strip: bool = True) -> str:
    """A form or query field as text ("" when missing or a file); stripped unless a
    password."""
    value = mapping.get(name)
    if not isinstance(value, str):
        return ""
    return value.strip() if strip else value
