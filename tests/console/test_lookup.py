"""The operator lookup over HTTP: answers with sources, standards, screening, referrals."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Callable

import pytest

from bot.console.lookup import household_from_form, today
from dialogues.screening import short_source
from knowledge.eligibility import assess, verdicts
from knowledge.household import Household, HouseholdError
from knowledge.parameters import parameters_at
from knowledge.search import default_index
from knowledge.triage import triage
from tests.console.helpers import Browser, Server, logged_in

Make = Callable[[], Browser]
PROGRAM = re.compile(r'class="program verdict-(\w+)" data-program="(\w+)"')

# The CONTRACTS.md example household, as an operator types it into the form.
FORM = {
    "district": "奉节县",
    "area": "rural",
    "as_of": "2025-08-01",
    "members[0].age": "67",
    "members[0].employed": "no",
    "members[0].student": "no",
    "members[0].serious_illness": "no",
    "members[0].disability_grade": "0",
    "members[0].income.farming": "150",
    "members[0].income.basic_pension": "180",
    "members[0].income.support": "200",
    "financial_assets": "3000",
    "vehicle_values": "0",
    "homes": "1",
    "legal_supporter": "able",
}
CONTRACT_HOUSEHOLD = {
    "as_of": "2025-08-01",
    "district": "奉节县",
    "area": "rural",
    "members": [
        {"age": 67, "employed": False, "student": False, "serious_illness": False,
         "disability_grade": 0, "disability_kind": None,
         "income": {"wages": 0, "business": 0, "farming": 150, "pension": 0,
                    "basic_pension": 180, "support": 200, "other": 0}}
    ],
    "financial_assets": 3000,
    "vehicle_values": [],
    "homes": 1,
    "legal_supporter": "able",
    "receiving": [],
    "income_rise_from_work": None,
    "hardship": {"sudden_event": False, "major_medical_expense": False,
                 "basic_needs_unmet": False, "months_without_income": 0,
                 "unemployment_insurance": None},
}  # fmt: skip


async def operator(browser: Make) -> Browser:
    return await logged_in(browser, "op")


@pytest.mark.parametrize(
    "question", ["吃低保要什么条件", "残疾人护理补贴每月多少", "临时救助怎么申请"]
)
async def test_the_lookup_answers_with_sources_and_related_topics(
    server: Server, browser: Make, question: str
) -> None:
    b = await operator(browser)
    status, body = await b.get(f"/lookup?q={question}")
    assert status == 200
    result = default_index().search(question, top=5)
    assert result.answered
    assert result.best is not None
    entry = default_index().get(result.best.id)
    assert entry is not None
    assert f'data-entry="{entry.id}"' in body
    assert html.escape(entry.answer) in body
    for source in entry.sources:
        assert html.escape(source.cite) in body
    for related in entry.related:
        assert f'href="/lookup?id={related}"' in body


async def test_out_of_scope_questions_are_not_answered(server: Server, browser: Make) -> None:
    b = await operator(browser)
    status, body = await b.get("/lookup?q=护照怎么办理")
    assert status == 200
    assert not default_index().search("护照怎么办理").answered
    assert 'id="no-answer"' in body
    assert 'id="answer"' not in body


async def test_an_entry_can_be_opened_by_id(server: Server, browser: Make) -> None:
    b = await operator(browser)
    status, body = await b.get("/lookup?id=dibao.standard")
    assert status == 200
    assert 'data-entry="dibao.standard"' in body
    status, _ = await b.get("/lookup?id=no.such_entry")
    assert status == 404


async def test_the_search_api_returns_the_contract_json(server: Server, browser: Make) -> None:
    b = await operator(browser)
    async with b.session.get(server.url + "/api/kb/search", params={"q": "吃低保要什么条件"}) as r:
        assert r.status == 200
        assert r.content_type == "application/json"
        data = await r.json()
    assert data == json.loads(json.dumps(default_index().search("吃低保要什么条件").to_dict()))
    assert set(data) == {"query", "answered", "results"}
    assert '"吃低保' in (await (await b.session.get(
        server.url + "/api/kb/search", params={"q": "吃低保"})).text())  # fmt: skip


async def test_standards_of_a_district_on_a_day(server: Server, browser: Make) -> None:
    b = await operator(browser)
    status, body = await b.get("/lookup/standards?district=南岸&date=2025-08-01")
    assert status == 200
    p = parameters_at(dt.date(2025, 8, 1), "南岸区")
    assert p.dibao_rural == p.dibao_urban  # 南岸区 pays rural residents the urban standard
    assert f"<strong>{int(p.dibao_urban)}</strong>元/人·月" in body
    assert "本区县农村居民按城市标准" in body
    assert short_source(p.sources["dibao_standard_urban"].reference) in body
    assert ".txt" not in body  # sources by their document numbers, not the seed files
    assert "policy_facts.md" not in body
    city = parameters_at(dt.date(2025, 8, 1))
    _, body = await b.get("/lookup/standards?date=2025-08-01")
    assert f"<strong>{int(city.dibao_rural)}</strong>元/人·月" in body
    assert "本区县农村居民按城市标准" not in body


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date=2020-01-01", "2021-09-01"),
        ("date=yesterday", "日期格式"),
        ("district=火星", "无法识别"),
    ],
)
async def test_standards_explain_what_they_cannot_show(
    server: Server, browser: Make, query: str, message: str
) -> None:
    b = await operator(browser)
    status, body = await b.get(f"/lookup/standards?{query}")
    assert status == 400
    assert message in body


def test_the_form_becomes_the_contract_household() -> None:
    assert household_from_form(FORM) == Household.from_dict(CONTRACT_HOUSEHOLD)


def test_empty_member_rows_are_left_out_and_unknowns_stay_unknown() -> None:
    form = {**FORM, "members[2].age": "8", "members[2].student": "yes", "financial_assets": ""}
    household = household_from_form(form)
    assert [m.age for m in household.members] == [67, 8]
    assert household.members[1].student is True
    assert household.members[1].employed is None
    assert household.financial_assets is None
    assert household.members[1].income.wages == 0  # empty income counts as 0


def test_a_bad_number_names_its_field() -> None:
    with pytest.raises(HouseholdError) as bad:
        household_from_form({**FORM, "members[0].income.wages": "三千"})
    assert bad.value.path == "members[0].income.wages"


async def test_the_screening_shows_the_assessment(server: Server, browser: Make) -> None:
    b = await operator(browser)
    status, body, _ = await b.post("/lookup/screen", FORM)
    assert status == 200
    expected = verdicts(assess(Household.from_dict(CONTRACT_HOUSEHOLD), today()))
    shown = {code: verdict for verdict, code in PROGRAM.findall(body)}
    assert shown == expected
    assert shown["dibao"] == "likely"
    assert "估算每月约280元" in body
    assert "渝民〔2022〕239号 一(一)" in body  # reasons come with their sources,
    assert ".txt" not in body  # named by their document numbers, as residents see them
    assert "policy_facts.md" not in body
    assert 'id="referral-form"' in body  # an operator can refer the caller from here


async def test_every_choice_of_the_screening_form_says_something_different(
    server: Server, browser: Make
) -> None:
    b = await operator(browser)
    _, body = await b.get("/lookup/screen")
    selects = re.findall(r'<select id="([^"]+)"[^>]*>(.*?)</select>', body, re.S)
    assert selects
    for name, options in selects:
        labels = re.findall(r"<option[^>]*>([^<]*)</option>", options)
        assert len(labels) == len(set(labels)), (name, labels)


async def test_staff_may_screen_but_not_refer(server: Server, browser: Make) -> None:
    b = browser()
    await b.login("staff_a")
    status, body, _ = await b.post("/lookup/screen", FORM)
    assert status == 200
    assert 'data-program="dibao"' in body
    assert 'id="referral-form"' not in body


async def test_a_screening_error_marks_the_field(server: Server, browser: Make) -> None:
    b = await operator(browser)
    status, body, _ = await b.post("/lookup/screen", {**FORM, "members[0].age": "七十"})
    assert status == 400
    assert 'name="members[0].age" inputmode="decimal" value="七十" aria-invalid="true"' in body
    assert 'id="result"' not in body


def referral_form(**more: str) -> dict[str, str]:
    return {"district": "渝中区", "township": "解放碑", "mobile": "138 0013 8000",
            "level": "normal", "note": "老人瘫痪在床没人照顾", "consent": "yes",
            "nonce": "nonce-0123456789abcdef", **more}  # fmt: skip


async def test_an_operator_refers_a_caller_once(server: Server, browser: Make) -> None:
    b = await operator(browser)
    status, body, _ = await b.post("/lookup/referral", referral_form())
    assert status == 200
    reference = re.search(r'id="reference">(\d+)<', body)
    assert reference is not None
    referral = await server.services.referrals.get(reference.group(1))
    assert referral is not None
    assert (referral.queue, referral.channel, referral.address, referral.contact) == (
        "渝中区/解放碑街道",
        "sms",
        "+8613800138000",  # as the SMS channel knows the resident: opt-out, replies
        "13800138000",
    )
    assert referral.consent
    urgency = triage("老人瘫痪在床没人照顾")
    assert urgency.level == "urgent"
    assert referral.level == "urgent"  # the note names an urgent case, whatever was chosen
    assert referral.signals == list(urgency.signals)
    assert [(m["author"], m["text"]) for m in referral.thread] == [("op", "老人瘫痪在床没人照顾")]
    status, again, _ = await b.post("/lookup/referral", referral_form())  # a double submit
    assert status == 200
    assert f'id="reference">{referral.reference}<' in again
    after = await server.services.referrals.get(referral.reference)
    assert after is not None
    assert len(after.thread) == 1
    staff = browser()
    await staff.login("staff_a")
    status, page = await staff.get(f"/console/referral/{referral.reference}")
    assert status == 200
    assert "孙八" in page  # the operator's note is signed


async def test_a_referral_after_a_screening_carries_it(server: Server, browser: Make) -> None:
    b = await operator(browser)
    _, body, _ = await b.post("/lookup/screen", FORM)
    household = html.unescape(re.search(r'name="household" value="([^"]*)"', body).group(1))  # type: ignore[union-attr]
    nonce = re.search(r'name="nonce" value="([^"]*)"', body).group(1)  # type: ignore[union-attr]
    form = referral_form(household=household, nonce=nonce, district="奉节县", township="", note="")
    status, created, _ = await b.post("/lookup/referral", form)
    assert status == 200
    reference = re.search(r'id="reference">(\d+)<', created).group(1)  # type: ignore[union-attr]
    referral = await server.services.referrals.get(reference)
    assert referral is not None
    assert referral.queue == "奉节县"  # no township given: the district's queue
    assert referral.screening is not None
    assert referral.screening["programs"]["dibao"]["verdict"] == "likely"
    assert referral.level == "normal"
    assert referral.thread == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"consent": ""}, "请先征得来电人同意"),
        ({"mobile": "023-6388 0000"}, "手机号"),
        ({"district": ""}, "请选择区县"),
        ({"district": "火星区"}, "无法识别"),
        ({"township": "没有这个街道"}, "找不到乡镇"),
        ({"household": "{not json"}, "家庭情况有误"),
    ],
)
async def test_a_referral_needs_consent_a_mobile_and_a_place(
    server: Server, browser: Make, change: dict[str, str], message: str
) -> None:
    b = await operator(browser)
    status, body, _ = await b.post("/lookup/referral", referral_form(**change))
    assert status == 400
    assert message in body
    assert await server.services.referrals.list(["渝中区", "渝中区/*", "unrouted"]) == []
