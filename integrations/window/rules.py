"""The referral life cycle as pure functions, shared by both backends.

Each transition takes a referral and returns a changed copy (version + 1, one audit entry)
or the same object when there is nothing to change (claiming one's own claim again), or
raises `Conflict` / `InvalidTransition` (bot/referrals.py). The backends only make the
read-decide-write atomic; every rule is here, once. What else a change sets off (listing
indexes, stream entries, staff notifications) is derived from the old and the new state
(`listed_in`, `jobs`), so no transition can forget it.

Deadlines (issue 6): to be claimed within `Config.deadlines[level]` seconds (defaults:
emergency 30 minutes, urgent 4 hours); a normal referral's 0 means two working days,
counted as 48 hours of working-day time in China Standard Time (UTC+8, no daylight
saving since 1991), so Friday 15:00 is due Tuesday 15:00 and Saturday 10:00 is due
Wednesday 00:00. Working days are the State Council's: public holidays off, make-up
working weekends (调休) on, as the `chinesecalendar` package records each year's notice;
for a year it does not know yet, Monday to Friday (upgrade it when the notice is out).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any

import chinese_calendar

from bot.messages import MAX_TEXT
from bot.referrals import (
    DELIVERED,
    HELD,
    LEVELS,
    OPEN_STATUSES,
    SENDING,
    SYSTEM,
    UNCLAIMED,
    UNDELIVERED,
    UNROUTED,
    Conflict,
    Draft,
    InvalidTransition,
    Referral,
    check_queue,
    key_digest,
    queue_name,
)

DEFAULT_DEADLINES: Mapping[str, float] = {
    "emergency": 30 * 60.0,
    "urgent": 4 * 3600.0,
    "normal": 0.0,  # 0 = two working days
}
WORKING_DAYS_NORMAL = 2
CHINA = dt.timezone(dt.timedelta(hours=8))
NOTIFIED_LEVELS = ("emergency", "urgent")  # new and transferred referrals notify staff
MAX_STAFF_ID = 64


# --- deadlines ------------------------------------------------------------------------


def is_working_day(day: dt.date) -> bool:
    """A working day in China: the State Council's holidays and 调休 where the calendar
    knows the year, else Monday to Friday."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year whose notice the installed calendar lacks
        return day.weekday() < 5


def add_working_time(start: float, seconds: float) -> float:
    """`start` plus `seconds` of working-day time (UTC+8); other days do not count."""
    at = dt.datetime.fromtimestamp(start, CHINA)
    remaining = dt.timedelta(seconds=seconds)
    while True:
        midnight = dt.datetime.combine(at.date() + dt.timedelta(days=1), dt.time(), CHINA)
        if not is_working_day(at.date()):  # a weekend or holiday: skip to the next day
            at = midnight
            continue
        if at + remaining <= midnight:
            return (at + remaining).timestamp()
        remaining -= midnight - at
        at = midnight


def deadline_for(level: str, start: float, deadlines: Mapping[str, float]) -> float:
    """When a referral of `level` entering a queue at `start` must be claimed by."""
    seconds = float(deadlines.get(level, DEFAULT_DEADLINES[level]))
    if level == "normal" and seconds <= 0:
        return add_working_time(start, WORKING_DAYS_NORMAL * 86400.0)
    return start + seconds


# --- creating -------------------------------------------------------------------------


def new_referral(
    draft: Draft, reference: str, now: float, deadlines: Mapping[str, float]
) -> Referral:
    if draft.level not in LEVELS:
        raise ValueError(f"unknown level {draft.level!r}")
    if not draft.channel or not draft.address:
        raise ValueError("a referral needs the channel and address to reply through")
    queue = check_queue(queue_name(draft.district, draft.township))
    referral = Referral(
        reference=reference,
        key=key_digest(draft.key),
        created_at=now,
        deadline=deadline_for(draft.level, now, deadlines),
        level=draft.level,
        queue=queue,
        channel=draft.channel,
        address=draft.address,
        district=draft.district or None,
        township=(draft.township or None) if draft.district else None,
        contact=draft.contact or None,
        signals=[str(s) for s in draft.signals],
        screening=copy.deepcopy(draft.screening),
        consent=bool(draft.consent),
        version=1,
    )
    if draft.message:
        referral.thread.append({"at": now, "author": "resident", "text": draft.message[:MAX_TEXT]})
    referral.audit.append(
        {"at": now, "who": SYSTEM, "action": "created", "detail": {"queue": queue}}
    )
    return referral


# --- staff actions ----------------------------------------------------------------------


def claim(referral: Referral, staff: str, now: float) -> Referral:
    staff = check_staff(staff)
    if referral.status in HELD:
        if referral.assignee == staff:
            return referral
        raise Conflict(referral.reference, referral.assignee)
    if referral.status not in UNCLAIMED:
        raise InvalidTransition(referral.reference, referral.status, "claim")
    changed = _next(referral, now, staff, "claimed")
    changed.status, changed.assignee, changed.claimed_at = "claimed", staff, now
    return changed


def mark_contacted(referral: Referral, staff: str, now: float) -> Referral:
    staff = _holder(referral, staff, "mark contacted")
    if referral.status == "contacted":
        return referral
    changed = _next(referral, now, staff, "contacted")
    changed.status = "contacted"
    return changed


def reply(referral: Referral, staff: str, text: str, now: float) -> Referral:
    """The holder's words, in the thread as `sending` until `reply_sent` says how it went."""
    staff = _holder(referral, staff, "reply")
    if not text.strip():
        raise ValueError("a reply needs text")
    changed = _next(referral, now, staff, "replied")
    changed.thread.append(
        {"at": now, "author": staff, "text": text[:MAX_TEXT], "delivery": SENDING}
    )
    return changed


def reply_sent(
    referral: Referral, staff: str, index: int, error: str | None, now: float
) -> Referral:
    """The outcome of sending thread message `index`: delivered (the resident has been
    contacted: claimed -> contacted) or not (`error`, a bot.delivery reason: the status
    stays, so the claim is not acknowledged and the console shows the reply unsent)."""
    thread = referral.thread
    if not 0 <= index < len(thread) or thread[index].get("delivery") != SENDING:
        return referral  # recorded already
    if thread[index].get("author") != staff:
        raise Conflict(referral.reference, thread[index].get("author"))
    if error is None:
        changed = _next(referral, now, staff, "reply_delivered")
    else:
        changed = _next(referral, now, staff, "reply_undelivered", {"reason": error})
    message = changed.thread[index]
    message["delivery"] = DELIVERED if error is None else UNDELIVERED
    if error is not None:
        message["error"] = error
    elif changed.status == "claimed" and changed.assignee == staff:
        changed.status = "contacted"
    return changed


def resolve(referral: Referral, staff: str, outcome: str, now: float) -> Referral:
    staff = _holder(referral, staff, "resolve")
    if not outcome.strip():
        raise ValueError("resolving needs an outcome")
    changed = _next(referral, now, staff, "resolved")
    changed.status, changed.resolved_at, changed.outcome = "resolved", now, outcome[:MAX_TEXT]
    return changed


def release(referral: Referral, staff: str, now: float) -> Referral:
    staff = _holder(referral, staff, "release")
    changed = _next(referral, now, staff, "released")
    changed.status, changed.assignee, changed.claimed_at = "new", None, None
    return changed


def take_over(referral: Referral, staff: str, holder: str, to: str | None, now: float) -> Referral:
    """`staff` takes a referral from its holder, who cannot act on it (disabled, away):
    back to `new` for anyone (`to` None), or claimed afresh by `to` (`staff` or a
    colleague), whose claim times out like any other. `holder` is whom the caller saw
    holding it: Conflict if someone else holds it by now. Who may take over is the
    caller's decision (bot/console/access.py); the audit names who did it, from whom."""
    staff = check_staff(staff)
    if referral.status not in HELD:
        raise InvalidTransition(referral.reference, referral.status, "take over")
    if referral.assignee != holder:
        raise Conflict(referral.reference, referral.assignee)
    if to is not None and check_staff(to) == holder:
        return referral
    changed = _next(referral, now, staff, "taken_over", {"holder": holder, "assignee": to})
    if to is None:
        changed.status, changed.assignee, changed.claimed_at = "new", None, None
    else:
        changed.status, changed.assignee, changed.claimed_at = "claimed", to, now
    return changed


def transfer(
    referral: Referral, staff: str, to_queue: str, now: float, deadlines: Mapping[str, float]
) -> Referral:
    """To another window: unclaimed there, a fresh deadline, not escalated (yet)."""
    staff = check_staff(staff)
    to_queue = check_queue(to_queue)
    if referral.status not in OPEN_STATUSES:
        raise InvalidTransition(referral.reference, referral.status, "transfer")
    if referral.status in HELD and referral.assignee != staff:
        raise Conflict(referral.reference, referral.assignee)
    if to_queue == referral.queue:
        raise ValueError("transfer to the queue it is already in")
    changed = _next(referral, now, staff, "transferred", {"from": referral.queue, "to": to_queue})
    changed.status, changed.assignee, changed.claimed_at = "transferred", None, None
    changed.queue, changed.escalated = to_queue, False
    if to_queue == UNROUTED:
        changed.district, changed.township = None, None
    else:
        district, _, township = to_queue.partition("/")
        changed.district, changed.township = district, township or None
    changed.deadline = deadline_for(referral.level, now, deadlines)
    return changed


def add_message(referral: Referral, author: str, text: str, now: float) -> Referral:
    author = check_staff(author)
    if referral.purged_at is not None:
        raise InvalidTransition(referral.reference, "purged", "add a message")
    changed = _next(referral, now, author, "message")
    changed.thread.append({"at": now, "author": author, "text": text[:MAX_TEXT]})
    return changed


# --- automatic changes ------------------------------------------------------------------


def escalate(referral: Referral, now: float) -> Referral:
    """Unclaimed past the deadline -> escalated (once)."""
    if referral.status not in UNCLAIMED or referral.escalated or referral.deadline > now:
        return referral
    changed = _next(referral, now, SYSTEM, "escalated", {"to": district_queue(referral)})
    changed.escalated = True
    return changed


def reclaim(referral: Referral, now: float, claimed_before: float | None) -> Referral:
    """A claim without contact, older than the claim timeout -> new. `claimed_before`
    None: the caller has already proved the claim stale (Redis: XAUTOCLAIM's idle time)."""
    if referral.status != "claimed":
        raise InvalidTransition(referral.reference, referral.status, "reclaim")
    if claimed_before is not None and (referral.claimed_at or 0.0) > claimed_before:
        return referral
    changed = _next(referral, now, SYSTEM, "reclaimed", {"from": referral.assignee})
    changed.status, changed.assignee, changed.claimed_at = "new", None, None
    return changed


def notified(referral: Referral, now: float, record: dict[str, Any]) -> Referral:
    """Record one notification outcome: {event, target, status, attempts, error}."""
    changed = _next(referral, now, SYSTEM, f"notification_{record['status']}",
                    {"event": record["event"], "target": record["target"]})  # fmt: skip
    changed.notifications.append({"at": now, **record})
    return changed


def purge(referral: Referral, now: float) -> Referral:
    """Drop the personal data; keep the audit, the counts and the verdicts."""
    if referral.status != "resolved" or referral.purged_at is not None:
        raise InvalidTransition(referral.reference, referral.status, "purge")
    changed = _next(referral, now, SYSTEM, "purged")
    changed.contact, changed.address, changed.outcome = None, "", ""
    changed.thread = [{"at": m["at"], "author": m["author"], "text": ""} for m in changed.thread]
    changed.screening = verdicts_only(changed.screening)
    changed.purged_at = now
    return changed


def verdicts_only(screening: dict[str, Any] | None) -> dict[str, Any] | None:
    """What is kept of a screening: the date, district, urgency and each verdict."""
    if not screening:
        return None
    programs = screening.get("programs")
    kept: dict[str, Any] = {k: screening[k] for k in ("as_of", "district", "urgency")
                            if k in screening}  # fmt: skip
    if isinstance(programs, dict):
        kept["programs"] = {
            code: {"verdict": p.get("verdict")} for code, p in programs.items()
            if isinstance(p, dict)
        }  # fmt: skip
    return kept


# --- what a change sets off -------------------------------------------------------------


def district_queue(referral: Referral) -> str:
    """Where an escalated referral also shows, and whose supervisors are told."""
    return referral.district or UNROUTED


def listed_in(referral: Referral | None) -> set[str]:
    """The queues whose staff list shows this referral."""
    if referral is None or referral.status not in OPEN_STATUSES:
        return set()
    queues = {referral.queue}
    if referral.escalated:
        queues.add(district_queue(referral))
    return queues


def due(referral: Referral | None) -> bool:
    """Waiting for escalation: unclaimed and not escalated yet."""
    return referral is not None and referral.status in UNCLAIMED and not referral.escalated


def jobs(old: Referral | None, new: Referral) -> list[tuple[str, str]]:
    """Staff notifications a change asks for: (event, queue whose staff are told)."""
    out = []
    urgent = new.level in NOTIFIED_LEVELS
    if old is None and urgent:
        out.append(("new", new.queue))
    if old is not None and old.queue != new.queue and urgent:
        out.append(("transferred", new.queue))
    if old is not None and old.status in HELD and new.status == "new" and urgent:
        out.append(("released", new.queue))  # released or taken back: nobody has it now
    if new.escalated and not (old is not None and old.escalated):
        out.append(("escalated", district_queue(new)))
    return out


# --- helpers ----------------------------------------------------------------------------


def check_staff(staff: str) -> str:
    if not isinstance(staff, str) or not staff.strip() or len(staff) > MAX_STAFF_ID:
        raise ValueError("a staff id is 1 to 64 characters")
    return staff


def _holder(referral: Referral, staff: str, action: str) -> str:
    staff = check_staff(staff)
    if referral.status not in HELD:
        raise InvalidTransition(referral.reference, referral.status, action)
    if referral.assignee != staff:
        raise Conflict(referral.reference, referral.assignee)
    return staff


def _next(
    referral: Referral, now: float, who: str, action: str, detail: dict[str, Any] | None = None
) -> Referral:
    changed = copy.deepcopy(referral)
    changed.version += 1
    changed.audit.append({"at": now, "who": who, "action": action, "detail": detail or {}})
    return changed
