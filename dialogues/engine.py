"""A small state machine for conversations, in the style of python-telegram-bot's
ConversationHandler examples, but serving every channel.

A dialogue (`Flow`) is one ordered table of `State`s. Each state has a name (a constant
in its module), `ask` (what to say to ask its question), `answer` (the session and the
resident's text -> a `Step`), `when` (ask it only when the answers so far need it) and
`skip` (how to record "不知道"; None when the question cannot be skipped). After an
answer the flow goes to the step's explicit `next` state, else to the next state in the
table whose `when` holds, else it `finish`es.

A state may be asked once per household member (or any other item): `session.cursor`
says which, a step moves it (`Step(next=SAME_STATE, cursor=i + 1)`), and a state's
`first` gives the cursor it starts at when the table order reaches it (the `when` of
such a state speaks for all its items, since it is checked before `first` is applied).

Steps never do I/O: they return what to say (template names and values) and `Effect`s
for the router to carry out, so a flow is tested with plain calls.

The engine gives every flow the same manners: 返回 goes back one question keeping the
answers; an answer that does not parse is re-asked with an example; after two failures
in a row the resident is offered a person, or skipping the question as 不知道; a word
that only may mean leaving (算了) keeps the answers and says that 退出 leaves and that
answering goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dialogues.answers import UNKNOWN, parse_yes_no, says_word
from dialogues.commands import maybe_exit

MAX_FAILURES = 2  # unparsed answers in a row before we offer a person or skipping


@dataclass(frozen=True)
class Say:
    """Something to tell the resident: a template name and its values."""

    template: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"template": self.template, "values": dict(self.values)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Say:
        return cls(str(data["template"]), dict(data.get("values") or {}))


@dataclass(frozen=True)
class Effect:
    """Work for the router, which does the I/O: e.g. `Effect("referral", {...})`. The
    values it returns are merged into the values of the turn's `Say`s."""

    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Session:
    """One resident's conversation; JSON-serialisable, kept in the store between messages."""

    flow: str | None = None  # the active dialogue; None at the menu
    state: str | None = None  # its current state
    cursor: int = 0  # position in a repeated question (e.g. which household member)
    answers: dict[str, Any] = field(default_factory=dict)
    history: list[list[Any]] = field(default_factory=list)  # [state, cursor] answered
    failures: int = 0  # unparsed answers to the current question
    hint: dict[str, Any] | None = None  # the re-ask (a `Say` as a dict) for the current answer
    offer: dict[str, Any] = field(default_factory=dict)  # what digits mean at the menu
    paused: dict[str, Any] | None = None  # a flow set aside, to resume at the same question
    handover: str | None = None  # referral reference while a staff member is talking
    result: dict[str, Any] | None = None  # the last screening, offered to the referral
    referral: dict[str, Any] | None = None  # the last referral made: reference, level, at
    last_seen: float = 0.0  # unix time of the last message

    def to_dict(self) -> dict[str, Any]:
        """An independent copy as JSON types, as the store keeps it (a JSON round trip:
        `dataclasses.asdict` cost more than anything else in a turn)."""
        copied: dict[str, Any] = json.loads(self.snapshot())
        return copied

    def snapshot(self) -> str:
        """The session as compact JSON, to restore with `from_dict(json.loads(...))`."""
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Session:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    _FLOW_FIELDS = ("flow", "state", "cursor", "answers", "history")

    def pause(self) -> None:
        """Set the active flow aside, to resume later at the same question."""
        if self.flow is not None:
            self.paused = {name: getattr(self, name) for name in self._FLOW_FIELDS}
        self.end_flow()

    def resume(self) -> bool:
        """Bring back the flow set aside by `pause`; False when there is none."""
        if not self.paused:
            return False
        for name in self._FLOW_FIELDS:
            setattr(self, name, self.paused[name])
        self.paused, self.failures, self.hint = None, 0, None
        return True

    def end_flow(self) -> None:
        self.flow, self.state, self.cursor = None, None, 0
        self.answers, self.history, self.failures, self.hint = {}, [], 0, None

    def reset(self) -> None:
        """Forget the conversation (idle expiry); the last referral's reference stays."""
        self.end_flow()
        self.offer, self.paused, self.result = {}, None, None


@dataclass(frozen=True)
class Step:
    """The outcome of one answer."""

    says: tuple[Say, ...] = ()  # said before the next question
    next: str | None = None  # jump to this state (default: the next one in the table)
    cursor: int | None = None  # the cursor for the next state (default: see `State.first`)
    effects: tuple[Effect, ...] = ()
    done: bool = False  # end the flow now (default: when the table runs out)
    retry: Say | None = None  # not understood: re-ask with this (an example of an answer)

    @classmethod
    def again(cls, template: str, **values: Any) -> Step:
        return cls(retry=Say(template, values))


def always(session: Session) -> bool:
    return True


@dataclass(frozen=True)
class State:
    name: str
    ask: Callable[[Session], list[Say]]
    answer: Callable[[Session, str], Step]
    when: Callable[[Session], bool] = always
    skip: Callable[[Session], Step] | None = None  # record 不知道; None: must be answered
    first: Callable[[Session], int] | None = None  # cursor on arrival; None: keep it


@dataclass(frozen=True)
class Turn:
    says: list[Say]
    effects: list[Effect] = field(default_factory=list)


def says_skip(text: str) -> bool:
    """The resident does not know, or asks to skip: 不知道, 不清楚, 跳过 (answers.yaml `skip`)."""
    return says_word(text, "skip") or parse_yes_no(text) is UNKNOWN


class Flow:
    def __init__(
        self,
        name: str,
        states: Sequence[State],
        finish: Callable[[Session], Step],
        intro: str | None = None,
    ) -> None:
        self.name = name
        self.states = {s.name: s for s in states}
        self.order = [s.name for s in states]
        self.finish = finish
        self.intro = intro  # a template said when the flow starts
        if len(self.states) != len(states):
            raise ValueError(f"{name}: duplicate state names")

    # --- driving ---------------------------------------------------------------------

    def start(self, session: Session, answers: Mapping[str, Any] | None = None) -> Turn:
        """Begin at the first question that applies; `answers` are known beforehand."""
        session.end_flow()
        session.flow, session.answers = self.name, dict(answers or {})
        says = [Say(self.intro)] if self.intro else []
        return self._enter(session, self._next_from(session, -1), None, says, [])

    def ask(self, session: Session) -> list[Say]:
        """The current question (again: after an interruption, or on 返回)."""
        return self.states[self._current(session)].ask(session)

    def handle(self, session: Session, text: str) -> Turn | None:
        """Apply an answer. None when it did not parse: the caller may try the knowledge
        base first, then call `retry`."""
        name = self._current(session)
        state = self.states[name]
        if maybe_exit(text):  # 算了: keep everything, say how to leave or go on
            return Turn([Say("quit_check", {"flow": self.name}), *state.ask(session)])
        step = state.answer(session, text)
        if step.retry is not None and state.skip is not None and says_skip(text):
            step = state.skip(session)
        if step.retry is not None:
            session.hint = step.retry.to_dict()
            return None
        session.failures, session.hint = 0, None
        session.history.append([name, session.cursor])
        if step.done:
            return self._end(session, list(step.says), list(step.effects))
        target = step.next or self._next_from(session, self.order.index(name))
        return self._enter(session, target, step.cursor, list(step.says), list(step.effects))

    def retry(self, session: Session) -> Turn:
        """Re-ask with an example; after repeated failures, offer a person or skipping."""
        state = self.states[self._current(session)]
        session.failures += 1
        says = [Say.from_dict(session.hint)] if session.hint else state.ask(session)
        if session.failures >= MAX_FAILURES:
            says.append(Say("stuck", {"can_skip": state.skip is not None, "flow": self.name}))
        return Turn(says)

    def back(self, session: Session) -> Turn:
        """One question back, keeping the answers given so far."""
        session.failures, session.hint = 0, None
        if not session.history:
            return Turn([Say("at_first_question"), *self.ask(session)])
        session.state, session.cursor = session.history.pop()
        return Turn(self.ask(session))

    # --- internals -------------------------------------------------------------------

    def _current(self, session: Session) -> str:
        if session.state not in self.states:
            raise LookupError(f"{self.name}: no state {session.state!r}")
        return session.state

    def _next_from(self, session: Session, position: int) -> str | None:
        for name in self.order[position + 1 :]:
            if self.states[name].when(session):
                return name
        return None

    def _enter(
        self,
        session: Session,
        name: str | None,
        cursor: int | None,
        says: list[Say],
        effects: list[Effect],
    ) -> Turn:
        if name is None:
            return self._end(session, says, effects)
        state = self.states[name]
        session.state = name
        if cursor is not None:
            session.cursor = cursor
        elif state.first is not None:
            session.cursor = state.first(session)
        return Turn(says + state.ask(session), effects)

    def _end(self, session: Session, says: list[Say], effects: list[Effect]) -> Turn:
        step = self.finish(session)
        session.end_flow()
        return Turn(says + list(step.says), effects + list(step.effects))
