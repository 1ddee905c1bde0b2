"""Who sees which referral: scopes of staff and supervisors, nothing for the others."""

from __future__ import annotations

import pytest

from bot.console import access
from bot.console.users import User
from bot.referrals import Referral


def user(role: str, scope: str | None, disabled: bool = False) -> User:
    return User("someone", role, scope, "scrypt$x", disabled=disabled)


def referral(queue: str) -> Referral:
    district, _, township = queue.partition("/")
    return Referral(
        reference="12345678", key="k", created_at=0.0, deadline=0.0, level="urgent",
        queue=queue, channel="web", address="x",
        district=None if queue == "unrouted" else district, township=township or None,
    )  # fmt: skip


STAFF_A = user("staff", "渝中区/解放碑街道")
STAFF_B = user("staff", "渝中区/七星岗街道")
SUPER = user("supervisor", "渝中区")
SUPER_OTHER = user("supervisor", "奉节县")
HOTLINE = user("supervisor", "unrouted")
OPERATOR = user("operator", None)
ADMIN = user("admin", None)


@pytest.mark.parametrize(
    ("who", "queue", "seen"),
    [
        (STAFF_A, "渝中区/解放碑街道", True),
        (STAFF_A, "渝中区/七星岗街道", False),
        (STAFF_A, "渝中区", False),  # the district queue (escalations) is the supervisors'
        (STAFF_B, "渝中区/解放碑街道", False),
        (SUPER, "渝中区/解放碑街道", True),
        (SUPER, "渝中区", True),
        (SUPER, "奉节县/永安街道", False),
        (SUPER, "unrouted", False),
        (SUPER_OTHER, "渝中区/解放碑街道", False),
        (HOTLINE, "unrouted", True),
        (HOTLINE, "渝中区", False),
        (OPERATOR, "渝中区/解放碑街道", False),
        (ADMIN, "渝中区/解放碑街道", False),
        (user("staff", "渝中区/解放碑街道", disabled=True), "渝中区/解放碑街道", False),
    ],
)
def test_may_see(who: User, queue: str, seen: bool) -> None:
    assert access.may_see(who, referral(queue)) is seen


def test_queues_listed_per_role() -> None:
    assert access.queues(STAFF_A) == ["渝中区/解放碑街道"]
    assert access.queues(SUPER) == ["渝中区", "渝中区/*"]
    assert access.queues(HOTLINE) == ["unrouted"]
    assert access.queues(OPERATOR) == []
    assert access.queues(ADMIN) == []


@pytest.mark.parametrize(
    ("who", "queue", "allowed"),
    [
        (STAFF_A, "渝中区/七星岗街道", True),
        (STAFF_A, "渝中区", True),
        (STAFF_A, "渝中区/解放碑街道", False),  # its own queue
        (STAFF_A, "奉节县/永安街道", False),
        (STAFF_A, "奉节县", False),
        (SUPER, "奉节县/永安街道", True),
        (OPERATOR, "渝中区", False),
    ],
)
def test_may_transfer_to(who: User, queue: str, allowed: bool) -> None:
    assert access.may_transfer_to(who, queue) is allowed


def test_home_by_role() -> None:
    assert access.home(STAFF_A) == "/console/queue"
    assert access.home(SUPER) == "/console/queue"
    assert access.home(OPERATOR) == "/lookup"
    assert access.home(ADMIN) == "/console/users"


def held(queue: str, status: str = "claimed", assignee: str | None = "holder") -> Referral:
    found = referral(queue)
    found.status, found.assignee = status, assignee
    return found


HOLDER = User("holder", "staff", "渝中区/解放碑街道", "scrypt$x")
GONE = User("holder", "staff", "渝中区/解放碑街道", "scrypt$x", disabled=True)
MOVED = User("holder", "staff", "渝中区/七星岗街道", "scrypt$x")


@pytest.mark.parametrize(
    ("who", "taken", "holder", "allowed"),
    [
        (SUPER, held("渝中区/解放碑街道"), HOLDER, True),  # the holder is away
        (SUPER, held("渝中区/解放碑街道", "contacted"), HOLDER, True),
        (SUPER, held("渝中区"), HOLDER, True),
        (SUPER_OTHER, held("渝中区/解放碑街道"), GONE, False),
        (HOTLINE, held("渝中区/解放碑街道"), GONE, False),
        (STAFF_A, held("渝中区/解放碑街道"), HOLDER, False),  # a colleague at work
        (STAFF_A, held("渝中区/解放碑街道"), GONE, True),
        (STAFF_A, held("渝中区/解放碑街道"), MOVED, True),
        (STAFF_A, held("渝中区/解放碑街道"), None, True),  # no such account
        (STAFF_B, held("渝中区/解放碑街道"), GONE, False),  # another township's
        (STAFF_A, held("渝中区/解放碑街道", assignee="someone"), HOLDER, False),  # one's own
        (SUPER, held("渝中区/解放碑街道", "new", None), None, False),  # nothing to take
        (SUPER, held("渝中区/解放碑街道", "resolved"), HOLDER, False),
        (ADMIN, held("渝中区/解放碑街道"), GONE, False),
        (OPERATOR, held("渝中区/解放碑街道"), GONE, False),
    ],
)
def test_may_take_over(who: User, taken: Referral, holder: User | None, allowed: bool) -> None:
    assert access.may_take_over(who, taken, holder) is allowed
