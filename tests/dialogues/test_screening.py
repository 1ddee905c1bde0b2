"""The pre-screening questionnaire: what it asks (and skips), that every question fits
one SMS, how many questions a household takes, the household it builds, the result."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.render import render_reply
from dialogues import screening
from dialogues.engine import Say, Session, Turn
from dialogues.screening import FLOW, parse_ages, parse_grade, short_source
from integrations.sms.segments import split

SMS_MAX = 70  # one SMS of UCS-2 text
SMS_RESULT_MAX = 3 * (67 - len("(1/3)"))  # three numbered parts of a concatenated SMS
TELEGRAM_MAX = 4096
TODAY = "2025-08-01"
GARBAGE = "啊啊啊吧"


def sms_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Run:
    session: Session
    asked: list[str] = field(default_factory=list)
    says: list[Say] = field(default_factory=list)  # every question and re-ask said
    last: Turn | None = None

    @property
    def result(self) -> dict[str, Any]:
        assert self.session.result is not None
        return self.session.result

    @property
    def household(self) -> dict[str, Any]:
        household: dict[str, Any] = self.result["household"]
        return household

    def verdict(self, code: str) -> str:
        verdict: str = self.result["programs"][code]["verdict"]
        return verdict


def complete(plan: Mapping[str, str | Sequence[str]], today: str = TODAY) -> Run:
    """Answer the questionnaire from `plan` (state -> answer, or answers in turn for a
    repeated state); a state not in the plan is answered 不知道. Every question is also
    answered once with something unreadable first, to collect its re-ask."""
    queue = {k: [v] if isinstance(v, str) else list(v) for k, v in plan.items()}
    run = Run(Session())
    turn = FLOW.start(run.session, {"today": today})
    run.says += turn.says
    while run.session.flow is not None:
        state = run.session.state
        assert state is not None
        run.asked.append(state)
        assert len(run.asked) < 200, run.asked
        assert FLOW.handle(run.session, GARBAGE) is None, state
        run.says += FLOW.retry(run.session).says
        answers = queue.get(state)
        text = answers.pop(0) if answers else "不知道"
        turn = FLOW.handle(run.session, text)
        assert turn is not None, (state, text)
        run.says += turn.says
        run.last = turn
    return run


ELDERLY_COUPLE = {
    "district": "万州",
    "area": "农村",
    "receiving": "没有",
    "size": "68 66",  # the question asks for everyone's age: two people
    "situation": ["5", "5"],
    "labour": "500",
    "basic_pension": "300",
    "other": "0",
    "savings": "8000",
    "vehicle": "0",
    "homes": "1",
    "supporter": "2",
    "hardship": "5",
}

TWO_PERSON_HOUSEHOLDS = {
    "elderly couple, rural 万州": ELDERLY_COUPLE,
    "elderly couple in 奉节, not working": {**ELDERLY_COUPLE, "district": "奉节县"},
    "mother working and a schoolchild, 渝中区": {
        "district": "渝中区",
        "area": "城镇",
        "receiving": "2",
        "size": "两口人",
        "ages": "35 8",
        "situation": ["4", "3"],
        "labour": "2000",
        "other": "0",
        "savings": "2000",
        "vehicle": "没有",
        "homes": "0",
        "hardship": "5",
    },
    "couple in 奉节, one working (wages apart)": {
        "district": "奉节",
        "area": "2",
        "receiving": "2",
        "size": "两口人",
        "ages": "45 43",
        "situation": ["5", "4"],
        "wages": "1800",
        "labour": "300",
        "other": "0",
        "savings": "1万",
        "vehicle": "0",
        "homes": "1",
        "hardship": "4",
        "insurance": "2",
    },
    "couple on 低保 in 南岸区 (no urban/rural question)": {
        "district": "南岸区",
        "receiving": "1",
        "rise": "1",
        "size": "2",
        "ages": "50 48",
        "situation": ["4", "5"],
        "labour": "2500",  # 1250 a head, above 1.5 S: 渐退期 only if by work
        "other": "0",
        "savings": "0",
        "vehicle": "0",
        "homes": "1",
        "hardship": "5",
    },
    "grandmother and grandson, 奉节": {
        "district": "奉节县",
        "area": "农村",
        "receiving": "没有",
        "size": "72岁 10岁",
        "situation": ["2", "3"],
        "labour": "300",
        "basic_pension": "200",
        "other": "500",
        "savings": "3000",
        "vehicle": "0",
        "homes": "1",
        "supporter": "3",
        "hardship": "2",
    },
    "couple on 低保 in 奉节, 本人 disabled grade 2, some other income": {
        "district": "奉节",
        "area": "农村",
        "receiving": "领了",
        "rise": "不是",
        "size": "2个 70 68",
        "situation": ["1", "5"],
        "grade": "2",
        "labour": "0",
        "basic_pension": "200",
        "other": "300",
        "support": "0",
        "savings": "3000",
        "vehicle": "0",
        "homes": "1",
        "supporter": "2",
        "hardship": "5",
    },
    "every answer 不知道 but the size": {"size": "2"},
}


@pytest.mark.parametrize("name", list(TWO_PERSON_HOUSEHOLDS))
def test_a_two_person_household_takes_at_most_15_questions(name: str) -> None:
    run = complete(TWO_PERSON_HOUSEHOLDS[name])
    assert run.session.result is not None
    assert len(run.asked) <= 15, run.asked


WORKING_COUPLE = {
    "district": "万州",
    "area": "城镇",
    "receiving": "没有",
    "size": "45 43",
    "situation": ["4", "4"],
    "labour": "9000",  # 4,500 a head: above every standard whatever they own
    "other": "0",
    "hardship": "5",
}
PROPERTY_QUESTIONS = {"savings", "vehicle", "vehicle_value", "homes"}


def test_property_is_not_asked_when_no_verdict_can_turn_on_it() -> None:
    run = complete(WORKING_COUPLE)
    assert not PROPERTY_QUESTIONS & set(run.asked), run.asked
    household = screening.build_household(run.session)
    # unknown, never "owns nothing": the result does not claim what was not asked
    assert (household.financial_assets, household.vehicle_values, household.homes) == (
        None,
        None,
        None,
    )
    assert run.session.result is not None
    assert {p["verdict"] for p in run.session.result["programs"].values()} == {"unlikely"}


def test_property_is_asked_when_income_leaves_a_verdict_open() -> None:
    run = complete({**WORKING_COUPLE, "labour": "600"})  # 300 a head, below the standard
    assert {"savings", "vehicle", "homes"} <= set(run.asked), run.asked


def test_the_elderly_couple_is_asked_exactly_what_the_rules_need() -> None:
    run = complete(ELDERLY_COUPLE)
    assert run.asked == [
        "district",
        "area",
        "receiving",
        "size",
        "situation",
        "situation",
        "labour",
        "basic_pension",
        "other",
        "savings",
        "vehicle",
        "homes",
        "supporter",
        "hardship",
    ]
    assert run.verdict("dibao") == "likely"
    assert run.result["per_capita_income"] == 250  # the basic pension is not counted


def test_every_question_and_every_reask_fits_one_sms() -> None:
    big = {
        "district": "石柱土家族自治县",
        "size": "20口人",
        "ages": " ".join(["不知道", "120", *["59"] * 18]),
        "situation": ["1", "1 2 3 4", *["1"] * 18],
        "grade": ["2", "3", *["1"] * 18],
        "kind": ["2", "6"],
        "labour": "3000",
        "other": "9000",
        "support": "300",
        "vehicle": "有",
        "hardship": "4",
    }
    runs = [complete(plan) for plan in (*TWO_PERSON_HOUSEHOLDS.values(), big, {"size": "1"})]
    seen: set[str] = set()
    for run in runs:
        for say in run.says:
            if say.template.startswith("screen_"):
                text = render_reply("sms", say.template, say.values).text
                assert sms_length(text) <= SMS_MAX, (say.template, text)
                seen.add(say.template)
    assert seen == {f"screen_{state}" for state in FLOW.order} | {"screen_intro"}


@pytest.mark.parametrize("channel", ["sms", "telegram", "web", "terminal"])
def test_numbered_questions_offer_their_choices_to_the_channel(channel: str) -> None:
    session = Session()
    turn = FLOW.start(session, {"today": TODAY})
    FLOW.handle(session, "万州")
    say = FLOW.ask(session)[0]
    reply = render_reply(channel, say.template, say.values)
    assert reply.choices == ("城镇", "农村")
    assert "1 城镇" in reply.text
    assert "2 农村" in reply.text
    assert turn.says[0].template == "screen_intro"


# --- what is asked when -----------------------------------------------------------------


def test_nanan_district_asks_urban_or_rural_only_before_its_standards_merged() -> None:
    plan = {"district": "南岸区", "size": "1", "ages": "40", "situation": "5"}
    assert "area" not in complete(plan, today="2023-09-01").asked
    assert "area" in complete(plan, today="2023-08-31").asked
    assert "area" in complete({**plan, "district": "渝中区"}, today="2025-08-01").asked


def test_an_unknown_district_still_asks_urban_or_rural() -> None:
    run = complete({"district": "不知道", "size": "1", "ages": "40", "situation": "5"})
    assert "area" in run.asked
    assert run.household["district"] is None


def test_wages_are_asked_apart_only_where_a_share_is_deducted_and_someone_works() -> None:
    fengjie = TWO_PERSON_HOUSEHOLDS["couple in 奉节, one working (wages apart)"]
    run = complete(fengjie)
    assert "wages" in run.asked
    incomes = [m["income"] for m in run.household["members"]]
    assert sum(i["wages"] for i in incomes) == 1800
    assert sum(i["business"] for i in incomes) == 300
    texts = [r["text"] for r in run.result["programs"]["dibao"]["reasons"]]
    assert any("20%" in t and "360" in t for t in texts), texts  # 20 % of 1800 deducted
    assert "wages" not in complete({**fengjie, "district": "万州"}).asked
    assert "wages" not in complete({**fengjie, "situation": ["5", "5"]}).asked


def test_folded_labour_income_is_wages_when_someone_works_else_business() -> None:
    working = complete(TWO_PERSON_HOUSEHOLDS["mother working and a schoolchild, 渝中区"])
    assert [m["income"]["wages"] for m in working.household["members"]] == [2000, 0]
    resting = complete(ELDERLY_COUPLE)
    assert [m["income"]["business"] for m in resting.household["members"]] == [500, 0]
    assert all(m["income"]["wages"] == 0 for m in resting.household["members"])


def test_basic_pension_is_asked_only_with_someone_60_or_older() -> None:
    young = TWO_PERSON_HOUSEHOLDS["mother working and a schoolchild, 渝中区"]
    assert "basic_pension" not in complete(young).asked
    assert "basic_pension" in complete({**young, "ages": "60 8"}).asked
    assert "basic_pension" in complete({**young, "ages": "不知道 8"}).asked


def test_supporters_are_asked_only_while_tekun_is_in_play() -> None:
    assert "supporter" in complete(ELDERLY_COUPLE).asked
    young = TWO_PERSON_HOUSEHOLDS["mother working and a schoolchild, 渝中区"]
    assert "supporter" not in complete(young).asked  # 35 and able to work
    rich = complete({**ELDERLY_COUPLE, "savings": "50万"})  # the property test fails
    assert "supporter" not in rich.asked
    assert rich.verdict("tekun") == "unlikely"


@pytest.mark.parametrize(
    ("plan", "spouse"),
    [
        (ELDERLY_COUPLE, True),  # 68 and 66: the one living with 本人 may be the spouse
        ({**ELDERLY_COUPLE, "size": "68 不知道"}, True),
        ({**ELDERLY_COUPLE, "size": "68 10"}, False),  # a grandchild is nobody's spouse
        ({**ELDERLY_COUPLE, "size": "68"}, False),
    ],
)
def test_the_supporter_question_counts_a_spouse_living_with_them(
    plan: dict[str, str], spouse: bool
) -> None:
    """A spouse is a legal 扶养 supporter (RULES.md program 4, legal_supporter): one who
    lives in the household is not \"没有\"; the question says so where there may be one."""
    run = complete(plan)
    (say,) = [s for s in run.says if s.template == "screen_supporter" and not s.values["retry"]]
    text = render_reply("sms", say.template, say.values).text
    assert ("一起生活的老伴也算" in text) is spouse, text
    assert "配偶" in text
    assert sms_length(text) <= SMS_MAX


def test_own_income_is_asked_only_when_the_household_total_does_not_settle_it() -> None:
    assert "own" not in complete(ELDERLY_COUPLE).asked  # 500 in all, below 630
    run = complete({**ELDERLY_COUPLE, "labour": "1500", "own": "200", "supporter": "3"})
    assert run.asked.count("own") == 1  # only 本人: the spouse is not a 单人户 candidate
    me, spouse = (m["income"] for m in run.household["members"])
    assert me["business"] == 200
    assert spouse["business"] == 1300
    assert run.verdict("tekun") == "likely"  # own 200 < 630, no supporter
    richer = complete({**ELDERLY_COUPLE, "labour": "1500", "own": "1000", "supporter": "3"})
    assert richer.verdict("tekun") == "unlikely"


def test_a_possible_single_person_household_member_gets_support_and_own_income_asked() -> None:
    plan = {
        "district": "万州",
        "area": "城镇",
        "receiving": "2",
        "size": "2",
        "ages": "50 24",
        "situation": ["4", "1"],
        "grade": "1",
        "labour": "2500",
        "other": "600",
        "support": "600",
        "own": "0",
        "savings": "0",
        "vehicle": "0",
        "homes": "1",
        "hardship": "5",
    }
    run = complete(plan)
    assert "support" in run.asked
    assert "own" in run.asked
    assert "kind" not in run.asked  # grade 1 and not 本人: the kind changes no verdict
    assert run.verdict("dibao_single") == "likely"
    assert run.result["programs"]["dibao_single"]["members"] == [1]
    assert run.verdict("disability_care") == "likely"


def test_the_kind_of_disability_is_asked_only_where_it_changes_a_verdict() -> None:
    base = {"district": "万州", "size": "1", "situation": "1"}
    assert "kind" in complete({**base, "ages": "40", "grade": "2"}).asked  # 特困: physical?
    assert "kind" not in complete({**base, "ages": "70", "grade": "2"}).asked  # 60+ anyway
    assert "kind" in complete({**base, "ages": "70", "grade": "3"}).asked  # 护理补贴 3–4
    run = complete({**base, "ages": "70", "grade": "4", "kind": "智力"})
    assert run.household["members"][0]["disability_kind"] == "intellectual"
    assert run.verdict("disability_care") == "possible"


def test_vehicles_by_value_or_in_two_steps() -> None:
    run = complete({**ELDERLY_COUPLE, "vehicle": "有", "vehicle_value": "2万 5千"})
    assert "vehicle_value" in run.asked
    assert run.household["vehicle_values"] == [20000, 5000]
    run = complete({**ELDERLY_COUPLE, "vehicle": "一辆车值4万"})
    assert "vehicle_value" not in run.asked
    assert run.household["vehicle_values"] == [40000]
    assert run.verdict("dibao") == "unlikely"


@pytest.mark.parametrize(
    ("said", "homes"),
    [("租房子住", 0), ("我们租的", 0), ("住亲戚家", 0), ("借住在女儿那里", 0), ("两套", 2),
     ("自己有一套，还租了一间", None)],
)  # fmt: skip
def test_renting_or_lodging_is_no_home_of_ones_own(said: str, homes: int | None) -> None:
    """A reply with no figure that says where they live instead counts as none; one
    with a figure and more is re-asked, never guessed."""
    session = Session()
    step = screening.answer_homes(session, said)
    if homes is None:
        assert step.retry is not None
    else:
        assert step.retry is None
        assert session.answers["homes"] == homes


def test_unemployment_insurance_is_asked_after_months_without_income() -> None:
    run = complete(TWO_PERSON_HOUSEHOLDS["couple in 奉节, one working (wages apart)"])
    assert "insurance" in run.asked
    assert run.household["hardship"]["months_without_income"] == 3
    assert run.household["hardship"]["unemployment_insurance"] is False
    assert "insurance" not in complete(ELDERLY_COUPLE).asked


def test_receiving_dibao_may_be_answered_with_its_verb() -> None:
    session = Session(answers={"today": TODAY})
    assert screening.answer_receiving(session, "领了").retry is None
    assert session.answers["receiving"] is True


def test_rise_is_asked_only_where_it_can_change_the_gradual_exit() -> None:
    """渐退期 by work needs pc ≥ S; S ≤ pc < 1.5 S gives it anyway (RULES.md program 8)."""
    on_dibao = TWO_PERSON_HOUSEHOLDS["couple on 低保 in 南岸区 (no urban/rural question)"]
    assert "rise" in complete({**on_dibao, "labour": "2500"}).asked  # 1250 a head ≥ 1.5 S
    assert "rise" not in complete({**on_dibao, "labour": "1000"}).asked  # 500 < S: no exit
    run = complete({**on_dibao, "labour": "1800"})  # 900 a head: in the band either way
    assert "rise" not in run.asked
    assert run.verdict("gradual_exit") == "likely"


def test_support_is_asked_only_when_it_can_change_a_single_person_verdict() -> None:
    fengjie = TWO_PERSON_HOUSEHOLDS[
        "couple on 低保 in 奉节, 本人 disabled grade 2, some other income"
    ]
    assert "support" not in complete(fengjie).asked  # 300 in all, below 630 anyway
    assert "support" not in complete({**fengjie, "other": "不知道"}).asked
    assert "support" in complete({**fengjie, "other": "900", "own": "700"}).asked


def test_own_income_is_not_asked_when_no_part_of_the_household_income_is_known() -> None:
    run = complete(ELDERLY_COUPLE | {"labour": "不知道", "other": "不知道"})
    assert "own" not in run.asked
    assert run.verdict("tekun") == "possible"
    assert "own" in complete(ELDERLY_COUPLE | {"labour": "1500", "other": "不知道"}).asked


def test_own_income_beyond_the_known_totals_is_kept_not_dropped() -> None:
    """本人 says 800 of their own while only 300 of the household's income is known:
    the rest of the 800 is in the unknown part, and 本人 is not 特困 by income."""
    plan = ELDERLY_COUPLE | {"labour": "不知道", "other": "300", "own": "800", "supporter": "3"}
    run = complete(plan)
    assert "own" in run.asked
    me = run.household["members"][0]["income"]
    assert sum(v for k, v in me.items() if k != "basic_pension" and v) == 800
    assert run.verdict("tekun") == "unlikely"


def test_rise_through_work_is_asked_only_on_dibao() -> None:
    run = complete(TWO_PERSON_HOUSEHOLDS["couple on 低保 in 南岸区 (no urban/rural question)"])
    assert "rise" in run.asked
    assert run.household["receiving"] == ["dibao"]
    assert run.household["income_rise_from_work"] is True
    assert run.verdict("gradual_exit") == "likely"  # 1250 a head ≥ 770, after work
    assert "rise" not in complete(ELDERLY_COUPLE).asked


# --- unknowns, the household, going back ------------------------------------------------


def test_every_unknown_answer_reaches_the_household_as_null() -> None:
    run = complete({"size": "2"})
    h = run.household
    assert h["district"] is None
    assert h["area"] is None
    assert h["financial_assets"] is None
    assert h["vehicle_values"] is None
    assert h["homes"] is None
    assert h["receiving"] == []
    for member in h["members"]:
        assert member["age"] is None
        assert member["employed"] is None
        assert member["disability_grade"] is None
    assert all(v is None for v in h["hardship"].values())
    assert any(v is None for m in h["members"] for v in m["income"].values())
    assert run.verdict("dibao") == "possible"  # never a guess


def test_back_keeps_answers_and_a_new_household_size_asks_the_members_again() -> None:
    session = Session()
    FLOW.start(session, {"today": TODAY})
    for text in ("万州", "1", "2", "2", "68 66", "5"):  # size 2, then the ages
        assert FLOW.handle(session, text) is not None
    assert session.state == "situation"
    assert session.cursor == 1
    FLOW.back(session)
    assert (session.state, session.cursor) == ("situation", 0)
    FLOW.back(session)
    FLOW.back(session)
    assert session.state == "size"
    assert session.answers["ages"] == [68, 66]
    FLOW.handle(session, "3")
    assert "ages" not in session.answers
    assert session.state == "ages"
    FLOW.handle(session, "68 66 12")
    assert (session.state, session.cursor) == ("situation", 0)


@pytest.mark.parametrize(
    ("said", "size", "ages"),
    [
        ("68 66", 2, [68, 66]),
        ("68", 1, [68]),
        ("2", 2, None),  # a count alone: the ages are asked next
        ("两口人", 2, None),
        ("我和老伴", 2, None),
        ("我们俩", 2, None),
        ("2个 70 68", 2, [70, 68]),  # a count, then that many ages
        ("2 70 68", 2, [70, 68]),
        ("2口人，68和66", 2, [68, 66]),
        ("两个人 68 66", 2, [68, 66]),
        ("就我一个，68岁", 1, [68]),
        ("我和老伴 68 66", 2, [68, 66]),
        ("一家三口 45 43 12", 3, [45, 43, 12]),
        ("2个人 不知道", 2, [None, None]),
        ("两口子 都七十多了", 2, [70, 70]),  # 七十多: 70, the lower end (parse_age)
        ("3 40 12", 3, [3, 40, 12]),  # no count word and not that many ages: all ages
    ],
)
def test_the_household_size_reads_a_count_ages_or_both(
    said: str, size: int, ages: list[int | None] | None
) -> None:
    session = Session(answers={"today": TODAY})
    step = screening.answer_size(session, said)
    assert step.retry is None, said
    assert session.answers["size"] == size
    assert session.answers.get("ages") == ages
    assert screening._ages_needed(session) is (ages is None)


@pytest.mark.parametrize(
    ("said", "hint"),
    [
        ("3个 70 68", "对不上"),  # a count that disagrees with the ages given
        ("两口子 七十多", "对不上"),
        ("不知道", "几口人就行"),  # a count alone is fine
        ("好多人", "比如"),
    ],
)
def test_an_unclear_household_size_is_asked_again_kindly(said: str, hint: str) -> None:
    session = Session(answers={"today": TODAY})
    step = screening.answer_size(session, said)
    assert step.retry is not None
    text = render_reply("sms", step.retry.template, step.retry.values).text
    assert hint in text, text
    assert sms_length(text) <= SMS_MAX, text
    assert "size" not in session.answers


def test_a_one_person_household_is_asked_its_age_in_the_singular() -> None:
    run = complete({"size": "1", "ages": "68"})
    asked = [s for s in run.says if s.template == "screen_ages"]
    assert render_reply("sms", asked[0].template, asked[0].values).text.startswith("您今年")
    assert "own" not in run.asked


# --- the result ---------------------------------------------------------------------------


WORST_CASES = {
    "all unknown": {"size": "3"},
    "urgent": {**ELDERLY_COUPLE, "hardship": "1 2 3 4", "insurance": "2"},
    "disabled, ill and poor": {
        "district": "奉节",
        "area": "2",
        "receiving": "1",
        "rise": "不知道",
        "size": "3",
        "ages": "45 20 不知道",
        "situation": ["1 2", "1", "2 3"],
        "grade": ["3", "2"],
        "kind": "5",
        "hardship": "1 2 3 4",
    },
}


@pytest.mark.parametrize("name", list(WORST_CASES))
def test_the_result_fits_three_sms_parts_and_one_telegram_message(name: str) -> None:
    run = complete(WORST_CASES[name])
    assert run.last is not None
    (say,) = run.last.says
    assert say.template == "screening_result"
    sms = render_reply("sms", say.template, say.values)
    assert sms_length(sms.text) <= SMS_RESULT_MAX, sms.text
    sent = split(sms.text, more=render_reply("sms", "sms_more", {}).text)  # as the SMS channel
    assert len(sent.parts) <= 3
    assert not sent.truncated
    assert "不是审批决定" in sms.text
    assert "详细" in sms.text
    assert sms.choices == ("转交乡镇窗口", "不用")
    shown = [c for c, p in run.result["programs"].items() if p["verdict"] != "unlikely"]
    assert shown
    assert sms.text.count("\n") >= len(shown)  # one line each
    telegram = render_reply("telegram", say.template, say.values)
    assert len(telegram.text) <= TELEGRAM_MAX


def test_the_full_result_has_verdicts_reasons_sources_guidance_and_the_notice() -> None:
    run = complete(ELDERLY_COUPLE)
    assert run.last is not None
    say = run.last.says[0]
    text = render_reply("terminal", say.template, say.values).text
    for fragment in (
        "很可能符合",
        "低保（最低生活保障）",
        "家庭月人均收入250元，低于当地农村低保标准630元",
        "渝民〔2022〕239号 一(一)",  # a short citation, not the seed's file name
        "到哪里申请",
        "要带什么",
        "要多长时间",
        "不是审批决定",
        "1 转交乡镇窗口",
    ):
        assert fragment in text, fragment
    assert ".txt" not in text
    assert "policy_facts" not in text
    html = render_reply("telegram", say.template, say.values).text
    assert "<b>很可能符合</b>" in html
    detail = render_reply("sms", "screening_detail", say.values).text
    assert "要带什么" in detail
    assert "不是审批决定" in detail


def test_the_full_result_gives_each_reason_its_own_line_in_the_notices_words() -> None:
    run = complete(ELDERLY_COUPLE)
    assert run.last is not None
    say = run.last.says[0]
    for channel in ("web", "telegram", "terminal"):
        lines = render_reply(channel, say.template, say.values).text.splitlines()
        reasons = [p for p in run.result["programs"].values() if p["verdict"] != "unlikely"]
        for program in reasons:
            for reason in program["reasons"]:
                (line,) = [line for line in lines if reason["text"] in line]
                assert line.count(" · ") == 1, (channel, line)
        # the list of the rest says it as the notice does ("预筛查说“不太符合”的…")
        assert "不太符合：" in "\n".join(lines)
        assert "“不太符合”" in run.result["notice"]


def test_the_sms_detail_joins_reasons_without_doubled_stops() -> None:
    run = complete({"size": "2"})  # 不知道 to all else: every programme is to be checked
    assert run.last is not None
    detail = render_reply("sms", "screening_detail", run.last.says[0].values).text
    assert "要核实" in detail
    assert "。；" not in detail
    assert "。（" not in detail


def test_income_said_unknown_throughout_reads_as_unknown_not_as_zero() -> None:
    run = complete({"size": "2"})  # 不知道 to every income question
    assert run.last is not None
    for template in ("screening_result", "screening_detail"):
        text = render_reply("terminal", template, run.last.says[0].values).text
        assert "收入0元" not in text, text
        assert "家庭月人均收入还不清楚" in text
        assert "本人月收入还不清楚" in text
    known = complete({"size": "2", "labour": "600"})  # some known, the rest not
    assert known.last is not None
    text = render_reply("terminal", "screening_result", known.last.says[0].values).text
    assert "已知的家庭月人均收入300元（还有收入不清楚）" in text


def test_an_urgent_result_offers_the_referral_at_the_urgent_level() -> None:
    run = complete(WORST_CASES["urgent"])
    assert run.result["urgency"] == "urgent"
    assert run.session.offer == {"kind": "after_screening", "district": "万州区", "level": "urgent"}
    assert run.last is not None
    text = render_reply("sms", "screening_result", run.last.says[0].values).text
    assert "紧急" in text
    normal = complete(ELDERLY_COUPLE)
    assert normal.session.offer["level"] == "normal"


def test_short_sources() -> None:
    assert short_source("004_facdb4cf398febe9.txt 一(一)") == "渝民〔2022〕239号 一(一)"
    assert short_source("渝民发〔2021〕15号（policy_facts.md §6）") == "渝民发〔2021〕15号"
    assert short_source("渝府办发〔2022〕128号") == "渝府办发〔2022〕128号"


# --- reading the answers that are ours ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count", "ages"),
    [
        ("68", 1, [68]),
        ("不知道", 1, [None]),
        ("68 66", 2, [68, 66]),
        ("68，66", 2, [68, 66]),
        ("68岁 66岁", 2, [68, 66]),
        ("68岁66岁", 2, [68, 66]),
        ("我68 老伴66", 2, [68, 66]),
        ("我68老伴66", 2, [68, 66]),
        ("六十八 六十六", 2, [68, 66]),
        ("68 不知道 12", 3, [68, None, 12]),
        ("不知道", 3, [None, None, None]),
        ("１２ ３４", 2, [12, 34]),
        ("68 66", 3, None),
        ("68", 2, None),
        ("六七十 12", 2, None),
        ("好多岁", 2, None),
        ("", 2, None),
    ],
)
def test_parse_ages(text: str, count: int, ages: list[int | None] | None) -> None:
    assert parse_ages(text, count, dt.date(2025, 8, 1)) == ages


@pytest.mark.parametrize(
    ("text", "grade"),
    [
        ("2", 2),
        ("二级", 2),
        ("一级", 1),
        ("残疾证是3级的", 3),
        ("4级", 4),
        ("5", None),
        ("好", None),
    ],
)
def test_parse_grade(text: str, grade: int | None) -> None:
    assert parse_grade(text) == grade


def test_the_flow_table_and_its_diagram_name_the_same_states() -> None:
    diagram = screening.__file__.removesuffix(".py") + ".mmd"
    with open(diagram, encoding="utf-8") as fh:
        text = fh.read()
    for state in FLOW.order:
        assert state.upper() in text, state
