"""Staff accounts of the console, kept in the store so that every server process sharing
a Redis sees the same users (the embedded store serves its one process).

Layout: namespace `user`, key = the user name, value = `User.to_dict()` (the password
only as its scrypt hash, bot/console/passwords.py); namespace `user_index`, key `all`,
the sorted list of names (the store has no scan), changed under the store lock
`console:users`. Nothing is deleted: a person who leaves is disabled, so the audit
trails that name them stay readable.

Roles (issue 6, "Staff console"), each with its scope:

- `staff`, scope `<district>/<township>`: the queue of that 乡镇/街道 only;
- `supervisor`, scope `<district>`: every queue of the district and the district queue
  (escalations); scope `unrouted`: the hotline's last-resort queue;
- `operator`, no scope: the 12345 lookup; creating referrals for callers;
- `admin`, no scope: managing users.

Scopes are written with official place names (knowledge/places.yaml), which is how the
referral queues are named (bot/referrals.py `queue_name`); what an admin types is
resolved to them ("渝中区/解放碑" → "渝中区/解放碑街道").

Passwords: 12 to 128 characters, not containing the user name, at least 5 different
characters; no composition rules (NIST SP 800-63B favours length over them).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bot.console.passwords import LOG2_N, dummy_hash, hash_password, needs_rehash, verify_password
from bot.console.texts import ConsoleError
from bot.referrals import RESIDENT, SYSTEM, UNROUTED
from bot.store import Store
from knowledge.places import District, Township, UnknownPlace, resolve_district, township_short
from knowledge.text import compact

NAMESPACE = "user"
INDEX_NAMESPACE, INDEX_KEY = "user_index", "all"
LOCK = "console:users"

ROLES = ("staff", "supervisor", "operator", "admin")
SCOPED = ("staff", "supervisor")
NAME = re.compile(r"[a-z][a-z0-9_.-]{1,31}")
RESERVED = frozenset({RESIDENT, SYSTEM, UNROUTED, "admin.system"})
PASSWORD_MIN, PASSWORD_MAX, PASSWORD_DISTINCT = 12, 128, 5
DISPLAY_MAX = 32
TOWNSHIP_SUFFIXES = ("街道", "镇", "乡")
HASH_CONCURRENCY = 2  # scrypt holds 128 MiB while it runs: a burst of logins queues


@dataclass
class User:
    name: str
    role: str
    scope: str | None
    password: str  # the scrypt hash, never the password
    display: str = ""  # the person's name as colleagues know it, e.g. 张三
    disabled: bool = False
    created_at: float = 0.0
    password_changed_at: float = 0.0  # sessions started before it are ended

    @property
    def label(self) -> str:
        return self.display or self.name

    @property
    def district(self) -> str | None:
        """The district of a staff member's or supervisor's scope."""
        if self.scope is None or self.scope == UNROUTED:
            return None
        return self.scope.split("/", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def public(self) -> dict[str, Any]:
        """Everything but the hash (for `users list --json` and the admin page)."""
        out = self.to_dict()
        del out["password"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> User:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name) or name in RESERVED:
        raise ConsoleError("bad_name")
    return name


def check_password(name: str, password: str) -> str:
    if len(password) < PASSWORD_MIN:
        raise ConsoleError("password_short", min=PASSWORD_MIN)
    if len(password) > PASSWORD_MAX:
        raise ConsoleError("password_long", max=PASSWORD_MAX)
    if name.lower() in password.lower() or len(set(password)) < PASSWORD_DISTINCT:
        raise ConsoleError("password_weak", distinct=PASSWORD_DISTINCT)
    return password


def check_display(display: str) -> str:
    display = " ".join(display.split())
    if len(display) > DISPLAY_MAX:
        raise ConsoleError("display_long", max=DISPLAY_MAX)
    return display


def township_named(district: District, text: str) -> Township | None:
    """The township of `district` whose official or short name is exactly `text`
    ("解放碑" or "解放碑街道"). No fuzzy matching here: staff scopes, transfers and
    operators' referrals must not land on a township that merely looks like the one
    typed (knowledge.places.resolve_township forgives a resident's slip of one
    character, which staff names do not need)."""
    key = compact(text)
    if not key:
        return None
    for prefix in sorted((district.name, *district.aliases), key=len, reverse=True):
        if key.startswith(compact(prefix)) and len(key) > len(compact(prefix)):
            key = key[len(compact(prefix)) :]
            break
    exact = [t for t in district.townships if compact(t.name) == key]
    short = [t for t in district.townships if compact(township_short(t.name)) == key]
    for found in (exact, short):
        if len(found) == 1:
            return found[0]
    return None


def normalize_scope(role: str, scope: str | None) -> str | None:
    """The scope in official names, checked against the role."""
    if role not in ROLES:
        raise ConsoleError("bad_role")
    scope = (scope or "").strip() or None
    if role not in SCOPED:
        if scope is not None:
            raise ConsoleError("scope_unused")
        return None
    if scope is None:
        raise ConsoleError("scope_needed")
    if role == "supervisor" and scope == UNROUTED:
        return UNROUTED
    district_text, _, township_text = (part.strip() for part in scope.partition("/"))
    try:
        district = resolve_district(district_text)
    except UnknownPlace as exc:
        raise ConsoleError("bad_scope", scope=scope, reason=str(exc)) from None
    if role == "supervisor":
        if township_text:
            raise ConsoleError("scope_needed")
        return district.name
    if not township_text:
        raise ConsoleError("scope_needed")
    if district.townships:
        township = township_named(district, township_text)
        if township is None:
            raise ConsoleError("unknown_township", district=district.name, township=township_text)
        return f"{district.name}/{township.name}"
    # A district without a sourced township list: the name as written, if it is one.
    if not township_text.endswith(TOWNSHIP_SUFFIXES) or "/" in township_text:
        raise ConsoleError("unknown_township", district=district.name, township=township_text)
    return f"{district.name}/{township_text}"


class Users:
    def __init__(
        self,
        store: Store,
        *,
        log2_n: int = LOG2_N,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.log2_n = log2_n
        self.clock = clock
        self._dummy: str | None = None
        self._hashing: asyncio.Semaphore | None = None

    async def _hash(self, password: str) -> str:
        async with self._semaphore():
            return await asyncio.to_thread(hash_password, password, self.log2_n)

    async def _verify(self, password: str, stored: str) -> bool:
        async with self._semaphore():
            return await asyncio.to_thread(verify_password, password, stored)

    def _semaphore(self) -> asyncio.Semaphore:
        if self._hashing is None:
            self._hashing = asyncio.Semaphore(HASH_CONCURRENCY)
        return self._hashing

    # --- reading --------------------------------------------------------------------

    async def get(self, name: str) -> User | None:
        if not isinstance(name, str) or not NAME.fullmatch(name):
            return None
        data = await self.store.get(NAMESPACE, name)
        return None if data is None else User.from_dict(data)

    async def names(self) -> list[str]:
        index = await self.store.get(INDEX_NAMESPACE, INDEX_KEY)
        return [str(n) for n in (index or {}).get("names", [])]

    async def list(self) -> list[User]:
        found = [await self.get(name) for name in await self.names()]
        return [user for user in found if user is not None]

    # --- changing -------------------------------------------------------------------

    async def add(
        self, name: str, role: str, scope: str | None, password: str, display: str = ""
    ) -> User:
        name = check_name(name)
        scope = normalize_scope(role, scope)
        display = check_display(display)
        check_password(name, password)
        hashed = await self._hash(password)
        now = self.clock()
        async with self.store.lock(LOCK):
            if await self.store.get(NAMESPACE, name) is not None:
                raise ConsoleError("exists", name=name)
            user = User(name, role, scope, hashed, display, False, now, now)
            await self.store.put(NAMESPACE, name, user.to_dict())
            names = sorted({*await self.names(), name})
            await self.store.put(INDEX_NAMESPACE, INDEX_KEY, {"names": names})
        return user

    async def _change(self, name: str, **fields: Any) -> User:
        async with self.store.lock(LOCK):
            user = await self.get(name)
            if user is None:
                raise ConsoleError("no_user", name=name)
            for field_name, value in fields.items():
                setattr(user, field_name, value)
            await self.store.put(NAMESPACE, name, user.to_dict())
        return user

    async def set_disabled(self, name: str, disabled: bool) -> User:
        """Disabling ends the user's sessions at their next request (bot/console/auth.py)."""
        return await self._change(name, disabled=disabled)

    async def set_password(self, name: str, password: str) -> User:
        """A new password ends every session started before it."""
        if await self.get(name) is None:
            raise ConsoleError("no_user", name=name)
        check_password(name, password)
        hashed = await self._hash(password)
        return await self._change(name, password=hashed, password_changed_at=self.clock())

    async def set_profile(self, name: str, role: str, scope: str | None, display: str) -> User:
        return await self._change(
            name, role=role, scope=normalize_scope(role, scope), display=check_display(display)
        )

    # --- logging in -----------------------------------------------------------------

    async def verify(self, name: str, password: str) -> User | None:
        """The user if `password` is theirs and they are not disabled; otherwise None,
        after the same work (an unknown name is checked against a dummy hash)."""
        user = await self.get(name)
        if user is None:
            if self._dummy is None:
                self._dummy = await asyncio.to_thread(dummy_hash, self.log2_n)
            await self._verify(password, self._dummy)
            return None
        if not await self._verify(password, user.password):
            return None
        if user.disabled:
            return None
        if needs_rehash(user.password, self.log2_n):
            hashed = await self._hash(password)
            user = await self._change(name, password=hashed)
        return user
