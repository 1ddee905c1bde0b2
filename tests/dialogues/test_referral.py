"""Referral consent as a flow: what it asks, what a yes and a no keep, what it queues."""

from __future__ import annotations

from typing import Any

import pytest

from bot.render import render_reply
from dialogues.engine import Effect, Session, Turn
from dialogues.referral import FLOW

OWN = "13800138000"


def start(case: dict[str, Any] | None = None, own: str | None = None) -> Session:
    session = Session()
    FLOW.start(session, {"case": dict(case or {"level": "normal"}), "own_number": own})
    return session


def say(session: Session, text: str) -> Turn:
    turn = FLOW.handle(session, text)
    assert turn is not None, (session.state, text)
    return turn


def test_consent_tells_what_is_shared_with_whom_and_why() -> None:
    session = Session()
    turn = FLOW.start(session, {"case": {"level": "normal", "screening": {"x": 1}}})
    (question,) = turn.says
    text = render_reply("sms", question.template, question.values).text
    for fragment in ("乡镇（街道）社会救助窗口", "联系您", "预筛查", "电话", "同意吗"):
        assert fragment in text
    assert render_reply("telegram", question.template, question.values).choices == (
        "同意",
        "不同意",
    )


def test_an_urgent_consent_fits_one_sms_after_the_advice_without_repeating_it() -> None:
    """The urgent advice (knowledge/triage.yaml) already offers the referral to the
    window; the consent after it asks in one SMS, still telling what, with whom, why."""
    session = Session()
    turn = FLOW.start(session, {"case": {"level": "urgent", "screening": {"x": 1}}})
    (question,) = turn.says
    text = render_reply("sms", question.template, question.values).text
    assert len(text) <= 70, text
    for fragment in ("乡镇（街道）", "联系", "预筛查", "电话", "同意吗"):
        assert fragment in text
    assert "我们可以" not in text  # the advice said so just before


@pytest.mark.parametrize("no", ["2", "不同意", "不要", "不用了"])
def test_declining_keeps_nothing_and_queues_nothing(no: str) -> None:
    session = start({"level": "urgent", "message": "房子垮了", "district": "万州区"})
    turn = say(session, no)
    assert [s.template for s in turn.says] == ["referral_declined"]
    assert turn.effects == []
    assert session.flow is None
    assert session.answers == {}


def test_a_full_referral_with_the_senders_own_number() -> None:
    session = start({"level": "normal", "district": "渝中区", "message": "想找人问问"}, own=OWN)
    say(session, "1")
    assert session.state == "phone"
    say(session, "1")  # keep this number
    assert session.state == "township"
    say(session, "解放碑")
    assert session.state == "confirm"
    confirm = FLOW.ask(session)[0]
    text = render_reply("sms", confirm.template, confirm.values).text
    assert "渝中区解放碑街道" in text
    assert OWN in text
    turn = say(session, "1")
    assert [s.template for s in turn.says] == ["referral_created"]
    (effect,) = turn.effects
    assert effect == Effect(
        "referral",
        {
            "level": "normal",
            "district": "渝中区",
            "township": "解放碑街道",
            "contact": OWN,
            "signals": [],
            "message": "想找人问问",
            "screening": None,
            "consent": True,
        },
    )


def test_a_mobile_number_is_checked_and_none_may_be_left() -> None:
    session = start({"level": "normal", "district": "万州区"})
    say(session, "同意")
    assert FLOW.handle(session, "023-12345678") is None  # a landline
    assert FLOW.handle(session, "1380013800") is None  # ten digits
    assert FLOW.handle(session, "1") is None  # no own number on this channel
    say(session, "138 0013 8000")
    assert session.answers["case"]["contact"] == OWN
    FLOW.back(session)
    say(session, "不留")
    assert session.answers["case"]["contact"] is None


def test_an_unknown_district_and_township_route_to_wider_queues() -> None:
    session = start()
    say(session, "1")
    say(session, "13912345678")
    assert session.state == "district"
    say(session, "不知道")  # the unrouted queue (hotline supervisors)
    assert session.state == "confirm"
    assert session.answers["case"]["district"] is None
    FLOW.back(session)
    say(session, "奉节")
    assert session.state == "township"
    say(session, "不清楚")  # the district's queue
    assert session.state == "confirm"
    turn = say(session, "确认")
    (effect,) = turn.effects
    assert effect.data["district"] == "奉节县"
    assert effect.data["township"] is None


def test_refilling_asks_again_from_the_phone() -> None:
    session = start({"level": "urgent", "district": "渝中区"})
    say(session, "1")
    say(session, "13912345678")
    say(session, "解放碑")
    turn = say(session, "2")  # 重新填写
    assert session.state == "phone"
    assert [s.template for s in turn.says] == ["referral_phone"]
    say(session, "13700000000")
    assert session.state == "township"  # the district from before is kept
    say(session, "七星岗")
    turn = say(session, "1")
    assert turn.effects[0].data["contact"] == "13700000000"
    assert turn.effects[0].data["level"] == "urgent"


def test_starting_again_asks_again_where_this_flow_asked_it() -> None:
    """重来 starts the flow again with the case it had (bot/router.py drops the consent,
    contact and township): a district or township this flow asked is asked again; one
    known from the screening is kept."""
    session = start({"level": "normal"})
    say(session, "1")
    say(session, "不留")
    say(session, "不知道")  # the district, asked here
    assert session.state == "confirm"
    case = {k: v for k, v in session.answers["case"].items() if k not in ("consent", "contact")}
    FLOW.start(session, {"case": case})
    say(session, "1")
    say(session, "不留")
    assert session.state == "district"
    say(session, "万州")
    say(session, "不知道")  # the township, asked here
    case = {k: v for k, v in session.answers["case"].items() if k not in ("consent", "contact")}
    FLOW.start(session, {"case": case})
    say(session, "1")
    say(session, "不留")
    assert session.state == "district"
    kept = start({"level": "normal", "district": "渝中区"})  # from the screening
    say(kept, "1")
    say(kept, "不留")
    assert kept.state == "township"


def test_unclear_answers_are_reasked_with_an_example() -> None:
    session = start()
    assert FLOW.handle(session, "啥意思") is None
    turn = FLOW.retry(session)
    text = render_reply("sms", turn.says[0].template, turn.says[0].values).text
    assert "1" in text
    assert "2" in text
    FLOW.handle(session, "嗯？")
    turn = FLOW.retry(session)
    assert turn.says[-1].template == "stuck"
    assert turn.says[-1].values["can_skip"] is False  # consent cannot be skipped
    # 人工 here only asks the same again (the resident is on the way to a person):
    # the way out is offered instead
    stuck = render_reply("sms", "stuck", turn.says[-1].values).text
    assert "人工" not in stuck
    assert "退出" in stuck
