"""Console users in the store: names, roles and scopes, passwords, disabling."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.console.texts import ConsoleError
from bot.console.users import Users, normalize_scope
from bot.store.embedded import EmbeddedStore

PASSWORD = "correct horse battery"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EmbeddedStore]:
    store = EmbeddedStore(tmp_path)
    yield store
    await store.close()


@pytest.fixture
def users(store: EmbeddedStore) -> Users:
    return Users(store, log2_n=10)


async def test_a_user_is_stored_with_a_hash_never_the_password(
    users: Users, store: EmbeddedStore
) -> None:
    user = await users.add("zhangsan", "staff", "渝中区/解放碑街道", PASSWORD, "张三")
    record = await store.get("user", "zhangsan")
    assert record is not None
    assert PASSWORD not in json.dumps(record, ensure_ascii=False)
    assert record["password"].startswith("scrypt$10$")
    assert (user.role, user.scope, user.label) == ("staff", "渝中区/解放碑街道", "张三")
    assert "password" not in user.public()
    assert await users.get("zhangsan") == user
    assert await users.verify("zhangsan", PASSWORD) == user
    assert await users.verify("zhangsan", PASSWORD + "x") is None
    assert await users.verify("nobody", PASSWORD) is None


async def test_names_are_unique_and_listed_in_order(users: Users) -> None:
    await users.add("wang", "operator", None, PASSWORD)
    await users.add("admin1", "admin", None, PASSWORD)
    with pytest.raises(ConsoleError) as refused:
        await users.add("wang", "admin", None, PASSWORD)
    assert refused.value.code == "exists"
    assert [u.name for u in await users.list()] == ["admin1", "wang"]
    assert (await users.get("wang")).role == "operator"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "name", ["Zhang", "1abc", "a", "x" * 33, "resident", "system", "zh ang", "张三", "a/b"]
)
async def test_bad_and_reserved_names_are_refused(users: Users, name: str) -> None:
    with pytest.raises(ConsoleError) as refused:
        await users.add(name, "operator", None, PASSWORD)
    assert refused.value.code == "bad_name"
    assert await users.list() == []


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short pass", "password_short"),
        ("x" * 129, "password_long"),
        ("my name is zhangsan!", "password_weak"),
        ("abababababababab", "password_weak"),
    ],
)
async def test_weak_passwords_are_refused(users: Users, password: str, code: str) -> None:
    with pytest.raises(ConsoleError) as refused:
        await users.add("zhangsan", "operator", None, password)
    assert refused.value.code == code
    assert await users.get("zhangsan") is None


@pytest.mark.parametrize(
    ("role", "scope", "expected"),
    [
        ("staff", "渝中区/解放碑街道", "渝中区/解放碑街道"),
        ("staff", "渝中区/解放碑", "渝中区/解放碑街道"),
        ("staff", "重庆市渝中区 / 七星岗街道", "渝中区/七星岗街道"),
        ("supervisor", "奉节", "奉节县"),
        ("supervisor", "unrouted", "unrouted"),
        ("operator", None, None),
        ("admin", "", None),
    ],
)
def test_scopes_are_written_with_official_names(
    role: str, scope: str | None, expected: str | None
) -> None:
    assert normalize_scope(role, scope) == expected


@pytest.mark.parametrize(
    ("role", "scope", "code"),
    [
        ("staff", None, "scope_needed"),
        ("staff", "渝中区", "scope_needed"),
        ("staff", "渝中区/没有这个街道", "unknown_township"),
        ("staff", "渝中区/火星街道", "unknown_township"),  # looks like 七星岗街道: not enough
        ("staff", "火星区/解放碑街道", "bad_scope"),
        ("supervisor", "渝中区/解放碑街道", "scope_needed"),
        ("operator", "渝中区", "scope_unused"),
        ("root", None, "bad_role"),
    ],
)
def test_scopes_that_do_not_fit_the_role_are_refused(
    role: str, scope: str | None, code: str
) -> None:
    with pytest.raises(ConsoleError) as refused:
        normalize_scope(role, scope)
    assert refused.value.code == code
    assert " / " in str(refused.value)  # zh / en for the command line


async def test_disabled_users_cannot_log_in_until_enabled(users: Users) -> None:
    await users.add("lisi", "staff", "奉节县/永安街道", PASSWORD)
    await users.set_disabled("lisi", True)
    assert await users.verify("lisi", PASSWORD) is None
    await users.set_disabled("lisi", False)
    assert await users.verify("lisi", PASSWORD) is not None


async def test_a_new_password_replaces_the_old_and_is_dated(
    users: Users, store: EmbeddedStore
) -> None:
    before = await users.add("lisi", "operator", None, PASSWORD)
    after = await users.set_password("lisi", "another long password")
    assert after.password_changed_at >= before.password_changed_at
    assert after.password != before.password
    assert await users.verify("lisi", PASSWORD) is None
    assert await users.verify("lisi", "another long password") is not None
    with pytest.raises(ConsoleError) as refused:
        await users.set_password("lisi", "short")
    assert refused.value.code == "password_short"
    with pytest.raises(ConsoleError) as missing:
        await users.set_password("nobody", "another long password")
    assert missing.value.code == "no_user"


async def test_a_weaker_hash_is_upgraded_at_login(store: EmbeddedStore) -> None:
    await Users(store, log2_n=10).add("old", "operator", None, PASSWORD)
    stronger = Users(store, log2_n=11)
    assert await stronger.verify("old", PASSWORD) is not None
    record = await store.get("user", "old")
    assert record is not None
    assert record["password"].startswith("scrypt$11$")
    assert await stronger.verify("old", PASSWORD) is not None
