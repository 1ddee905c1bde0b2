"""The township window's staff console and the 12345 operator lookup (issue 6).

`setup(app, services)` adds every route to the one aiohttp application (bot/app.py):

- log in and out, change one's password (every role): `GET /console/`,
  `GET/POST /console/login`, `POST /console/logout`, `GET/POST /console/password`;
- staff and supervisors: `GET /console/queue` (`?show=resolved`), the queue, emergency
  first, then by deadline, reloading itself; `GET /console/referral/{reference}` (in
  scope, else 404) and `POST /console/referral/{reference}/<action>` for `claim`,
  `release`, `contacted`, `reply`, `resolve`, `transfer`, and `takeover` (a referral
  whose holder cannot act: supervisors, or township staff once the holder is disabled);
- operators, staff and supervisors: `GET /lookup` (KB answers), `GET /lookup/standards`,
  `GET/POST /lookup/screen`, and `GET /api/kb/search?q=` (JSON; 401 without login);
- operators: `GET/POST /lookup/referral`, a referral for a caller;
- admins: `GET /console/users`, `POST /console/users`, `POST /console/users/{name}`
  (disabling a user puts the referrals they hold back in the queue);
- anyone: `GET /console/static/…`, the stylesheet.

Roles and scopes: bot/console/users.py and access.py; sessions, lockout and CSRF:
auth.py and web.py; users on the command line: cli.py (`residentbot users`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.console import admin, login, lookup, queue
from bot.console.auth import Auth
from bot.console.common import CONSOLE, Console
from bot.console.passwords import LOG2_N
from bot.console.users import Users

STATIC_DIR = Path(__file__).resolve().parent / "static"
REFERENCE = r"{reference:[0-9A-Za-z-]{1,32}}"


def setup(
    app: web.Application,
    services: Any,
    *,
    log2_n: int = LOG2_N,
    clock: Callable[[], float] = time.time,
) -> None:
    """Add the console and lookup routes. `services` provides `.store`, `.referrals`,
    `.config`, and when present `.delivery` and `.metrics`. `log2_n` is the scrypt cost
    of new password hashes (bot/console/passwords.py); tests pass a cheaper one."""
    store = services.store
    users = Users(store, log2_n=log2_n, clock=clock)
    console = Console(
        store=store,
        users=users,
        auth=Auth(store, users, clock=clock),
        referrals=getattr(services, "referrals", None),
        delivery=getattr(services, "delivery", None),
        config=getattr(services, "config", None),
        clock=clock,
    )
    metrics = getattr(services, "metrics", None)
    registry = getattr(metrics, "registry", None)
    if registry is not None:
        from prometheus_client import Counter

        # ValueError: already registered (a second console on the same metrics)
        with contextlib.suppress(ValueError):
            console.extra["logins"] = Counter(
                "residentbot_console_logins",
                "Console login attempts by outcome (ok, invalid, locked)",
                ["outcome"],
                registry=registry,
            )
    app[CONSOLE] = console
    ref = f"/console/referral/{REFERENCE}"
    app.router.add_routes(
        [
            web.get("/console", login.landing),
            web.get("/console/", login.landing),
            web.get("/console/login", login.login_form),
            web.post("/console/login", login.login_submit),
            web.post("/console/logout", login.logout),
            web.get("/console/password", login.password_form),
            web.post("/console/password", login.password_submit),
            web.get("/console/queue", queue.queue_page),
            web.get(ref, queue.referral_page),
            web.post(f"{ref}/claim", queue.claim),
            web.post(f"{ref}/release", queue.release),
            web.post(f"{ref}/contacted", queue.contacted),
            web.post(f"{ref}/reply", queue.reply),
            web.post(f"{ref}/resolve", queue.resolve),
            web.post(f"{ref}/transfer", queue.transfer),
            web.post(f"{ref}/takeover", queue.take_over),
            web.get("/console/users", admin.users_page),
            web.post("/console/users", admin.add_user),
            web.post("/console/users/{name}", admin.change_user),
            web.get("/lookup", lookup.lookup_page),
            web.get("/lookup/standards", lookup.standards_page),
            web.get("/lookup/screen", lookup.screen_form),
            web.post("/lookup/screen", lookup.screen_submit),
            web.get("/lookup/referral", lookup.referral_form),
            web.post("/lookup/referral", lookup.referral_submit),
            web.get("/api/kb/search", lookup.kb_search),
            web.static("/console/static", STATIC_DIR),
        ]
    )
