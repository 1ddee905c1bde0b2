"""Referrals: a resident's case handed to a person at the 乡镇/街道 social-assistance window.

The model and the queue protocol live here in the core; the implementations (embedded
SQLite, and Redis streams with consumer groups) live in `integrations/window/` and are
wired in `bot/app.py`. A referral goes to its township's queue, or to its district's queue
when the township is unknown, or to the `unrouted` queue (hotline supervisors) when even
the district is unknown (issue 6, "Referrals and the queue").

Life of a referral (every change appends to `audit`; nothing is ever deleted from it):

    new ──claim──> claimed ──mark_contacted / reply_sent──> contacted ──resolve──> resolved
     ^  <──release / claim timeout──┘                      │
     │                                                      └──resolve──> resolved
     └─ transferred (waiting in its new queue; claimed like `new`)

- Deadlines are to be *claimed* by: unclaimed past it (status `new` or `transferred`),
  a referral is escalated: it shows in its district's queue too and the district's
  supervisors are notified.
- A claim not followed by contact (`mark_contacted`, a delivered reply) or resolution within the
  claim timeout is taken back: the referral returns to `new` (a staff member who
  claimed and went away, or a worker that crashed, loses nothing).
- A held referral whose holder cannot act (disabled, away) is taken over by someone the
  console allows: back to `new`, or claimed afresh for a colleague (`take_over`).

Errors, all `ReferralError`: `NotFound` (no such reference), `Conflict` (another staff
member holds it: a lost claim race, or acting on someone else's claim),
`InvalidTransition` (the status does not allow it: resolving before claiming, claiming a
resolved one, writing to a purged one). Bad arguments (an empty staff id or outcome, a
malformed queue name) are `ValueError`; a backend that cannot be reached is
`bot.store.StoreUnavailable`.

Personal data: `contact`, `address`, the thread's texts, the screening details and the
outcome. Lists (`Summary`) carry contacts and addresses masked; audit entries never carry
personal data; `purge_personal_data` removes it from resolved referrals after
`Config.purge_days`, keeping the audit trail and what counts need.
"""

from __future__ import annotations

import builtins
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

LEVELS = ("emergency", "urgent", "normal")  # queue order: most urgent first
STATUSES = ("new", "claimed", "contacted", "resolved", "transferred")
OPEN_STATUSES = ("new", "claimed", "contacted", "transferred")
UNCLAIMED = ("new", "transferred")
HELD = ("claimed", "contacted")
UNROUTED = "unrouted"
SYSTEM = "system"  # the `who` of automatic changes (escalation, claim timeout, purge)
RESIDENT = "resident"  # the author of the resident's messages in a thread
SENDING, DELIVERED, UNDELIVERED = "sending", "delivered", "failed"  # a staff reply's `delivery`
ANY_TOWNSHIP = "/*"  # "渝中区/*" in `list` means every township queue of 渝中区

_QUEUE = re.compile(r"[^/*\s][^/*]{0,62}(/[^/*\s][^/*]{0,62})?")


def queue_name(district: str | None, township: str | None = None) -> str:
    """`<district>/<township>`, `<district>`, or `unrouted`."""
    if not district:
        return UNROUTED
    return f"{district}/{township}" if township else district


def district_of(queue: str) -> str | None:
    """The district of a queue name: '渝中区/解放碑街道' and '渝中区' -> '渝中区'."""
    if queue == UNROUTED:
        return None
    return queue.split("/", 1)[0]


def supervisor_queues(district: str) -> list[str]:
    """What a district supervisor lists: the district queue (its own referrals and the
    escalated ones of its townships) and every township queue of the district."""
    return [district, district + ANY_TOWNSHIP]


def check_queue(queue: str) -> str:
    """A queue is `unrouted`, `<district>` or `<district>/<township>` (no `*`)."""
    if not isinstance(queue, str) or not _QUEUE.fullmatch(queue) or queue != queue.strip():
        raise ValueError(f"invalid queue name {queue!r}")
    return queue


def new_reference() -> str:
    """Eight digits, easy to read out on the phone: residents quote it to the window."""
    return f"{secrets.randbelow(90_000_000) + 10_000_000}"


def key_digest(key: str) -> str:
    """What is stored of a draft's idempotency key: the raw key holds the sender's address
    (`sms:+86138…:<delivery id>`), which must not end up in key names or survive a purge."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


_MOBILE = re.compile(r"^(\+?86)?(1[3-9]\d)(\d{4})(\d{4})$")


def mask_phone(number: str | None) -> str:
    """138****8000: staff lists show contacts masked; the referral page shows them whole."""
    if not number:
        return ""
    digits = re.sub(r"[\s-]", "", number)
    match = _MOBILE.match(digits)
    if match:
        return f"{match[2]}****{match[4]}"
    return digits[:2] + "*" * max(len(digits) - 4, 0) + digits[-2:] if len(digits) > 4 else "****"


class ReferralError(Exception):
    """Base of the queue's refusals."""


class NotFound(ReferralError, LookupError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"no referral {reference}")
        self.reference = reference


class Conflict(ReferralError):
    """Another staff member holds the referral."""

    def __init__(self, reference: str, holder: str | None) -> None:
        super().__init__(f"referral {reference} is held by {holder}")
        self.reference, self.holder = reference, holder


class InvalidTransition(ReferralError):
    """The referral's status does not allow the action."""

    def __init__(self, reference: str, status: str, action: str) -> None:
        super().__init__(f"referral {reference}: cannot {action} when {status}")
        self.reference, self.status, self.action = reference, status, action


@dataclass
class Draft:
    """What the bot knows when it hands a case over."""

    key: str  # idempotency key: the same key never creates a second referral
    level: str  # emergency | urgent | normal
    channel: str  # how to reach the resident: the channel and address they wrote from
    address: str
    district: str | None = None
    township: str | None = None
    contact: str | None = None  # the phone number the resident gave (with consent)
    signals: list[str] = field(default_factory=list)  # triage signals
    message: str = ""  # the resident's own words that raised it (may be empty)
    screening: dict[str, Any] | None = None  # the assessment, when one was done
    consent: bool = False  # the resident agreed to share the above with the window


@dataclass
class Referral:
    reference: str
    key: str  # key_digest(draft.key)
    created_at: float
    deadline: float  # to be claimed by (unix time); past it, escalated
    level: str
    queue: str
    channel: str
    address: str
    district: str | None = None
    township: str | None = None
    contact: str | None = None
    signals: list[str] = field(default_factory=list)
    screening: dict[str, Any] | None = None
    status: str = "new"
    assignee: str | None = None
    escalated: bool = False
    consent: bool = False
    thread: list[dict[str, Any]] = field(default_factory=list)  # {at, author, text}
    audit: list[dict[str, Any]] = field(default_factory=list)  # {at, who, action, detail}
    claimed_at: float | None = None
    resolved_at: float | None = None
    outcome: str = ""  # the staff's words when resolving (personal: purged)
    # one entry per target and event: {at, event, target, status, attempts, error}
    notifications: list[dict[str, Any]] = field(default_factory=list)
    purged_at: float | None = None
    version: int = 0  # +1 on every change

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Referral:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def open(self) -> bool:
        return self.status not in ("resolved",)

    def time_left(self, now: float) -> float:
        """Seconds until the claim deadline (negative once past it)."""
        return self.deadline - now

    def followed(self) -> dict[str, Any]:
        """What the resident's session keeps of their last referral: bot/router.py
        follows its thread (staff talking with them) and adds a further emergency to it."""
        return {
            "reference": self.reference,
            "level": self.level,
            "created_at": self.created_at,
            "deadline": self.deadline,
        }


@dataclass(frozen=True)
class Summary:
    """One line of a staff list: contact and address masked, no thread, no screening."""

    reference: str
    level: str
    status: str
    queue: str
    district: str | None
    township: str | None
    created_at: float
    deadline: float
    time_left: float  # seconds until the claim deadline at listing time; < 0 past it
    escalated: bool
    assignee: str | None
    channel: str
    address: str  # masked
    contact: str  # masked
    signals: tuple[str, ...]
    notification_failed: bool  # a staff notification about it could not be delivered
    reply_failed: bool = False  # the latest staff reply did not reach the resident

    @classmethod
    def of(cls, referral: Referral, now: float) -> Summary:
        return cls(
            reference=referral.reference,
            level=referral.level,
            status=referral.status,
            queue=referral.queue,
            district=referral.district,
            township=referral.township,
            created_at=referral.created_at,
            deadline=referral.deadline,
            time_left=referral.time_left(now),
            escalated=referral.escalated,
            assignee=referral.assignee,
            channel=referral.channel,
            address=mask_phone(referral.address),
            contact=mask_phone(referral.contact),
            signals=tuple(referral.signals),
            notification_failed=any(n.get("status") == "failed" for n in referral.notifications),
            reply_failed=[m["delivery"] for m in referral.thread if "delivery" in m][-1:]
            == ["failed"],
        )


def listing_order(referral: Referral | Summary) -> tuple[int, float, float, str]:
    """Emergency first, then the nearest deadline, then the oldest."""
    return (LEVELS.index(referral.level), referral.deadline, referral.created_at,
            referral.reference)  # fmt: skip


@dataclass(frozen=True)
class StaffReply:
    """What `reply` asks the caller to send: the text, through the resident's own channel."""

    reference: str
    channel: str
    address: str
    text: str
    index: int  # its place in the thread, for `reply_sent`


class ReferralQueue(Protocol):
    """The township window's queue. Implementations: integrations/window/."""

    async def create(self, draft: Draft) -> Referral:
        """Queue a new referral, or return the one already created with `draft.key`
        (also under concurrent calls, and after a crash mid-way: all or nothing)."""
        ...

    async def get(self, reference: str) -> Referral | None:
        """The whole referral (contact unmasked), or None."""
        ...

    async def add_message(self, reference: str, author: str, text: str) -> None:
        """Append to the referral's thread (resident messages during a handover).
        NotFound; InvalidTransition once purged."""
        ...

    async def list(
        self,
        queues: Iterable[str],
        statuses: Iterable[str] = OPEN_STATUSES,
        limit: int = 100,
    ) -> builtins.list[Summary]:
        """Referrals of these queues (`<district>/*`: every township of the district; a
        district queue also lists its townships' escalated referrals), in
        `listing_order`, at most `limit`."""
        ...

    async def claim(self, reference: str, staff: str) -> Referral:
        """new/transferred -> claimed by `staff`; exactly one of concurrent claims wins,
        the others get Conflict. Claiming one's own claim again changes nothing."""
        ...

    async def mark_contacted(self, reference: str, staff: str) -> Referral:
        """claimed -> contacted (by the holder): the claim is acknowledged."""
        ...

    async def reply(self, reference: str, staff: str, text: str) -> StaffReply:
        """Add the holder's text to the thread, marked `sending`, and return where to send
        it; the caller sends it through the resident's channel, then calls `reply_sent`."""
        ...

    async def reply_sent(
        self, reference: str, staff: str, index: int, error: str | None = None
    ) -> Referral:
        """Record how sending thread message `index` went: delivered (`error` None; claimed
        -> contacted, the claim acknowledged) or not (`error`: a bot.delivery reason; the
        status stays, the message is marked undelivered). Recording twice changes nothing."""
        ...

    async def resolve(self, reference: str, staff: str, outcome: str) -> Referral:
        """claimed/contacted -> resolved (by the holder), with the outcome in words."""
        ...

    async def transfer(self, reference: str, staff: str, to_queue: str) -> Referral:
        """-> transferred, waiting unclaimed in `to_queue` with a fresh deadline (an
        unclaimed referral by anyone; a held one only by its holder)."""
        ...

    async def release(self, reference: str, staff: str) -> Referral:
        """claimed/contacted -> new (by the holder): back in the queue for others."""
        ...

    async def take_over(
        self, reference: str, staff: str, holder: str, to: str | None = None
    ) -> Referral:
        """claimed/contacted, held by `holder` -> new (`to` None) or claimed by `to`, done
        by `staff` for a holder who cannot act (the caller decides who may); Conflict if
        someone other than `holder` holds it. Taking it for its holder changes nothing."""
        ...

    async def escalate_due(self, now: float | None = None) -> builtins.list[str]:
        """Escalate every unclaimed referral past its deadline at `now` (default: the
        queue's clock); the references escalated by this call."""
        ...

    async def reclaim_abandoned(self) -> builtins.list[str]:
        """Return to `new` every claim older than the claim timeout without contact; the
        references returned."""
        ...

    async def purge_personal_data(self, older_than: float) -> int:
        """Remove the personal data of referrals resolved more than `older_than` seconds
        ago; how many were purged."""
        ...
