"""`residentbot users …`: accounts on the command line, on the server's store."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.console.auth import ACCOUNT_LIMIT, Auth
from bot.console.cli import main
from bot.console.users import Users
from bot.store import open_store
from bot.store.embedded import EmbeddedStore

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long and secret sentence"


def run(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *argv: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        main(["users", *argv])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RESIDENTBOT_DATA_DIR", str(tmp_path))
    return tmp_path


def test_add_list_disable_enable_passwd(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        monkeypatch, capsys, "add", "zhangsan", "--role", "staff", "--scope", "渝中区/解放碑",
        "--display", "张三", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out == "added zhangsan\tstaff\t渝中区/解放碑街道\t张三\tactive\n"
    code, out, _ = run(monkeypatch, capsys, "add", "wang", "--role", "operator",
                       "--password-stdin", stdin=PASSWORD)  # fmt: skip
    assert code == 0
    code, out, _ = run(monkeypatch, capsys, "list", "--json")
    listed = json.loads(out)["users"]
    assert [(u["name"], u["role"], u["scope"]) for u in listed] == [
        ("wang", "operator", None),
        ("zhangsan", "staff", "渝中区/解放碑街道"),
    ]
    assert all("password" not in u for u in listed)
    assert "scrypt$" not in out
    assert PASSWORD not in out
    code, out, _ = run(monkeypatch, capsys, "disable", "zhangsan")
    assert out == "disabled zhangsan\tstaff\t渝中区/解放碑街道\t张三\tdisabled\n"
    code, out, _ = run(monkeypatch, capsys, "list")
    assert out.splitlines() == [
        "wang\toperator\t-\t-\tactive",
        "zhangsan\tstaff\t渝中区/解放碑街道\t张三\tdisabled",
    ]
    code, out, _ = run(monkeypatch, capsys, "enable", "zhangsan")
    assert out.endswith("\tactive\n")
    code, out, _ = run(monkeypatch, capsys, "passwd", "zhangsan", "--password-stdin",
                       stdin="a new and longer sentence\n")  # fmt: skip
    assert (code, out) == (0, "password changed for zhangsan\n")

    async def check() -> None:
        store = EmbeddedStore(data_dir)
        users = Users(store)
        assert await users.verify("zhangsan", PASSWORD) is None
        assert await users.verify("zhangsan", "a new and longer sentence") is not None
        assert await users.verify("wang", PASSWORD) is not None
        await store.close()

    asyncio.run(check())


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (("add", "Bad", "--role", "operator", "--password-stdin"), PASSWORD, "用户名"),
        (("add", "li", "--role", "staff", "--password-stdin"), PASSWORD, "辖区"),
        (("add", "li", "--role", "staff", "--scope", "渝中区/火星街道", "--password-stdin"),
         PASSWORD, "找不到乡镇"),
        (("add", "li", "--role", "operator", "--password-stdin"), "short", "至少12个字符"),
        (("disable", "nobody"), "", "没有用户 nobody"),
        (("passwd", "nobody", "--password-stdin"), PASSWORD, "没有用户 nobody"),
        (("unlock", "nobody"), "", "没有用户 nobody"),
    ],
)  # fmt: skip
def test_errors_are_one_line_in_chinese_and_english(
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    stdin: str,
    message: str,
) -> None:
    code, out, err = run(monkeypatch, capsys, *argv, stdin=stdin)
    assert code == 2
    assert out == ""
    assert err.startswith("residentbot: ")
    assert message in err
    assert " / " in err
    assert err.count("\n") == 1
    assert PASSWORD not in err


def test_a_duplicate_name_is_refused(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run(monkeypatch, capsys, "add", "li", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    code, _, err = run(
        monkeypatch, capsys, "add", "li", "--role", "admin", "--password-stdin", stdin=PASSWORD
    )
    assert code == 2
    assert "已存在" in err


def test_without_a_terminal_the_password_must_come_from_stdin(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(monkeypatch, capsys, "add", "li", "--role", "admin", stdin=PASSWORD)
    assert code == 2
    assert "--password-stdin" in err


def test_unlock_lifts_a_lockout(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run(monkeypatch, capsys, "add", "li", "--role", "admin", "--password-stdin", stdin=PASSWORD)

    async def lock_out() -> bool:
        store = EmbeddedStore(data_dir)
        auth = Auth(store, Users(store))
        for _ in range(ACCOUNT_LIMIT):
            await auth.attempt("li", "guess", "10.0.0.1")
        locked = await auth.locked("li", "10.0.0.2")
        await store.close()
        return locked

    assert asyncio.run(lock_out())
    code, out, _ = run(monkeypatch, capsys, "unlock", "li")
    assert (code, out) == (0, "unlocked li\n")

    async def attempt() -> str:
        store = EmbeddedStore(data_dir)
        outcome = (await Auth(store, Users(store)).attempt("li", PASSWORD, "10.0.0.2")).outcome
        await store.close()
        return outcome

    assert asyncio.run(attempt()) == "ok"


@pytest.fixture
async def redis_users(redis_url: str) -> AsyncIterator[tuple[str, Users, Auth]]:
    store = open_store(redis_url)
    users = Users(store, log2_n=10)
    yield redis_url, users, Auth(store, users)
    await store.close()


def python(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Another process, as an admin's shell or a second server would be."""
    return subprocess.run(
        [sys.executable, *args], input=stdin, capture_output=True, text=True, env=env,
        cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip


ATTEMPT = """
import asyncio, os, sys
from bot.store import open_store
from bot.console.users import Users
from bot.console.auth import Auth
async def main():
    store = open_store(os.environ["REDIS_URL"])
    attempt = await Auth(store, Users(store)).attempt("zhao", sys.stdin.read(), "10.0.0.7")
    await store.close()
    print(attempt.outcome)
asyncio.run(main())
"""


@pytest.mark.redis
async def test_on_redis_users_and_lockout_hold_across_processes(
    redis_users: tuple[str, Users, Auth],
) -> None:
    url, users, auth = redis_users
    env = {**os.environ, "REDIS_URL": url, "PYTHONPATH": str(ROOT)}
    cli = ("-m", "bot.console.cli", "users")
    add = (*cli, "add", "zhao", "--role", "supervisor", "--scope", "奉节", "--password-stdin")
    added = await asyncio.to_thread(python, env, *add, stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    assert await users.verify("zhao", PASSWORD) is not None  # made by another process
    listed = await asyncio.to_thread(python, env, *cli, "list", "--json")
    assert json.loads(listed.stdout)["users"][0]["scope"] == "奉节县"
    checked = await asyncio.to_thread(python, env, "-c", ATTEMPT, stdin=PASSWORD)
    assert checked.stdout.strip() == "ok", checked.stderr
    for _ in range(ACCOUNT_LIMIT):
        await auth.attempt("zhao", "guess", "10.0.0.1")
    checked = await asyncio.to_thread(python, env, "-c", ATTEMPT, stdin=PASSWORD)
    assert checked.stdout.strip() == "locked", checked.stderr  # locked here, refused there
