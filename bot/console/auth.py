"""Logging in to the console: lockout, sessions and CSRF tokens, all kept in the store.

- Lockout (issue 6): 5 failed logins for one user name within 15 minutes lock that name
  for 15 minutes; 20 from one IP address lock the address (a township office shares one
  address, so its bar is higher). A locked login is refused without checking the
  password. Counters are the store's fixed-window counters (namespace `login_fail`),
  locks are records with a TTL (`login_lock`), so they hold across processes on Redis.
- Sessions: a random 256-bit token in a cookie; the store keeps only its SHA-256
  (namespace `console_session`), so a copy of the store does not log anyone in. A
  session ends after 8 idle hours, 12 hours after login, at logout, when the user is
  disabled, or when their password changes.
- CSRF: every session has its own random token, put in every form and compared in
  constant time on every POST. The login form, before any session exists, uses a
  double-submit token: a cookie and the same value in the form.

Nothing here logs a password, a token or an address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.console.users import User, Users
from bot.store import Store

SESSIONS = "console_session"
FAILURES = "login_fail"
LOCKS = "login_lock"
ACCOUNT_LIMIT = 5
IP_LIMIT = 20
WINDOW = 15 * 60.0  # failures counted over, and lock length
IDLE = 8 * 3600.0
LIFETIME = 12 * 3600.0
TOUCH_EVERY = 300.0  # a session's idle clock is written back at most this often


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens; a missing or empty one never matches."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


@dataclass(frozen=True)
class Login:
    """A logged-in user and their session's CSRF token."""

    user: User
    csrf: str
    started_at: float


@dataclass(frozen=True)
class Attempt:
    outcome: str  # ok | invalid | locked
    user: User | None = None


class Auth:
    def __init__(
        self,
        store: Store,
        users: Users,
        *,
        clock: Callable[[], float] = time.time,
        account_limit: int = ACCOUNT_LIMIT,
        ip_limit: int = IP_LIMIT,
        window: float = WINDOW,
    ) -> None:
        self.store = store
        self.users = users
        self.clock = clock
        self.account_limit = account_limit
        self.ip_limit = ip_limit
        self.window = window

    # --- lockout --------------------------------------------------------------------

    async def locked(self, name: str, ip: str) -> bool:
        for key in (f"user:{name}", f"ip:{ip}"):
            if await self.store.get(LOCKS, key) is not None:
                return True
        return False

    async def _failed(self, name: str, ip: str) -> None:
        for key, limit in ((f"user:{name}", self.account_limit), (f"ip:{ip}", self.ip_limit)):
            count = await self.store.incr(FAILURES, key, self.window)
            if count >= limit:
                await self.store.put(LOCKS, key, {"at": self.clock()}, ttl=self.window)
                await self.store.delete(FAILURES, key)

    async def unlock(self, name: str) -> None:
        """Lift a user name's lock (an admin, after checking who was trying)."""
        await self.store.delete(LOCKS, f"user:{name}")
        await self.store.delete(FAILURES, f"user:{name}")

    async def attempt(self, name: str, password: str, ip: str) -> Attempt:
        name = name.strip().lower()[:64]
        if await self.locked(name, ip):
            return Attempt("locked")
        user = await self.users.verify(name, password) if name and password else None
        if user is None:
            await self._failed(name, ip)
            return Attempt("invalid")
        await self.store.delete(FAILURES, f"user:{name}")
        return Attempt("ok", user)

    # --- sessions -------------------------------------------------------------------

    async def start(self, user: User) -> tuple[str, Login]:
        """A new session (a new token at every login: no fixation)."""
        token = new_token()
        now = self.clock()
        csrf = new_token()
        record = {"user": user.name, "csrf": csrf, "started_at": now, "seen_at": now}
        await self.store.put(SESSIONS, digest(token), record, ttl=IDLE)
        return token, Login(user, csrf, now)

    async def resume(self, token: str | None) -> Login | None:
        if not token or len(token) > 128:
            return None
        key = digest(token)
        record: dict[str, Any] | None = await self.store.get(SESSIONS, key)
        if record is None:
            return None
        now = self.clock()
        started = float(record.get("started_at", 0.0))
        user = await self.users.get(str(record.get("user", "")))
        if (
            user is None
            or user.disabled
            or user.password_changed_at > started
            or now - started > LIFETIME
        ):
            await self.store.delete(SESSIONS, key)
            return None
        if now - float(record.get("seen_at", 0.0)) > TOUCH_EVERY:
            record["seen_at"] = now
            await self.store.put(SESSIONS, key, record, ttl=IDLE)
        return Login(user, str(record["csrf"]), started)

    async def end(self, token: str | None) -> None:
        if token:
            await self.store.delete(SESSIONS, digest(token))
