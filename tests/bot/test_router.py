"""The router on both stores and the real referral queue: duplicates, failures, expiry,
emergencies, urgent interruptions, handover to staff, and the menu's numbers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.messages import Inbound
from bot.router import REFERRAL, SCREENING, Router
from bot.sessions import Sessions
from dialogues import referral, screening
from dialogues.engine import Flow, Say, Session, State, Step
from tests.bot.talk import SENDER, Bench, joined

DAY = 24 * 3600.0
ERROR = "没处理好您的消息"


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
async def bench(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Bench]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    opened = await Bench.open(request.param, tmp_path / "data", url)
    yield opened
    await opened.close()


async def answer(bench: Bench, *lines: str) -> str:
    text = ""
    for line in lines:
        text = joined(await bench.say(line))
        assert ERROR not in text, (line, text)
    return text


async def test_the_menu_then_the_screening_by_a_full_width_digit(bench: Bench) -> None:
    menu = await bench.say("你好")
    assert "测一测" in joined(menu)
    assert menu[0].choices == ("问政策（低保、特困、临时救助等）", "测一测能申请什么", "找工作人员")
    assert "区县" in await answer(bench, "２")
    session = await bench.session()
    assert session["flow"] == "screening"
    assert session["answers"]["today"] == "2025-08-01"


async def test_a_duplicate_delivery_is_answered_the_same_and_acts_once(bench: Bench) -> None:
    first = await bench.say("我不想活了", delivery="m1")
    again = await bench.router.handle(Inbound("sms", SENDER, "我不想活了", "m1"))
    assert again.duplicate
    assert again.replies == first
    referral = await bench.last_referral()
    assert referral is not None
    assert referral.level == "emergency"
    assert [m["text"] for m in referral.thread] == ["我不想活了"]


async def test_an_emergency_mid_questionnaire_refers_at_once_and_keeps_the_question(
    bench: Bench,
) -> None:
    await answer(bench, "测一测", "万州", "农村")
    text = await answer(bench, "有人打我，我好怕")
    for number in ("110", "120", "119", "12356"):
        assert number in text
    assert "在领低保" in text  # the same question again
    referral = await bench.last_referral()
    assert referral is not None
    assert referral.level == "emergency"
    assert referral.district == "万州区"
    assert referral.signals == ["violence"]
    assert "几口人" in await answer(bench, "没有")  # the questionnaire goes on
    await answer(bench, "他又来了，我不想活了")  # within the hour: the same referral
    again = await bench.last_referral()
    assert again is not None
    assert again.reference == referral.reference
    assert [m["text"] for m in again.thread][-1] == "他又来了，我不想活了"


async def test_urgent_offers_a_referral_and_declining_resumes_the_same_question(
    bench: Bench,
) -> None:
    await answer(bench, "测一测", "奉节", "2", "2", "68 66")
    text = await answer(bench, "家里已经没饭吃了")
    assert "生命危险" in text  # an emergency missed by triage still learns where to turn
    assert "110" in text
    assert "同意" in text
    assert "1 同意" in text
    text = await answer(bench, "2")
    assert "不会保存" in text
    assert "您本人有下面的情况吗" in text
    session = await bench.session()
    assert session["flow"] == "screening"
    assert session["answers"]["ages"] == [68, 66]
    assert await bench.last_referral() is None  # declining keeps nothing


async def test_urgent_accepted_refers_at_the_urgent_level_then_resumes(bench: Bench) -> None:
    await answer(bench, "测一测", "渝中区", "1")
    await answer(bench, "房子塌了，今晚没地方住")
    await answer(bench, "同意", "13912345678", "解放碑")
    text = await answer(bench, "1")
    assert "编号" in text
    assert "4小时内" in text  # the urgent deadline
    assert "在领低保" in text  # back to where the questionnaire was
    referral = await bench.last_referral()
    assert referral is not None
    assert (referral.level, referral.district, referral.township) == (
        "urgent",
        "渝中区",
        "解放碑街道",
    )
    assert referral.contact == "13912345678"
    assert referral.consent


async def test_a_finished_screening_is_passed_on_with_its_result(bench: Bench) -> None:
    await answer(bench, "测一测", "万州", "农村", "没有", "68 66", "5", "5", "500", "300")
    text = await answer(bench, "0", "8000", "0", "1", "3", "5")
    assert "低保：很可能符合" in text
    detail = await answer(bench, "详细")
    assert "要带什么" in detail
    await answer(bench, "1", "1", "1")  # pass it on, agree, keep this number
    text = await answer(bench, "不知道", "确认")
    assert "编号" in text
    referral = await bench.last_referral()
    assert referral is not None
    assert referral.level == "normal"
    assert referral.contact == "13800000000"  # the sender's own number, on SMS
    assert referral.district == "万州区"
    assert referral.screening is not None
    assert referral.screening["programs"]["dibao"]["verdict"] == "likely"
    assert referral.screening["household"]["members"][0]["age"] == 68


async def test_declining_the_offer_after_a_result(bench: Bench) -> None:
    await answer(bench, "测一测", "万州", "农村", "没有", "68 66", "5", "5", "500", "300")
    await answer(bench, "0", "8000", "0", "1", "3", "5")
    assert "人工" in await answer(bench, "2")
    assert await bench.last_referral() is None


async def test_a_question_mid_questionnaire_is_answered_and_the_question_asked_again(
    bench: Bench,
) -> None:
    await answer(bench, "测一测", "万州")
    text = await answer(bench, "低保标准是多少")
    assert "770" in text
    assert "城镇的还是农村的" in text
    assert (await bench.session())["state"] == "area"


async def test_a_question_we_cannot_answer_gets_the_menu_and_the_emergency_numbers(
    bench: Bench,
) -> None:
    text = await answer(bench, "护照怎么办理")
    assert "没有把握" in text
    assert "110" in text
    assert "怎么申请低保" not in text  # no topic of ours offered for another department's service


async def test_the_full_text_of_an_answer_given_mid_questionnaire(bench: Bench) -> None:
    await answer(bench, "测一测", "万州")
    await answer(bench, "低保标准是多少")
    text = await answer(bench, "全文")
    assert "770" in text  # the entry's full answer
    assert "城镇的还是农村的" in text  # and the same question again
    assert "没听明白" not in text
    assert (await bench.session())["state"] == "area"
    assert "id" not in (await bench.session())["offer"]  # once: 全文 again is an answer


async def test_words_that_are_no_question_of_ours_are_re_asked_not_searched(
    bench: Bench,
) -> None:
    await answer(bench, "测一测", "万州", "2", "2", "2")
    assert (await bench.session())["state"] == "ages"
    text = await answer(bench, "我和老伴")
    assert "依据" not in text  # no KB answer for a non-question
    assert "年龄" in text  # the ages question again, with an example
    assert (await bench.session())["state"] == "ages"


async def test_human_at_the_consent_question_is_consent(bench: Bench) -> None:
    await answer(bench, "测一测", "万州", "2")
    assert "同意吗" in await answer(bench, "转人工")
    text = await answer(bench, "人工")
    assert "手机号" in text  # the next question: consent was given
    session = await bench.session()
    assert session["state"] == "phone"
    assert session["answers"]["case"]["consent"] is True


async def test_human_mid_questionnaire_then_back_to_it(bench: Bench) -> None:
    await answer(bench, "测一测", "万州", "2")
    assert "同意吗" in await answer(bench, "转人工")
    text = await answer(bench, "1", "不留", "不知道", "1")
    assert "编号" in text
    assert "在领低保" in text
    referral = await bench.last_referral()
    assert referral is not None
    assert referral.contact is None
    assert referral.district == "万州区"


async def test_help_back_restart_and_exit_in_the_middle(bench: Bench) -> None:
    await answer(bench, "测一测", "万州", "2", "2")
    text = await answer(bench, "帮助")
    assert "返回" in text
    assert "几口人" in text
    assert "在领低保" in await answer(bench, "上一步")
    assert (await bench.session())["answers"]["receiving"] is False  # kept
    text = await answer(bench, "重来")
    assert "从头开始" in text
    assert "区县" in text
    assert (await bench.session())["answers"] == {"today": "2025-08-01"}
    assert "退出" in await answer(bench, "退出")
    session = await bench.session()
    assert session["flow"] is None
    assert session["answers"] == {}


async def test_the_expiry_message_says_how_long_the_timeout_is(tmp_path: Path) -> None:
    opened = await Bench.open("embedded", tmp_path / "data")
    try:
        opened.router.sessions.idle_timeout = 2 * 3600.0
        await opened.say("测一测")
        opened.clock.advance(2 * 3600 + 60)
        assert "超过2小时" in joined(await opened.say("你好"))
    finally:
        await opened.close()


async def test_an_idle_session_expires_kindly(bench: Bench) -> None:
    await answer(bench, "测一测", "万州")
    bench.clock.advance(DAY + 60)
    replies = await bench.say("2")
    text = joined(replies)
    assert "超过一天" in text
    assert "测一测能申请什么" in text  # the menu, not the stale answer taken as a choice
    session = await bench.session()
    assert session["flow"] is None
    bench.clock.advance(DAY + 60)
    assert "超过一天" not in await answer(bench, "你好")  # nothing was in progress


async def test_a_process_restart_resumes_where_the_resident_was(bench: Bench) -> None:
    await answer(bench, "测一测", "万州", "农村", "没有")
    await bench.restart()
    text = await answer(bench, "68 66")
    assert "您本人有下面的情况吗" in text
    await bench.restart()
    assert "第2位家人（66岁）" in await answer(bench, "5")


async def test_staff_talking_on_a_referral_takes_the_residents_messages(bench: Bench) -> None:
    await answer(bench, "人工", "1", "1", "渝中", "解放碑", "1")
    referral = await bench.last_referral()
    assert referral is not None
    assert "低保" in await answer(bench, "低保标准是多少")  # nobody has written: the bot answers
    await bench.queue.claim(referral.reference, "staff1")
    await bench.queue.reply(referral.reference, "staff1", "您好，我是解放碑街道的小王")
    text = await answer(bench, "你好小王，我想申请低保")
    assert "转给工作人员" in text
    thread = (await bench.queue.get(referral.reference) or referral).thread
    assert thread[-1]["author"] == "resident"
    assert thread[-1]["text"] == "你好小王，我想申请低保"
    assert "自动问答" in await answer(bench, "结束")
    assert "770" in await answer(bench, "低保标准是多少")  # the bot again
    await bench.queue.reply(referral.reference, "staff1", "还在吗？")
    assert "转给工作人员" in await answer(bench, "在的")


async def test_a_staff_reply_the_resident_never_got_starts_no_handover(bench: Bench) -> None:
    await answer(bench, "人工", "1", "1", "渝中", "解放碑", "1")
    referral = await bench.last_referral()
    assert referral is not None
    await bench.queue.claim(referral.reference, "staff1")
    sent = await bench.queue.reply(referral.reference, "staff1", "您好，我是小王")
    await bench.queue.reply_sent(referral.reference, "staff1", sent.index, "no_channel")
    text = await answer(bench, "低保标准是多少")
    assert "转给工作人员" not in text  # not told their words were passed on
    assert "770" in text  # the bot answers
    sent = await bench.queue.reply(referral.reference, "staff1", "再试一次")
    await bench.queue.reply_sent(referral.reference, "staff1", sent.index)
    assert "转给工作人员" in await answer(bench, "收到了")


async def test_never_mind_with_nothing_under_way_is_a_goodbye(bench: Bench) -> None:
    await answer(bench, "你好")
    text = await answer(bench, "算了")
    assert "抱歉" not in text  # not "I could not answer that"
    assert text == await answer(bench, "退出")  # the same goodbye as leaving


async def test_an_emergency_during_a_handover_still_gets_the_numbers(bench: Bench) -> None:
    await answer(bench, "人工", "1", "1", "渝中", "解放碑", "1")
    referral = await bench.last_referral()
    assert referral is not None
    await bench.queue.claim(referral.reference, "staff1")
    await bench.queue.reply(referral.reference, "staff1", "请讲")
    assert "120" in await answer(bench, "我老伴晕倒了叫不醒")


def explode(session: Session, text: str) -> Step:
    raise ValueError(f"cannot read {text!r} from {SENDER}")


BROKEN = Flow(
    SCREENING,
    [State("boom", lambda s: [Say("screen_district", {"retry": False})], explode)],
    lambda s: Step(),
)


async def test_a_failing_step_is_a_polite_reply_logged_without_personal_data(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    sessions = Sessions(bench.store, clock=bench.clock)
    router = Router(
        bench.store,
        bench.queue,
        {SCREENING: BROKEN, REFERRAL: referral.FLOW},
        sessions=sessions,
        clock=bench.clock,
    )
    await router.handle(Inbound("sms", SENDER, "测一测"))
    caplog.set_level(logging.ERROR, logger="bot.router")
    handled = await router.handle(Inbound("sms", SENDER, "我叫张三，电话13912345678"))
    assert ERROR in joined(handled.replies)
    logged = caplog.text
    assert "flow screening state boom" in logged
    assert "ValueError" in logged
    for secret in ("张三", "13912345678", SENDER):
        assert secret not in logged
    session = await bench.session()
    assert session["state"] == "boom"  # kept as it was: the resident can retry
    assert session["flow"] == "screening"


async def test_the_real_flows_are_the_ones_the_app_wires() -> None:
    from bot import app

    assert app.screening.FLOW is screening.FLOW
    assert app.referral.FLOW is referral.FLOW


async def test_an_urgent_screening_result_refers_at_the_urgent_level(bench: Bench) -> None:
    await answer(bench, "测一测", "万州", "农村", "没有", "68 66", "5", "5", "500", "300")
    text = await answer(bench, "0", "8000", "0", "1", "3", "1 2")
    assert "情况紧急" in text
    await answer(bench, "1", "1", "1", "不知道")
    assert "编号" in await answer(bench, "1")
    referral = await bench.last_referral()
    assert referral is not None
    assert referral.level == "urgent"
    assert referral.screening is not None
    assert referral.screening["urgency"] == "urgent"


async def test_an_urgent_message_inside_the_referral_flow_raises_its_level(bench: Bench) -> None:
    await answer(bench, "人工", "同意")
    await answer(bench, "我们家里已经没饭吃了")  # not a phone number: asked again
    await answer(bench, "不留", "渝中", "不知道", "1")
    referral = await bench.last_referral()
    assert referral is not None
    assert referral.level == "urgent"
    assert referral.signals == ["no_food"]


async def test_an_emergency_referral_made_without_asking_carries_no_screening_answers(
    bench: Bench,
) -> None:
    await answer(bench, "测一测", "万州", "农村", "没有", "68 66", "5", "5", "500", "300")
    await answer(bench, "0", "8000", "0", "1", "3", "5")
    await answer(bench, "我老伴突然晕倒了，叫不醒")
    referral = await bench.last_referral()
    assert referral is not None
    assert referral.level == "emergency"
    assert referral.district == "万州区"  # where to send help
    assert referral.screening is None
    assert not referral.consent


async def test_an_emergency_is_routed_by_the_place_its_message_names(bench: Bench) -> None:
    await answer(bench, "我家老人摔倒了起不来 在渝中区解放碑")
    referral = await bench.last_referral()
    assert referral is not None
    assert referral.level == "emergency"
    assert (referral.district, referral.township) == ("渝中区", "解放碑街道")


async def test_an_emergency_goes_to_the_window_a_later_message_names(bench: Bench) -> None:
    await answer(bench, "救命 我老汉倒在地上不动了")
    first = await bench.last_referral()
    assert first is not None
    assert first.queue == "unrouted"
    await answer(bench, "快来人 我们在渝中区解放碑")  # within the hour: the same referral
    moved = await bench.queue.get(first.reference)
    assert moved is not None
    assert moved.queue == "渝中区/解放碑街道"
    assert moved.status == "transferred"
    assert moved.level == "emergency"
    assert [m["text"] for m in moved.thread][-1] == "快来人 我们在渝中区解放碑"


async def test_an_emergency_naming_no_place_or_an_everyday_word_stays_unrouted(
    bench: Bench,
) -> None:
    await answer(bench, "我家老人摔倒了起不来，在河的南岸")  # 南岸 the bank, not 南岸区
    referral = await bench.last_referral()
    assert referral is not None
    assert (referral.level, referral.district, referral.township) == ("emergency", None, None)


async def test_the_screenings_district_comes_before_one_the_message_names(bench: Bench) -> None:
    await answer(bench, "测一测", "万州", "农村")
    await answer(bench, "我家老人在渝中区解放碑摔倒了起不来")
    referral = await bench.last_referral()
    assert referral is not None
    assert (referral.district, referral.township) == ("万州区", None)  # not 渝中区's township


async def test_an_emergency_names_the_township_of_the_screenings_district(bench: Bench) -> None:
    await answer(bench, "测一测", "渝中", "1")
    await answer(bench, "我家老人在解放碑摔倒了起不来")
    referral = await bench.last_referral()
    assert referral is not None
    assert (referral.district, referral.township) == ("渝中区", "解放碑街道")


async def test_an_urgent_referral_takes_the_place_its_message_names(bench: Bench) -> None:
    await answer(bench, "我在奉节县永安街道 家里已经没饭吃了")
    text = await answer(bench, "同意", "13912345678")
    assert "区县" not in text  # neither the district nor the township is asked
    assert "编号" in await answer(bench, "1")
    referral = await bench.last_referral()
    assert referral is not None
    assert (referral.level, referral.district, referral.township) == (
        "urgent",
        "奉节县",
        "永安街道",
    )
