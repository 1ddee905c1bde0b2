"""Lockout, sessions and their end, with the store's and the auth's clock moved by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.console.auth import (
    ACCOUNT_LIMIT,
    FAILURES,
    IDLE,
    IP_LIMIT,
    LIFETIME,
    SESSIONS,
    WINDOW,
    Auth,
    digest,
    same,
)
from bot.console.users import Users
from bot.store.embedded import EmbeddedStore

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = 1_760_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[EmbeddedStore]:
    store = EmbeddedStore(tmp_path, clock=clock)
    yield store
    await store.close()


@pytest.fixture
async def auth(store: EmbeddedStore, clock: Clock) -> Auth:
    users = Users(store, log2_n=10, clock=clock)
    for name in ("zhang", "li"):
        await users.add(name, "operator", None, PASSWORD)
    return Auth(store, users, clock=clock)


async def test_the_right_password_logs_in(auth: Auth) -> None:
    attempt = await auth.attempt("  Zhang ", PASSWORD, "10.0.0.1")
    assert attempt.outcome == "ok"
    assert attempt.user is not None
    assert attempt.user.name == "zhang"
    assert (await auth.attempt("zhang", "wrong password", "10.0.0.1")).outcome == "invalid"
    assert (await auth.attempt("nobody", PASSWORD, "10.0.0.1")).outcome == "invalid"
    assert (await auth.attempt("zhang", "", "10.0.0.1")).outcome == "invalid"


async def test_five_failures_lock_the_account_for_fifteen_minutes(auth: Auth, clock: Clock) -> None:
    for _ in range(ACCOUNT_LIMIT):
        assert (await auth.attempt("zhang", "guess", "10.0.0.1")).outcome == "invalid"
    # locked: even the right password, from another address, is refused unchecked
    assert (await auth.attempt("zhang", PASSWORD, "10.0.0.2")).outcome == "locked"
    assert (await auth.attempt("li", PASSWORD, "10.0.0.1")).outcome == "ok"  # others not
    clock.now += WINDOW - 1
    assert (await auth.attempt("zhang", PASSWORD, "10.0.0.2")).outcome == "locked"
    clock.now += 2
    assert (await auth.attempt("zhang", PASSWORD, "10.0.0.2")).outcome == "ok"


async def test_a_success_clears_the_failures(auth: Auth) -> None:
    for _ in range(ACCOUNT_LIMIT - 1):
        await auth.attempt("zhang", "guess", "10.0.0.1")
    assert (await auth.attempt("zhang", PASSWORD, "10.0.0.1")).outcome == "ok"
    for _ in range(ACCOUNT_LIMIT - 1):
        await auth.attempt("zhang", "guess", "10.0.0.1")
    assert (await auth.attempt("zhang", PASSWORD, "10.0.0.1")).outcome == "ok"


async def test_failures_outside_the_window_do_not_add_up(auth: Auth, clock: Clock) -> None:
    for _ in range(ACCOUNT_LIMIT - 1):
        await auth.attempt("zhang", "guess", "10.0.0.1")
    clock.now += WINDOW + 1
    for _ in range(ACCOUNT_LIMIT - 1):
        await auth.attempt("zhang", "guess", "10.0.0.1")
    assert (await auth.attempt("zhang", PASSWORD, "10.0.0.1")).outcome == "ok"


async def test_many_failures_from_one_address_lock_the_address(auth: Auth) -> None:
    for i in range(IP_LIMIT):  # a different name each time: no account reaches its limit
        assert (await auth.attempt(f"guess{i}", "guess", "10.0.0.9")).outcome == "invalid"
    assert (await auth.attempt("zhang", PASSWORD, "10.0.0.9")).outcome == "locked"
    assert (await auth.attempt("zhang", PASSWORD, "10.0.0.1")).outcome == "ok"


async def test_an_admin_can_lift_an_account_lock(auth: Auth, store: EmbeddedStore) -> None:
    for _ in range(ACCOUNT_LIMIT):
        await auth.attempt("zhang", "guess", "10.0.0.1")
    assert await auth.locked("zhang", "10.0.0.5")
    await auth.unlock("zhang")
    assert not await auth.locked("zhang", "10.0.0.5")
    assert (await auth.attempt("zhang", PASSWORD, "10.0.0.5")).outcome == "ok"


async def test_a_session_is_kept_by_the_digest_of_its_token(
    auth: Auth, store: EmbeddedStore
) -> None:
    user = await auth.users.get("zhang")
    assert user is not None
    token, login = await auth.start(user)
    assert await store.get(SESSIONS, token) is None
    record = await store.get(SESSIONS, digest(token))
    assert record is not None
    assert record["user"] == "zhang"
    assert token not in str(record)
    resumed = await auth.resume(token)
    assert resumed is not None
    assert resumed.user.name == "zhang"
    assert resumed.csrf == login.csrf
    assert await auth.resume(token + "x") is None
    assert await auth.resume(None) is None
    assert await auth.resume("") is None
    other, second = await auth.start(user)
    assert other != token
    assert second.csrf != login.csrf
    await auth.end(token)
    assert await auth.resume(token) is None
    assert await auth.resume(other) is not None


async def test_sessions_end_when_idle(auth: Auth, clock: Clock) -> None:
    user = await auth.users.get("zhang")
    assert user is not None
    token, _ = await auth.start(user)
    clock.now += IDLE - 60
    assert await auth.resume(token) is not None  # touched: the idle clock restarts
    clock.now += 3 * 3600
    assert await auth.resume(token) is not None
    clock.now += IDLE + 1
    assert await auth.resume(token) is None


async def test_sessions_end_after_their_lifetime_however_busy(auth: Auth, clock: Clock) -> None:
    user = await auth.users.get("zhang")
    assert user is not None
    token, _ = await auth.start(user)
    started = clock.now
    while clock.now + 7200 - started <= LIFETIME:
        clock.now += 7200
        assert await auth.resume(token) is not None
    clock.now += 7200
    assert await auth.resume(token) is None


async def test_disabling_or_a_new_password_ends_sessions(auth: Auth, clock: Clock) -> None:
    user = await auth.users.get("zhang")
    assert user is not None
    token, _ = await auth.start(user)
    await auth.users.set_disabled("zhang", True)
    assert await auth.resume(token) is None
    await auth.users.set_disabled("zhang", False)
    assert await auth.resume(token) is None  # ended for good, not just while disabled

    token, _ = await auth.start(user)
    clock.now += 10
    await auth.users.set_password("zhang", "another long password")
    assert await auth.resume(token) is None
    fresh, _ = await auth.start(user)
    assert await auth.resume(fresh) is not None


async def test_failed_logins_never_store_the_password(auth: Auth, store: EmbeddedStore) -> None:
    await auth.attempt("zhang", "my secret guess", "10.0.0.1")
    conn = store._connection()  # the raw table: what a copy of the store would show
    rows = conn.execute("SELECT ns, key, value FROM kv").fetchall()
    assert rows
    assert all("my secret guess" not in str(row) for row in rows)
    assert any(ns == FAILURES for ns, _, _ in rows)


def test_token_comparison_refuses_missing_tokens() -> None:
    assert same("abc", "abc")
    assert not same("abc", "abd")
    assert not same("", "")
    assert not same(None, "abc")
    assert not same("abc", None)
