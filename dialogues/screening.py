"""The pre-screening questionnaire: which assistance a household may get (RULES.md).

It asks only what the rules of `knowledge.eligibility` need, in a natural order, and
skips a question whose answer cannot change any verdict. Every question fits one SMS;
an answer may always be 不知道, which reaches the household as unknown (None), never as
a guess. The flow table is `FLOW` at the end; screening.mmd draws it.

    DISTRICT → AREA? → RECEIVING → SIZE (and ages) → AGES? →
      per member: SITUATION → GRADE? → KIND? →
    WAGES? → LABOUR → BASIC_PENSION? → OTHER → SUPPORT? → OWN? (per member) → RISE? →
    SAVINGS? → VEHICLE? → VEHICLE_VALUE? → HOMES? → SUPPORTER? → HARDSHIP → INSURANCE?
    → the assessment, and an offer to pass the case to the township window

When a question is asked (the rule it serves, RULES.md unless said otherwise):

- SIZE asks for everyone's age ("68 66": two people), and takes a count with them ("2个
  70 68", "就我一个，68岁"); AGES only when the reply was a count ("2", "两口人", "我们俩").
- AREA: only when the district's urban and rural standards differ on that date (南岸区
  pays its rural residents the urban standard from 2023-09-01, "Parameters").
- RISE (income rose through work?): only for a household already on 低保 whose income
  may reach 1.5 S: between S and 1.5 S the 渐退期 applies anyway, below S it does not
  (program 8). So it follows the income questions.
- GRADE: for a member said to be disabled. KIND: only where the kind changes a verdict:
  grade 3–4 (护理补贴 extends to intellectual and mental 3–4, program 7), or 本人 aged
  18–59 (or age unknown) with grade 1–3 (no labour capacity for 特困, program 4).
- Labour income is one question (wages, business and farming "folded"), except where a
  district deducts a share of wages as 就业成本 (奉节县 20 %, FJ-2017 三(三)1) and a
  member works: then wages are asked apart. Folded income is recorded as wages when
  someone works (so the result mentions the deduction that may apply, CQ-2021 (二)),
  else as business income; neither is deducted, which errs against the household.
- BASIC_PENSION: only when a member is 60 or older (or of unknown age); it is said not
  to count (CQ-2017 二(二)3; MCA-2021 (八)), and asked apart so it is kept out of OTHER.
- SUPPORT (support payments within OTHER): only when a member could be a 单人户 (an
  adult, not working, severely disabled member: their support may be exempted,
  CQ-2022 一(一)), OTHER is known and not nothing, and the household's total does not
  already settle that member's own income below the standard.
- OWN (a member's own income): only when a rule judges one member's own income and the
  household's total does not settle it (own income ≤ total, so a total below the
  standard settles it): 本人 for 特困 (program 4), a possible 单人户 member (program 2);
  never for one-person households, nor when no part of the total is known (the
  resident said 不知道 to the totals: there is nothing to take a share of).
- SAVINGS, VEHICLE, HOMES: only when the property test can change a verdict: the
  verdicts with the property unknown, passing and failing are not all the same (income
  above every standard leaves nothing for it to decide). Not asked, they stay unknown in
  the household, never "owns nothing" ("Property test").
- SUPPORTER: only when 特困 is still in play for 本人 (program 4, "no legal supporter");
  where another adult lives with 本人, it says that a spouse living with them counts.
- INSURANCE: only after "3个月以上没收入" (临时救助 for the uninsured, CQ-2022 一(五)).

Who has which income: the household's totals by kind are what the resident gives; a
member's own income (OWN) is taken out of them (other income first, wages last; what
the known totals cannot hold is in their unknown part), and the rest belongs to the
first member whose own income was not asked. Own income "不知道"
makes that member's income unknown, which leaves the per-capita income unknown too.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from dialogues.answers import (
    UNKNOWN,
    mentions_word,
    normalize,
    parse_age,
    parse_amount,
    parse_count,
    parse_district,
    people_and_rest,
)
from dialogues.choices import pick_many, pick_one, shown
from dialogues.engine import Flow, Say, Session, State, Step
from knowledge.eligibility import (
    Span,
    household_income,
    household_standard,
    lt,
    no_labour_capacity,
    verdicts,
)
from knowledge.eligibility import assess as assess_household
from knowledge.household import Hardship, Household, Income, Member
from knowledge.kb import seed_cite, seed_titles
from knowledge.parameters import Parameters, parameters_at

NAME = "screening"

DISTRICT, AREA, RECEIVING, RISE = "district", "area", "receiving", "rise"
SIZE, AGES, SITUATION, GRADE, KIND = "size", "ages", "situation", "grade", "kind"
WAGES, LABOUR, BASIC_PENSION, OTHER = "wages", "labour", "basic_pension", "other"
SUPPORT, OWN = "support", "own"
SAVINGS, VEHICLE, VEHICLE_VALUE, HOMES = "savings", "vehicle", "vehicle_value", "homes"
BEYOND_ANY_LIMIT = 1e9  # yuan: savings or a vehicle that fails every property limit
SUPPORTER, HARDSHIP, INSURANCE = "supporter", "hardship", "insurance"

MAX_MEMBERS = 20  # a household larger than this is typed in error (answers.MAX_COUNT is 30)
MAX_COUNT_ALONE = 10  # a lone number up to this answers "how many people", not "how old"
MIN_VEHICLE = 100.0  # yuan; a smaller "value" is a count read as money (有一辆)
GRADES = {"1": 1, "2": 2, "3": 3, "4": 4, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_GRADE = re.compile(r"^(?:残疾)?(?:证)?(?:是)?([1-4一二两三四])(?:级|等)?(?:残疾)?(?:的)?$")
_NUMERAL = re.compile(r"[0-9零〇一二两三四五六七八九十百]")
_AGE_SPLIT = re.compile(r"[\s,，、;；/和]+")
_FIRST_SPLIT = re.compile(r"[\s,，、;；]+")
_AGE_GAP = re.compile(r"(?<=[0-9])(?=[^0-9岁.年月号日])|(?<=[岁了])")
_SEED = re.compile(r"(\d{3}_[0-9a-f]{16}\.txt)")
_FACTS_NOTE = re.compile(r"\s*[（(]policy_facts\.md\s*§\d+[)）]")


# --- reading the answers so far --------------------------------------------------------


def today(session: Session) -> dt.date:
    """The date the household is assessed on: the day the questionnaire started."""
    raw = session.answers.get("today")
    if raw:
        return dt.date.fromisoformat(str(raw))
    day = dt.date.today()
    session.answers["today"] = day.isoformat()
    return day


def params(session: Session) -> Parameters:
    return parameters_at(today(session), session.answers.get("district"))


def size(session: Session) -> int:
    return int(session.answers.get("size") or 1)


def _list(session: Session, key: str) -> list[Any]:
    """A per-member answer list, sized to the household."""
    n = size(session)
    items: list[Any] = list(session.answers.get(key) or [])
    items = (items + [None] * n)[:n]
    session.answers[key] = items
    return items


def age(session: Session, index: int) -> int | None:
    ages = session.answers.get("ages") or []
    value = ages[index] if index < len(ages) else None
    return None if value is None else int(value)


def situation(session: Session, index: int) -> list[str] | None:
    """What was picked for a member ([] for none), or None when not known."""
    items = session.answers.get("situation") or []
    value = items[index] if index < len(items) else None
    return None if value is None else list(value)


def _has(session: Session, index: int, what: str) -> bool | None:
    picked = situation(session, index)
    return None if picked is None else what in picked


def who(session: Session, index: int) -> dict[str, Any]:
    """Which member a question is about, for the templates (0 = 本人)."""
    return {"index": index, "age": age(session, index)}


# --- the household (the input of knowledge.eligibility.assess) ------------------------


def _works(session: Session) -> bool | None:
    said = [_has(session, i, "working") for i in range(size(session))]
    if any(s is True for s in said):
        return True
    return None if any(s is None for s in said) else False


def _wages_apart(session: Session) -> bool:
    deduction = params(session).employment_cost_deduction
    return bool(deduction) and _works(session) is not False


def _money(session: Session, key: str) -> float | None:
    value = session.answers.get(key, 0.0)
    return None if value is None else float(value)


def _members(session: Session) -> list[Member]:
    members = []
    grades, kinds = _list(session, "grade"), _list(session, "kind")
    for i in range(size(session)):
        picked = situation(session, i)
        member = Member(age=age(session, i))
        if picked is not None:
            member.employed = "working" in picked
            member.student = "student" in picked
            member.serious_illness = "ill" in picked
            disabled = "disabled" in picked
            member.disability_grade = grades[i] if disabled else 0
            member.disability_kind = kinds[i] if disabled and _kind_needed(session, i) else None
        members.append(member)
    return members


def _pool(session: Session, split: bool = True) -> dict[str, float | None]:
    """The household's monthly income by kind, as the resident gave it; with `split`,
    support payments apart from other income where SUPPORT was asked."""
    labour = _money(session, "labour")
    pool: dict[str, float | None] = {k: 0.0 for k in Income.kinds()}
    if _wages_apart(session):
        pool["wages"], pool["business"] = _money(session, "wages"), labour
    elif _works(session):
        pool["wages"] = labour
    else:
        pool["business"] = labour
    if _basic_pension_needed(session):
        pool["basic_pension"] = _money(session, "basic_pension")
    other = _money(session, "other")
    support = _money(session, "support") if split and _support_needed(session) else 0.0
    if other is not None and support is not None:
        pool["other"], pool["support"] = max(other - support, 0.0), support
    else:
        pool["other"] = other  # support unknown: no exemption (it errs against the household)
    return pool


def _allocate(session: Session, members: list[Member]) -> None:
    """Give each member their income: own income (OWN) out of the pool, other income
    first and wages last (support only when the question counted it; what the known
    part cannot hold is in the unknown part, and counts as other income), the rest to
    the first member whose own income was not asked."""
    pool = _pool(session)
    incomes: list[dict[str, float | None]] = [{k: 0.0 for k in Income.kinds()} for _ in members]
    own: Mapping[str, Any] = session.answers.get("own") or {}
    asked = [i for i in _focus(session) if str(i) in own]
    for i in asked:
        amount = own[str(i)]
        if amount is None:
            incomes[i]["other"] = None
            continue
        left = float(amount)
        order = ["other", "business", "farming", "pension", "wages"]
        if _own_with_support(session, i):
            order.append("support")
        for kind in order:
            available = pool[kind]
            if available is None or left <= 0:
                continue
            take = min(left, available)
            incomes[i][kind] = (incomes[i][kind] or 0.0) + take
            pool[kind] = available - take
            left -= take
        if left > 0 and None in pool.values():  # the rest of it is in the unknown part
            incomes[i]["other"] = (incomes[i]["other"] or 0.0) + left
    rest = next((i for i in range(len(members)) if i not in asked), 0)
    for kind, value in pool.items():
        held = incomes[rest][kind]
        incomes[rest][kind] = None if value is None or held is None else held + value
    for member, income in zip(members, incomes, strict=True):
        member.income = Income(**{k: _round(v) for k, v in income.items()})


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _household(session: Session, supporter: str | None) -> Household:
    a = session.answers
    members = _members(session)
    _allocate(session, members)
    picked = a.get("hardship", [])
    if picked is None:
        hardship = Hardship(None, None, None, None, None)
    else:
        no_income = "no_income" in picked
        hardship = Hardship(
            sudden_event="sudden_event" in picked,
            major_medical_expense="major_medical_expense" in picked,
            basic_needs_unmet="basic_needs_unmet" in picked,
            months_without_income=3 if no_income else 0,  # the option says "3个月以上"
            unemployment_insurance=a.get("insurance", False) if no_income else False,
        )
    vehicles = a.get("vehicles", [])
    return Household(
        members=members,
        as_of=today(session),
        district=a.get("district"),
        area=a.get("area"),
        financial_assets=_money(session, "savings"),
        vehicle_values=None if vehicles is None else [float(v) for v in vehicles],
        homes=a.get("homes", 0),
        legal_supporter=supporter,
        receiving=["dibao"] if a.get("receiving") is True else [],
        income_rise_from_work=a.get("rise") if a.get("receiving") is True else None,
        hardship=hardship,
    )


def build_household(session: Session) -> Household:
    """The household the answers describe (CONTRACTS.md), unknowns as None: property
    questions skipped because no verdict turned on them are unknown, never "none"."""
    supporter = session.answers.get("supporter") if _supporter_needed(session) else None
    household = _household(session, supporter)
    a = session.answers
    if SAVINGS not in a:
        household.financial_assets = None
    if "vehicles" not in a:
        household.vehicle_values = None
    if HOMES not in a:
        household.homes = None
    return household


# --- when a question is needed (see the module docstring) -----------------------------


def _area_needed(session: Session) -> bool:
    p = params(session)
    return session.answers.get("district") is None or p.dibao_urban != p.dibao_rural


def _ages_needed(session: Session) -> bool:
    return len(session.answers.get("ages") or []) != size(session)


def _rise_needed(session: Session) -> bool:
    """Already on 低保, and whether income rose through work can change the 渐退期: with
    it unknown the verdict is `possible` (pc may reach 1.5 S; between S and 1.5 S the
    渐退期 applies anyway, below S it does not: RULES.md program 8)."""
    if session.answers.get("receiving") is not True:
        return False
    draft = _household(session, None)
    draft.income_rise_from_work = None
    return assess_household(draft).programs["gradual_exit"].verdict == "possible"


def _grade_needed(session: Session) -> bool:
    return _has(session, session.cursor, "disabled") is True


def _kind_needed(session: Session, index: int | None = None) -> bool:
    i = session.cursor if index is None else index
    if _has(session, i, "disabled") is not True:
        return False
    grade = _list(session, "grade")[i]
    if grade is None:
        return False
    if grade in (3, 4):
        return True  # 护理补贴 for intellectual and mental grade 3–4
    years = age(session, i)
    working_age = years is None or 18 <= years < 60
    return i == 0 and grade in (1, 2, 3) and working_age  # 特困: no labour capacity


def _basic_pension_needed(session: Session) -> bool:
    ages = [age(session, i) for i in range(size(session))]
    return any(a is None or a >= 60 for a in ages)


def _single_candidate(session: Session, index: int) -> bool:
    """Could this member be a 单人户 (adult, not working, severely disabled)?"""
    years = age(session, index)
    if years is not None and years < 18:
        return False
    if _has(session, index, "working") is True:
        return False
    disabled = _has(session, index, "disabled")
    if disabled is False:
        return False
    grade = _list(session, "grade")[index]
    return grade is None or grade in (1, 2)


def _support_needed(session: Session) -> bool:
    """Support payments are left out of a 单人户 member's own income: asking them apart
    helps only when other income is known and not nothing, and the household's total
    (with them) does not already settle every candidate's own income below S."""
    other = session.answers.get("other", 0.0)
    if other is None or other <= 0:
        return False
    candidates = any(_single_candidate(session, i) for i in range(size(session)))
    return candidates and not _settled_below(session, support=True)


def _total(session: Session, support: bool) -> Span:
    """The household's counted monthly income (with or without support payments)."""
    pool = _pool(session, split=not support)
    if not support:
        pool["support"] = 0.0
    draft = Household(members=[Member(income=Income(**pool))])
    return household_income(draft, params(session).employment_cost_deduction)


def _settled_below(session: Session, support: bool) -> bool:
    """The household's counted total (with or without support) is below every standard
    it may have: then each member's own income is too."""
    standard = household_standard(params(session), session.answers.get("area"))
    return lt(_total(session, support), standard) is True


def _tekun_focus(session: Session) -> bool:
    """本人's own income decides 特困 (program 4) and the total does not settle it."""
    if size(session) < 2:
        return False
    me = _members(session)[0]
    return no_labour_capacity(me) is not False and not _settled_below(session, support=True)


def _focus(session: Session) -> list[int]:
    """The members whose own income a rule needs and the household total does not settle;
    none when no part of the total is known (own income is a share of it)."""
    if size(session) < 2:
        return []
    total = _total(session, support=True)
    if total.lo == 0 and math.isinf(total.hi):
        return []
    found = [0] if _tekun_focus(session) else []
    if not _settled_below(session, support=False):
        found += [
            i for i in range(size(session)) if i not in found and _single_candidate(session, i)
        ]
    return sorted(found)


def _own_with_support(session: Session, index: int) -> bool:
    """特困 counts support in 本人's own income; the 单人户 test leaves it out."""
    return index == 0 and _tekun_focus(session)


def _property_needed(session: Session) -> bool:
    """Savings, vehicles and homes can change a verdict: the verdicts with the property
    unknown differ from those with it passing the property test, or failing it."""
    unknown = _verdicts_with_property(session, None, None, None)
    passing = _verdicts_with_property(session, 0.0, [], 1)
    failing = _verdicts_with_property(session, BEYOND_ANY_LIMIT, [BEYOND_ANY_LIMIT], 9)
    return not unknown == passing == failing


def _verdicts_with_property(
    session: Session, assets: float | None, vehicles: list[float] | None, homes: int | None
) -> dict[str, str]:
    draft = _household(session, None)
    draft.financial_assets, draft.vehicle_values, draft.homes = assets, vehicles, homes
    return verdicts(assess_household(draft))


def _vehicle_value_needed(session: Session) -> bool:
    return session.answers.get("vehicle_yes") is True


def _supporter_needed(session: Session) -> bool:
    """特困 is still in play for 本人 whatever the supporter: ask who supports them."""
    draft = _household(session, None)
    return assess_household(draft).programs["tekun"].verdict != "unlikely"


def _insurance_needed(session: Session) -> bool:
    picked = session.answers.get("hardship")
    return picked is not None and "no_income" in picked


# --- asking ---------------------------------------------------------------------------


def _ask(template: str, **values: Any) -> list[Say]:
    return [Say(template, {"retry": False, **values})]


def _again(template: str, **values: Any) -> Step:
    return Step.again(template, retry=True, **values)


def _record(session: Session, key: str, value: Any) -> Step:
    session.answers[key] = None if value is UNKNOWN else value
    return Step()


def _unknown(key: str) -> Any:
    def skip(session: Session) -> Step:
        session.answers[key] = None
        return Step()

    return skip


# DISTRICT


def ask_district(session: Session) -> list[Say]:
    return _ask("screen_district")


def answer_district(session: Session, text: str) -> Step:
    district = parse_district(text)
    if district is None:
        return _again("screen_district")
    session.answers["district"] = district.name
    return Step()


# AREA


def ask_area(session: Session) -> list[Say]:
    return _ask("screen_area", options=shown("area"))


def answer_area(session: Session, text: str) -> Step:
    picked = pick_one(text, "area")
    if picked is None:
        return _again("screen_area", options=shown("area"))
    return _record(session, "area", picked)


# RECEIVING and RISE


def ask_receiving(session: Session) -> list[Say]:
    return _ask("screen_receiving", options=shown("receiving"))


def _yes_no(session: Session, text: str, key: str, options: str, template: str) -> Step:
    picked = pick_one(text, options)
    if picked is None:
        return _again(template, options=shown(options))
    return _record(session, key, picked if picked is UNKNOWN else picked == "yes")


def answer_receiving(session: Session, text: str) -> Step:
    return _yes_no(session, text, "receiving", "receiving", "screen_receiving")


def ask_rise(session: Session) -> list[Say]:
    return _ask("screen_rise", options=shown("yes_no"))


def answer_rise(session: Session, text: str) -> Step:
    return _yes_no(session, text, "rise", "yes_no", "screen_rise")


# SIZE and AGES


def ask_size(session: Session) -> list[Say]:
    return _ask("screen_size")


def _set_size(session: Session, count: int) -> None:
    if session.answers.get("size") != count:
        for key in ("ages", "situation", "grade", "kind", "own"):
            session.answers.pop(key, None)
    session.answers["size"] = count


def _count_and_rest(text: str, day: dt.date) -> tuple[int, str] | None:
    """A count of people and the rest of the reply: a count said as such ("2个 70 68",
    "就我一个，68岁", see `answers.people_and_rest`), or a bare leading figure up to
    `MAX_COUNT_ALONE` followed by exactly that many ages ("2 70 68": nobody of 2 writes)."""
    said = people_and_rest(text)
    if said is not None:
        return said
    first, *rest = _FIRST_SPLIT.split(normalize(text), maxsplit=1)
    count = parse_count(first) if first.isdigit() else None
    if not isinstance(count, int) or not 1 <= count <= MAX_COUNT_ALONE or not rest:
        return None
    return (count, rest[0]) if parse_ages(rest[0], count, day) is not None else None


def _ages_beside(rest: str, count: int, day: dt.date) -> list[int | None] | None:
    """The ages said beside a count: [] when none are said ("两口人，我和老伴"), one said
    of everyone ("都七十多了"), else exactly `count` of them (`parse_ages`); None when
    they do not match the count."""
    if not _NUMERAL.search(rest) and parse_age(rest) is not UNKNOWN:
        return []
    ages = parse_ages(rest, count, day)
    if ages is None and mentions_word(rest, "everyone"):
        one = read_ages(rest, day)
        if one is not None and len(one) == 1:
            return one * count
    return ages


def _size_again(too_many: bool = False, mismatch: bool = False, count_only: bool = False) -> Step:
    return _again("screen_size", too_many=too_many, mismatch=mismatch, count_only=count_only)


def answer_size(session: Session, text: str) -> Step:
    """How many live together, and (as the question asks) their ages: "68 66" is two
    people aged 68 and 66; "2", "两口人", "我和老伴" give the count, and AGES follows;
    "2个 70 68", "2口人，68和66", "就我一个，68岁" give both. A count that disagrees
    with the ages given is asked again. A lone number up to `MAX_COUNT_ALONE` without 岁
    is a count (nobody that young writes alone), a larger one the age of one person
    living alone."""
    day = today(session)
    counted = _count_and_rest(text, day)
    if counted is not None:
        count, rest = counted
        if not 1 <= count <= MAX_MEMBERS:
            return _size_again(too_many=count > MAX_MEMBERS)
        ages = _ages_beside(rest, count, day)
        if ages is None:
            return _size_again(mismatch=True)
        _set_size(session, count)
        if ages:
            session.answers["ages"] = ages
        return Step()
    ages = read_ages(text, day)
    lone_small = (
        ages is not None
        and len(ages) == 1
        and (ages[0] or 0) <= MAX_COUNT_ALONE
        and "岁" not in normalize(text)
    )
    if ages is not None and not lone_small and 1 <= len(ages) <= MAX_MEMBERS:
        _set_size(session, len(ages))
        session.answers["ages"] = ages
        return Step()
    said = parse_count(text)
    if said is UNKNOWN:
        return _size_again(count_only=True)  # a count alone will do
    if not isinstance(said, int) or not 1 <= said <= MAX_MEMBERS:
        return _size_again(too_many=isinstance(said, int) and said > MAX_MEMBERS)
    _set_size(session, said)
    return Step()


def read_ages(text: str, day: dt.date) -> list[int | None] | None:
    """Ages in one reply, 本人 first: "68 40 12", "68岁，40岁，12岁", "我68 老伴66",
    "68 不知道" (an unknown age is None), "1957年的" (one). None when a figure is not an
    age, or when no age at all is read."""
    one = parse_age(text, day)
    if isinstance(one, int):
        return [one]
    cleaned = _AGE_GAP.sub(" ", normalize(text))
    ages: list[int | None] = []
    for part in _AGE_SPLIT.split(cleaned):
        if not part:
            continue
        value = parse_age(part, day)
        if value is None:
            if _NUMERAL.search(part):
                return None  # a figure that is not an age
            continue  # a word such as 我 or 老伴
        ages.append(None if value is UNKNOWN else value)
    return ages if any(a is not None for a in ages) else None


def parse_ages(text: str, count: int, day: dt.date) -> list[int | None] | None:
    """Exactly `count` ages (see `read_ages`); 不知道 alone: every age unknown."""
    if parse_age(text, day) is UNKNOWN and not _NUMERAL.search(normalize(text)):
        return [None] * count
    ages = read_ages(text, day)
    return ages if ages is not None and len(ages) == count else None


def ask_ages(session: Session) -> list[Say]:
    return _ask("screen_ages", n=size(session))


def answer_ages(session: Session, text: str) -> Step:
    ages = parse_ages(text, size(session), today(session))
    if ages is None:
        return _again("screen_ages", n=size(session))
    session.answers["ages"] = ages
    return Step()


def _skip_ages(session: Session) -> Step:
    session.answers["ages"] = [None] * size(session)
    return Step()


# SITUATION, GRADE, KIND: once per member (cursor = the member)


def _next_member(session: Session, after: str) -> Step:
    """After a member's question: that member's next question, else the next member."""
    i = session.cursor
    if after == SITUATION and _grade_needed(session):
        return Step()  # GRADE follows in the table
    if after in (SITUATION, GRADE) and _kind_needed(session):
        return Step(next=KIND)
    if i + 1 < size(session):
        return Step(next=SITUATION, cursor=i + 1)
    return Step()  # on to the income questions


def ask_situation(session: Session) -> list[Say]:
    return _ask("screen_situation", who=who(session, session.cursor), options=shown("situation"))


def answer_situation(session: Session, text: str) -> Step:
    picked = pick_many(text, "situation")
    if picked is None:
        return _again(
            "screen_situation", who=who(session, session.cursor), options=shown("situation")
        )
    _list(session, "situation")[session.cursor] = None if picked is UNKNOWN else picked
    return _next_member(session, SITUATION)


def _skip_situation(session: Session) -> Step:
    _list(session, "situation")[session.cursor] = None
    return _next_member(session, SITUATION)


def ask_grade(session: Session) -> list[Say]:
    return _ask("screen_grade", who=who(session, session.cursor))


def parse_grade(text: str) -> int | None:
    """一级 / 2级 / 二 / 残疾证是3级的 → the grade 1–4; None otherwise."""
    key = normalize(text).replace(" ", "")
    match = _GRADE.match(key)
    return GRADES[match.group(1)] if match else None


def answer_grade(session: Session, text: str) -> Step:
    grade = parse_grade(text)
    if grade is None:
        return _again("screen_grade", who=who(session, session.cursor))
    _list(session, "grade")[session.cursor] = grade
    return _next_member(session, GRADE)


def _skip_grade(session: Session) -> Step:
    _list(session, "grade")[session.cursor] = None
    return _next_member(session, GRADE)


def ask_kind(session: Session) -> list[Say]:
    return _ask("screen_kind", who=who(session, session.cursor), options=shown("disability_kind"))


def answer_kind(session: Session, text: str) -> Step:
    picked = pick_one(text, "disability_kind")
    if picked is None:
        return _again(
            "screen_kind", who=who(session, session.cursor), options=shown("disability_kind")
        )
    _list(session, "kind")[session.cursor] = None if picked is UNKNOWN else picked
    return _next_member(session, KIND)


def _skip_kind(session: Session) -> Step:
    _list(session, "kind")[session.cursor] = None
    return _next_member(session, KIND)


# Income


def _amount(session: Session, text: str, key: str, template: str, **values: Any) -> Step:
    value = parse_amount(text)
    if value is None:
        return _again(template, **values)
    return _record(session, key, value)


def ask_wages(session: Session) -> list[Say]:
    return _ask("screen_wages")


def answer_wages(session: Session, text: str) -> Step:
    return _amount(session, text, "wages", "screen_wages")


def ask_labour(session: Session) -> list[Say]:
    return _ask("screen_labour", after_wages=_wages_apart(session))


def answer_labour(session: Session, text: str) -> Step:
    return _amount(session, text, "labour", "screen_labour", after_wages=_wages_apart(session))


def ask_basic_pension(session: Session) -> list[Say]:
    return _ask("screen_basic_pension")


def answer_basic_pension(session: Session, text: str) -> Step:
    return _amount(session, text, "basic_pension", "screen_basic_pension")


def ask_other(session: Session) -> list[Say]:
    return _ask("screen_other", basic=_basic_pension_needed(session))


def answer_other(session: Session, text: str) -> Step:
    return _amount(session, text, "other", "screen_other", basic=_basic_pension_needed(session))


def ask_support(session: Session) -> list[Say]:
    return _ask("screen_support")


def answer_support(session: Session, text: str) -> Step:
    return _amount(session, text, "support", "screen_support")


def _focus_first(session: Session) -> int:
    found = _focus(session)
    return found[0] if found else 0


def _own_values(session: Session) -> dict[str, Any]:
    i = session.cursor
    return {"who": who(session, i), "with_support": _own_with_support(session, i)}


def ask_own(session: Session) -> list[Say]:
    return _ask("screen_own", **_own_values(session))


def _next_focus(session: Session) -> Step:
    later = [i for i in _focus(session) if i > session.cursor]
    return Step(next=OWN, cursor=later[0]) if later else Step()


def answer_own(session: Session, text: str) -> Step:
    value = parse_amount(text)
    if value is None:
        return _again("screen_own", **_own_values(session))
    own = dict(session.answers.get("own") or {})
    own[str(session.cursor)] = None if value is UNKNOWN else value
    session.answers["own"] = own
    return _next_focus(session)


def _skip_own(session: Session) -> Step:
    own = dict(session.answers.get("own") or {})
    own[str(session.cursor)] = None
    session.answers["own"] = own
    return _next_focus(session)


# Property


def ask_savings(session: Session) -> list[Say]:
    return _ask("screen_savings")


def answer_savings(session: Session, text: str) -> Step:
    return _amount(session, text, "savings", "screen_savings")


def parse_values(text: str) -> list[float] | None:
    """Vehicle values, one per vehicle: "2万", "2万 5千", "两万，五千"; None if unread."""
    parts = [p for p in re.split(r"[\s,，、;；/和]+", normalize(text)) if p]
    values = []
    for part in parts:
        value = parse_amount(part)
        if value is None or value is UNKNOWN:
            return None
        values.append(value)
    return values or None


def ask_vehicle(session: Session) -> list[Say]:
    return _ask("screen_vehicle")


def _vehicle_values(text: str) -> list[float] | None:
    """Values read from the reply; None when there is none or one is implausibly small
    (有一辆 read as 1 yuan): vehicles are worth at least `MIN_VEHICLE` each."""
    value = parse_amount(text)
    values = [value] if isinstance(value, float) else parse_values(text)
    if values is None or any(0 < v < MIN_VEHICLE for v in values):
        return None
    return [v for v in values if v > 0]


def answer_vehicle(session: Session, text: str) -> Step:
    if parse_amount(text) is UNKNOWN:
        return _skip_vehicle(session)
    values = _vehicle_values(text)
    said = pick_one(text, "yes_no")
    if values is not None:
        session.answers["vehicle_yes"] = False
        session.answers["vehicles"] = values
        return Step()
    if said == "no":
        session.answers["vehicle_yes"] = False
        session.answers["vehicles"] = []
        return Step()
    if said == "yes" or parse_amount(text) is not None:
        session.answers["vehicle_yes"] = True
        return Step()  # VEHICLE_VALUE follows
    return _again("screen_vehicle")


def _skip_vehicle(session: Session) -> Step:
    session.answers["vehicle_yes"] = False
    session.answers["vehicles"] = None
    return Step()


def ask_vehicle_value(session: Session) -> list[Say]:
    return _ask("screen_vehicle_value")


def answer_vehicle_value(session: Session, text: str) -> Step:
    if parse_amount(text) is UNKNOWN:
        session.answers["vehicles"] = None
        return Step()
    values = _vehicle_values(text)
    if values is None:
        return _again("screen_vehicle_value")
    session.answers["vehicles"] = values
    return Step()


def ask_homes(session: Session) -> list[Say]:
    return _ask("screen_homes")


def answer_homes(session: Session, text: str) -> Step:
    """A count of homes; 租房住, 住亲戚家 (renting, lodging) without a figure: none."""
    count = parse_count(text)
    if count is None:
        cleaned = normalize(text)
        if not mentions_word(cleaned, "lodging") or _NUMERAL.search(cleaned):
            return _again("screen_homes")
        count = 0
    return _record(session, "homes", count)


# Supporters and hardship


def _supporter_values(session: Session) -> dict[str, Any]:
    """本人's age (a minor is asked about parents), and whether another adult lives with
    them who may be their spouse, a legal supporter however old (the question says a
    spouse living with them counts: legal_supporter is then `able` or `unable`)."""
    others = [age(session, i) for i in range(1, size(session))]
    spouse = any(years is None or years >= 18 for years in others)
    return {"options": shown("supporter"), "age": age(session, 0), "spouse": spouse}


def ask_supporter(session: Session) -> list[Say]:
    return _ask("screen_supporter", **_supporter_values(session))


def answer_supporter(session: Session, text: str) -> Step:
    picked = pick_one(text, "supporter")
    if picked is None:
        return _again("screen_supporter", **_supporter_values(session))
    session.answers["supporter"] = "unknown" if picked is UNKNOWN else picked
    return Step()


def _skip_supporter(session: Session) -> Step:
    session.answers["supporter"] = "unknown"
    return Step()


def ask_hardship(session: Session) -> list[Say]:
    return _ask("screen_hardship", options=shown("hardship"))


def answer_hardship(session: Session, text: str) -> Step:
    picked = pick_many(text, "hardship")
    if picked is None:
        return _again("screen_hardship", options=shown("hardship"))
    return _record(session, "hardship", picked)


def ask_insurance(session: Session) -> list[Say]:
    return _ask("screen_insurance", options=shown("insurance"))


def answer_insurance(session: Session, text: str) -> Step:
    return _yes_no(session, text, "insurance", "insurance", "screen_insurance")


# --- the end: the assessment ---------------------------------------------------------


def short_source(text: str) -> str:
    """A citation as residents are shown it: the seed's document number instead of its
    file name (knowledge/sources.yaml `cite`), without the policy_facts.md pointer."""
    titles = seed_titles()
    cited = _SEED.sub(lambda m: seed_cite(m.group(1)) if m.group(1) in titles else m.group(1), text)
    return _FACTS_NOTE.sub("", cited).strip()


def _shortened(result: dict[str, Any]) -> dict[str, Any]:
    for program in result["programs"].values():
        for reason in program["reasons"]:
            reason["source"] = short_source(str(reason["source"]))
    for item in result.get("guidance", []):
        item["source"] = short_source(str(item["source"]))
    return result


def finish(session: Session) -> Step:
    """Assess the household, keep the result for a referral, and offer one."""
    household = build_household(session)
    result = _shortened(assess_household(household).to_dict())
    result["household"] = household.to_dict()
    session.result = result
    level = "urgent" if result["urgency"] == "urgent" else "normal"
    session.offer = {"kind": "after_screening", "district": result["district"], "level": level}
    return Step(says=(Say("screening_result", {"result": result, "level": level}),))


FLOW = Flow(
    NAME,
    [
        State(DISTRICT, ask_district, answer_district, skip=_unknown("district")),
        State(AREA, ask_area, answer_area, when=_area_needed, skip=_unknown("area")),
        State(RECEIVING, ask_receiving, answer_receiving, skip=_unknown("receiving")),
        State(SIZE, ask_size, answer_size),
        State(AGES, ask_ages, answer_ages, when=_ages_needed, skip=_skip_ages),
        State(SITUATION, ask_situation, answer_situation, skip=_skip_situation, first=lambda s: 0),
        State(GRADE, ask_grade, answer_grade, when=_grade_needed, skip=_skip_grade),
        State(KIND, ask_kind, answer_kind, when=_kind_needed, skip=_skip_kind),
        State(WAGES, ask_wages, answer_wages, when=_wages_apart, skip=_unknown("wages")),
        State(LABOUR, ask_labour, answer_labour, skip=_unknown("labour")),
        State(
            BASIC_PENSION,
            ask_basic_pension,
            answer_basic_pension,
            when=_basic_pension_needed,
            skip=_unknown("basic_pension"),
        ),
        State(OTHER, ask_other, answer_other, skip=_unknown("other")),
        State(SUPPORT, ask_support, answer_support, when=_support_needed, skip=_unknown("support")),
        State(
            OWN,
            ask_own,
            answer_own,
            when=lambda s: bool(_focus(s)),
            skip=_skip_own,
            first=_focus_first,
        ),
        State(RISE, ask_rise, answer_rise, when=_rise_needed, skip=_unknown("rise")),
        State(
            SAVINGS, ask_savings, answer_savings, when=_property_needed, skip=_unknown("savings")
        ),
        State(VEHICLE, ask_vehicle, answer_vehicle, when=_property_needed, skip=_skip_vehicle),
        State(
            VEHICLE_VALUE,
            ask_vehicle_value,
            answer_vehicle_value,
            when=_vehicle_value_needed,
            skip=_unknown("vehicles"),
        ),
        State(HOMES, ask_homes, answer_homes, when=_property_needed, skip=_unknown("homes")),
        State(
            SUPPORTER,
            ask_supporter,
            answer_supporter,
            when=_supporter_needed,
            skip=_skip_supporter,
        ),
        State(HARDSHIP, ask_hardship, answer_hardship, skip=_unknown("hardship")),
        State(
            INSURANCE,
            ask_insurance,
            answer_insurance,
            when=_insurance_needed,
            skip=_unknown("insurance"),
        ),
    ],
    finish,
    intro="screen_intro",
)
