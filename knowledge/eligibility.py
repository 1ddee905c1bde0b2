"""The pre-screening: which of the nine programs a household is likely to get, and why.

Implements ../shared/design/RULES.md. Each rule is a small pure function whose docstring
restates the rule and cites its source; the texts a person reads come from
`knowledge/eligibility.yaml`, filled with the actual figures.

Unknowns (RULES.md "The household"): a fact that is not known is never guessed. A test
is three-valued — True (met), False (not met) or None (cannot tell from what we know) —
and unknown money is a range (`Span`): an income with an unknown part is "at least what
is known", the standard of a household whose area is unknown is "the rural or the urban
one". A comparison is decided when every value in the ranges gives the same answer, so
an unknown that cannot change the outcome does not degrade it (known income already at
1.5 × S is `unlikely` whatever the unknown parts). True → `likely`, None → `possible`,
False → `unlikely`. Two exceptions follow the design: an unknown district uses the
city-wide values (with a note that a district exception may apply), and a member's
unknown category (age, student…) adds nothing to the estimated amount.

A reason is `{"rule", "passed", "text", "source"}`; `passed` is True when the condition
is known to hold, or for a note that counts for nothing against the household.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

from knowledge.household import PROGRAMS, Household, Member
from knowledge.parameters import Parameters, parameters_at
from knowledge.places import resolve_district

TEXTS_FILE = Path(__file__).resolve().parent / "eligibility.yaml"

LIKELY, POSSIBLE, UNLIKELY = "likely", "possible", "unlikely"
RANK = {UNLIKELY: 0, POSSIBLE: 1, LIKELY: 2}
COUNTED = ("wages", "business", "farming", "pension", "support", "other")  # not basic_pension
Tri = bool | None  # met / not met / cannot tell


# --- three-valued logic and money ranges --------------------------------------------


def all3(*tests: Tri) -> Tri:
    """Kleene AND: False if any is False, else None if any is unknown, else True."""
    if any(t is False for t in tests):
        return False
    return None if any(t is None for t in tests) else True


def any3(*tests: Tri) -> Tri:
    """Kleene OR: True if any is True, else None if any is unknown, else False."""
    if any(t is True for t in tests):
        return True
    return None if any(t is None for t in tests) else False


def not3(test: Tri) -> Tri:
    return None if test is None else not test


def verdict_of(test: Tri) -> str:
    return LIKELY if test is True else UNLIKELY if test is False else POSSIBLE


def test_of(verdict: str) -> Tri:
    return True if verdict == LIKELY else False if verdict == UNLIKELY else None


@dataclass(frozen=True)
class Span:
    """An amount known to lie in [lo, hi]; hi is inf when an unknown part is unbounded."""

    lo: float
    hi: float

    @classmethod
    def of(cls, value: float) -> Span:
        return cls(value, value)

    @property
    def exact(self) -> float | None:
        return self.lo if self.lo == self.hi else None

    def times(self, factor: float) -> Span:
        return Span(self.lo * factor, self.hi * factor)


def lt(a: Span, b: Span) -> Tri:
    """a < b for every value in the ranges (True), for none (False), or it depends."""
    if a.hi < b.lo:
        return True
    return False if a.lo >= b.hi else None


def le(a: Span, b: Span) -> Tri:
    if a.hi <= b.lo:
        return True
    return False if a.lo > b.hi else None


def _cents(value: float) -> float:
    return value if math.isinf(value) else round(value, 2)


def share(total: float, n: int, *, up: bool = False) -> float:
    """`total` (whole fen) shared among `n`, to the fen: rounded down, or up with `up`.

    Rounding the share to the nearest fen would decide boundaries wrongly: 2309.99 yuan
    for 3 people is 769.997 each, below a standard of 770, but rounds to 770.00. Every
    threshold here is a whole number of fen, so comparing the share rounded down keeps
    `share < S` and `S <= share` exact, and rounded up keeps `share <= limit` exact."""
    if math.isinf(total):
        return total
    fen = round(total * 100)
    return (-(-fen // n) if up else fen // n) / 100


def shown_share(total: float, n: int, exact: float, thresholds: Sequence[float | None]) -> float:
    """The share as a person reads it: to the nearest fen, except where that would land
    on a threshold the exact share is not on (769.997 is shown as 769.99 beside a
    standard of 770, not as 770, which would contradict "lower than 770")."""
    if math.isinf(total):
        return total
    near = round(total / n, 2)
    return exact if near in thresholds and near != exact else near


# --- results ----------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    rule: str
    passed: bool
    text: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "passed": self.passed, "text": self.text, "source": self.source}


@dataclass(frozen=True)
class Program:
    """One program's verdict. `amount_estimate` is only reported for `dibao`, `members`
    (indices into the household's members, 0 = 本人) only for `dibao_single`."""

    code: str
    verdict: str
    reasons: tuple[Reason, ...]
    amount_estimate: float | None = None
    members: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verdict": self.verdict}
        if self.code == "dibao":
            out["amount_estimate"] = self.amount_estimate
        if self.code == "dibao_single":
            out["members"] = list(self.members)
        out["reasons"] = [r.to_dict() for r in self.reasons]
        return out


@dataclass(frozen=True)
class Guidance:
    """What the result tells the resident beyond the verdicts (RULES.md, last section)."""

    topic: str  # where | documents | timeline | report_changes | urgent
    title: str
    text: str
    source: str
    short: str  # the same in one line for an SMS; `text` when the data gives none

    def to_dict(self) -> dict[str, str]:
        return {
            "topic": self.topic,
            "title": self.title,
            "text": self.text,
            "source": self.source,
            "short": self.short,
        }


@dataclass(frozen=True)
class Assessment:
    as_of: dt.date
    district: str | None  # the official name, as knowledge.places resolves it
    area: str | None
    standard: float | None  # S; None when it depends on an unknown area
    per_capita_income: float | None  # counted; None when part of the income is unknown
    programs: Mapping[str, Program]  # all nine codes, in RULES.md order
    urgency: str  # urgent | none (from the hardship fields)
    notice: str
    guidance: tuple[Guidance, ...]

    def to_dict(self) -> dict[str, Any]:
        """The `residentbot screen --json` document of CONTRACTS.md (plus `guidance`)."""
        return {
            "as_of": self.as_of.isoformat(),
            "district": self.district,
            "area": self.area,
            "standard": _plain(self.standard),
            "per_capita_income": self.per_capita_income,
            "programs": {code: self.programs[code].to_dict() for code in PROGRAMS},
            "urgency": self.urgency,
            "notice": self.notice,
            "guidance": [g.to_dict() for g in self.guidance],
        }


def _plain(value: float | None) -> float | int | None:
    """630.0 -> 630 (standards are whole yuan in the notices)."""
    if value is not None and value == int(value):
        return int(value)
    return value


# --- texts --------------------------------------------------------------------------


def format_yuan(value: float | int | None) -> str:
    """350.0 -> '350', 12.5 -> '12.5' (as the `yuan` macro of bot/templates/common/_macros.j2)."""
    if value is None:
        return "?"
    number = round(float(value), 2)
    return f"{number:.2f}".rstrip("0").rstrip(".") if number != int(number) else str(int(number))


_LINE_BREAK = re.compile(r"\s*\n\s*")


@dataclass(frozen=True)
class _Rule:
    source: jinja2.Template | str  # a plain string unless it has a {{ field }}
    texts: Mapping[str, jinja2.Template]  # met | not_met | unknown | note


@dataclass(frozen=True)
class Texts:
    phrases: Mapping[str, jinja2.Template]
    member: jinja2.Template
    rules: Mapping[str, _Rule]
    words: Mapping[str, Any]
    notice: str
    guidance: tuple[Mapping[str, Any], ...]


def _render(template: jinja2.Template | str, values: Mapping[str, Any]) -> str:
    """Line breaks in the YAML are for its reader: they are dropped from the text.

    Templates see only the values given (no jinja globals): `shared=True` skips
    copying the globals into every context, which keeps `assess` well under 1 ms."""
    if isinstance(template, str):
        return template
    context = template.new_context(dict(values), shared=True)
    return _LINE_BREAK.sub("", "".join(template.root_render_func(context))).strip()


@functools.cache
def texts() -> Texts:
    """The compiled templates of `knowledge/eligibility.yaml`."""
    with TEXTS_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters["yuan"] = format_yuan

    def compile_if_template(text: str) -> jinja2.Template | str:
        return env.from_string(text) if "{" in text else text

    rules = {
        rule: _Rule(
            compile_if_template(str(spec["source"])),
            {k: env.from_string(str(v)) for k, v in spec.items() if k != "source"},
        )
        for rule, spec in data["reasons"].items()
    }
    guidance = tuple(
        {
            **item,
            "text": env.from_string(str(item["text"])),
            "short": env.from_string(str(item.get("short") or item["text"])),
        }
        for item in data["guidance"]
    )
    return Texts(
        phrases={k: env.from_string(str(v)) for k, v in data["phrases"].items()},
        member=env.from_string(str(data["member"])),
        rules=rules,
        words=data["words"],
        notice=_LINE_BREAK.sub("", str(data["notice"])).strip(),
        guidance=guidance,
    )


# --- the facts every rule reads -------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """The household and the parameters in force, with what follows from them."""

    household: Household
    params: Parameters
    n: int
    s: Span  # the household's standard S
    e: Span  # the 低保边缘 ceiling, 1.5 × S
    total: Span  # counted household income
    pc: Span  # per-capita counted income, to the fen rounded down (see `share`)
    pc_shown: float | None  # the same as a person reads it (see `shown_share`)
    context: Mapping[str, Any]  # the figures every text may use

    @property
    def members(self) -> list[Member]:
        return self.household.members

    def say(self, rule: str, outcome: Tri | str, **values: Any) -> Reason:
        """A reason from its template: outcome True/False/None picks met/not_met/unknown;
        "note" picks the rule's note."""
        spec = texts().rules[rule]
        if outcome == "note":
            key = "note"
        elif outcome is True:
            key = "met"
        elif outcome is False:
            key = "not_met"
        else:
            key = "unknown"
        context = {**self.context, **values}
        return Reason(
            rule=rule,
            passed=outcome is True or outcome == "note",
            text=_render(spec.texts[key], context),
            source=_render(spec.source, context),
        )

    def who(self, index: int) -> str:
        return _render(texts().member, {"index": index})


def counted_income(member: Member, deduction: float | None, *, support: bool = True) -> Span:
    """A member's counted monthly income.

    Counted: wages, business, farming, pensions other than the basic one, support
    payments received, other. The 城乡居民基础养老金 is never counted (CQ-2017 二(二)3:
    000_cec2e370b7df0dcc.txt 二(二)3; MCA-2021 (八): 003_8311b5a252618438.txt (八)). Where
    a district deducts a share of wages as 就业成本 (奉节县 20 %, FJ-2017:
    001_b49a2fc730e95c50.txt 三(三)1) it is taken off the wages. An unknown part makes
    the income "at least the known parts".
    """
    lo = hi = 0.0
    for kind in COUNTED:
        if kind == "support" and not support:
            continue
        value = getattr(member.income, kind)
        if value is None:
            hi = math.inf
            continue
        if kind == "wages" and deduction:
            value = value * (1 - deduction)
        lo += value
        hi += value
    return Span(_cents(lo), _cents(hi))


def household_income(household: Household, deduction: float | None) -> Span:
    """Counted household income: the sum of the members' (RULES.md "Income")."""
    spans = [counted_income(m, deduction) for m in household.members]
    return Span(_cents(sum(s.lo for s in spans)), _cents(sum(s.hi for s in spans)))


def household_standard(params: Parameters, area: str | None) -> Span:
    """S: the urban or rural 低保 standard in force (policy_facts.md §1; a district may
    pay rural residents the urban one: 南岸区 from 2023-09-01, RULES.md "Parameters").
    Area unknown: either of the two."""
    known = params.standard(area)
    if known is not None:
        return Span.of(known)
    low, high = sorted((params.dibao_urban, params.dibao_rural))
    return Span(low, high)


def _facts(household: Household, params: Parameters, as_of: dt.date) -> Facts:
    n = len(household.members)
    s = household_standard(params, household.area)
    e = s.times(params.edge_multiplier)
    total = household_income(household, params.employment_cost_deduction)
    pc = Span(share(total.lo, n), share(total.hi, n))  # rounded down: exact comparisons
    marks = (s.lo, s.hi, e.lo, e.hi)
    pc_shown = Span(shown_share(total.lo, n, pc.lo, marks), shown_share(total.hi, n, pc.hi, marks))
    context: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "day": as_of,
        "district": params.district,
        "area": household.area,
        "n": n,
        "s": s.exact,
        "urban": params.dibao_urban,
        "rural": params.dibao_rural,
        "e": e.exact,
        "pc": pc_shown.exact,
        "pc_min": pc_shown.lo,
        "m": params.asset_multiplier,
    }
    for name, template in texts().phrases.items():  # in file order: later ones use earlier
        context[name] = _render(template, context)
    return Facts(household, params, n, s, e, total, pc, pc_shown.exact, context)


# --- context notes ------------------------------------------------------------------


def standard_notes(f: Facts) -> list[Reason]:
    """Which standard was used and why: the notice in force on the date (policy_facts.md
    §1), a district exception (南岸区, RULES.md "Parameters"), an unknown district (the
    city-wide values, a district exception may apply) or an unknown area (both)."""
    p = f.params
    urban_source = p.sources["dibao_standard_urban"]
    notes = [
        f.say(
            "standard.notice",
            "note",
            reference=urban_source.reference,
            rural_city=p.sources["dibao_standard_rural"].value,
        )
    ]
    if p.district is None:
        notes.append(f.say("district.unknown", "note"))
    elif p.rural_at_urban_standard and f.household.area != "urban":
        notes.append(
            f.say(
                "district.rural_at_urban",
                "note",
                reference=p.sources["dibao_rural_at_urban_standard"].reference,
            )
        )
    if f.household.area is None and f.s.exact is None:
        notes.append(f.say("area.unknown", "note"))
    return notes


def income_notes(f: Facts) -> list[Reason]:
    """How income was counted (RULES.md "Income"): the basic pension is left out
    (000_cec2e370b7df0dcc.txt 二(二)3; 003_8311b5a252618438.txt (八)); wages are reduced
    by the district's 就业成本 share where one is set (奉节县 20 %,
    001_b49a2fc730e95c50.txt 三(三)1), elsewhere a deduction may apply but is not
    computed (002_dbf974436b87d268.txt (二))."""
    notes = []
    pensions = [m.income.basic_pension for m in f.members]
    if any(v is None or v > 0 for v in pensions):
        known = None if any(v is None for v in pensions) else sum(v or 0 for v in pensions)
        notes.append(f.say("income.basic_pension", "note", amount=known))
    support = [m.income.support for m in f.members]
    if any(v for v in support):
        amount = sum(v for v in support if v is not None)
        notes.append(f.say("income.support", "note", amount=amount))
    wages = [m.income.wages for m in f.members]
    if any(v is None or v > 0 for v in wages):
        rate = f.params.employment_cost_deduction
        known_wages = sum(v for v in wages if v is not None)
        notes.append(
            f.say(
                "income.employment_cost",
                "note",
                rate=rate,
                wages=known_wages,
                deducted=round(known_wages * (rate or 0), 2),
                reference=f.params.sources["employment_cost_deduction"].reference,
            )
        )
    return notes


# --- property test --------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    outcome: Tri
    reasons: tuple[Reason, ...]


def assets_test(f: Facts) -> Check:
    """Financial assets per person at most 24 × S; 50,000 per person when a member has a
    重特大疾病. Unknown assets: cannot tell; no limit recorded for the date: cannot tell,
    unless there are no assets at all. (渝府办发〔2022〕128号 as explained by district
    Q&As, policy_facts.md §2; RULES.md "Property test".)"""
    p = f.params
    h = f.household
    reference = p.sources.get("asset_limit_multiplier")
    values: dict[str, Any] = {
        "reference": reference.reference if reference else None,
        "limit_text": f.context["asset_limit"],
        "ill_limit": p.asset_limit_serious_illness,
        "no_limit": p.asset_multiplier is None or p.asset_limit_serious_illness is None,
        "per": None,
        "ill": False,
        "ill_possible": False,
    }
    if h.financial_assets is None:
        return Check(None, (f.say("property.assets", None, **values),))
    per = Span.of(share(h.financial_assets, f.n, up=True))  # rounded up: exact comparisons
    limits = [p.asset_limit_serious_illness]
    if p.asset_multiplier is not None:
        limits += [f.s.lo * p.asset_multiplier, f.s.hi * p.asset_multiplier]
    values["per"] = shown_share(h.financial_assets, f.n, per.lo, limits)
    if p.asset_multiplier is None or p.asset_limit_serious_illness is None:
        # no limit recorded for the date (before 2022): none can be failed by no assets
        outcome: Tri = True if per.lo == 0 else None
        return Check(outcome, (f.say("property.assets", outcome, **values),))
    ill = any3(*(m.serious_illness for m in f.members))
    within_normal = le(per, f.s.times(p.asset_multiplier))
    within_ill = le(per, Span.of(p.asset_limit_serious_illness))
    outcome = any3(within_normal, all3(ill, within_ill))
    values["ill"] = ill is True and within_normal is not True
    values["ill_possible"] = ill is not False
    return Check(outcome, (f.say("property.assets", outcome, **values),))


def vehicle_test(f: Facts) -> Check:
    """A vehicle worth more than 30,000 fails the property test; at or under 30,000 it
    passes, with proof of its value (policy_facts.md §2; RULES.md "Property test")."""
    p = f.params
    vehicles = f.household.vehicle_values
    reference = p.sources.get("vehicle_exempt_max")
    values: dict[str, Any] = {
        "reference": reference.reference if reference else None,
        "limit": p.vehicle_exempt_max,
        "count": 0 if vehicles is None else len(vehicles),
        "top": max(vehicles) if vehicles else 0,
    }
    outcome: Tri
    if vehicles is None:
        outcome = None
    elif not vehicles:
        outcome = True
    elif p.vehicle_exempt_max is None:
        outcome = None
    else:
        outcome = max(vehicles) <= p.vehicle_exempt_max
    return Check(outcome, (f.say("property.vehicle", outcome, **values),))


def homes_test(f: Facts) -> Check:
    """Two homes or more: the floor-area rule cannot be checked in a chat, so at most
    `possible`; unknown homes likewise (RULES.md "Property test"; policy_facts.md §2)."""
    homes = f.household.homes
    outcome: Tri = None if homes is None or homes >= 2 else True
    return Check(outcome, (f.say("property.homes", outcome, homes=homes),))


def property_test(f: Facts) -> Check:
    """The property test passes when assets, vehicles and homes all pass; it fails when
    any fails; otherwise it cannot be told (RULES.md "Property test")."""
    parts = (assets_test(f), vehicle_test(f), homes_test(f))
    return Check(all3(*(c.outcome for c in parts)), tuple(r for c in parts for r in c.reasons))


# --- 1 dibao ----------------------------------------------------------------------------


def category_aid(f: Facts, index: int) -> tuple[float, str | None]:
    """A member's highest single 分类重点救助金: 残疾人 40; 一二级重残, 重大疾病, 70岁以上 60;
    学龄前 (under 6, not a student) or 在校学生 100 (2018 notice, policy_facts.md §1;
    000_cec2e370b7df0dcc.txt 二(一)2). Only known facts count."""
    m = f.members[index]
    aid = f.params.category_aid
    found: list[tuple[float, str]] = []
    if m.disability_grade in (1, 2, 3, 4):
        found.append((aid.disabled, "disabled"))
    if m.disability_grade in (1, 2):
        found.append((aid.severe_disability, "severe_disability"))
    if m.serious_illness:
        found.append((aid.serious_illness, "serious_illness"))
    if m.age is not None and m.age >= 70:
        found.append((aid.aged_70, "aged_70"))
    if m.student:
        found.append((aid.student, "student"))
    elif m.age is not None and m.age < 6:
        found.append((aid.preschool, "preschool"))
    if not found:
        return 0.0, None
    return max(found, key=lambda item: item[0])


def dibao_income(f: Facts) -> Check:
    """低保 income test: per-capita counted income strictly lower than the standard,
    pc < S (CQ-2022 一(一): 004_facdb4cf398febe9.txt 一(一); CQ-2017 二(一)1)."""
    outcome = lt(f.pc, f.s)
    return Check(outcome, (f.say("dibao.income", outcome),))


def dibao_amount(f: Facts, verdict: str) -> tuple[float | None, list[Reason]]:
    """Estimated monthly 低保金: (S − pc) × n, the gap to the standard
    (000_cec2e370b7df0dcc.txt 二(一)1), plus each member's highest single 分类重点救助金.
    Only when likely or possible, and only when S and pc are known."""
    if verdict == UNLIKELY:
        return None, []
    s, pc = f.s.exact, f.pc.exact
    if s is None or pc is None:
        return None, [f.say("dibao.amount_unknown", "note")]
    gap = round(s * f.n - f.total.lo, 2)
    words = texts().words["category_aid"]
    items = []
    for i in range(f.n):
        amount, category = category_aid(f, i)
        if category is not None:
            items.append({"who": f.who(i), "label": words[category], "amount": amount})
    aid = sum(item["amount"] for item in items)
    reasons = [f.say("dibao.amount", "note", amount=gap + aid, gap=gap, aid=aid)]
    if items:
        reference = f.params.sources["dibao_category_aid"].reference
        reasons.append(f.say("dibao.category_aid", "note", items=items, reference=reference))
    return round(gap + aid, 2), reasons


def dibao(f: Facts, prop: Check) -> Program:
    """1. 最低生活保障: pc < S and the property test passes → likely; property capped
    (two homes, unknowns) → possible; property fails or pc ≥ S → unlikely.
    Sources: CQ-2022 一(一) (004_facdb4cf398febe9.txt 一(一)); CQ-2017 二(一)1."""
    income = dibao_income(f)
    verdict = verdict_of(all3(income.outcome, prop.outcome))
    amount, amount_notes = dibao_amount(f, verdict)
    reasons = [
        *income.reasons,
        *income_notes(f),
        *standard_notes(f),
        *prop.reasons,
        *amount_notes,
    ]
    return Program("dibao", verdict, tuple(reasons), amount_estimate=amount)


# --- 3 dibao_edge -------------------------------------------------------------------


def edge_income(f: Facts) -> Tri:
    """S ≤ pc < 1.5 S (CQ-2022 一(四): 004_facdb4cf398febe9.txt 一(四); CQ-2021 (二))."""
    return all3(le(f.s, f.pc), lt(f.pc, f.e))


def dibao_edge(f: Facts, prop: Check) -> Program:
    """3. 低保边缘家庭: S ≤ pc < 1.5 S and the property test passes → likely; property
    capped → possible (CQ-2022 一(四): 004_facdb4cf398febe9.txt 一(四))."""
    income = edge_income(f)
    below = lt(f.pc, f.s) is True
    outcome = all3(income, prop.outcome)
    reasons = (
        f.say("dibao_edge.income", income, below=below),
        f.say("property.summary", prop.outcome),
    )
    return Program("dibao_edge", verdict_of(outcome), reasons)


# --- 2 dibao_single -----------------------------------------------------------------


def _severe(member: Member) -> Tri:
    """Severely disabled: grade 1 or 2."""
    if member.disability_grade is None:
        return None
    return member.disability_grade in (1, 2)


def single_disabled_adult(f: Facts, index: int) -> Tri:
    """An adult (≥ 18), not employed, severely disabled (grade 1 or 2) member whose own
    counted income, leaving out support payments (可以视情适当豁免), is below S may apply
    as a 单人户 (CQ-2022 一(一): 004_facdb4cf398febe9.txt 一(一))."""
    m = f.members[index]
    adult = None if m.age is None else m.age >= 18
    own = counted_income(m, f.params.employment_cost_deduction, support=False)
    return all3(adult, not3(m.employed), _severe(m), lt(own, f.s))


def single_edge_member(f: Facts, index: int, edge: Program) -> Tri:
    """In a 低保边缘 household (S ≤ pc < 1.5 S, property passes), a severely disabled
    (grade 1 or 2) or seriously ill member may apply as a 单人户 (CQ-2022 一(四);
    MCA-2021 (五); CQ-2021 (二))."""
    m = f.members[index]
    return all3(test_of(edge.verdict), any3(_severe(m), m.serious_illness))


def dibao_single(f: Facts, edge: Program) -> tuple[Program, tuple[Tri, ...]]:
    """2. 单人户: a member qualifying by either route above → likely (possible when it
    cannot be told); the result names the member(s) (0 = 本人). Also returns each
    member's outcome, for the disability living subsidy."""
    words = texts().words
    outcomes: list[Tri] = []
    reasons: list[Reason] = []
    for i, m in enumerate(f.members):
        by_disability = single_disabled_adult(f, i)
        by_edge = single_edge_member(f, i, edge)
        outcomes.append(any3(by_disability, by_edge))
        who = f.who(i)
        if by_disability is not False:
            own = counted_income(m, f.params.employment_cost_deduction, support=False)
            missing = [
                words["missing"][name]
                for name, value in (
                    ("age", m.age),
                    ("employed", m.employed),
                    ("grade", m.disability_grade),
                    ("income", own.exact),
                )
                if value is None
            ]
            reasons.append(
                f.say(
                    "dibao_single.disabled_adult",
                    by_disability,
                    who=who,
                    grade=m.disability_grade,
                    own=own.exact,
                    missing=missing or [words["missing"]["income"]],
                )
            )
        if by_edge is not False and by_disability is not True:
            kind = None
            if m.disability_grade in (1, 2):
                kind = words["severe"]["disability"]
            elif m.serious_illness:
                kind = words["severe"]["illness"]
            reasons.append(f.say("dibao_single.edge_member", by_edge, who=who, kind=kind))
    verdict = verdict_of(any3(*outcomes))
    if not reasons:
        reasons.append(f.say("dibao_single.none", False))
    named = tuple(i for i, t in enumerate(outcomes) if verdict_of(t) == verdict)
    members = named if verdict != UNLIKELY else ()
    return Program("dibao_single", verdict, tuple(reasons), members=members), tuple(outcomes)


# --- 4 tekun ----------------------------------------------------------------------------


def _disability_no_labour(member: Member) -> Tri:
    """Intellectual or mental grade 1–3, physical grade 1–2, visual grade 1. A grade
    whose kind is unknown (or `multiple`) could be any of them: cannot tell."""
    grade, kind = member.disability_grade, member.disability_kind
    if grade is None:
        return None
    if grade == 0:
        return False
    if kind is None or kind == "multiple":
        return None if grade <= 3 else False
    if kind in ("intellectual", "mental"):
        return grade <= 3
    if kind == "physical":
        return grade <= 2
    if kind == "visual":
        return grade == 1
    return False


def no_labour_capacity(member: Member) -> Tri:
    """No labour capacity: age ≥ 60; under 18 (CQ-2021 (二) extends minors' support from
    16 to 18); intellectual or mental disability grade 1–3; physical grade 1–2; visual
    grade 1 (民发〔2021〕43号, policy_facts.md §4)."""
    age = member.age
    old = None if age is None else age >= 60
    minor = None if age is None else age < 18
    return any3(old, minor, _disability_no_labour(member))


def legal_supporter(household: Household) -> Tri:
    """No legal supporter, or one unable to support: `none` or `unable` → met; `able` →
    not met; `unknown` or missing → cannot tell (民发〔2021〕43号)."""
    value = household.legal_supporter
    if value in ("none", "unable"):
        return True
    return False if value == "able" else None


def tekun(f: Facts, prop: Check) -> Program:
    """4. 特困人员, for members[0]: no labour capacity, no livelihood (own counted income
    below S and the property test passes), and no legal supporter or one unable to
    support → likely; supporter unknown → possible; otherwise unlikely.
    Source: 民发〔2021〕43号 (policy_facts.md §4); CQ-2021 (一)(三)."""
    me = f.members[0]
    labour = no_labour_capacity(me)
    own = counted_income(me, f.params.employment_cost_deduction)
    income = lt(own, f.s)
    supporter = legal_supporter(f.household)
    outcome = all3(labour, income, prop.outcome, supporter)
    why = None
    if me.age is not None and me.age >= 60:
        why = "old"
    elif me.age is not None and me.age < 18:
        why = "minor"
    kind = texts().words["kinds"].get(me.disability_kind or "", "")
    reasons = [
        f.say("tekun.no_labour", labour, why=why, age=me.age, grade=me.disability_grade, kind=kind),
        f.say("tekun.income", income, own=own.exact, own_min=own.lo),
        f.say("property.summary", prop.outcome),
        f.say("tekun.supporter", supporter, supporter=f.household.legal_supporter),
    ]
    if outcome is not False:
        p = f.params
        reasons.append(
            f.say(
                "tekun.standard",
                "note",
                basic=p.tekun_basic,
                care=p.tekun_care,
                reference=p.sources["tekun_basic_standard"].reference,
            )
        )
    return Program("tekun", verdict_of(outcome), tuple(reasons))


# --- 5 linshi ---------------------------------------------------------------------------


def linshi(f: Facts, dibao_result: Program) -> Program:
    """5. 临时救助: a sudden event (accident, fire, disaster), a major medical expense,
    or basic needs unmet now → likely (MCA-2021 (六); CQ-2017 二(五)2). Also: no income
    for 3 months or more, no unemployment insurance, and not in (or likely for) 低保 →
    likely, applied for where they work or live (CQ-2022 一(五)). Otherwise unlikely."""
    hardship = f.household.hardship
    flags = {
        "sudden_event": hardship.sudden_event,
        "major_medical_expense": hardship.major_medical_expense,
        "basic_needs_unmet": hardship.basic_needs_unmet,
    }
    emergency = any3(*flags.values())
    months = hardship.months_without_income
    long_without = None if months is None else months >= 3
    insured = hardship.unemployment_insurance
    in_dibao: Tri = True if "dibao" in f.household.receiving else test_of(dibao_result.verdict)
    unemployed = all3(long_without, not3(insured), not3(in_dibao))
    events = [texts().words["events"][k] for k, v in flags.items() if v]
    reasons = (
        f.say("linshi.emergency", emergency, events=events),
        f.say(
            "linshi.unemployed",
            unemployed,
            months=months,
            long_without=long_without is True,
            insured=insured is True,
        ),
    )
    return Program("linshi", verdict_of(any3(emergency, unemployed)), reasons)


# --- 6, 7 disability subsidies -----------------------------------------------------------


def disability_living(
    f: Facts, dibao_result: Program, single_outcomes: Sequence[Tri], edge: Program
) -> Program:
    """6. 困难残疾人生活补贴: a disabled member (grade 1–4) covered by 低保 — the household
    receives it or is likely for `dibao`, or the member is named by a likely
    `dibao_single` (or, severely disabled or seriously ill, already receives 单人户 低保)
    → likely; `possible` for `dibao`, or a likely (or possible)
    `dibao_edge` → possible; otherwise unlikely (渝民发〔2021〕15号, policy_facts.md §6;
    CQ-2021 (九))."""
    receiving = "dibao" in f.household.receiving
    edge_open: Tri = False if edge.verdict == UNLIKELY else None
    outcomes: list[Tri] = []
    reasons: list[Reason] = []
    for i, m in enumerate(f.members):
        grade = m.disability_grade
        disabled: Tri = None if grade is None else grade in (1, 2, 3, 4)
        if disabled is False:
            continue
        single = single_outcomes[i]
        # a household receiving 单人户 低保: a severely disabled or seriously ill member
        # is the one it is paid to (the two routes of dibao_single); anyone else may be
        in_single: Tri = False
        if "dibao_single" in f.household.receiving:
            in_single = True if any3(_severe(m), m.serious_illness) is True else None
        covered = any3(receiving, in_single, test_of(dibao_result.verdict), single, edge_open)
        outcome = all3(disabled, covered)
        outcomes.append(outcome)
        reasons.append(
            f.say(
                "disability_living.member",
                outcome,
                who=f.who(i),
                grade=grade,
                receiving=receiving,
                received_single=in_single is True and not receiving,
                single=single is True and dibao_result.verdict != LIKELY,
            )
        )
    if not reasons:
        reasons.append(f.say("disability_living.none", False))
    return Program("disability_living", verdict_of(any3(*outcomes)), tuple(reasons))


def care_eligible(member: Member) -> Tri:
    """Grade 1 or 2 → met; intellectual or mental grade 3–4 → cannot tell (CQ-2021 (九)
    extends the subsidy to them gradually), as is a grade 3–4 of unknown or multiple
    kind; otherwise not met."""
    grade, kind = member.disability_grade, member.disability_kind
    if grade is None:
        return None
    if grade in (1, 2):
        return True
    if grade in (3, 4) and kind in (None, "intellectual", "mental", "multiple"):
        return None
    return False


def disability_care(f: Facts) -> Program:
    """7. 重度残疾人护理补贴: a member with grade 1 or 2 → likely; intellectual or mental
    grade 3–4 → possible (CQ-2021 (九): 002_dbf974436b87d268.txt (九)); otherwise
    unlikely."""
    outcomes: list[Tri] = []
    reasons: list[Reason] = []
    kinds = texts().words["kinds"]
    for i, m in enumerate(f.members):
        outcome = care_eligible(m)
        outcomes.append(outcome)
        if outcome is not False:
            reasons.append(
                f.say(
                    "disability_care.member",
                    outcome,
                    who=f.who(i),
                    grade=m.disability_grade,
                    kind=kinds.get(m.disability_kind or "", ""),
                )
            )
    if not reasons:
        reasons.append(f.say("disability_care.none", False))
    return Program("disability_care", verdict_of(any3(*outcomes)), tuple(reasons))


# --- 8 gradual_exit -------------------------------------------------------------------


def gradual_exit(f: Facts) -> Program:
    """8. 渐退期, only for a household already receiving 低保: income rose through work
    and pc ≥ S → likely; otherwise S ≤ pc < 1.5 S → likely; pc < S, or pc ≥ 1.5 S
    without work → unlikely. 6 months (CQ-2022 一(三): 004_facdb4cf398febe9.txt 一(三))."""
    if "dibao" not in f.household.receiving:
        return Program("gradual_exit", UNLIKELY, (f.say("gradual_exit.not_receiving", False),))
    above = le(f.s, f.pc)
    by_work = all3(f.household.income_rise_from_work, above)
    by_band = edge_income(f)
    outcome = any3(by_work, by_band)
    reason = f.say(
        "gradual_exit.income",
        outcome,
        work=by_work is True,
        below=above is False,
        months=f.params.gradual_exit_months,
    )
    return Program("gradual_exit", verdict_of(outcome), (reason,))


# --- 9 medical_aid ----------------------------------------------------------------------


def medical_aid(
    f: Facts, dibao_result: Program, single: Program, edge: Program, tekun_result: Program
) -> Program:
    """9. 医疗救助: likely for 低保 or 特困 (likely or receiving; a member likely for
    低保 as a 单人户 counts as 低保); possible for a likely (or possible) 低保边缘
    household or a possible 低保 or 特困 (CQ-2017 二(五)1; FJ-2017 三(二)3)."""
    receiving = f.household.receiving
    bases = {
        "receiving_dibao": "dibao" in receiving,
        "receiving_tekun": "tekun" in receiving,
        "receiving_dibao_single": "dibao_single" in receiving,
        "dibao": test_of(dibao_result.verdict),
        "dibao_single": test_of(single.verdict),
        "tekun": test_of(tekun_result.verdict),
    }
    edge_open: Tri = False if edge.verdict == UNLIKELY and "dibao_edge" not in receiving else None
    outcome = any3(*bases.values(), edge_open)
    words = texts().words["medical_basis"]
    basis = [words[k] for k, v in bases.items() if v is True]
    return Program(
        "medical_aid", verdict_of(outcome), (f.say("medical_aid.basis", outcome, basis=basis),)
    )


# --- urgency, guidance, assess ------------------------------------------------------------


def urgency(household: Household) -> str:
    """`urgent` when the hardship answers say basic needs are unmet now or a sudden event
    happened, else `none` (RULES.md "Programs", last paragraph; MCA-2021 (六))."""
    hardship = household.hardship
    return "urgent" if hardship.sudden_event or hardship.basic_needs_unmet else "none"


def guidance(f: Facts, programs: Mapping[str, Program], level: str) -> tuple[Guidance, ...]:
    """Where to apply, what to bring, how long, the duty to report changes (RULES.md "What
    the result tells the resident"; sources in eligibility.yaml)."""
    vehicles = f.household.vehicle_values or []
    limit = f.params.vehicle_exempt_max
    values = {
        **f.context,
        "linshi": programs["linshi"].verdict,
        "vehicle_proof": bool(vehicles) and limit is not None and max(vehicles) <= limit,
        "review": f.params.review,
    }
    out = []
    for item in texts().guidance:
        if item.get("when_urgent") and level != "urgent":
            continue
        out.append(
            Guidance(
                str(item["topic"]),
                str(item["title"]),
                _render(item["text"], values),
                str(item["source"]),
                _render(item["short"], values),
            )
        )
    return tuple(out)


def _district_name(text: str | None) -> str | None:
    """The official name of the household's district; an unknown name raises
    `knowledge.places.UnknownPlace` naming the closest matches."""
    if text is None:
        return None
    return resolve_district(text).name


def assess(household: Household, today: dt.date | None = None) -> Assessment:
    """Pre-screen a household for the nine programs of RULES.md.

    `household.as_of` missing → `today` (default: `date.today()`). Raises
    `knowledge.places.UnknownPlace` for an unknown district name and
    `knowledge.parameters.ParameterError` for a date before the first standard (both
    LookupError, one line in Chinese and English).
    """
    as_of = household.as_of or today or dt.date.today()
    district = _district_name(household.district)
    f = _facts(household, parameters_at(as_of, district), as_of)
    prop = property_test(f)
    dibao_result = dibao(f, prop)
    edge = dibao_edge(f, prop)
    single, single_outcomes = dibao_single(f, edge)
    tekun_result = tekun(f, prop)
    programs = {
        "dibao": dibao_result,
        "dibao_single": single,
        "dibao_edge": edge,
        "tekun": tekun_result,
        "linshi": linshi(f, dibao_result),
        "disability_living": disability_living(f, dibao_result, single_outcomes, edge),
        "disability_care": disability_care(f),
        "gradual_exit": gradual_exit(f),
        "medical_aid": medical_aid(f, dibao_result, single, edge, tekun_result),
    }
    level = urgency(household)
    return Assessment(
        as_of=as_of,
        district=district,
        area=household.area,
        standard=f.s.exact,
        per_capita_income=f.pc_shown,
        programs=programs,
        urgency=level,
        notice=texts().notice,
        guidance=guidance(f, programs, level),
    )


def verdicts(assessment: Assessment) -> dict[str, str]:
    """Program code -> verdict, for callers that only need the verdicts."""
    return {code: program.verdict for code, program in assessment.programs.items()}
