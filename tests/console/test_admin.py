"""The admin's users page, changing one's own password, and the login metrics."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.console.helpers import PASSWORD, Browser, Server

Make = Callable[[], Browser]
NEW = "a brand new long sentence"


async def test_an_admin_adds_a_user_who_can_then_log_in(server: Server, browser: Make) -> None:
    admin = browser()
    await admin.login("boss")
    form = {"name": "Chen", "display": "陈十", "role": "staff", "scope": "渝中区/两路口",
            "password": NEW}  # fmt: skip
    status, _, location = await admin.post("/console/users", form)
    assert (status, location) == (303, "/console/users?done=done_user_added&name=chen")
    _, page = await admin.get(location)
    assert "已添加用户 chen" in page
    assert 'data-user="chen"' in page
    user = await server.console.users.get("chen")
    assert user is not None
    assert (user.role, user.scope, user.display) == ("staff", "渝中区/两路口街道", "陈十")
    chen = browser()
    status, _, location = await chen.login("chen", NEW)
    assert (status, location) == (303, "/console/queue")


async def test_a_bad_user_is_refused_with_the_reason(server: Server, browser: Make) -> None:
    admin = browser()
    await admin.login("boss")
    form = {"name": "chen", "role": "staff", "scope": "渝中区/火星街道", "password": NEW}
    status, body, _ = await admin.post("/console/users", form)
    assert status == 400
    assert "在渝中区找不到乡镇（街道）“火星街道”" in body
    assert 'value="渝中区/火星街道"' in body  # what was typed stays in the form
    assert NEW not in body  # but never the password
    assert await server.console.users.get("chen") is None


async def test_an_admin_disables_resets_and_unlocks(server: Server, browser: Make) -> None:
    staff = browser()
    await staff.login("staff_b")
    admin = browser()
    await admin.login("boss")
    await admin.post("/console/users/staff_b", {"do": "disable"})
    _, body = await staff.get("/console/queue")
    assert "工作人员登录" in body  # their session ended
    status, _, _ = await browser().login("staff_b")
    assert status == 401
    await admin.post("/console/users/staff_b", {"do": "enable"})
    await admin.post("/console/users/staff_b", {"do": "password", "password": NEW})
    status, _, _ = await browser().login("staff_b", PASSWORD)
    assert status == 401
    for _ in range(5):
        await browser().login("staff_b", "wrong guess")
    status, _, _ = await browser().login("staff_b", NEW)
    assert status == 429
    await admin.post("/console/users/staff_b", {"do": "unlock"})
    status, _, _ = await browser().login("staff_b", NEW)
    assert status == 303
    status, body, _ = await admin.post("/console/users/nobody", {"do": "disable"})
    assert status == 400
    assert "没有用户 nobody" in body


async def test_changing_ones_own_password(server: Server, browser: Make) -> None:
    b = browser()
    await b.login("op")
    other = browser()
    await other.login("op")  # the same person on another device
    status, body, _ = await b.post(
        "/console/password", {"current": "not it at all", "new": NEW, "repeat": NEW}
    )
    assert status == 403
    assert "用户名或密码不对" in body
    status, body, _ = await b.post(
        "/console/password", {"current": PASSWORD, "new": NEW, "repeat": NEW + "!"}
    )
    assert status == 400
    assert "两次输入的密码不一致" in body
    status, _, location = await b.post(
        "/console/password", {"current": PASSWORD, "new": NEW, "repeat": NEW}
    )
    assert (status, location) == (303, "/console/password?done=password")
    status, body = await b.get(location)
    assert status == 200
    assert "密码已修改" in body  # this browser stays logged in, with a fresh session
    _, body = await other.get("/lookup")
    assert "工作人员登录" in body  # the other device is logged out
    assert (await browser().login("op", NEW))[0] == 303
    assert (await browser().login("op", PASSWORD))[0] == 401


async def test_logins_are_counted_by_outcome_only(server: Server, browser: Make) -> None:
    await browser().login("op")
    await browser().login("op", "wrong guess")
    text = server.services.metrics.exposition()[0].decode()
    assert 'residentbot_console_logins_total{outcome="ok"} 1.0' in text
    assert 'residentbot_console_logins_total{outcome="invalid"} 1.0' in text
    assert '"op"' not in text  # no user names in labels


@pytest.mark.parametrize("done", ["done_user_bogus", "done_claimed", "done_", "user_added"])
async def test_a_tampered_done_code_on_the_users_page_is_ignored(
    server: Server, browser: Make, done: str
) -> None:
    admin = browser()
    await admin.login("boss")
    status, body = await admin.get("/console/users", params={"done": done, "name": "staff_a"})
    assert status == 200
    assert 'class="flash ok"' not in body


async def test_the_password_page_says_changed_only_after_a_change(
    server: Server, browser: Make
) -> None:
    staff = browser()
    await staff.login("staff_a")
    status, body = await staff.get("/console/password", params={"done": "done_bogus"})
    assert status == 200
    assert "密码已修改" not in body
