"""The path of every resident message, whatever the channel (ARCHITECTURE.md).

lock per sender → drop a duplicate delivery → the sender's rate limit (over it: "wait a
minute", nothing done; bot/ratelimit.py) → load the session → a staff handover? →
triage → a global command → the active dialogue → numbered choices at the menu → a
knowledge-base answer → the menu.

- Triage comes first in every state (RULES.md "Urgency (triage)"): an emergency gets
  110 / 120 / 119 / 12356 at once and a referral at the highest priority, and whatever
  the resident was doing stays where it was; an urgent message pauses the active
  dialogue and offers an immediate referral (declining resumes the dialogue at the
  same question).
- Handover: while a staff member is talking with the resident on their referral (the
  referral is held and staff wrote in its thread), the resident's messages go to that
  thread and the bot says so instead of answering; 结束 returns them to the bot.
- Any exception in a step becomes a polite reply and is logged with the flow, the state
  and the code's stack only (never the resident's words or numbers); the session is
  kept as it was before the message. The store being down is the one failure passed
  up, so that webhooks answer 503 and gateways deliver again later.

Deciding what to say (`respond`) is synchronous and does no I/O; the effects it asks
for (queue a referral, add to a referral's thread) are carried out afterwards, and only
then is the session saved and the delivery marked as handled.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from bot.messages import Handled, Inbound, Reply
from bot.ratelimit import RateLimit
from bot.referrals import (
    RESIDENT,
    SYSTEM,
    UNCLAIMED,
    UNDELIVERED,
    UNROUTED,
    Draft,
    ReferralError,
    ReferralQueue,
    queue_name,
)
from bot.render import render_reply
from bot.sessions import Sessions
from bot.store import Item, Store, StoreUnavailable, Unit
from dialogues.answers import parse_mobile
from dialogues.choices import pick_one
from dialogues.commands import Command, maybe_exit, parse_command
from dialogues.engine import Effect, Flow, Say, Session, Turn, says_skip
from dialogues.referral import CONSENT
from knowledge.places import find_place
from knowledge.search import Index, default_index
from knowledge.text import compact
from knowledge.triage import triage

log = logging.getLogger(__name__)

DELIVERIES = "delivery"
DELIVERY_TTL = 7 * 24 * 3600.0
SCREENING, REFERRAL = "screening", "referral"
FULL_TEXT_WORDS = frozenset({"全文", "详细", "详情", "完整", "看全文", "更多", "看详细", "理由"})
HELD = ("claimed", "contacted")  # a staff member has the referral in hand
EMERGENCY_FOLLOW_UP = 3600.0  # a new emergency message within this goes to the same referral
SEARCH_CHARS = 200  # the knowledge base is searched with the start of a long message
QUESTION_CHARS = 4  # a shorter reply in a dialogue is an answer, not a question
AGREE = "同意"  # a consent word (dialogues/choices.yaml)
CHOICE_SCORE = 45.0  # a topic scoring less is a guess: offered as a choice, it misleads
CHINA = dt.timezone(dt.timedelta(hours=8))


def looks_like_question(text: str) -> bool:
    """Worth searching the knowledge base in the middle of a dialogue: a few words of
    Chinese, not a figure, a choice or "不知道" (which the dialogue handles)."""
    key = compact(text)
    chinese = sum(1 for ch in key if "\u4e00" <= ch <= "\u9fff")
    return len(key) >= QUESTION_CHARS and chinese >= QUESTION_CHARS - 1 and not says_skip(text)


class Router:
    def __init__(
        self,
        store: Store,
        referrals: ReferralQueue,
        flows: Mapping[str, Flow],
        *,
        index: Index | None = None,
        sessions: Sessions | None = None,
        clock: Callable[[], float] = time.time,
        rate_limit: RateLimit | None = None,
    ) -> None:
        self.store = store
        self.referrals = referrals
        self.flows = dict(flows)
        self.index = index or default_index()
        self.sessions = sessions or Sessions(store, clock=clock)
        self.clock = clock
        self.rate_limit = rate_limit

    # --- the I/O shell ---------------------------------------------------------------

    async def handle(self, inbound: Inbound) -> Handled:
        """Handle one message under its sender's lock (two store round trips on Redis)."""
        async with self.store.locked(inbound.key, self.reads(inbound)) as unit:
            return await self.handle_in(unit, inbound)

    def reads(self, inbound: Inbound) -> list[Item]:
        """The records `handle_in` reads first: named with the lock, they come with it."""
        delivery = self._delivery(inbound)
        items = [self.sessions.item(inbound.key)]
        if self.rate_limit is not None:
            items.append(self.rate_limit.item(inbound))
        return [(DELIVERIES, delivery), *items] if delivery else items

    @staticmethod
    def _delivery(inbound: Inbound) -> str | None:
        return f"{inbound.channel}:{inbound.delivery_id}" if inbound.delivery_id else None

    async def handle_in(self, unit: Unit, inbound: Inbound) -> Handled:
        """`handle` inside a unit the caller holds on `inbound.key` (a channel with records
        of its own to read and write under the same lock: integrations/sms/channel.py).
        The session and the delivery record are written when the unit ends."""
        delivery = self._delivery(inbound)
        if delivery:
            seen = await unit.get(DELIVERIES, delivery)
            if seen is not None:
                replies = [Reply.from_dict(r) for r in seen.get("replies", [])]
                return Handled(replies, duplicate=True)
        if self.rate_limit is not None and (limited := await self.rate_limit.check(unit, inbound)):
            return limited  # a gateway's redelivery above is not counted
        session, expired = await self.sessions.load(inbound.key, unit)
        before = session.snapshot()  # restored if the step fails
        try:
            await self._follow_handover(session)
            turn = self.respond(session, inbound, expired)
            values = await self._perform(turn.effects, session, inbound)
            replies = [
                render_reply(inbound.channel, say.template, {**values, **say.values})
                for say in turn.says
            ]
        except StoreUnavailable:
            raise
        except Exception as exc:
            # The stack and the exception's type only: its message may quote the text.
            stack = "".join(traceback.format_tb(exc.__traceback__))
            session = Session.from_dict(json.loads(before))  # nothing half-done is kept
            log.error(
                "step failed in flow %s state %s: %s\n%s",
                session.flow,
                session.state,
                type(exc).__name__,
                stack,
            )
            replies = [render_reply(inbound.channel, "error", {})]
        self.sessions.save(unit, inbound.key, session)
        if delivery:
            record = {"replies": [r.to_dict() for r in replies]}
            unit.put(DELIVERIES, delivery, record, ttl=DELIVERY_TTL)
        return Handled(replies)

    async def _follow_handover(self, session: Session) -> None:
        """Whether a staff member is talking with the resident now: their last referral is
        held and staff wrote in its thread since the resident last said 结束."""
        last = session.referral
        if not last:
            session.handover = None
            return
        referral = await self.referrals.get(str(last["reference"]))
        if referral is None or referral.status not in HELD:
            session.handover = None
            return
        ended = int(last.get("ended", 0))  # the thread's length when the resident said 结束
        last["thread"] = len(referral.thread)
        staff_spoke = any(  # a reply the resident never got does not count
            entry.get("author") not in (RESIDENT, SYSTEM) and entry.get("delivery") != UNDELIVERED
            for entry in referral.thread[ended:]
        )
        session.handover = referral.reference if staff_spoke else None

    async def _perform(
        self, effects: list[Effect], session: Session, inbound: Inbound
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for effect in effects:
            if effect.kind == "referral":
                values["referral"] = await self._refer(session, inbound, dict(effect.data))
            elif effect.kind == "thread":
                reference, text = str(effect.data["reference"]), str(effect.data["text"])
                await self.referrals.add_message(reference, RESIDENT, text)
            else:
                raise ValueError(f"unknown effect {effect.kind!r}")
        return values

    async def _refer(self, session: Session, inbound: Inbound, data: dict[str, Any]) -> Any:
        """Queue a referral; a further emergency message soon after goes to the same one."""
        last = session.referral
        now = self.clock()
        if (
            data.get("level") == "emergency"
            and last
            and last.get("level") == "emergency"
            and now - float(last.get("created_at", 0)) < EMERGENCY_FOLLOW_UP
        ):
            try:
                await self.referrals.add_message(str(last["reference"]), RESIDENT, data["message"])
                await self._route_later(str(last["reference"]), data)
                return last
            except ReferralError:
                pass  # resolved or purged meanwhile: a new referral
        key = f"{inbound.key}:{inbound.delivery_id or uuid.uuid4().hex}"
        draft = Draft(key=key, channel=inbound.channel, address=inbound.sender, **data)
        referral = await self.referrals.create(draft)
        session.referral = referral.followed()
        return session.referral

    async def _route_later(self, reference: str, data: Mapping[str, Any]) -> None:
        """An emergency first sent to the hotline (no place known) goes to the window of
        the place a later message names, while nobody has taken it yet."""
        if not data.get("district"):
            return
        referral = await self.referrals.get(reference)
        if referral is None or referral.queue != UNROUTED or referral.status not in UNCLAIMED:
            return
        to_queue = queue_name(str(data["district"]), data.get("township"))
        await self.referrals.transfer(reference, SYSTEM, to_queue)

    # --- deciding what to say (no I/O) -----------------------------------------------

    def respond(self, session: Session, inbound: Inbound, expired: bool = False) -> Turn:
        turn = self._respond(session, inbound, expired)
        if expired:
            idle = {"idle": self.sessions.idle_timeout}
            return Turn([Say("session_expired", idle), *turn.says], turn.effects)
        return turn

    def _respond(self, session: Session, inbound: Inbound, expired: bool) -> Turn:
        text = inbound.body
        urgency = triage(text)
        if urgency.level == "emergency":
            return self._emergency(session, text, list(urgency.signals), urgency.advice)

        command = parse_command(text)
        if session.handover:
            if command is Command.EXIT:
                session.handover = None
                if session.referral:
                    session.referral["ended"] = session.referral.get("thread", 0)
                return Turn([Say("handover_ended")])
            return Turn(
                [Say("handover_relayed")],
                [Effect("thread", {"reference": session.handover, "text": text})],
            )

        if urgency.level == "urgent":
            if session.flow != REFERRAL:
                return self._urgent(session, inbound, list(urgency.signals), urgency.advice)
            case = session.answers.setdefault("case", {})
            case["level"] = "urgent"
            case["signals"] = sorted({*case.get("signals", []), *urgency.signals})

        if command is not None:
            return self._command(session, inbound, command)

        if session.flow is not None:
            return self._answer(session, text)
        if maybe_exit(text):  # 算了 with nothing under way: a kind goodbye
            session.offer = {}
            return Turn([Say("goodbye")])

        key = compact(text)
        if not key or (expired and key.isdigit()):
            return self._menu(session)  # nothing said, or a digit for a menu long gone
        offered = self._offer(session, inbound, key)
        if offered is not None:
            return offered
        return self._knowledge(session, text)

    def _flow(self, session: Session) -> Flow:
        assert session.flow is not None
        return self.flows[session.flow]

    def _today(self) -> str:
        return dt.datetime.fromtimestamp(self.clock(), CHINA).date().isoformat()

    def _start(self, session: Session, name: str, answers: Mapping[str, Any] | None = None) -> Turn:
        return self.flows[name].start(session, {"today": self._today(), **(answers or {})})

    def _start_referral(self, session: Session, inbound: Inbound, case: dict[str, Any]) -> Turn:
        """The referral consent flow; on SMS the sender's own number may be kept."""
        own = parse_mobile(inbound.sender) if inbound.channel == "sms" else None
        return self._start(session, REFERRAL, {"case": case, "own_number": own})

    def _emergency(self, session: Session, text: str, signals: list[str], advice: str) -> Turn:
        """Life in danger: the numbers at once, and a referral at the highest priority,
        without asking (RULES.md "Urgency"), so it carries only what routes and explains
        it: where, the signals and the words; no screening answers. Whatever the resident
        was doing stays where it was."""
        case = self._case(session, "emergency", signals, text)
        data = {key: case.get(key) for key in ("district", "township")}
        data |= {"level": "emergency", "signals": signals, "message": text, "consent": False}
        says = [Say("emergency", {"advice": advice, "signals": signals})]
        if session.flow is not None:
            says += [Say("continue_hint"), *self._flow(session).ask(session)]
        return Turn(says, [Effect("referral", data)])

    def _urgent(self, session: Session, inbound: Inbound, signals: list[str], advice: str) -> Turn:
        """急难: offer an immediate referral; the interrupted flow resumes if declined."""
        case = self._case(session, "urgent", signals, inbound.body)
        session.pause()
        turn = self._start_referral(session, inbound, case)
        return Turn([Say("urgent", {"advice": advice, "signals": signals}), *turn.says])

    def _case(self, session: Session, level: str, signals: list[str], text: str) -> dict[str, Any]:
        """What a referral carries from the conversation so far. Where to send it: the
        district of the screening; without one, the district the message names ("老人摔
        倒了 在渝中区解放碑"), and the township it names in the district used."""
        if session.flow == SCREENING:
            answers = session.answers
        elif (session.paused or {}).get("flow") == SCREENING:
            answers = session.paused.get("answers", {}) if session.paused else {}
        else:
            answers = {}
        result = session.result or {}
        district = answers.get("district") or result.get("district")
        township = None
        place = find_place(text)
        if place is not None and district in (None, place.district.name):
            district = place.district.name
            township = place.township.name if place.township else None
        return {
            "level": level,
            "signals": signals,
            "message": text,
            "district": district,
            "township": township,
            "screening": session.result,
        }

    def _command(self, session: Session, inbound: Inbound, command: Command) -> Turn:
        if command is Command.HELP:
            if session.flow is not None:
                return Turn([Say("help_in_flow"), *self._flow(session).ask(session)])
            return self._menu(session)
        if command is Command.SCREEN:
            session.paused = None
            return self._start(session, SCREENING)
        if command is Command.RESTART:
            if session.flow == REFERRAL:
                case = dict(session.answers.get("case", {}))
                for collected in ("consent", "contact", "township"):
                    case.pop(collected, None)
                turn = self._start_referral(session, inbound, case)
            else:
                session.paused = None
                turn = self._start(session, SCREENING)
            return Turn([Say("restarted"), *turn.says])
        if command is Command.BACK:
            if session.flow is None:
                return self._menu(session)
            return self._flow(session).back(session)
        if command is Command.HUMAN:
            if session.flow == REFERRAL:  # asking for a person when asked to agree is agreeing
                if session.state == CONSENT:
                    return self._answer(session, AGREE)
                return Turn(self._flow(session).ask(session))
            case = self._case(session, "normal", [], "")
            session.pause()
            return self._start_referral(session, inbound, case)
        # EXIT
        was_in_flow = session.flow is not None or session.paused is not None
        session.end_flow()
        session.paused = None
        session.offer = {}
        return Turn([Say("flow_left" if was_in_flow else "goodbye")])

    def _answer(self, session: Session, text: str) -> Turn:
        flow = self._flow(session)
        answered = session.offer.pop("id", None)  # a KB answer given at this question
        if answered and compact(text) in FULL_TEXT_WORDS:  # its full text, as it offered
            entry = self.index.get(str(answered))
            if entry is not None:
                return Turn([Say("kb_full", {"entry": entry}), Say("resuming"), *flow.ask(session)])
        turn = flow.handle(session, text)
        if turn is not None:
            if session.flow is None and session.resume():  # finished: back to what was paused
                resumed = self._flow(session).ask(session)
                return Turn([*turn.says, Say("resuming"), *resumed], turn.effects)
            return turn
        # Not an answer. A question to the knowledge base? Answer it, then ask again. Only
        # a question of our domain: "我和老伴" at the ages question is not one.
        if not self._asks_the_kb(text):
            return flow.retry(session)
        found = self.index.search(text[:SEARCH_CHARS])
        entry = self.index.get(found.best.id) if found.answered and found.best else None
        if entry is not None:
            session.offer["id"] = entry.id
            return Turn(
                [
                    Say("kb_answer", {"entry": entry, "related": []}),
                    Say("resuming"),
                    *flow.ask(session),
                ]
            )
        return flow.retry(session)

    def _asks_the_kb(self, text: str) -> bool:
        """A text that did not answer the question, worth searching the knowledge base."""
        head = text[:SEARCH_CHARS]
        return looks_like_question(head) and self.index.confidence.in_domain(
            self.index.normalize(head)
        )

    def _offer(self, session: Session, inbound: Inbound, key: str) -> Turn | None:
        """What a short reply means after what was offered: the menu's numbers, related
        topics, the full text of an answer, or the referral after a screening."""
        offer = session.offer
        kind = offer.get("kind")
        if kind == "after_screening" and session.result:
            if key in FULL_TEXT_WORDS:
                values = {"result": session.result, "level": offer.get("level", "normal")}
                return Turn([Say("screening_detail", values)])
            picked = pick_one(inbound.body, "after_screening") if len(key) <= 8 else None
            if picked == "yes":
                case = self._case(session, str(offer.get("level", "normal")), [], "")
                case["district"] = offer.get("district")
                session.offer = {}
                return self._start_referral(session, inbound, case)
            if picked == "no":
                session.offer = {}
                return Turn([Say("offer_declined")])
        if key in FULL_TEXT_WORDS and offer.get("id"):
            entry = self.index.get(str(offer["id"]))
            if entry is not None:
                return Turn([Say("kb_full", {"entry": entry})])
        if not key.isdigit() or len(key) > 3:
            return None
        choice = int(key)
        ids = list(offer.get("ids") or [])
        if kind == "topics" and 1 <= choice <= len(ids):
            return self._topic(session, ids[choice - 1])
        if kind == "menu":
            if choice == 1:
                session.offer = {}
                return Turn([Say("ask_question")])
            if choice == 2:
                return self._start(session, SCREENING)
            if choice == 3:
                case = self._case(session, "normal", [], "")
                return self._start_referral(session, inbound, case)
        return self._menu(session)

    def _knowledge(self, session: Session, text: str) -> Turn:
        found = self.index.search(text[:SEARCH_CHARS])
        if found.answered and found.best is not None:
            return self._topic(session, found.best.id)
        # Close topics are offered as choices, but not for another department's service
        # (护照, 公积金): none of ours is what was asked.
        foreign = self.index.confidence.names_foreign(self.index.normalize(text[:SEARCH_CHARS]))
        close = [hit for hit in found.results if hit.score >= CHOICE_SCORE and not foreign]
        entries = [e for e in (self.index.get(hit.id) for hit in close) if e]
        if entries:
            session.offer = {"kind": "topics", "ids": [e.id for e in entries]}
            return Turn([Say("kb_choices", {"entries": entries})])
        return self._menu(session, understood=False)

    def _topic(self, session: Session, entry_id: str) -> Turn:
        entry = self.index.get(entry_id)
        if entry is None:
            return self._menu(session, understood=False)
        related = [e for e in (self.index.get(r) for r in entry.related) if e]
        session.offer = {"kind": "topics", "ids": [e.id for e in related], "id": entry_id}
        return Turn([Say("kb_answer", {"entry": entry, "related": related})])

    def _menu(self, session: Session, understood: bool = True) -> Turn:
        session.offer = {"kind": "menu"}
        return Turn([Say("menu", {"understood": understood})])
