"""The dialogue engine's manners, on a small flow made for the test: table order and
`when`, explicit jumps and a cursor, 返回 keeping answers, re-asking, skipping."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from dialogues.commands import Command, maybe_exit, parse_command
from dialogues.engine import MAX_FAILURES, Effect, Flow, Say, Session, State, Step, says_skip


def ask(name: str) -> Callable[[Session], list[Say]]:
    def asker(session: Session) -> list[Say]:
        return [Say(f"q_{name}", {"cursor": session.cursor})]

    return asker


def answer_number(key: str) -> Callable[[Session, str], Step]:
    def answer(session: Session, text: str) -> Step:
        if not text.isdigit():
            return Step.again(f"h_{key}", example="3")
        session.answers[key] = int(text)
        return Step()

    return answer


def answer_item(session: Session, text: str) -> Step:
    if text != "ok":
        return Step.again("h_item")
    session.answers.setdefault("items", []).append(session.cursor)
    if session.cursor + 1 < session.answers["count"]:
        return Step(next="item", cursor=session.cursor + 1)
    return Step()


def answer_last(session: Session, text: str) -> Step:
    if text == "stop":
        return Step(says=(Say("stopped"),), done=True)
    session.answers["last"] = text
    return Step()


def skip_to_none(key: str) -> Callable[[Session], Step]:
    def skip(session: Session) -> Step:
        session.answers[key] = None
        return Step()

    return skip


def finish(session: Session) -> Step:
    return Step(says=(Say("done", {"answers": dict(session.answers)}),), effects=(Effect("x"),))


FLOW = Flow(
    "toy",
    [
        State("count", ask("count"), answer_number("count")),
        State(
            "bonus",
            ask("bonus"),
            answer_number("bonus"),
            when=lambda s: (s.answers.get("count") or 0) > 2,
            skip=skip_to_none("bonus"),
        ),
        State("item", ask("item"), answer_item, first=lambda s: 0),
        State("last", ask("last"), answer_last, skip=skip_to_none("last")),
    ],
    finish,
    intro="hello",
)


def templates(says: list[Say]) -> list[str]:
    return [s.template for s in says]


def test_start_says_the_intro_and_the_first_question() -> None:
    session = Session()
    turn = FLOW.start(session, {"given": 1})
    assert templates(turn.says) == ["hello", "q_count"]
    assert session.flow == "toy"
    assert session.state == "count"
    assert session.answers == {"given": 1}


def test_table_order_skips_states_whose_when_fails_and_the_cursor_repeats_a_state() -> None:
    session = Session()
    FLOW.start(session)
    turn = FLOW.handle(session, "2")  # bonus only when count > 2
    assert turn is not None
    assert templates(turn.says) == ["q_item"]
    assert session.cursor == 0
    turn = FLOW.handle(session, "ok")
    assert turn is not None
    assert turn.says == [Say("q_item", {"cursor": 1})]
    turn = FLOW.handle(session, "ok")
    assert turn is not None
    assert templates(turn.says) == ["q_last"]
    turn = FLOW.handle(session, "fine")
    assert turn is not None
    assert templates(turn.says) == ["done"]
    assert turn.says[0].values["answers"] == {"count": 2, "items": [0, 1], "last": "fine"}
    assert turn.effects == [Effect("x")]
    assert session.flow is None
    assert session.answers == {}
    assert session.history == []


def test_back_returns_to_the_previous_question_and_keeps_the_answers() -> None:
    session = Session()
    FLOW.start(session)
    FLOW.handle(session, "3")
    FLOW.handle(session, "7")  # bonus
    FLOW.handle(session, "ok")  # item 0
    turn = FLOW.back(session)
    assert turn.says == [Say("q_item", {"cursor": 0})]
    assert session.answers["bonus"] == 7
    assert session.answers["items"] == [0]
    turn = FLOW.back(session)
    assert templates(turn.says) == ["q_bonus"]
    FLOW.back(session)
    turn = FLOW.back(session)  # nothing further back
    assert templates(turn.says) == ["at_first_question", "q_count"]
    assert session.answers["count"] == 3


def test_an_unparsed_answer_is_reasked_with_an_example_then_a_person_or_skipping_offered() -> None:
    session = Session()
    FLOW.start(session)
    assert FLOW.handle(session, "many") is None
    turn = FLOW.retry(session)
    assert turn.says == [Say("h_count", {"example": "3"})]
    assert FLOW.handle(session, "lots") is None
    turn = FLOW.retry(session)
    assert templates(turn.says) == ["h_count", "stuck"]
    assert turn.says[1].values == {"can_skip": False, "flow": FLOW.name}  # `count` has no skip
    assert session.failures == MAX_FAILURES
    FLOW.handle(session, "2")
    assert session.failures == 0
    assert session.hint is None


def test_not_knowing_skips_a_skippable_question_at_once() -> None:
    session = Session()
    FLOW.start(session)
    FLOW.handle(session, "3")
    turn = FLOW.handle(session, "不知道")
    assert turn is not None
    assert templates(turn.says) == ["q_item"]
    assert session.answers["bonus"] is None
    assert FLOW.handle(session, "不清楚") is None  # `item` cannot be skipped


@pytest.mark.parametrize("said", ["算了", "算了吧！", "不弄了"])
def test_a_maybe_quit_keeps_the_answers_and_says_how_to_leave_or_go_on(said: str) -> None:
    """算了 may mean "stop" or only "never mind": nothing is dropped on a word said in
    passing; 退出 (a command, bot/router.py) leaves."""
    session = Session()
    FLOW.start(session)
    FLOW.handle(session, "3")
    turn = FLOW.handle(session, said)
    assert turn is not None
    assert templates(turn.says) == ["quit_check", "q_bonus"]
    assert turn.says[0].values == {"flow": "toy"}
    assert (session.flow, session.state, session.answers) == ("toy", "bonus", {"count": 3})
    assert session.history == [["count", 0]]
    turn = FLOW.handle(session, "7")  # going on is just answering
    assert turn is not None
    assert session.answers == {"count": 3, "bonus": 7}


def test_the_words_of_a_maybe_quit_are_no_command() -> None:
    assert parse_command("算了") is None
    assert maybe_exit("算了")
    assert not maybe_exit("退出")
    assert parse_command("退出") is Command.EXIT
    assert parse_command("不填了") is Command.EXIT


def test_a_step_may_end_the_flow_early() -> None:
    session = Session()
    FLOW.start(session)
    FLOW.handle(session, "1")
    FLOW.handle(session, "ok")
    turn = FLOW.handle(session, "stop")
    assert turn is not None
    assert templates(turn.says) == ["stopped", "done"]
    assert session.flow is None


def test_a_session_survives_json_and_pause_resume() -> None:
    session = Session()
    FLOW.start(session)
    FLOW.handle(session, "3")
    copy = Session.from_dict(json.loads(json.dumps(session.to_dict(), ensure_ascii=False)))
    assert copy == session
    copy.pause()
    assert copy.flow is None
    assert copy.paused is not None
    assert copy.resume()
    assert copy.state == "bonus"
    assert copy.answers == {"count": 3}
    assert not copy.resume()


def test_an_unknown_state_is_an_error_not_a_guess() -> None:
    session = Session(flow="toy", state="gone")
    with pytest.raises(LookupError):
        FLOW.handle(session, "1")


def test_duplicate_state_names_are_refused() -> None:
    state = State("a", ask("a"), answer_last)
    with pytest.raises(ValueError, match="duplicate"):
        Flow("bad", [state, state], finish)


@pytest.mark.parametrize(
    ("text", "skip"),
    [
        ("不知道", True),
        ("跳过", True),
        ("不清楚", True),
        ("晓不得", True),
        ("3", False),
        ("", False),
    ],
)
def test_says_skip(text: str, skip: bool) -> None:
    assert says_skip(text) is skip
