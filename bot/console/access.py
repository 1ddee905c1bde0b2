"""Who may see and do what in the console (issue 6, "Roles"). Pure functions of a user.

- `staff` of `<district>/<township>`: that township's queue only. Escalations also show
  in the district's queue, which is the supervisors'; the township keeps its own
  referral in its own queue until someone claims it.
- `supervisor` of `<district>`: the district queue and every township queue of the
  district; of `unrouted`: the queue of referrals whose district is unknown.
- `operator`: the lookup, and creating referrals for callers; no queue.
- `admin`: the users page; no queue, no lookup.

Taking over a referral someone else holds (rules.take_over): a supervisor, any referral
in their scope (the holder is away); staff of its queue, only once the holder can no
longer act on it (disabled, or moved to another scope). Admins have no queue: disabling
a user on the users page takes back what that user holds (bot/console/admin.py).

A referral outside a user's scope is "not found" for them (404, never 403), so that its
reference number does not confirm that it exists.
"""

from __future__ import annotations

from bot.console.users import User
from bot.referrals import HELD, UNROUTED, Referral, Summary, district_of, supervisor_queues

QUEUE_ROLES = ("staff", "supervisor")
LOOKUP_ROLES = ("operator", "staff", "supervisor")
REFERRAL_CREATORS = ("operator",)
ADMIN_ROLES = ("admin",)


def home(user: User) -> str:
    """Where a user lands after logging in."""
    if user.role in QUEUE_ROLES:
        return "/console/queue"
    if user.role in REFERRAL_CREATORS:
        return "/lookup"
    return "/console/users"


def queues(user: User) -> list[str]:
    """The queue names to list for the user (bot/referrals.py `ReferralQueue.list`)."""
    if user.scope is None or user.role not in QUEUE_ROLES:
        return []
    if user.role == "staff":
        return [user.scope]
    if user.scope == UNROUTED:
        return [UNROUTED]
    return supervisor_queues(user.scope)


def may_see(user: User, referral: Referral | Summary) -> bool:
    """Whether the referral is in the user's scope (its current queue decides)."""
    if user.disabled or user.scope is None or user.role not in QUEUE_ROLES:
        return False
    if user.role == "staff":
        return referral.queue == user.scope
    if user.scope == UNROUTED:
        return referral.queue == UNROUTED
    return district_of(referral.queue) == user.scope


def holder_gone(holder: User | None, referral: Referral | Summary) -> bool:
    """A held referral whose holder can no longer act on it: disabled, moved, unknown."""
    if referral.status not in HELD:
        return False
    return holder is None or not may_see(holder, referral)


def may_take_over(user: User, referral: Referral, holder: User | None) -> bool:
    """Whether `user` may take the held referral from `holder` (its assignee's account)."""
    if referral.assignee == user.name or not may_see(user, referral):
        return False
    if user.role == "supervisor":
        return referral.status in HELD
    return holder_gone(holder, referral)


def may_transfer_to(user: User, queue: str) -> bool:
    """Staff: another township of their district, or the district queue itself.
    Supervisors: any queue (a case can belong to another district)."""
    if user.role == "supervisor":
        return True
    if user.role == "staff" and user.scope is not None:
        return district_of(queue) == district_of(user.scope) and queue != user.scope
    return False
