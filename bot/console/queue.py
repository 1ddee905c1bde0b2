"""The queue page, a referral's page, and the staff actions on a referral.

Every action goes through the queue (bot/referrals.py `ReferralQueue`), which checks the
status and the holder and writes the audit trail; here we check the user's scope first
(bot/console/access.py: outside it, 404) and then turn the queue's refusals into pages:
`Conflict` → 409 naming the holder, `InvalidTransition` → 409, bad input → 400.
After a change the browser is sent back to the referral (post/redirect/get).

Taking over (`take_over`): a referral whose holder cannot act on it is put back in the
queue or handed to a colleague who may see it (access.py says who may do this); the
queue and the referral's page mark a holder who was disabled or moved.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import quote

from aiohttp import web

from bot.console import access, handover
from bot.console.auth import Login
from bot.console.common import (
    CONSOLE,
    Console,
    action,
    done_code,
    first,
    message_page,
    page,
    query,
    respond,
)
from bot.console.users import User, township_named
from bot.delivery import DeliveryError
from bot.messages import MAX_TEXT
from bot.referrals import (
    HELD,
    OPEN_STATUSES,
    Conflict,
    InvalidTransition,
    NotFound,
    Referral,
    ReferralError,
    ReferralQueue,
    Summary,
    listing_order,
    queue_name,
)
from knowledge.places import UnknownPlace, districts, resolve_district

log = logging.getLogger(__name__)

REFRESH_SECONDS = 30  # the queue page reloads itself this often (no script needed)
LIST_LIMIT = 200
RESOLVED_LIMIT = 50
HELD_LIMIT = 10_000  # more than any scope holds open: a disabled user's referrals
# The `done=` codes the actions below redirect with (`_back`); no other is shown.
DONE = frozenset({"done_claimed", "done_released", "done_contacted", "done_replied",
                  "done_resolved", "done_transferred", "done_reassigned"})  # fmt: skip


def _queue(console: Console) -> ReferralQueue:
    if console.referrals is None:
        raise web.HTTPServiceUnavailable(text="no referral queue configured")
    return console.referrals


async def _visible(request: web.Request, login: Login) -> Referral | None:
    """The referral of the URL, if it exists and is in the user's scope."""
    reference = request.match_info["reference"]
    referral = await _queue(request.app[CONSOLE]).get(reference)
    if referral is None or not access.may_see(login.user, referral):
        return None
    return referral


def _not_found(request: web.Request, login: Login) -> web.Response:
    return message_page(request, login, 404, "not_found")


async def _labels(console: Console, referral: Referral) -> dict[str, str]:
    """User names in the thread and audit trail → the names colleagues know them by."""
    names = {referral.assignee or ""} | {str(e.get("who", "")) for e in referral.audit}
    names |= {str(m.get("author", "")) for m in referral.thread}
    for entry in referral.audit:  # a takeover names the holder and whom it went to
        detail = entry.get("detail") or {}
        names |= {str(detail.get("holder") or ""), str(detail.get("assignee") or "")}
    labels = {}
    for name in names - {""}:
        user = await console.users.get(name)
        if user is not None:
            labels[name] = user.label
    return labels


async def _takeover_targets(console: Console, referral: Referral) -> list[User]:
    """Whom a referral may be handed to on taking it over: active users who may see it
    (its township's staff, its district's supervisors), other than its holder."""
    return [
        user
        for user in await console.users.list()
        if user.name != referral.assignee and access.may_see(user, referral)
    ]


def _transfer_choices(login: Login) -> dict[str, object]:
    """What the transfer form offers: the user's district and its townships."""
    district_name = login.user.district
    townships: list[str] = []
    if district_name:
        for district in districts():
            if district.name == district_name:
                townships = [t.name for t in district.townships]
    return {
        "fixed_district": district_name if login.user.role == "staff" else None,
        "default_district": district_name or "",
        "districts": [d.name for d in districts()],
        "townships": [t for t in townships if f"{district_name}/{t}" != login.user.scope],
    }


async def _referral_page(
    request: web.Request,
    login: Login,
    referral: Referral,
    *,
    status: int = 200,
    error: str | None = None,
    values: Mapping[str, object] | None = None,
) -> web.Response:
    console = request.app[CONSOLE]
    holder = await console.users.get(referral.assignee) if referral.assignee else None
    takeover = access.may_take_over(login.user, referral, holder)
    to = query(request, "to")
    return respond(
        request,
        "referral",
        login,
        status=status,
        r=referral,
        labels=await _labels(console, referral),
        mine=referral.assignee == login.user.name,
        holder_gone=access.holder_gone(holder, referral),
        takeover=await _takeover_targets(console, referral) if takeover else None,
        error=error,
        values=values or {},
        done=done_code(request, DONE),
        done_values={"queue": to, "name": to},
        transfer=_transfer_choices(login),
        max_text=MAX_TEXT,
        can_send=console.delivery is not None and referral.channel in console.delivery.channels,
    )


# --- pages ----------------------------------------------------------------------------


@page(*access.QUEUE_ROLES)
async def queue_page(request: web.Request, login: Login) -> web.StreamResponse:
    console = request.app[CONSOLE]
    resolved = query(request, "show") == "resolved"
    statuses = ("resolved",) if resolved else OPEN_STATUSES
    limit = RESOLVED_LIMIT if resolved else LIST_LIMIT
    found = await _queue(console).list(access.queues(login.user), statuses, limit=limit)
    unique: dict[str, Summary] = {s.reference: s for s in found}
    items = sorted(unique.values(), key=listing_order)
    if resolved:
        items.reverse()
    holders: dict[str, User | None] = {}
    for name in {s.assignee for s in items if s.assignee}:
        holders[name] = await console.users.get(name)
    return respond(
        request,
        "queue",
        login,
        items=items,
        labels={name: user.label for name, user in holders.items() if user is not None},
        gone={s.reference for s in items if access.holder_gone(holders.get(s.assignee or ""), s)},
        resolved=resolved,
        refresh=REFRESH_SECONDS,
        scope=login.user.scope,
        done=done_code(request, frozenset({"done_transferred"})),
        done_values={"queue": query(request, "to")},
    )


@page(*access.QUEUE_ROLES)
async def referral_page(request: web.Request, login: Login) -> web.StreamResponse:
    referral = await _visible(request, login)
    if referral is None:
        return _not_found(request, login)
    return await _referral_page(request, login, referral)


# --- actions --------------------------------------------------------------------------


def _back(reference: str, done: str, to: str = "") -> web.HTTPSeeOther:
    suffix = f"&to={quote(to)}" if to else ""
    return web.HTTPSeeOther(f"/console/referral/{reference}?done=done_{done}{suffix}")


async def _refused(
    request: web.Request, login: Login, referral: Referral, exc: Exception
) -> web.Response:
    current = await _queue(request.app[CONSOLE]).get(referral.reference) or referral
    if isinstance(exc, Conflict):
        labels = await _labels(request.app[CONSOLE], current)
        holder = labels.get(exc.holder or "", exc.holder or "")
        return await _referral_page(
            request, login, current, status=409, error="held_by", values={"holder": holder}
        )
    return await _referral_page(request, login, current, status=409, error="invalid_transition")


@action(*access.QUEUE_ROLES)
async def claim(request: web.Request, login: Login) -> web.StreamResponse:
    referral = await _visible(request, login)
    if referral is None:
        return _not_found(request, login)
    try:
        await _queue(request.app[CONSOLE]).claim(referral.reference, login.user.name)
    except (Conflict, InvalidTransition) as exc:
        return await _refused(request, login, referral, exc)
    except NotFound:
        return _not_found(request, login)
    raise _back(referral.reference, "claimed")


@action(*access.QUEUE_ROLES)
async def release(request: web.Request, login: Login) -> web.StreamResponse:
    referral = await _visible(request, login)
    if referral is None:
        return _not_found(request, login)
    try:
        await _queue(request.app[CONSOLE]).release(referral.reference, login.user.name)
    except (Conflict, InvalidTransition) as exc:
        return await _refused(request, login, referral, exc)
    except NotFound:
        return _not_found(request, login)
    raise _back(referral.reference, "released")


@action(*access.QUEUE_ROLES)
async def contacted(request: web.Request, login: Login) -> web.StreamResponse:
    referral = await _visible(request, login)
    if referral is None:
        return _not_found(request, login)
    try:
        await _queue(request.app[CONSOLE]).mark_contacted(referral.reference, login.user.name)
    except (Conflict, InvalidTransition) as exc:
        return await _refused(request, login, referral, exc)
    except NotFound:
        return _not_found(request, login)
    raise _back(referral.reference, "contacted")


@action(*access.QUEUE_ROLES)
async def reply(request: web.Request, login: Login) -> web.StreamResponse:
    console = request.app[CONSOLE]
    referral = await _visible(request, login)
    if referral is None:
        return _not_found(request, login)
    text = first(await request.post(), "text")
    if not text:
        return await _referral_page(request, login, referral, status=400, error="reply_empty")
    if len(text) > MAX_TEXT:
        values = {"max": MAX_TEXT}
        return await _referral_page(
            request, login, referral, status=400, error="text_long", values=values
        )
    queue = _queue(console)
    try:
        sent = await queue.reply(referral.reference, login.user.name, text)
    except (Conflict, InvalidTransition) as exc:
        return await _refused(request, login, referral, exc)
    except NotFound:
        return _not_found(request, login)
    # In the thread as `sending` first: a crash while sending leaves it marked unconfirmed.
    # Only a delivered reply makes the referral contacted (and, on Redis, acknowledges the
    # claim); an undelivered one stays marked so in the thread.
    reason = None
    try:
        if console.delivery is None:
            raise DeliveryError("no_channel")
        reply_to_resident = handover.resident_reply(referral, text)
        await console.delivery.send(sent.channel, sent.address, [reply_to_resident])
    except DeliveryError as exc:
        reason = exc.reason
        log.warning("referral %s: reply not delivered (%s)", sent.reference, reason)
    current = await queue.reply_sent(sent.reference, login.user.name, sent.index, reason)
    if reason is not None:
        error = "delivery_missing" if console.delivery is None else "delivery_failed"
        return await _referral_page(
            request, login, current, status=502, error=error, values={"reason": reason}
        )
    idle = getattr(console.config, "idle_timeout", None)
    await handover.begin(console.store, referral, idle)
    raise _back(referral.reference, "replied")


@action(*access.QUEUE_ROLES)
async def resolve(request: web.Request, login: Login) -> web.StreamResponse:
    console = request.app[CONSOLE]
    referral = await _visible(request, login)
    if referral is None:
        return _not_found(request, login)
    outcome = first(await request.post(), "outcome")
    if not outcome:
        return await _referral_page(request, login, referral, status=400, error="outcome_empty")
    if len(outcome) > MAX_TEXT:
        values = {"max": MAX_TEXT}
        return await _referral_page(
            request, login, referral, status=400, error="text_long", values=values
        )
    try:
        done = await _queue(console).resolve(referral.reference, login.user.name, outcome)
    except (Conflict, InvalidTransition) as exc:
        return await _refused(request, login, referral, exc)
    except NotFound:
        return _not_found(request, login)
    await handover.end(console.store, done, getattr(console.config, "idle_timeout", None))
    raise _back(referral.reference, "resolved")


def target_queue(district_text: str, township_text: str) -> str:
    """The queue a transfer form names: a district, and a township of it or none.
    Raises UnknownPlace (district) or LookupError (township)."""
    district = resolve_district(district_text)
    if not township_text:
        return queue_name(district.name)
    township = township_named(district, township_text)
    if township is None:
        raise LookupError(township_text)
    return queue_name(district.name, township.name)


@action(*access.QUEUE_ROLES)
async def transfer(request: web.Request, login: Login) -> web.StreamResponse:
    console = request.app[CONSOLE]
    referral = await _visible(request, login)
    if referral is None:
        return _not_found(request, login)
    form = await request.post()
    district_text = first(form, "district")
    if login.user.role == "staff":
        district_text = login.user.district or ""
    township_text = first(form, "township")
    try:
        to_queue = target_queue(district_text, township_text)
    except UnknownPlace:
        return await _referral_page(
            request, login, referral, status=400, error="unknown_district",
            values={"text": district_text},
        )  # fmt: skip
    except LookupError:
        return await _referral_page(
            request, login, referral, status=400, error="unknown_township",
            values={"district": district_text, "township": township_text},
        )  # fmt: skip
    if to_queue == referral.queue:
        return await _referral_page(request, login, referral, status=400, error="transfer_same")
    if not access.may_transfer_to(login.user, to_queue):
        return await _referral_page(
            request, login, referral, status=403, error="transfer_forbidden"
        )
    try:
        moved = await _queue(console).transfer(referral.reference, login.user.name, to_queue)
    except (Conflict, InvalidTransition) as exc:
        return await _refused(request, login, referral, exc)
    except NotFound:
        return _not_found(request, login)
    if access.may_see(login.user, moved):
        raise _back(referral.reference, "transferred", to_queue)
    raise web.HTTPSeeOther(f"/console/queue?done=done_transferred&to={quote(to_queue)}")


@action(*access.QUEUE_ROLES)
async def take_over(request: web.Request, login: Login) -> web.StreamResponse:
    """Take a referral from a holder who cannot act: to the queue (`to` empty), to oneself
    or to a colleague. `holder` is whom the page showed holding it."""
    console = request.app[CONSOLE]
    queue = _queue(console)
    referral = await _visible(request, login)
    if referral is None:
        return _not_found(request, login)
    form = await request.post()
    holder, to = first(form, "holder"), first(form, "to")
    targets = {user.name: user for user in await _takeover_targets(console, referral)}
    if referral.status not in HELD or referral.assignee != holder:  # someone acted meanwhile
        return await _referral_page(
            request, login, referral, status=409, error="invalid_transition"
        )
    if not access.may_take_over(login.user, referral, await console.users.get(holder)):
        return await _referral_page(
            request, login, referral, status=403, error="takeover_forbidden"
        )
    if to and to not in targets:
        return await _referral_page(request, login, referral, status=400, error="takeover_target")
    try:
        await queue.take_over(referral.reference, login.user.name, holder, to or None)
    except (Conflict, InvalidTransition):
        current = await queue.get(referral.reference) or referral
        return await _referral_page(request, login, current, status=409, error="invalid_transition")
    except NotFound:
        return _not_found(request, login)
    if not to:
        raise _back(referral.reference, "released")
    if to == login.user.name:
        raise _back(referral.reference, "claimed")
    raise _back(referral.reference, "reassigned", targets[to].label)


async def release_held(console: Console, user: User, by: str) -> int:
    """Back to the queue, every referral `user` holds (they were just disabled), taken
    over by `by`; how many."""
    if console.referrals is None:
        return 0
    released = 0
    for held in await console.referrals.list(access.queues(user), HELD, limit=HELD_LIMIT):
        if held.assignee != user.name:
            continue
        try:
            await console.referrals.take_over(held.reference, by, user.name)
        except ReferralError:  # released, resolved or taken over meanwhile
            continue
        released += 1
    if released:
        log.info("%d referrals of a disabled user back in their queues", released)
    return released
