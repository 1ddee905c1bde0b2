"""Invariants of the pre-screening, checked on generated households (hypothesis).

- assess never raises on a valid household, and always answers all nine programs;
- more counted income never makes 低保 more likely; the basic pension changes nothing;
- a later date never gives a lower standard;
- an unknown never turns a verdict reached on known facts into another definite one
  (it can only become `possible`), so `unlikely` never becomes `likely`;
- `likely` 低保 implies `likely` 医疗救助, and never `likely` 低保边缘 at the same time.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.eligibility import RANK, assess
from knowledge.household import DISABILITY_KINDS, PROGRAMS, SUPPORTERS, Household, Income
from knowledge.parameters import earliest_date, parameters_at, standard_for

FIRST = dt.date(2021, 9, 1)
LAST = dt.date(2030, 12, 31)
DISTRICTS = [None, "南岸区", "奉节县", "渝中区", "万州区", "石柱土家族自治县"]
COUNTED = ("wages", "business", "farming", "pension", "support", "other")

cents = st.integers(0, 400_000).map(lambda c: c / 100)  # 0 … 4000 yuan, to the fen
# Mostly no income of a kind, often a figure near a standard or its 1.5 times, so that
# generated households land on every side of the tests.
incomes = st.one_of(
    st.just(0.0),
    st.sampled_from([100.0, 300.0, 515.0, 581.0, 600.0, 630.0, 735.0, 770.0, 945.0, 1155.0]),
    st.integers(0, 150_000).map(lambda c: c / 100),
)
assets = st.one_of(
    st.sampled_from([0.0, 12360.0, 15120.0, 15121.0, 18480.0, 30000.0, 50000.0, 50001.0]),
    st.integers(0, 120_000).map(float),
)
rarely = st.sampled_from([False, False, False, True])  # hardship is the exception
vehicles = st.lists(
    st.sampled_from([0, 29_999, 30_000, 30_001]) | st.integers(0, 60_000), max_size=2
)


def maybe(strategy: st.SearchStrategy[Any], known: bool) -> st.SearchStrategy[Any]:
    return strategy if known else st.none() | strategy


def members(known: bool) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "age": maybe(st.integers(0, 100), known),
            "employed": maybe(st.booleans(), known),
            "student": maybe(st.booleans(), known),
            "serious_illness": maybe(st.booleans(), known),
            "disability_grade": maybe(st.integers(0, 4), known),
            "disability_kind": st.none() | st.sampled_from(DISABILITY_KINDS),
            "income": st.fixed_dictionaries({kind: maybe(cents, known) for kind in Income.kinds()}),
        }
    )


def households(known: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """Valid households (CONTRACTS.md JSON); `known=True`: every fact known."""
    return st.fixed_dictionaries(
        {
            "as_of": st.dates(FIRST, LAST).map(dt.date.isoformat),
            "district": st.sampled_from(DISTRICTS),
            "area": maybe(st.sampled_from(["urban", "rural"]), known),
            "members": st.lists(members(known), min_size=1, max_size=4),
            "financial_assets": maybe(assets, known),
            "vehicle_values": maybe(vehicles, known),
            "homes": maybe(st.integers(0, 3), known),
            "legal_supporter": maybe(
                st.sampled_from([s for s in SUPPORTERS if s != "unknown"]), known
            )
            if known
            else st.none() | st.sampled_from(SUPPORTERS),
            "receiving": st.lists(st.sampled_from(PROGRAMS), unique=True, max_size=3),
            "income_rise_from_work": maybe(st.booleans(), known),
            "hardship": st.fixed_dictionaries(
                {
                    "sudden_event": maybe(rarely, known),
                    "major_medical_expense": maybe(rarely, known),
                    "basic_needs_unmet": maybe(rarely, known),
                    "months_without_income": maybe(st.integers(0, 12), known),
                    "unemployment_insurance": maybe(rarely, known),
                }
            ),
        }
    )


def verdicts(data: dict[str, Any]) -> dict[str, str]:
    result = assess(Household.from_dict(data))
    return {code: program.verdict for code, program in result.programs.items()}


@settings(max_examples=300)
@given(households())
def test_assess_never_raises_and_always_answers_all_nine(data: dict[str, Any]) -> None:
    household = Household.from_dict(data)
    before = household.to_dict()
    document = assess(household).to_dict()
    assert household.to_dict() == before  # pure: the input is left alone
    assert list(document["programs"]) == list(PROGRAMS)
    for program in document["programs"].values():
        assert program["verdict"] in RANK
        assert program["reasons"]
        for reason in program["reasons"]:  # every text filled in, whatever is unknown
            assert not re.search(r"\s|None|\?|\{|\}", reason["text"]), reason
    dibao = document["programs"]["dibao"]
    if dibao["amount_estimate"] is not None:
        assert dibao["verdict"] != "unlikely"
        assert dibao["amount_estimate"] >= 0
    single = document["programs"]["dibao_single"]
    assert bool(single["members"]) == (single["verdict"] != "unlikely")
    assert all(0 <= i < len(data["members"]) for i in single["members"])
    assert document["urgency"] in {"urgent", "none"}
    assert assess(Household.from_dict(data)).to_dict() == document  # deterministic


@settings(max_examples=300)
@given(
    households(),
    st.integers(0, 5),
    st.sampled_from(COUNTED),
    st.integers(1, 300_000).map(lambda c: c / 100),
)
def test_more_income_never_makes_dibao_more_likely(
    data: dict[str, Any], index: int, kind: str, extra: float
) -> None:
    member = data["members"][index % len(data["members"])]
    if member["income"][kind] is None:
        member["income"][kind] = 0.0
    before = verdicts(data)["dibao"]
    richer = copy.deepcopy(data)
    richer["members"][index % len(data["members"])]["income"][kind] += extra
    assert RANK[verdicts(richer)["dibao"]] <= RANK[before]


@given(households(), st.integers(0, 5), st.integers(1, 300_000).map(lambda c: c / 100))
def test_the_basic_pension_changes_nothing(data: dict[str, Any], index: int, extra: float) -> None:
    member = data["members"][index % len(data["members"])]
    member["income"]["basic_pension"] = (member["income"]["basic_pension"] or 0) + extra
    without = copy.deepcopy(data)
    without["members"][index % len(data["members"])]["income"]["basic_pension"] = 0
    assert verdicts(data) == verdicts(without)


@given(
    st.dates(earliest_date(), LAST),
    st.dates(earliest_date(), LAST),
    st.sampled_from(["urban", "rural"]),
    st.sampled_from(DISTRICTS),
)
def test_a_later_date_never_gives_a_lower_standard(
    a: dt.date, b: dt.date, area: str, district: str | None
) -> None:
    early, late = sorted((a, b))
    assert standard_for(early, area, district) is not None
    assert standard_for(early, area, district) <= standard_for(late, area, district)  # type: ignore[operator]
    assert parameters_at(early, district).tekun_basic <= parameters_at(late, district).tekun_basic


FORGETTABLE = (
    "area",
    "financial_assets",
    "vehicle_values",
    "homes",
    "legal_supporter",
    "income_rise_from_work",
)
MEMBER_FORGETTABLE = ("age", "employed", "student", "serious_illness", "disability_grade")
HARDSHIP_FORGETTABLE = (
    "sudden_event",
    "major_medical_expense",
    "basic_needs_unmet",
    "months_without_income",
    "unemployment_insurance",
)


def forget(data: dict[str, Any], choices: list[int]) -> dict[str, Any]:
    """A copy of the household where the facts picked by `choices` are unknown (the
    district is not among them: an unknown district uses the city-wide values)."""
    out = copy.deepcopy(data)
    slots: list[tuple[dict[str, Any], str]] = [(out, name) for name in FORGETTABLE]
    slots += [(out["hardship"], name) for name in HARDSHIP_FORGETTABLE]
    for member in out["members"]:
        slots += [(member, name) for name in MEMBER_FORGETTABLE]
        slots += [(member["income"], name) for name in Income.kinds()]
    for choice in choices:
        target, name = slots[choice % len(slots)]
        target[name] = None
    return out


@settings(max_examples=400)
@given(households(known=True), st.lists(st.integers(0, 10_000), min_size=1, max_size=6))
def test_an_unknown_only_ever_turns_a_verdict_into_possible(
    data: dict[str, Any], choices: list[int]
) -> None:
    known = verdicts(data)
    vaguer = verdicts(forget(data, choices))
    for code in PROGRAMS:
        assert vaguer[code] in (known[code], "possible"), code
        if known[code] == "unlikely":
            assert vaguer[code] != "likely", code


@settings(max_examples=300)
@given(households())
def test_likely_dibao_means_likely_medical_aid_and_not_the_edge(data: dict[str, Any]) -> None:
    result = verdicts(data)
    if result["dibao"] == "likely":
        assert result["medical_aid"] == "likely"
        assert result["dibao_edge"] != "likely"


@given(households(known=True))
def test_per_capita_income_is_the_counted_income_shared_out(data: dict[str, Any]) -> None:
    # RULES.md "Income": every counted kind, the basic pension left out, 20 % of wages
    # deducted in 奉节县 only
    rate = 0.2 if data["district"] == "奉节县" else 0.0
    total = sum(
        m["income"]["wages"] * (1 - rate) + sum(m["income"][k] for k in COUNTED if k != "wages")
        for m in data["members"]
    )
    document = assess(Household.from_dict(data)).to_dict()
    assert abs(document["per_capita_income"] - total / len(data["members"])) <= 0.011


def _everyone_known(members: int, wages: float, assets: float, area: str, day: dt.date) -> Any:
    income = {kind: 0 for kind in Income.kinds()}
    people = [
        {"age": 40, "employed": i == 0, "student": False, "serious_illness": False,
         "disability_grade": 0, "disability_kind": None,
         "income": {**income, "wages": wages if i == 0 else 0}}
        for i in range(members)
    ]  # fmt: skip
    return {
        "as_of": day.isoformat(),
        "district": "渝中区",  # no wage deduction: the wages are counted as they are
        "area": area,
        "members": people,
        "financial_assets": assets,
        "vehicle_values": [],
        "homes": 1,
        "legal_supporter": "able",
        "receiving": [],
        "income_rise_from_work": False,
        "hardship": {"sudden_event": False, "major_medical_expense": False,
                     "basic_needs_unmet": False, "months_without_income": 0,
                     "unemployment_insurance": False},
    }  # fmt: skip


@given(
    st.integers(1, 7),
    st.integers(-5, 5),
    st.sampled_from(["urban", "rural"]),
    st.dates(earliest_date(), LAST),
)
def test_boundaries_are_decided_to_the_fen(members: int, fen: int, area: str, day: dt.date) -> None:
    # a household income `fen` fen away from S × n, or from 1.5 S × n, or savings `fen`
    # fen away from 24 S × n: the verdict turns exactly at the boundary, however the
    # share per person would round (2309.99 / 3 = 769.997 is lower than 770)
    s = standard_for(day, area, "渝中区")
    assert s is not None
    at_s = _everyone_known(members, (round(s * 100) * members + fen) / 100, 0, area, day)
    result = verdicts(at_s)
    assert result["dibao"] == ("likely" if fen < 0 else "unlikely")
    assert result["dibao_edge"] == ("unlikely" if fen < 0 else "likely")
    edge = round(s * 150) * members + fen
    at_edge = _everyone_known(members, edge / 100, 0, area, day)
    assert verdicts(at_edge)["dibao_edge"] == ("likely" if fen < 0 else "unlikely")
    limit = round(s * 2400) * members + fen
    savings = _everyone_known(members, 0, limit / 100, area, day)
    if day >= dt.date(2022, 1, 1):  # the first recorded asset limit
        assert verdicts(savings)["dibao"] == ("likely" if fen <= 0 else "unlikely")
    document = assess(Household.from_dict(at_s)).to_dict()
    assert abs(document["per_capita_income"] - (s * members + fen / 100) / members) <= 0.01
    if fen < 0:  # the gap to the standard, to the fen
        assert document["programs"]["dibao"]["amount_estimate"] == pytest.approx(-fen / 100)
