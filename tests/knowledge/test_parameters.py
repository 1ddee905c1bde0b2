"""The dated parameters carry RULES.md's parameter table, each value with its source."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from pathlib import Path

import pytest

from knowledge.kb import parse_source
from knowledge.parameters import (
    ParameterError,
    earliest_date,
    load_parameter,
    load_parameters,
    parameters_at,
    standard_for,
)
from knowledge.places import UnknownPlace, resolve_district

D = dt.date

# RULES.md "Parameters": 低保 standards (yuan per person per month) by start date,
# copied by hand from the table, with 特困 basic support as published.
STANDARDS = [
    # start,          urban, rural, 特困
    (D(2021, 9, 1), 636, 515, 827),
    (D(2022, 9, 1), 717, 581, 932),
    (D(2023, 9, 1), 735, 600, 955),
    (D(2024, 9, 1), 750, 610, 975),
    (D(2025, 7, 1), 770, 630, 1001),
]


def test_every_file_loads_and_every_value_cites_a_source() -> None:
    params = load_parameters()
    assert len(params) == 13
    for param in params.values():
        assert param.description
        history = list(param.values) + [v for vs in param.districts.values() for v in vs]
        for value in history:
            assert value.unit, (param.name, value.start)
            # a seed file and section, or a notice with its policy_facts.md section
            parse_source(value.reference, f"{param.name} {value.start}")


@pytest.mark.parametrize(("start", "urban", "rural", "tekun"), STANDARDS)
def test_standards_on_the_day_they_start(
    start: dt.date, urban: int, rural: int, tekun: int
) -> None:
    p = parameters_at(start)
    assert (p.dibao_urban, p.dibao_rural, p.tekun_basic) == (urban, rural, tekun)
    assert p.standard("urban") == urban
    assert p.standard("rural") == rural
    assert p.standard(None) is None


@pytest.mark.parametrize(("before", "after"), list(itertools.pairwise(STANDARDS)), ids=str)
def test_the_day_before_a_change_keeps_the_old_standard(
    before: tuple[dt.date, int, int, int], after: tuple[dt.date, int, int, int]
) -> None:
    eve = after[0] - dt.timedelta(days=1)
    assert standard_for(eve, "urban") == before[1]
    assert standard_for(eve, "rural") == before[2]
    assert standard_for(after[0], "urban") == after[1]


@pytest.mark.parametrize(("start", "urban", "rural", "tekun"), STANDARDS)
def test_tekun_is_one_point_three_times_urban(
    start: dt.date, urban: int, rural: int, tekun: int
) -> None:
    # CQ-2021 (三): 不低于低保标准的1.3倍; the notices round (735 × 1.3 = 955.5 → 955)
    assert abs(parameters_at(start).tekun_basic - 1.3 * urban) <= 1


def test_a_date_after_the_last_notice_keeps_the_last_values() -> None:
    p = parameters_at(D(2031, 1, 1))
    assert (p.dibao_urban, p.dibao_rural, p.tekun_basic) == (770, 630, 1001)


def test_a_date_before_the_first_standard_is_a_clear_error() -> None:
    assert earliest_date() == D(2021, 9, 1)
    with pytest.raises(ParameterError, match="2021-08-31") as info:
        parameters_at(D(2021, 8, 31))
    assert isinstance(info.value, LookupError)
    message = str(info.value)
    assert "\n" not in message
    assert "低保标准" in message
    assert "no parameters" in message


def test_other_figures_of_the_table() -> None:
    p = parameters_at(D(2025, 8, 1))
    assert p.edge_multiplier == 1.5
    assert p.gradual_exit_months == 6
    assert p.asset_multiplier == 24
    assert p.asset_limit_serious_illness == 50_000
    assert p.vehicle_exempt_max == 30_000
    assert (p.tekun_care.full_self_care, p.tekun_care.half_care, p.tekun_care.full_care) == (
        100,
        300,
        500,
    )
    aid = p.category_aid
    assert (aid.disabled, aid.severe_disability, aid.serious_illness, aid.aged_70) == (
        40,
        60,
        60,
        60,
    )
    assert (aid.preschool, aid.student) == (100, 100)
    assert p.review is not None
    assert (
        p.review.working_days,
        p.review.township_working_days,
        p.review.extended_working_days,
        p.review.publicity_days,
    ) == (30, 20, 45, 7)


def test_care_subsidy_tiers_rose_in_2024() -> None:
    old = parameters_at(D(2024, 8, 31)).tekun_care
    new = parameters_at(D(2024, 9, 1)).tekun_care
    assert (old.full_self_care, old.half_care, old.full_care) == (50, 200, 300)
    assert (new.full_self_care, new.half_care, new.full_care) == (100, 300, 500)


def test_figures_not_yet_in_force_are_unknown_not_guessed() -> None:
    p = parameters_at(D(2021, 12, 31))
    assert p.asset_multiplier is None
    assert p.asset_limit_serious_illness is None
    assert p.vehicle_exempt_max is None
    assert p.review is None
    assert parameters_at(D(2022, 1, 1)).asset_multiplier == 24
    assert parameters_at(D(2022, 11, 24)).review is None
    assert parameters_at(D(2022, 11, 25)).review is not None


def test_nanan_pays_rural_residents_the_urban_standard_from_september_2023() -> None:
    assert standard_for(D(2023, 8, 31), "rural", "南岸区") == 581
    assert standard_for(D(2023, 9, 1), "rural", "南岸区") == 735
    assert standard_for(D(2023, 9, 1), "urban", "南岸区") == 735
    assert standard_for(D(2025, 7, 1), "rural", "南岸区") == 770
    assert parameters_at(D(2025, 7, 1), "南岸区").rural_at_urban_standard is True
    # elsewhere, and with the district unknown, the city-wide rural standard
    assert standard_for(D(2023, 9, 1), "rural", "渝中区") == 600
    assert standard_for(D(2023, 9, 1), "rural", None) == 600


def test_fengjie_deducts_twenty_percent_of_wages() -> None:
    assert parameters_at(D(2025, 8, 1), "奉节县").employment_cost_deduction == 0.2
    assert parameters_at(D(2021, 9, 1), "奉节县").employment_cost_deduction == 0.2
    assert parameters_at(D(2025, 8, 1), "巫山县").employment_cost_deduction is None
    assert parameters_at(D(2025, 8, 1)).employment_cost_deduction is None
    source = parameters_at(D(2025, 8, 1), "奉节县").sources["employment_cost_deduction"]
    assert source.reference == "001_b49a2fc730e95c50.txt 三(三)1"
    assert source.start == D(2017, 1, 1)


@pytest.mark.parametrize(
    ("district", "official"), [("奉节", "奉节县"), ("重庆市奉节县", "奉节县"), ("凤节", "奉节县")]
)
def test_a_district_short_form_gets_its_exception(district: str, official: str) -> None:
    p = parameters_at(D(2025, 8, 1), district)
    assert p.district == official
    assert p.employment_cost_deduction == 0.2


def test_nanan_by_its_short_form_gets_the_urban_standard() -> None:
    assert standard_for(D(2025, 7, 1), "rural", "南岸") == 770
    assert parameters_at(D(2025, 7, 1), "南岸").rural_at_urban_standard is True


def test_an_unknown_district_is_a_clear_error_not_the_city_values() -> None:
    with pytest.raises(UnknownPlace) as info:
        parameters_at(D(2025, 8, 1), "火星区")
    assert isinstance(info.value, LookupError)
    message = str(info.value)
    assert "\n" not in message
    assert "火星区" in message
    assert "不认识的区县" in message
    assert "unknown district" in message


def test_district_overrides_are_keyed_by_official_names(tmp_path: Path) -> None:
    path = tmp_path / "short.yaml"
    value = "{value: 0.2, unit: 比例, reference: r}"
    path.write_text(
        f"description: x\nvalues:\n  2020-01-01: {value}\n"
        f"districts:\n  奉节:\n    2020-01-01: {value}\n",
        encoding="utf-8",
    )
    with pytest.raises(ParameterError, match=r"districts\.奉节") as info:
        load_parameter(path)
    assert "official district name" in str(info.value)
    for param in load_parameters().values():
        for name in param.districts:
            assert resolve_district(name).name == name


def test_each_value_used_is_reported_with_its_reference() -> None:
    p = parameters_at(D(2025, 8, 1))
    assert p.sources["dibao_standard_rural"].reference == "渝民规〔2025〕6号（policy_facts.md §1）"
    assert p.sources["dibao_standard_rural"].value == 630
    inferred = parameters_at(D(2024, 10, 1)).sources["dibao_standard_urban"]
    assert inferred.note is not None
    assert "成文" in inferred.note


def test_parameters_are_frozen() -> None:
    p = parameters_at(D(2025, 8, 1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.dibao_urban = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("description: x\nvalues:\n  2020-01-01: {value: 1, unit: 元}\n", "reference"),
        ("description: x\nvalues:\n  2020-13-01: {value: 1, unit: 元, reference: r}\n", "values"),
        ("description: x\nvalues:\n  2020-01-01: {value: 1, unit: 元, reference: r, x: 1}\n", "x"),
        ("description: x\nvalues:\n  2020-01-01: {unit: 元, reference: r}\n", "value"),
        ("values:\n  2020-01-01: {value: 1, unit: 元, reference: r}\n", "description"),
        ("description: x\nvalue: 1\n", "value"),
    ],
)
def test_malformed_files_are_rejected_naming_the_field(
    tmp_path: Path, text: str, field: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParameterError, match=field) as info:
        load_parameter(path)
    assert "broken.yaml" in str(info.value)
