"""Taking over a referral whose holder cannot act (disabled, or away), over HTTP against
the real console and the embedded referral queue; tests/console/test_redis.py runs the
console on Redis."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from bot.referrals import Referral
from tests.console.helpers import PASSWORD, TOWNSHIP_A, TOWNSHIP_B, Browser, Server, logged_in

Make = Callable[[], Browser]


@pytest.fixture
async def colleague(server: Server) -> str:
    """A second staff member of township A (张三 is staff_a)."""
    await server.console.users.add("staff_a2", "staff", TOWNSHIP_A, PASSWORD, "陈十")
    return "staff_a2"


async def held_by(server: Server, browser: Make, name: str, contacted: bool = False) -> Referral:
    referral = await server.referral(TOWNSHIP_A)
    b = await logged_in(browser, name)
    await b.post(f"/console/referral/{referral.reference}/claim", {})
    if contacted:
        await b.post(f"/console/referral/{referral.reference}/contacted", {})
    stored = await server.services.referrals.get(referral.reference)
    assert stored is not None
    assert stored.assignee == name
    return stored


def options(page: str) -> list[tuple[str, str]]:
    select = re.search(r'<select id="takeover-to" name="to">(.*?)</select>', page, re.S)
    assert select is not None, "no takeover form"
    return re.findall(r'<option value="([^"]*)">([^<]*)</option>', select.group(1))


async def test_a_supervisor_takes_a_referral_back_from_an_absent_holder(
    server: Server, browser: Make, colleague: str
) -> None:
    referral = await held_by(server, browser, "staff_a", contacted=True)
    base = f"/console/referral/{referral.reference}"
    supervisor = await logged_in(browser, "super_yz")
    _, page = await supervisor.get(base)
    assert options(page) == [("", "退回队列，同事都能认领"), ("staff_a2", "交给 陈十"),
                             ("super_yz", "由我办理")]  # fmt: skip
    assert 'name="holder" value="staff_a"' in page
    status, _, location = await supervisor.post(f"{base}/takeover", {"holder": "staff_a", "to": ""})
    assert (status, location) == (303, f"{base}?done=done_released")
    back = await server.services.referrals.get(referral.reference)
    assert back is not None
    assert (back.status, back.assignee) == ("new", None)
    assert (back.audit[-1]["who"], back.audit[-1]["action"]) == ("super_yz", "taken_over")
    assert back.audit[-1]["detail"] == {"holder": "staff_a", "assignee": None}
    _, page = await supervisor.get(base)
    assert "接手：从 张三 收回，退回队列" in page  # who did it, from whom
    assert "<td>赵六</td>" in page
    other = await logged_in(browser, colleague)
    status, _, _ = await other.post(f"{base}/claim", {})
    assert status == 303
    assert (await server.services.referrals.get(referral.reference)).assignee == colleague  # type: ignore[union-attr]


async def test_a_supervisor_hands_a_held_referral_to_a_colleague(
    server: Server, browser: Make, colleague: str
) -> None:
    referral = await held_by(server, browser, "staff_a")
    base = f"/console/referral/{referral.reference}"
    supervisor = await logged_in(browser, "super_yz")
    await supervisor.get(base)
    status, _, location = await supervisor.post(
        f"{base}/takeover", {"holder": "staff_a", "to": colleague}
    )
    assert status == 303
    _, page = await supervisor.get(location)
    assert "已交给 陈十 办理。" in page
    assert "接手：从 张三 收回，交给 陈十" in page
    holder = await logged_in(browser, "staff_a")
    status, body, _ = await holder.post(f"{base}/resolve", {"outcome": "已上门"})
    assert status == 409
    assert "已由 陈十 认领" in body
    other = await logged_in(browser, colleague)
    _, page = await other.get(base)
    assert 'id="resolve"' in page  # theirs now
    status, _, _ = await other.post(f"{base}/resolve", {"outcome": "已上门"})
    assert status == 303
    done = await server.services.referrals.get(referral.reference)
    assert done is not None
    assert (done.status, done.assignee) == ("resolved", colleague)


async def test_a_supervisor_may_take_it_on_and_then_transfer_it(
    server: Server, browser: Make
) -> None:
    referral = await held_by(server, browser, "staff_a")
    base = f"/console/referral/{referral.reference}"
    supervisor = await logged_in(browser, "super_yz")
    await supervisor.get(base)
    status, _, location = await supervisor.post(
        f"{base}/takeover", {"holder": "staff_a", "to": "super_yz"}
    )
    assert (status, location) == (303, f"{base}?done=done_claimed")
    form = {"district": "渝中区", "township": "七星岗街道"}
    status, _, _ = await supervisor.post(f"{base}/transfer", form)
    assert status == 303
    moved = await server.services.referrals.get(referral.reference)
    assert moved is not None
    assert (moved.queue, moved.status) == (TOWNSHIP_B, "transferred")


async def test_staff_take_over_only_once_the_holder_is_disabled(
    server: Server, browser: Make, colleague: str
) -> None:
    referral = await held_by(server, browser, "staff_a")
    base = f"/console/referral/{referral.reference}"
    other = await logged_in(browser, colleague)
    _, page = await other.get(base)
    assert 'id="takeover"' not in page  # 张三 is at work: theirs to finish
    status, body, _ = await other.post(f"{base}/takeover", {"holder": "staff_a", "to": colleague})
    assert status == 403
    assert "只有区县督办可以接手" in body
    assert await server.services.referrals.get(referral.reference) == referral

    await server.console.users.set_disabled("staff_a", True)  # as `residentbot users disable`
    _, queue = await other.get("/console/queue")
    assert "处理人已停用，需接手" in queue
    _, page = await other.get(base)
    assert "处理人 张三 已停用或调离，这条转介需要有人接手。" in page
    assert options(page) == [("", "退回队列，同事都能认领"), ("staff_a2", "由我办理"),
                             ("super_yz", "交给 赵六")]  # fmt: skip
    status, _, location = await other.post(f"{base}/takeover", {"holder": "staff_a",
                                                                 "to": colleague})  # fmt: skip
    assert (status, location) == (303, f"{base}?done=done_claimed")
    taken = await server.services.referrals.get(referral.reference)
    assert taken is not None
    assert (taken.status, taken.assignee) == ("claimed", colleague)
    assert taken.audit[-1]["detail"] == {"holder": "staff_a", "assignee": colleague}


async def test_taking_over_stays_inside_the_township_and_district(
    server: Server, browser: Make, colleague: str
) -> None:
    referral = await held_by(server, browser, "staff_a")
    await server.console.users.set_disabled("staff_a", True)
    base = f"/console/referral/{referral.reference}"
    for outsider in ("staff_b", "staff_f", "super_fj"):
        b = await logged_in(browser, outsider)
        status, _, _ = await b.post(f"{base}/takeover", {"holder": "staff_a", "to": outsider})
        assert status == 404, outsider  # not even told that it exists
    supervisor = await logged_in(browser, "super_yz")
    await supervisor.get(base)
    # only to someone who may see it and is at work: not another township, another
    # district, an operator or admin, the holder, or an unknown name
    await server.console.users.set_disabled(colleague, True)
    for to in ("staff_b", "staff_f", "super_fj", "op", "boss", "staff_a", colleague, "nobody"):
        status, body, _ = await supervisor.post(f"{base}/takeover", {"holder": "staff_a", "to": to})
        assert status == 400, to
        assert "只能交给能看到这条转介的在岗同事" in body
    assert await server.services.referrals.get(referral.reference) == referral
    for name in ("op", "boss"):
        b = await logged_in(browser, name)
        status, _, _ = await b.post(f"{base}/takeover", {"holder": "staff_a", "to": ""})
        assert status == 403, name


async def test_a_takeover_of_what_changed_meanwhile_is_refused(
    server: Server, browser: Make, colleague: str
) -> None:
    referral = await held_by(server, browser, "staff_a")
    base = f"/console/referral/{referral.reference}"
    supervisor = await logged_in(browser, "super_yz")
    await supervisor.get(base)  # the page shows 张三 holding it
    holder = await logged_in(browser, "staff_a")
    await holder.post(f"{base}/release", {})
    other = await logged_in(browser, colleague)
    await other.post(f"{base}/claim", {})
    status, body, _ = await supervisor.post(f"{base}/takeover", {"holder": "staff_a", "to": ""})
    assert status == 409
    assert "可能别人刚刚处理过" in body
    now = await server.services.referrals.get(referral.reference)
    assert now is not None
    assert (now.status, now.assignee) == ("claimed", colleague)  # 陈十's claim stands
    fresh = await server.referral(TOWNSHIP_A)
    status, _, _ = await supervisor.post(
        f"/console/referral/{fresh.reference}/takeover", {"holder": "", "to": ""}
    )
    assert status == 409  # nobody holds it: claim it instead
    assert await server.services.referrals.get(fresh.reference) == fresh


async def test_disabling_a_user_on_the_users_page_puts_what_they_hold_back(
    server: Server, browser: Make, colleague: str
) -> None:
    claimed = await held_by(server, browser, "staff_a")
    contacted = await held_by(server, browser, "staff_a", contacted=True)
    theirs = await held_by(server, browser, colleague)
    admin = await logged_in(browser, "boss")
    status, _, location = await admin.post("/console/users/staff_a", {"do": "disable"})
    assert (status, location) == (303, "/console/users?done=done_user_disabled&name=staff_a")
    _, page = await admin.get(location)
    assert "已停用用户 staff_a，其认领的转介已退回队列。" in page
    for referral in (claimed, contacted):
        back = await server.services.referrals.get(referral.reference)
        assert back is not None
        assert (back.status, back.assignee) == ("new", None)
        assert back.audit[-1] == {"at": back.audit[-1]["at"], "who": "boss",
                                  "action": "taken_over",
                                  "detail": {"holder": "staff_a", "assignee": None}}  # fmt: skip
    assert await server.services.referrals.get(theirs.reference) == theirs
    other = await logged_in(browser, colleague)
    _, page = await other.get(f"/console/referral/{claimed.reference}")
    assert "接手：从 张三 收回，退回队列" in page
    assert "周九" in page  # the admin who did it
