"""The household being pre-screened: the input of `knowledge.eligibility.assess`.

Mirrors the JSON of `residentbot screen` (../shared/design/CONTRACTS.md). Every field
but `members` may be unknown: `None` here, `null` or missing in JSON. A rule that needs
an unknown value answers `possible`, never a guess (RULES.md, "The household"). A field
the contract does not name is an error naming it and the closest known field: dropped,
a misspelt `finacial_assets` would turn a known figure into an unknown one.
Money is yuan per month; `members[0]` is the person asking (本人).
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

Area = Literal["urban", "rural"]
Supporter = Literal["none", "unable", "able", "unknown"]

AREAS: tuple[str, ...] = ("urban", "rural")
SUPPORTERS: tuple[str, ...] = ("none", "unable", "able", "unknown")
DISABILITY_KINDS: tuple[str, ...] = (
    "physical",
    "visual",
    "hearing",
    "speech",
    "intellectual",
    "mental",
    "multiple",
)
PROGRAMS: tuple[str, ...] = (
    "dibao",
    "dibao_single",
    "dibao_edge",
    "tekun",
    "linshi",
    "disability_living",
    "disability_care",
    "gradual_exit",
    "medical_aid",
)


class HouseholdError(ValueError):
    """A household that cannot be read; `str()` is one line in Chinese and English."""

    def __init__(self, path: str, zh: str, en: str) -> None:
        super().__init__(f"{path}: {zh} / {en}")
        self.path = path


@dataclass
class Income:
    """Monthly income of one member by kind (yuan). `None` = not known."""

    wages: float | None = 0.0
    business: float | None = 0.0
    farming: float | None = 0.0
    pension: float | None = 0.0  # pensions other than the basic one
    basic_pension: float | None = 0.0  # 城乡居民基础养老金: never counted
    support: float | None = 0.0  # 赡养/抚养/扶养费 received
    other: float | None = 0.0

    @classmethod
    def kinds(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass
class Member:
    age: int | None = None
    employed: bool | None = None
    student: bool | None = None
    serious_illness: bool | None = None
    disability_grade: int | None = None  # 0 = none, 1..4
    disability_kind: str | None = None
    income: Income = field(default_factory=Income)


@dataclass
class Hardship:
    sudden_event: bool | None = False
    major_medical_expense: bool | None = False
    basic_needs_unmet: bool | None = False
    months_without_income: int | None = 0
    unemployment_insurance: bool | None = False


@dataclass
class Household:
    members: list[Member]
    as_of: dt.date | None = None
    district: str | None = None
    area: str | None = None
    financial_assets: float | None = None
    vehicle_values: list[float] | None = None
    homes: int | None = None
    legal_supporter: str | None = None
    receiving: list[str] = field(default_factory=list)
    income_rise_from_work: bool | None = None
    hardship: Hardship = field(default_factory=Hardship)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Household:
        """Read the CONTRACTS.md JSON; raise `HouseholdError` naming the bad field."""
        return _read_household(data)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "district": self.district,
            "area": self.area,
            "members": [
                {
                    **{f.name: getattr(m, f.name) for f in fields(m) if f.name != "income"},
                    "income": {k: getattr(m.income, k) for k in Income.kinds()},
                }
                for m in self.members
            ],
            "financial_assets": self.financial_assets,
            "vehicle_values": self.vehicle_values,
            "homes": self.homes,
            "legal_supporter": self.legal_supporter,
            "receiving": list(self.receiving),
            "income_rise_from_work": self.income_rise_from_work,
            "hardship": {f.name: getattr(self.hardship, f.name) for f in fields(Hardship)},
        }
        return out


# --- reading JSON ------------------------------------------------------------------

HOUSEHOLD_FIELDS = tuple(f.name for f in fields(Household))
MEMBER_FIELDS = tuple(f.name for f in fields(Member))
HARDSHIP_FIELDS = tuple(f.name for f in fields(Hardship))

MAX_AMOUNT = 1_000_000_000  # yuan: anything larger is a typing error, not a household


def _number(
    value: Any, path: str, *, minimum: float = 0, maximum: float = MAX_AMOUNT
) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise HouseholdError(path, "应为数字", "must be a number")
    if minimum == 0 and value < 0:
        raise HouseholdError(path, "不能是负数", "must not be negative")
    if not minimum <= value <= maximum:
        low, high = f"{minimum:.0f}", f"{maximum:.0f}"
        raise HouseholdError(path, f"应在{low}到{high}之间", f"must be within {low}..{high}")
    return float(value)


def _integer(value: Any, path: str, *, minimum: int, maximum: int) -> int | None:
    number = _number(value, path, minimum=minimum, maximum=maximum)
    if number is None:
        return None
    if number != int(number):
        raise HouseholdError(path, "应为整数", "must be a whole number")
    return int(number)


def _flag(value: Any, path: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise HouseholdError(path, "应为 true、false 或 null", "must be true, false or null")


def _choice(value: Any, path: str, allowed: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise HouseholdError(
            path, f"应为 {' / '.join(allowed)} 之一", f"must be one of {', '.join(allowed)}"
        )
    return str(value)


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise HouseholdError(path, "应为对象", "must be an object")
    return value


def _only_known(
    data: Mapping[Any, Any],
    prefix: str,
    known: tuple[str, ...],
    zh: str = "不认识的字段",
    en: str = "unknown field",
) -> None:
    """Raise for the first key of `data` not in `known`, suggesting the closest one."""
    unknown = sorted(str(k) for k in data if k not in known)
    if not unknown:
        return
    name = unknown[0]
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        zh, en = f"{zh}（您是不是说 {close[0]}）", f"{en} (did you mean {close[0]}?)"
    raise HouseholdError(f"{prefix}{name}", zh, en)


def _read_member(data: Any, path: str) -> Member:
    data = _mapping(data, path)
    _only_known(data, f"{path}.", MEMBER_FIELDS)
    raw_income = _mapping(data.get("income"), f"{path}.income")
    kinds = Income.kinds()
    _only_known(raw_income, f"{path}.income.", kinds, "不认识的收入类别", "unknown income kind")
    # CONTRACTS.md: unknown = null or missing. A kind left out (or the whole `income`
    # left out) is not known; reading it as 0 would be a guess in the household's favour.
    income = Income(
        **{kind: _number(raw_income.get(kind), f"{path}.income.{kind}") for kind in Income.kinds()}
    )
    return Member(
        age=_integer(data.get("age"), f"{path}.age", minimum=0, maximum=130),
        employed=_flag(data.get("employed"), f"{path}.employed"),
        student=_flag(data.get("student"), f"{path}.student"),
        serious_illness=_flag(data.get("serious_illness"), f"{path}.serious_illness"),
        disability_grade=_integer(
            data.get("disability_grade"), f"{path}.disability_grade", minimum=0, maximum=4
        ),
        disability_kind=_choice(
            data.get("disability_kind"), f"{path}.disability_kind", DISABILITY_KINDS
        ),
        income=income,
    )


def _read_household(data: Mapping[str, Any]) -> Household:
    if not isinstance(data, Mapping):
        raise HouseholdError("$", "应为 JSON 对象", "must be a JSON object")
    _only_known(data, "", HOUSEHOLD_FIELDS)
    members = data.get("members")
    if not isinstance(members, list) or not members:
        raise HouseholdError("members", "至少需要一名家庭成员", "needs at least one member")
    if len(members) > 30:
        raise HouseholdError("members", "家庭成员不能超过30人", "at most 30 members")

    as_of = data.get("as_of")
    date: dt.date | None = None
    if as_of is not None:
        try:
            date = dt.date.fromisoformat(str(as_of))
        except ValueError:
            raise HouseholdError(
                "as_of", "日期格式应为 YYYY-MM-DD", "date must be YYYY-MM-DD"
            ) from None

    district = data.get("district")
    if district is not None and not isinstance(district, str):
        raise HouseholdError("district", "应为区县名称", "must be a district name")
    if district is not None and not district.strip():
        district = None  # "" is a district not given, not a district named ""

    vehicles = data.get("vehicle_values")
    vehicle_values: list[float] | None = None
    if vehicles is not None:
        if not isinstance(vehicles, list):
            raise HouseholdError("vehicle_values", "应为数字列表", "must be a list of numbers")
        vehicle_values = []
        for i, v in enumerate(vehicles):
            value = _number(v, f"vehicle_values[{i}]")
            if value is None:  # a vehicle of unknown value: the whole list is unknown
                vehicle_values = None
                break
            vehicle_values.append(value)

    receiving = data.get("receiving") or []
    if not isinstance(receiving, list) or not all(isinstance(r, str) for r in receiving):
        raise HouseholdError("receiving", "应为项目代码列表", "must be a list of program codes")
    for i, code in enumerate(receiving):
        _choice(code, f"receiving[{i}]", PROGRAMS)

    raw_hardship = _mapping(data.get("hardship"), "hardship")  # missing answers: unknown
    _only_known(raw_hardship, "hardship.", HARDSHIP_FIELDS)
    hardship = Hardship(
        sudden_event=_flag(raw_hardship.get("sudden_event"), "hardship.sudden_event"),
        major_medical_expense=_flag(
            raw_hardship.get("major_medical_expense"), "hardship.major_medical_expense"
        ),
        basic_needs_unmet=_flag(
            raw_hardship.get("basic_needs_unmet"), "hardship.basic_needs_unmet"
        ),
        months_without_income=_integer(
            raw_hardship.get("months_without_income"),
            "hardship.months_without_income",
            minimum=0,
            maximum=1200,
        ),
        unemployment_insurance=_flag(
            raw_hardship.get("unemployment_insurance"), "hardship.unemployment_insurance"
        ),
    )

    return Household(
        members=[_read_member(m, f"members[{i}]") for i, m in enumerate(members)],
        as_of=date,
        district=district,
        area=_choice(data.get("area"), "area", AREAS),
        financial_assets=_number(data.get("financial_assets"), "financial_assets"),
        vehicle_values=vehicle_values,
        homes=_integer(data.get("homes"), "homes", minimum=0, maximum=100),
        legal_supporter=_choice(data.get("legal_supporter"), "legal_supporter", SUPPORTERS),
        receiving=list(receiving),
        income_rise_from_work=_flag(data.get("income_rise_from_work"), "income_rise_from_work"),
        hardship=hardship,
    )
