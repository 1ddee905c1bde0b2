"""What both backends share: the protocol's operations, and the background workers.

A backend supplies atomic storage steps (`_insert`, `_change`, `_load`, `_select`, the
candidates for escalation, reclaiming and purging, and the notification jobs); the rules
are `rules.py`, so the embedded and the Redis queues cannot drift apart.

Workers (`start()` / `close()`):
- the notifier: takes notification jobs (written in the same transaction as the change
  that asked for them, so none is lost), sends each to its targets with retries, records
  the outcome on the referral, and only then acknowledges the job: at-least-once. A job
  re-run after a crash skips the targets it already delivered to. It runs beside the
  resident's conversation, so a slow or failing relay never delays a reply. With no
  notifier, or no target for the queue, the job records a failed notification
  ("no_notifier", "no_target"): the console shows that nobody was told.
- housekeeping, every `tick` seconds: escalate what is past its deadline, take back
  abandoned claims, and (every `purge_interval`) purge personal data older than
  `purge_after`. Several processes on one Redis may all run it: every change is a
  version-checked transition, so each escalation happens (and notifies) once.

Logs carry references, queue names, levels and counts; never contacts, addresses or text.
"""

from __future__ import annotations

import abc
import asyncio
import builtins
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from bot.metrics import Metrics
from bot.referrals import (
    OPEN_STATUSES,
    STATUSES,
    Draft,
    Referral,
    ReferralError,
    StaffReply,
    Summary,
    listing_order,
    new_reference,
)
from integrations.window import rules
from integrations.window.notify import (
    RETRY_DELAYS,
    Notifier,
    Outcome,
    Target,
    Targets,
    deliver,
    notification_text,
)

log = logging.getLogger("integrations.window")

Decide = Callable[[Referral, float], Referral]
CLAIM_TIMEOUT = 3600.0  # a claim without contact for an hour returns to the queue
TICK = 30.0
PURGE_INTERVAL = 3600.0
REFERENCE_TRIES = 5  # fresh references tried when one is already taken (1 in 90 million)
NO_TARGET = "none"


@dataclass(frozen=True)
class Job:
    """One staff notification to send: `event` about `reference`, to `queue`'s targets."""

    id: str
    reference: str
    event: str
    queue: str


class Window(abc.ABC):
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        deadlines: Mapping[str, float] | None = None,
        claim_timeout: float = CLAIM_TIMEOUT,
        targets: Targets | None = None,
        notifier: Notifier | None = None,
        metrics: Metrics | None = None,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        tick: float = TICK,
        purge_after: float | None = None,
        purge_interval: float = PURGE_INTERVAL,
        concurrency: int = 8,
    ) -> None:
        self.clock = clock
        self.deadlines = dict(rules.DEFAULT_DEADLINES) | dict(deadlines or {})
        self.claim_timeout = claim_timeout
        self.targets = targets or Targets()
        self.notifier = notifier
        self.metrics = metrics
        self.retry_delays = retry_delays
        self.tick = tick
        self.purge_after = purge_after
        self.purge_interval = purge_interval
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self._closing = False

    # --- the protocol ------------------------------------------------------------------

    async def create(self, draft: Draft) -> Referral:
        for _ in range(REFERENCE_TRIES):
            referral = rules.new_referral(draft, new_reference(), self.clock(), self.deadlines)
            stored, created = await self._insert(referral)
            if stored is None:
                continue  # the reference is taken: draw another
            if created:
                log.info("referral %s queued in %s (%s)", stored.reference, stored.queue,
                         stored.level)  # fmt: skip
                if self.metrics is not None:
                    self.metrics.referrals.labels(stored.level).inc()
            return stored
        raise RuntimeError("no free reference number after several tries")

    async def get(self, reference: str) -> Referral | None:
        return await self._load(reference)

    async def add_message(self, reference: str, author: str, text: str) -> None:
        await self._change(reference, lambda r, now: rules.add_message(r, author, text, now))

    async def list(
        self,
        queues: Iterable[str],
        statuses: Iterable[str] = OPEN_STATUSES,
        limit: int = 100,
    ) -> builtins.list[Summary]:
        wanted = set(queues)
        chosen = set(statuses)
        if not chosen <= set(STATUSES):
            raise ValueError(f"unknown statuses {sorted(chosen - set(STATUSES))}")
        if not wanted or not chosen or limit <= 0:
            return []
        found = await self._select(wanted, chosen, limit)
        now = self.clock()
        return [Summary.of(r, now) for r in sorted(found, key=listing_order)[:limit]]

    async def claim(self, reference: str, staff: str) -> Referral:
        return await self._act(reference, lambda r, now: rules.claim(r, staff, now))

    async def mark_contacted(self, reference: str, staff: str) -> Referral:
        return await self._act(reference, lambda r, now: rules.mark_contacted(r, staff, now))

    async def reply(self, reference: str, staff: str, text: str) -> StaffReply:
        referral = await self._act(reference, lambda r, now: rules.reply(r, staff, text, now))
        index = len(referral.thread) - 1
        return StaffReply(reference, referral.channel, referral.address, text, index)

    async def reply_sent(
        self, reference: str, staff: str, index: int, error: str | None = None
    ) -> Referral:
        return await self._act(
            reference, lambda r, now: rules.reply_sent(r, staff, index, error, now)
        )

    async def resolve(self, reference: str, staff: str, outcome: str) -> Referral:
        return await self._act(reference, lambda r, now: rules.resolve(r, staff, outcome, now))

    async def transfer(self, reference: str, staff: str, to_queue: str) -> Referral:
        return await self._act(
            reference, lambda r, now: rules.transfer(r, staff, to_queue, now, self.deadlines)
        )

    async def release(self, reference: str, staff: str) -> Referral:
        return await self._act(reference, lambda r, now: rules.release(r, staff, now))

    async def take_over(
        self, reference: str, staff: str, holder: str, to: str | None = None
    ) -> Referral:
        return await self._act(reference, lambda r, now: rules.take_over(r, staff, holder, to, now))

    async def escalate_due(self, now: float | None = None) -> builtins.list[str]:
        at = self.clock() if now is None else now
        escalated = []
        for reference in await self._due(at):
            referral, changed = await self._change(reference, lambda r, _: rules.escalate(r, at))
            if changed:
                escalated.append(reference)
                log.warning("referral %s escalated to %s (%s, unclaimed past its deadline)",
                            reference, rules.district_queue(referral), referral.level)  # fmt: skip
                if self.metrics is not None:
                    self.metrics.deadline_breaches.labels(referral.level).inc()
        return escalated

    async def reclaim_abandoned(self) -> builtins.list[str]:
        returned = []
        for reference, decide, options in await self._stale_claims():
            try:
                _, changed = await self._change(reference, decide, **options)
            except ReferralError:
                continue  # contacted, resolved or released meanwhile
            if changed:
                returned.append(reference)
                log.warning("referral %s: claim without contact timed out, back to new",
                            reference)  # fmt: skip
        return returned

    async def purge_personal_data(self, older_than: float) -> int:
        cutoff = self.clock() - older_than
        purged = 0
        for reference in await self._purgeable(cutoff):
            try:
                _, changed = await self._change(reference, lambda r, now: rules.purge(r, now))
            except ReferralError:
                continue
            purged += changed
        if purged:
            await self._erase_old_copies()
            log.info("purged the personal data of %d resolved referrals", purged)
        return purged

    async def _act(self, reference: str, decide: Decide) -> Referral:
        referral, _ = await self._change(reference, decide)
        return referral

    # --- workers -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the notifier and housekeeping."""
        if self._started:
            return
        self._started = True
        await self._prepare()
        if self.notifier is None:
            log.warning("no staff notifier configured: urgent referrals show nobody was told")
        self._spawn(self._notify_loop())
        self._spawn(self._housekeeping_loop())

    async def close(self) -> None:
        """Stop the workers (a job cut short is sent again later), then the backend."""
        self._closing = True
        while self._tasks:  # again if a task swallowed its cancellation or spawned another
            tasks = builtins.list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=1.0)
        close = getattr(self.notifier, "close", None)
        if close is not None:
            await close()
        await self._close()

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify_loop(self) -> None:
        while not self._closing:
            await self._slots.acquire()
            self._slots.release()
            try:
                jobs = await self._next_jobs(8)
            except Exception as error:  # the store is down, say: try again shortly
                log.warning("notification jobs unavailable: %s", type(error).__name__)
                await asyncio.sleep(1.0)
                continue
            for job in jobs:
                await self._slots.acquire()
                if self._closing:
                    self._slots.release()
                    return  # the job stays unacknowledged: sent by the next start
                self._spawn(self._run_job(job))

    async def _run_job(self, job: Job) -> None:
        try:
            await self.notify(job)
        except Exception as error:  # the job stays unacknowledged and is taken again later
            log.error("notification job for %s failed: %s", job.reference, type(error).__name__)
            with suppress(Exception):
                await self._job_failed(job)
        finally:
            self._slots.release()

    async def notify(self, job: Job) -> None:
        """Send one job to each target not yet delivered to, record, then acknowledge."""
        referral = await self._load(job.reference)
        if referral is None:
            await self._job_done(job)
            return
        text = notification_text(job.event, referral, self.clock())
        done = {n["target"] for n in referral.notifications
                if n.get("job") == job.id and n["status"] == "delivered"}  # fmt: skip
        configured = self.targets.for_queue(job.queue)
        notifier = self.notifier
        if notifier is None or not configured:
            error = "no_target" if not configured else "no_notifier"
            await self._record(job, NO_TARGET, Outcome("failed", 0, error))
            await self._job_done(job)
            return
        targets = [t for t in configured if t.label not in done]
        outcomes = await asyncio.gather(
            *(deliver(notifier, target, text, self.retry_delays) for target in targets)
        )
        for target, outcome in zip(targets, outcomes, strict=True):
            await self._record(job, target, outcome)
        await self._job_done(job)

    async def _record(self, job: Job, target: Target | str, outcome: Outcome) -> None:
        label = target.label if isinstance(target, Target) else target
        kind = target.kind if isinstance(target, Target) else target
        record = {"job": job.id, "event": job.event, "target": label, "status": outcome.status,
                  "attempts": outcome.attempts, "error": outcome.error}  # fmt: skip
        if outcome.status == "failed":
            log.error("staff notification %s of %s to %s failed after %d attempts",
                      job.event, job.reference, label, outcome.attempts)  # fmt: skip
            if self.metrics is not None:
                self.metrics.notification_failures.labels(kind).inc()
        await self._change(job.reference, lambda r, now: rules.notified(r, now, record))

    async def _housekeeping_loop(self) -> None:
        last_purge = float("-inf")
        while True:
            await asyncio.sleep(self.tick)
            try:
                await self.escalate_due()
                await self.reclaim_abandoned()
                if (
                    self.purge_after is not None
                    and time.monotonic() - last_purge >= self.purge_interval
                ):
                    last_purge = time.monotonic()
                    await self.purge_personal_data(self.purge_after)
            except Exception as error:  # try again next tick
                log.error("window housekeeping failed: %s", type(error).__name__)

    # --- what a backend supplies ---------------------------------------------------------

    @abc.abstractmethod
    async def _insert(self, referral: Referral) -> tuple[Referral | None, bool]:
        """Atomically: the referral already stored under `referral.key` (False), or this
        one stored with its jobs (True), or None when its reference is taken."""

    @abc.abstractmethod
    async def _change(
        self, reference: str, decide: Decide, **options: Any
    ) -> tuple[Referral, bool]:
        """Atomically apply `decide` to the stored referral (NotFound if none) and store
        the result with its jobs unless `decide` returned it unchanged; (result, changed)."""

    @abc.abstractmethod
    async def _load(self, reference: str) -> Referral | None: ...

    @abc.abstractmethod
    async def _select(
        self, queues: set[str], statuses: set[str], limit: int
    ) -> builtins.list[Referral]:
        """Candidates for `list` (at least the first `limit` in listing order)."""

    @abc.abstractmethod
    async def _due(self, now: float) -> builtins.list[str]:
        """Unclaimed, not escalated, deadline <= now."""

    @abc.abstractmethod
    async def _stale_claims(self) -> builtins.list[tuple[str, Decide, dict[str, Any]]]:
        """Claims past the claim timeout: (reference, decide, options for `_change`)."""

    @abc.abstractmethod
    async def _purgeable(self, cutoff: float) -> builtins.list[str]:
        """Resolved at or before `cutoff`, not purged yet."""

    @abc.abstractmethod
    async def _next_jobs(self, limit: int) -> builtins.list[Job]:
        """Waits a little (about a second) for jobs; [] when there are none."""

    @abc.abstractmethod
    async def _job_done(self, job: Job) -> None: ...

    async def _job_failed(self, job: Job) -> None:  # noqa: B027 (optional step)
        """The job could not be finished; it is to be taken again later."""

    async def _erase_old_copies(self) -> None:  # noqa: B027 (optional step)
        """After a purge: overwrite what the backend still keeps of the purged data."""

    async def _prepare(self) -> None:  # noqa: B027 (optional step)
        """Before the workers start."""

    @abc.abstractmethod
    async def _close(self) -> None: ...
