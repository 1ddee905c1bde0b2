"""Dated parameters of the rules, read from `knowledge/parameters/*.yaml`.

OpenFisca country-template style: one YAML file per parameter, its values keyed by the
date they take effect, each with `value`, `unit`, `reference` (a seed file and section,
or a notice with its policy_facts.md section) and a `note` where the date or figure is
inferred. A value stays in force until the next date. A district may override a value
from a date (`districts: {南岸区: {2023-09-01: …}}`, by its official name in
knowledge/places.yaml); an override in force wins over the city-wide value. Old values
stay, so a past date evaluates as it did then.

The table these files carry is RULES.md "Parameters (dated; …)".
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from knowledge.places import districts, resolve_district

PARAMETERS_DIR = Path(__file__).resolve().parent / "parameters"
VALUE_FIELDS = frozenset({"value", "unit", "reference", "note"})
FILE_FIELDS = frozenset({"description", "values", "districts"})


class ParameterError(LookupError):
    """No value in force, or a malformed parameter file; `str()` is one line, zh / en."""


@dataclass(frozen=True)
class ParameterValue:
    """One dated value of a parameter and where it comes from."""

    start: dt.date
    value: Any
    unit: str
    reference: str
    note: str | None = None


@dataclass(frozen=True)
class Parameter:
    """A parameter's whole history: city-wide values and district overrides, by date."""

    name: str
    description: str
    values: tuple[ParameterValue, ...]  # ascending by start
    districts: Mapping[str, tuple[ParameterValue, ...]]

    def at(self, date: dt.date, district: str | None = None) -> ParameterValue | None:
        """The value in force on `date` (a district override first); None before the first."""
        if district is not None and district in self.districts:
            override = _latest(self.districts[district], date)
            if override is not None:
                return override
        return _latest(self.values, date)

    @property
    def first(self) -> dt.date:
        return self.values[0].start


def _latest(values: tuple[ParameterValue, ...], date: dt.date) -> ParameterValue | None:
    found = None
    for item in values:
        if item.start > date:
            break
        found = item
    return found


# --- reading the files --------------------------------------------------------------


def _read_values(raw: Any, where: str) -> tuple[ParameterValue, ...]:
    if not isinstance(raw, Mapping) or not raw:
        raise ParameterError(f"{where}: 应按生效日期列出取值 / must map start dates to values")
    out = []
    for start, item in raw.items():
        here = f"{where}.{start}"
        if not isinstance(start, dt.date) or isinstance(start, dt.datetime):
            raise ParameterError(f"{here}: 生效日期应为 YYYY-MM-DD / start must be YYYY-MM-DD")
        if not isinstance(item, Mapping):
            raise ParameterError(
                f"{here}: 应含 value、unit、reference / needs value, unit, reference"
            )
        extra = sorted(set(item) - VALUE_FIELDS)
        if extra:
            raise ParameterError(f"{here}.{extra[0]}: 多余的字段 / unknown field")
        if "value" not in item:
            raise ParameterError(f"{here}.value: 缺少取值 / missing value")
        for name in ("unit", "reference"):
            if not isinstance(item.get(name), str) or not item[name].strip():
                raise ParameterError(f"{here}.{name}: 必填文字 / required text")
        note = item.get("note")
        if note is not None and not isinstance(note, str):
            raise ParameterError(f"{here}.note: 应为文字 / must be text")
        out.append(
            ParameterValue(
                start, item["value"], item["unit"].strip(), item["reference"].strip(), note
            )
        )
    return tuple(sorted(out, key=lambda v: v.start))


def load_parameter(path: Path) -> Parameter:
    """Read and check one parameter file; errors name the file and the field."""
    where = path.name
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except (yaml.YAMLError, ValueError) as exc:  # e.g. a date such as 2020-13-01
        reason = " ".join(str(exc).split())
        raise ParameterError(f"{where}: values: 不是有效的 YAML / invalid YAML: {reason}") from exc
    if not isinstance(data, Mapping):
        raise ParameterError(f"{where}: 应为一个参数 / must be a mapping")
    extra = sorted(set(data) - FILE_FIELDS)
    if extra:
        raise ParameterError(f"{where}: {extra[0]}: 多余的字段 / unknown field")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ParameterError(f"{where}: description: 必填文字 / required text")
    districts_raw = data.get("districts") or {}
    if not isinstance(districts_raw, Mapping):
        raise ParameterError(f"{where}: districts: 应按区县列出 / must map districts to values")
    official = {d.name for d in districts()}
    for name in districts_raw:
        if name not in official:  # a short form here would never be looked up
            raise ParameterError(
                f"{where}: districts.{name}: 应为区县全称 / must be an official district name"
            )
    return Parameter(
        name=path.stem,
        description=description.strip(),
        values=_read_values(data.get("values"), f"{where}: values"),
        districts={
            str(name): _read_values(raw, f"{where}: districts.{name}")
            for name, raw in districts_raw.items()
        },
    )


@functools.cache
def load_parameters() -> Mapping[str, Parameter]:
    """Every parameter in `knowledge/parameters/`, by file name without `.yaml`."""
    return {p.stem: load_parameter(p) for p in sorted(PARAMETERS_DIR.glob("*.yaml"))}


# --- the values in force on a day ---------------------------------------------------


@dataclass(frozen=True)
class CareSubsidy:
    """特困 care subsidy tiers, yuan per month (渝民发〔2024〕9号)."""

    full_self_care: float  # 全自理
    half_care: float  # 半护理
    full_care: float  # 全护理


@dataclass(frozen=True)
class CategoryAid:
    """分类重点救助金, yuan per member per month (000_cec2e370b7df0dcc.txt 二(一)2)."""

    disabled: float  # 残疾人
    severe_disability: float  # 一二级重度残疾
    serious_illness: float  # 重大疾病
    aged_70: float  # 70岁以上
    preschool: float  # 学龄前儿童
    student: float  # 在校学生


@dataclass(frozen=True)
class ReviewDeadlines:
    """低保 review deadlines (004_facdb4cf398febe9.txt 三(一)(二))."""

    working_days: int
    township_working_days: int
    extended_working_days: int
    publicity_days: int


@dataclass(frozen=True)
class Parameters:
    """The values in force on `date` in `district` (None: city-wide values).

    Fields that are None have no value recorded for that date (e.g. the property limits
    before 2022); a rule that needs one treats it as unknown.
    """

    date: dt.date
    district: str | None
    dibao_urban: float
    dibao_rural: float  # the standard rural residents get there (南岸区: the urban one)
    rural_at_urban_standard: bool
    tekun_basic: float
    tekun_care: CareSubsidy
    edge_multiplier: float
    gradual_exit_months: int
    category_aid: CategoryAid
    asset_multiplier: float | None
    asset_limit_serious_illness: float | None
    vehicle_exempt_max: float | None
    employment_cost_deduction: float | None  # None: no figure set, no deduction computed
    review: ReviewDeadlines | None
    sources: Mapping[str, ParameterValue]  # the value used, by parameter name

    def standard(self, area: str | None) -> float | None:
        """The household's 低保 standard S: urban or rural; None when the area is unknown."""
        if area == "urban":
            return self.dibao_urban
        if area == "rural":
            return self.dibao_rural
        return None


REQUIRED = (
    "dibao_standard_urban",
    "dibao_standard_rural",
    "dibao_rural_at_urban_standard",
    "tekun_basic_standard",
    "tekun_care_subsidy",
    "dibao_edge_multiplier",
    "gradual_exit_months",
    "dibao_category_aid",
    "employment_cost_deduction",
)
OPTIONAL = (
    "asset_limit_multiplier",
    "asset_limit_serious_illness",
    "vehicle_exempt_max",
    "dibao_review_deadlines",
)


def earliest_date() -> dt.date:
    """The first day every required parameter has a value (2021-09-01)."""
    params = load_parameters()
    return max(params[name].first for name in REQUIRED)


def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _money(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(f"{name}: 取值应为数字 / value must be a number: {value!r}")
    return float(value)


def _optional_money(item: ParameterValue | None, name: str) -> float | None:
    if item is None or item.value is None:
        return None
    return _money(item.value, name)


def _group(value: Any, name: str, keys: tuple[str, ...]) -> dict[str, float]:
    if not isinstance(value, Mapping) or set(value) != set(keys):
        raise ParameterError(f"{name}: 取值应含 {', '.join(keys)} / value needs {', '.join(keys)}")
    return {k: _money(value[k], f"{name}.{k}") for k in keys}


def parameters_at(date: dt.date, district: str | None = None) -> Parameters:
    """Every parameter in force on `date` in `district`: a name `knowledge.places`
    resolves ("南岸区", "南岸", "奉节"); None for the city-wide values.

    Raises `knowledge.places.UnknownPlace` (a LookupError naming the closest districts)
    for a district it does not know, and `ParameterError` (a LookupError) for a date
    before the first recorded standard (2021-09-01).
    """
    return _parameters_at(date, None if district is None else resolve_district(district).name)


@functools.lru_cache(maxsize=512)
def _parameters_at(date: dt.date, district: str | None) -> Parameters:
    params = load_parameters()
    used: dict[str, ParameterValue] = {}
    for name in REQUIRED + OPTIONAL:
        if name not in params:
            raise ParameterError(f"{name}.yaml: 缺少参数文件 / parameter file missing")
        item = params[name].at(date, district)
        if item is None and name in REQUIRED:
            first = earliest_date()
            raise ParameterError(
                f"没有{date.isoformat()}时有效的低保标准（最早收录{first.isoformat()}） / "
                f"no parameters in force on {date.isoformat()} (earliest {first.isoformat()})"
            )
        if item is not None:
            used[name] = item

    urban = _money(used["dibao_standard_urban"].value, "dibao_standard_urban")
    rural = _money(used["dibao_standard_rural"].value, "dibao_standard_rural")
    at_urban = used["dibao_rural_at_urban_standard"].value
    if not isinstance(at_urban, bool):
        raise ParameterError("dibao_rural_at_urban_standard: 取值应为 true/false / must be boolean")
    months = used["gradual_exit_months"].value
    if isinstance(months, bool) or not isinstance(months, int):
        raise ParameterError("gradual_exit_months: 取值应为整数 / value must be a whole number")
    review = used.get("dibao_review_deadlines")
    review_values = (
        None
        if review is None
        else _group(review.value, "dibao_review_deadlines", _names(ReviewDeadlines))
    )
    return Parameters(
        date=date,
        district=district,
        dibao_urban=urban,
        dibao_rural=urban if at_urban else rural,
        rural_at_urban_standard=at_urban,
        tekun_basic=_money(used["tekun_basic_standard"].value, "tekun_basic_standard"),
        tekun_care=CareSubsidy(
            **_group(
                used["tekun_care_subsidy"].value,
                "tekun_care_subsidy",
                _names(CareSubsidy),
            )
        ),
        edge_multiplier=_money(used["dibao_edge_multiplier"].value, "dibao_edge_multiplier"),
        gradual_exit_months=months,
        category_aid=CategoryAid(
            **_group(
                used["dibao_category_aid"].value,
                "dibao_category_aid",
                _names(CategoryAid),
            )
        ),
        asset_multiplier=_optional_money(used.get("asset_limit_multiplier"), "asset_limit"),
        asset_limit_serious_illness=_optional_money(
            used.get("asset_limit_serious_illness"), "asset_limit_serious_illness"
        ),
        vehicle_exempt_max=_optional_money(used.get("vehicle_exempt_max"), "vehicle_exempt_max"),
        employment_cost_deduction=_optional_money(
            used.get("employment_cost_deduction"), "employment_cost_deduction"
        ),
        review=None
        if review_values is None
        else ReviewDeadlines(**{k: int(v) for k, v in review_values.items()}),
        sources=used,
    )


def standard_for(date: dt.date, area: str | None, district: str | None = None) -> float | None:
    """The 低保 standard S for a household of `area` in `district` on `date`
    (None when the area is unknown)."""
    return parameters_at(date, district).standard(area)
