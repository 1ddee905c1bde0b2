"""The rules engine: its logic of unknowns, its output shape, its texts and its speed.

The verdicts themselves are in the YAML rule cases (test_rule_cases.py) and the
invariants in test_eligibility_properties.py.
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from knowledge import eligibility
from knowledge.eligibility import (
    Span,
    all3,
    any3,
    assess,
    le,
    lt,
    not3,
    verdict_of,
)
from knowledge.household import PROGRAMS, Household, HouseholdError, Income
from knowledge.kb import parse_source
from knowledge.parameters import ParameterError
from knowledge.places import UnknownPlace

# CONTRACTS.md, `residentbot screen`: the example household.
EXAMPLE: dict[str, Any] = {
    "as_of": "2025-08-01",
    "district": "奉节县",
    "area": "rural",
    "members": [
        {
            "age": 67,
            "employed": False,
            "student": False,
            "serious_illness": False,
            "disability_grade": 0,
            "disability_kind": None,
            "income": {
                "wages": 0,
                "business": 0,
                "farming": 150,
                "pension": 0,
                "basic_pension": 180,
                "support": 200,
                "other": 0,
            },
        }
    ],
    "financial_assets": 3000,
    "vehicle_values": [],
    "homes": 1,
    "legal_supporter": "able",
    "receiving": [],
    "income_rise_from_work": False,
    "hardship": {
        "sudden_event": False,
        "major_medical_expense": False,
        "basic_needs_unmet": False,
        "months_without_income": 0,
        "unemployment_insurance": False,
    },
}


NO_INCOME = {kind: 0 for kind in Income.kinds()}  # a kind left out would be unknown


def example(**changes: Any) -> Household:
    data = copy.deepcopy(EXAMPLE)
    data.update(changes)
    return Household.from_dict(data)


# --- three-valued logic ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tests", "and_", "or_"),
    [
        ((True, True), True, True),
        ((True, False), False, True),
        ((False, False), False, False),
        ((True, None), None, True),
        ((False, None), False, None),
        ((None, None), None, None),
    ],
)
def test_kleene_and_or(tests: tuple[bool | None, ...], and_: bool | None, or_: bool | None) -> None:
    assert all3(*tests) is and_
    assert any3(*tests) is or_


def test_not_and_verdicts() -> None:
    assert (not3(True), not3(False), not3(None)) == (False, True, None)
    assert (verdict_of(True), verdict_of(None), verdict_of(False)) == (
        "likely",
        "possible",
        "unlikely",
    )


def test_span_comparisons_decide_only_when_every_value_agrees() -> None:
    standard = Span(630, 770)  # the area is unknown
    assert lt(Span.of(300), standard) is True
    assert lt(Span.of(700), standard) is None
    assert lt(Span.of(770), standard) is False
    assert lt(Span.of(630), Span.of(630)) is False  # strictly lower
    assert le(Span.of(630), Span.of(630)) is True
    at_least_1000 = Span(1000, float("inf"))  # an income with an unknown part
    assert lt(at_least_1000, Span.of(945)) is False
    assert lt(Span(300, float("inf")), Span.of(630)) is None
    assert Span.of(5).exact == 5
    assert Span(1, 2).exact is None


# --- the output document ----------------------------------------------------------------


def test_the_document_has_the_contract_shape() -> None:
    document = assess(example()).to_dict()
    assert list(document) == [
        "as_of",
        "district",
        "area",
        "standard",
        "per_capita_income",
        "programs",
        "urgency",
        "notice",
        "guidance",
    ]
    assert list(document["programs"]) == list(PROGRAMS)
    assert len(PROGRAMS) == 9
    for code, program in document["programs"].items():
        expected = {"verdict", "reasons"}
        if code == "dibao":
            expected.add("amount_estimate")
        if code == "dibao_single":
            expected.add("members")
        assert set(program) == expected, code
        assert program["verdict"] in {"likely", "possible", "unlikely"}
        for reason in program["reasons"]:
            assert set(reason) == {"rule", "passed", "text", "source"}
            assert isinstance(reason["passed"], bool)
    assert document["urgency"] in {"emergency", "urgent", "none"}


def test_the_contract_example_gives_the_contract_answer() -> None:
    # counted: farming 150 + support 200 = 350 (basic pension 180 left out); 350 < 630;
    # amount (630 − 350) × 1 = 280; the only likely programs are 低保 and 医疗救助
    document = assess(example()).to_dict()
    assert document["as_of"] == "2025-08-01"
    assert document["district"] == "奉节县"
    assert document["area"] == "rural"
    assert document["standard"] == 630
    assert document["per_capita_income"] == 350.0
    dibao = document["programs"]["dibao"]
    assert dibao["verdict"] == "likely"
    assert dibao["amount_estimate"] == 280.0
    assert dibao["reasons"][0] == {
        "rule": "dibao.income",
        "passed": True,
        "text": "家庭月人均收入350元，低于当地农村低保标准630元",
        "source": "004_facdb4cf398febe9.txt 一(一)",
    }
    likely = {c for c, p in document["programs"].items() if p["verdict"] == "likely"}
    assert likely == {"dibao", "medical_aid"}
    assert document["programs"]["dibao_single"]["members"] == []
    assert document["urgency"] == "none"
    assert document["notice"].startswith("这是预筛查结果，不是审批决定")


def test_a_missing_date_means_today() -> None:
    household = example(as_of=None)
    assert assess(household, today=dt.date(2024, 9, 1)).to_dict()["standard"] == 610
    assert assess(household).as_of == dt.date.today()


def test_an_unknown_district_raises_the_places_error_with_suggestions() -> None:
    with pytest.raises(UnknownPlace) as info:
        assess(example(district="火星区"))
    message = str(info.value)
    assert "\n" not in message
    assert "火星区" in message
    assert info.value.suggestions
    assert all(name in message for name in info.value.suggestions)
    assert isinstance(info.value, LookupError)


def test_a_district_alias_is_reported_by_its_official_name() -> None:
    assert assess(example(district="奉节")).district == "奉节县"


def test_a_date_before_the_first_standard_is_a_clear_error() -> None:
    with pytest.raises(ParameterError, match="2021-09-01"):
        assess(example(as_of="2020-01-01"))


def test_guidance_tells_where_what_how_long_and_the_duty_to_report() -> None:
    guidance = {g.topic: g for g in assess(example()).guidance}
    assert list(guidance) == ["where", "documents", "timeline", "report_changes"]
    assert "乡镇" in guidance["where"].text
    assert "一门受理" in guidance["where"].text
    assert "授权书" in guidance["documents"].text
    assert "告知承诺" in guidance["documents"].text
    timeline = guidance["timeline"].text
    for figure in ("30个工作日", "20个工作日", "45个工作日", "公示7天"):
        assert figure in timeline
    assert "3个月" in guidance["report_changes"].text
    for item in guidance.values():
        for part in item.source.split("；"):
            parse_source(part, item.topic)


def test_guidance_in_an_emergency_and_before_the_deadlines_were_set() -> None:
    urgent = example(
        hardship={**EXAMPLE["hardship"], "basic_needs_unmet": True},
    )
    result = assess(urgent)
    assert result.urgency == "urgent"
    topics = [g.topic for g in result.guidance]
    assert topics[-1] == "urgent"
    assert "先行救助" in result.guidance[-1].text
    assert "急难发生地" in result.guidance[0].text  # 临时救助 is likely here
    early = {g.topic: g for g in assess(example(as_of="2022-10-01")).guidance}
    assert "工作日" not in early["timeline"].text  # CQ-2022 三(一) dates from 2022-11-25


def test_vehicle_proof_is_asked_for_when_a_vehicle_is_exempt() -> None:
    documents = {g.topic: g for g in assess(example(vehicle_values=[20000])).guidance}
    assert "机动车价值证明" in documents["documents"].text
    documents = {g.topic: g for g in assess(example()).guidance}
    assert "机动车" not in documents["documents"].text


# --- texts --------------------------------------------------------------------------------


def test_reasons_quote_the_actual_figures() -> None:
    result = assess(example(financial_assets=16000, vehicle_values=[31000]))
    texts_by_rule = {r.rule: r.text for r in result.programs["dibao"].reasons}
    assert "16000元" in texts_by_rule["property.assets"]
    assert "15120元" in texts_by_rule["property.assets"]
    assert "31000元" in texts_by_rule["property.vehicle"]
    assert "30000元" in texts_by_rule["property.vehicle"]
    fengjie = assess(
        example(members=[{**EXAMPLE["members"][0], "income": {"wages": 700}}])
    ).programs["dibao"]
    note = next(r.text for r in fengjie.reasons if r.rule == "income.employment_cost")
    assert "20%" in note
    assert "140元" in note  # 700 × 20 %


def test_each_rule_function_states_its_rule_and_cites_a_source() -> None:
    cite = re.compile(
        r"\d{3}_[0-9a-f]{16}\.txt|〔\d{4}〕|policy_facts\.md|RULES\.md|CQ-20|MCA-2021"
    )
    rules = [
        eligibility.counted_income,
        eligibility.household_income,
        eligibility.household_standard,
        eligibility.standard_notes,
        eligibility.income_notes,
        eligibility.assets_test,
        eligibility.vehicle_test,
        eligibility.homes_test,
        eligibility.property_test,
        eligibility.category_aid,
        eligibility.dibao_income,
        eligibility.dibao_amount,
        eligibility.dibao,
        eligibility.edge_income,
        eligibility.dibao_edge,
        eligibility.single_disabled_adult,
        eligibility.single_edge_member,
        eligibility.no_labour_capacity,
        eligibility.legal_supporter,
        eligibility.tekun,
        eligibility.linshi,
        eligibility.disability_living,
        eligibility.disability_care,
        eligibility.gradual_exit,
        eligibility.medical_aid,
        eligibility.urgency,
        eligibility.guidance,
    ]
    for rule in rules:
        doc = inspect.getdoc(rule) or ""
        assert cite.search(doc), rule.__name__


def test_texts_live_in_the_data_file_not_in_the_code() -> None:
    tree = ast.parse(Path(eligibility.__file__).read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    literals = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings  # docstrings may quote the sources
    ]
    assert literals
    assert not [s for s in literals if re.search(r"[\u4e00-\u9fff]", s)]


# --- `residentbot screen`, end to end -------------------------------------------------------

RESIDENTBOT = Path(sys.executable).parent / "residentbot"


def write_household(tmp_path: Path, **changes: Any) -> Path:
    path = tmp_path / "household.json"
    path.write_text(json.dumps({**EXAMPLE, **changes}, ensure_ascii=False), encoding="utf-8")
    return path


def test_cli_screen_json_on_the_contract_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["screen", str(write_household(tmp_path)), "--json"])
    document = json.loads(capsys.readouterr().out)
    # by hand: pc = (150 + 200) / 1 = 350 < 630 → 低保 likely, (630 − 350) × 1 = 280;
    # 67 with an able supporter → not 特困; no disability, hardship or 低保 now
    assert document["standard"] == 630
    assert document["per_capita_income"] == 350.0
    assert document["programs"]["dibao"]["amount_estimate"] == 280.0
    assert {code: p["verdict"] for code, p in document["programs"].items()} == {
        "dibao": "likely",
        "dibao_single": "unlikely",
        "dibao_edge": "unlikely",
        "tekun": "unlikely",
        "linshi": "unlikely",
        "disability_living": "unlikely",
        "disability_care": "unlikely",
        "gradual_exit": "unlikely",
        "medical_aid": "likely",
    }
    assert document["urgency"] == "none"


def test_cli_screen_explains_in_chinese(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["screen", str(write_household(tmp_path))])
    text = capsys.readouterr().out
    likely, unlikely = text.index("【很可能符合】"), text.index("【不太符合】")
    assert likely < text.index("最低生活保障") < unlikely
    assert likely < text.index("医疗救助") < unlikely
    assert unlikely < text.index("特困人员")
    assert "估算每月约280元" in text
    assert "家庭月人均收入350元，低于当地农村低保标准630元" in text
    assert "（依据：渝民〔2022〕239号 一(一)）" in text  # the document number, not the file
    assert "到哪里申请" in text
    assert "30个工作日" in text
    assert "这是预筛查结果，不是审批决定" in text


@pytest.mark.parametrize(
    "changes",
    [
        {"area": None},  # the standard depends on the area
        {"members": [{"age": 30, "disability_grade": None, "income": {"wages": None}}]},
        {"hardship": {**EXAMPLE["hardship"], "sudden_event": True}},
        {
            "members": [
                {"age": 50, "employed": True, "income": {**NO_INCOME, "wages": 2000}},
                {"age": 30, "employed": False, "disability_grade": 1, "income": NO_INCOME},
            ]
        },
        {"district": None, "as_of": "2021-10-01", "homes": 2},
    ],
    ids=["area unknown", "income unknown", "urgent", "single", "early and vague"],
)
def test_cli_screen_text_for_other_households(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: dict[str, Any]
) -> None:
    main(["screen", str(write_household(tmp_path, **changes))])
    text = capsys.readouterr().out
    assert "社会救助预筛查结果" in text
    assert "None" not in text
    if "hardship" in changes:
        assert text.index("！情况紧急时") < text.index("【很可能符合】")
    if "area" in changes:
        assert "要看按城市还是农村" in text
    if "members" in changes and len(changes["members"]) == 2:
        assert "涉及：第2位家庭成员" in text


def screen_in_a_subprocess(household: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """`residentbot screen - --json` as a separate process, the household on stdin."""
    return subprocess.run(
        [str(RESIDENTBOT), "screen", "-", "--json"],
        input=json.dumps(household, ensure_ascii=False),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_screen_from_stdin_in_a_subprocess() -> None:
    result = screen_in_a_subprocess(EXAMPLE)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["programs"]["dibao"]["verdict"] == "likely"
    assert document["programs"]["dibao"]["amount_estimate"] == 280.0
    assert document["programs"]["medical_aid"]["verdict"] == "likely"
    assert document["programs"]["tekun"]["verdict"] == "unlikely"


def test_cli_unknown_district_is_one_line_with_suggestions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["screen", str(write_household(tmp_path, district="奉杰镇")), "--json"])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert "不认识的区县" in lines[0]
    assert "unknown district" in lines[0]
    assert "奉节县" in lines[0]  # the closest match is named


def test_cli_unknown_district_in_a_subprocess() -> None:
    result = subprocess.run(
        [str(RESIDENTBOT), "screen", "-", "--json"],
        input=json.dumps({**EXAMPLE, "district": "火星区"}, ensure_ascii=False),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "火星区" in result.stderr


@pytest.mark.parametrize(
    ("raw", "zh", "en"),
    [
        ('{"members": [{]}', "不是有效的 JSON", "invalid JSON"),
        ("[1, 2]", "应为 JSON 对象", "must be a JSON object"),
        ('{"members": []}', "至少需要一名家庭成员", "needs at least one member"),
        (
            '{"members": [{"income": {"wages": -5}}]}',
            "members[0].income.wages: 不能是负数",
            "must not be negative",
        ),
        (
            '{"financial_assets": -1, "members": [{}]}',
            "financial_assets: 不能是负数",
            "must not be negative",
        ),
        (
            '{"vehicle_values": [-3], "members": [{}]}',
            "vehicle_values[0]: 不能是负数",
            "must not be negative",
        ),
        (
            '{"members": [{"income": {"other": 2e9}}]}',
            "应在0到1000000000之间",
            "within 0..1000000000",
        ),
        (
            '{"financial_assets": NaN, "members": [{}]}',
            "financial_assets: 应为数字",
            "must be a number",
        ),
        ('{"members": [{"age": 131}]}', "members[0].age: 应在0到130之间", "within 0..130"),
        ('{"members": [{}, {"age": -1}]}', "members[1].age: 不能是负数", "must not be negative"),
        ('{"members": [{"age": 12.5}]}', "members[0].age: 应为整数", "must be a whole number"),
        ('{"members": [{"age": "67"}]}', "members[0].age: 应为数字", "must be a number"),
        ('{"members": [{"disability_grade": 5}]}', "应在0到4之间", "within 0..4"),
        ('{"area": "city", "members": [{}]}', "area: 应为 urban / rural 之一", "must be one of"),
        (
            '{"as_of": "2025-13-01", "members": [{}]}',
            "as_of: 日期格式应为 YYYY-MM-DD",
            "YYYY-MM-DD",
        ),
        ('{"members": [{"income": {"salary": 1}}]}', "不认识的收入类别", "unknown income kind"),
        (
            '{"members": [{"income": {"wage": 1}}]}',
            "members[0].income.wage: 不认识的收入类别（您是不是说 wages）",
            "unknown income kind (did you mean wages?)",
        ),
        (
            '{"members": [{"agee": 67}]}',
            "members[0].agee: 不认识的字段（您是不是说 age）",
            "unknown field (did you mean age?)",
        ),
        (
            '{"members": [{}], "hardship": {"sudden_evnt": true}}',
            "hardship.sudden_evnt: 不认识的字段（您是不是说 sudden_event）",
            "unknown field (did you mean sudden_event?)",
        ),
        ('{"members": [{}], "pets": 2}', "pets: 不认识的字段", "unknown field"),
    ],
    ids=lambda value: value if len(value) < 30 else value[:30],
)
def test_cli_bad_input_is_one_line_in_chinese_and_english(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: str, zh: str, en: str
) -> None:
    path = tmp_path / "household.json"
    path.write_text(raw, encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["screen", str(path), "--json"])
    assert info.value.code not in (0, None)
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert zh in lines[0]
    assert en in lines[0]
    assert "e+" not in lines[0]  # figures as people write them


def test_a_misspelt_field_is_refused_not_dropped() -> None:
    """A dropped `finacial_assets` left the assets unknown: 999999 yuan unseen."""
    data = {**copy.deepcopy(EXAMPLE), "finacial_assets": 999999}
    del data["financial_assets"]
    with pytest.raises(HouseholdError) as info:
        Household.from_dict(data)
    assert info.value.path == "finacial_assets"
    assert str(info.value) == (
        "finacial_assets: 不认识的字段（您是不是说 financial_assets） / "
        "unknown field (did you mean financial_assets?)"
    )


def test_cli_misspelt_field_in_a_subprocess() -> None:
    result = screen_in_a_subprocess({**EXAMPLE, "finacial_assets": 999999})
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "finacial_assets: 不认识的字段（您是不是说 financial_assets）" in lines[0]
    assert "unknown field (did you mean financial_assets?)" in lines[0]


# --- unknown = null or missing (CONTRACTS.md) ------------------------------------------------


def test_a_member_without_income_has_an_unknown_income_not_none() -> None:
    household = example(members=[{"age": 40, "employed": False}])
    income = household.members[0].income
    assert all(getattr(income, kind) is None for kind in Income.kinds())
    result = assess(household)
    assert result.per_capita_income is None  # not 0: nothing is known of it
    assert result.programs["dibao"].verdict == "possible"


def test_an_income_kind_left_out_is_unknown() -> None:
    household = example(members=[{**EXAMPLE["members"][0], "income": {"farming": 150}}])
    income = household.members[0].income
    assert income.farming == 150
    assert income.wages is None
    assert income.support is None
    assert assess(household).programs["dibao"].verdict == "possible"
    # known income already at 1.5 × S decides it whatever the rest is
    rich = example(members=[{**EXAMPLE["members"][0], "income": {"farming": 2000}}])
    assert assess(rich).programs["dibao"].verdict == "unlikely"


def test_hardship_answers_left_out_are_unknown() -> None:
    household = example(hardship={"months_without_income": 0})
    assert household.hardship.sudden_event is None
    assert household.hardship.unemployment_insurance is None
    assert assess(household).programs["linshi"].verdict == "possible"
    assert assess(example(hardship=None)).programs["linshi"].verdict == "possible"
    assert assess(example()).programs["linshi"].verdict == "unlikely"  # all answered no


def test_a_blank_district_is_a_district_not_given() -> None:
    result = assess(example(district="  "))
    assert result.district is None
    assert "district.unknown" in [r.rule for r in result.programs["dibao"].reasons]


@pytest.mark.parametrize("as_of", ["2022-10-01", "2025-08-01"])
def test_the_short_guidance_says_each_step_in_one_sms_part_from_the_same_source(
    as_of: str,
) -> None:
    guidance = {g.topic: g for g in assess(example(as_of=as_of)).guidance}
    short = {t: guidance[t] for t in ("where", "documents", "timeline")}
    for item in short.values():
        assert 0 < len(item.short) <= 67, item  # one part of a Chinese SMS
        assert item.source
    assert short["where"].short != short["where"].text  # a short form, not the full text
    if as_of == "2025-08-01":
        assert "30个工作日" in short["timeline"].short
    else:  # before CQ-2022 set the deadlines: the township tells
        assert "告知为准" in short["timeline"].short
