"""The rule cases of `tests/knowledge/cases/*.yaml`, written for a policy officer to read.

A case file (OpenFisca style):

    base: {...}        # household fields every case starts from (CONTRACTS.md JSON)
    member: {...}      # fields every member starts from (income kinds merged one by one)
    cases:
      - name: 农村单人户，人均收入低于标准
        # hand computation in a comment
        input: {...}   # replaces the base's top-level fields it names
        today: 2025-08-01             # optional: the day when `as_of` is missing
        output:                       # only the fields the case is about
          programs.dibao.verdict: likely
          per_capita_income: 350
          programs.dibao.reason_rules: [income.basic_pension]   # these rules are among the reasons
          guidance.4.topic: urgent    # list items by position, from 0
        error: ParameterError         # or: the case must raise this error

An explicit `null` in a case means "not known" and is kept.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge.eligibility import assess, texts
from knowledge.household import Household
from knowledge.kb import parse_source

CASES_DIR = Path(__file__).resolve().parent / "cases"


def _merge_member(default: Mapping[str, Any], member: Mapping[str, Any]) -> dict[str, Any]:
    out = {**default, **member}
    out["income"] = {**(default.get("income") or {}), **(member.get("income") or {})}
    return out


def build_input(spec: Mapping[str, Any], case: Mapping[str, Any]) -> dict[str, Any]:
    data = {**(spec.get("base") or {}), **(case.get("input") or {})}
    default = spec.get("member") or {}
    data["members"] = [_merge_member(default, m) for m in data.get("members") or [{}]]
    if isinstance(data.get("as_of"), dt.date):
        data["as_of"] = data["as_of"].isoformat()
    return data


def load_cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in spec["cases"]:
            params.append(pytest.param(spec, case, id=f"{path.stem}: {case['name']}"))
    return params


CASES = load_cases()


def lookup(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit():
            assert int(part) < len(value), f"{path}: no item {part}"
            value = value[int(part)]
            continue
        assert isinstance(value, Mapping), f"{path}: {part} is not in {value!r}"
        assert part in value, f"{path}: no field {part!r}"
        value = value[part]
    return value


def check(document: Mapping[str, Any], path: str, expected: Any) -> None:
    if path.endswith(".reason_rules"):
        reasons = lookup(document, path.rsplit(".", 1)[0] + ".reasons")
        rules = [r["rule"] for r in reasons]
        missing = [rule for rule in expected if rule not in rules]
        assert not missing, f"{path}: {missing} not among {rules}"
        return
    actual = lookup(document, path)
    if isinstance(expected, float | int) and not isinstance(expected, bool):
        assert actual == pytest.approx(expected, abs=0.005), path
    else:
        assert actual == expected, path


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize(("spec", "case"), CASES)
def test_rule_case(spec: Mapping[str, Any], case: Mapping[str, Any]) -> None:
    household = Household.from_dict(build_input(spec, case))
    today = case.get("today")
    if "error" in case:
        with pytest.raises(LookupError) as info:
            assess(household, today=today)
        assert type(info.value).__name__ == case["error"]
        assert "\n" not in str(info.value)
        return
    document = assess(household, today=today).to_dict()
    assert case["output"], "a case checks at least one field"
    for path, expected in case["output"].items():
        check(document, path, expected)


def case_households() -> list[Household]:
    """Every household of the YAML rule cases that assesses without an error."""
    out = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in spec["cases"]:
            if "error" not in case:
                household = Household.from_dict(build_input(spec, case))
                if household.as_of is None:
                    household.as_of = dt.date(2025, 8, 1)
                out.append(household)
    return out


def test_every_rule_text_is_used_by_some_case_and_reads_cleanly() -> None:
    seen: set[str] = set()
    for household in case_households():
        for program in assess(household).programs.values():
            for reason in program.reasons:
                seen.add(reason.rule)
                assert reason.text, reason.rule
                assert not re.search(r"\s|None|\{|\}|\?", reason.text), (reason.rule, reason.text)
                for part in reason.source.split("；"):
                    parse_source(part, reason.rule)
    assert set(texts().rules) - seen == set()
