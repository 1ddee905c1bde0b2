"""A staff reply reaching the resident, and the resident's conversation handed over.

The reply goes back through the resident's own channel (`Referral.channel`, `.address`)
by `bot.delivery.Delivery`; its words come from `console/resident_reply.j2`, rendered
with autoescaping for the channels that speak HTML (bot/render.py `HTML_CHANNELS`), as
every resident-facing text is.

Once a reply is delivered the resident's session is marked `handover` with the
reference (dialogues/engine.py `Session.handover`): bot/router.py then puts what they
write into the referral's thread instead of answering as a bot, until they say 结束.
Resolving the referral ends the handover. The session is changed under the same lock
the router takes for that sender (`Inbound.key`), so no message is handled halfway.
"""

from __future__ import annotations

from typing import Any

import jinja2

from bot.messages import Reply
from bot.referrals import Referral
from bot.render import HTML_CHANNELS
from bot.sessions import Sessions
from bot.store import Store

_ENVIRONMENTS: dict[bool, jinja2.Environment] = {}


def _environment(html: bool) -> jinja2.Environment:
    if html not in _ENVIRONMENTS:
        _ENVIRONMENTS[html] = jinja2.Environment(
            loader=jinja2.PackageLoader("bot", "templates"),
            autoescape=html,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _ENVIRONMENTS[html]


def resident_reply(referral: Referral, text: str) -> Reply:
    """The staff member's words as the resident receives them on their channel."""
    template = _environment(referral.channel in HTML_CHANNELS).get_template(
        "console/resident_reply.j2"
    )
    body = template.render(
        channel=referral.channel,
        reference=referral.reference,
        district=referral.district,
        township=referral.township,
        text=text,
    )
    return Reply(body.strip())


def session_key(referral: Referral) -> str:
    """The resident's session key, as bot/messages.py `Inbound.key` makes it."""
    return f"{referral.channel}:{referral.address}"


async def begin(store: Store, referral: Referral, idle_timeout: float | None = None) -> None:
    """Route the resident's next messages to this referral's thread."""
    await _set(store, referral, referral.reference, idle_timeout, only_if=None)


async def end(store: Store, referral: Referral, idle_timeout: float | None = None) -> None:
    """Give the resident back to the bot, if they are still handed over to this referral."""
    await _set(store, referral, None, idle_timeout, only_if=referral.reference)


async def _set(
    store: Store,
    referral: Referral,
    value: str | None,
    idle_timeout: float | None,
    only_if: str | None,
) -> None:
    if not referral.address:
        return
    options: dict[str, Any] = {} if idle_timeout is None else {"idle_timeout": idle_timeout}
    sessions = Sessions(store, **options)
    key = session_key(referral)
    async with store.locked(key, [sessions.item(key)]) as unit:
        session, _ = await sessions.load(key, unit)
        if only_if is not None and session.handover != only_if:
            return
        session.handover = value
        last = session.referral or {}
        if value is not None and last.get("reference") != referral.reference:
            # a referral the resident did not start here (an operator's, or an older
            # one): the router follows the session's last referral, so make it this one
            session.referral = referral.followed()
        sessions.save(unit, key, session)
