"""The 12345 operator lookup (issue 6, "Operator lookup"): for an operator on a call.

- `GET /lookup?q=…` (or `?id=<topic>`): the knowledge-base answer with its sources and
  related topics (knowledge/search.py; below the confidence bar the candidates are
  offered instead of an answer, as the bot does);
- `GET /lookup/standards?district=…&date=…`: the standards in force there on that day
  (knowledge/parameters.py `parameters_at`), each with its reference;
- `GET/POST /lookup/screen`: a quick household form for the caller and the assessment
  (knowledge/eligibility.py `assess`), with "create referral" under it;
- `GET/POST /lookup/referral`: a referral for the caller to their 乡镇/街道 window
  (operators only). The caller is answered by SMS on the mobile they give, with their
  consent; the operator's note goes to the thread under the operator's name;
- `GET /api/kb/search?q=`: `knowledge.search.default_index().search(q).to_dict()`, the
  JSON of CONTRACTS.md `residentbot kb search`.

The household form's field names are the JSON paths of CONTRACTS.md (`members[0].age`,
`hardship.sudden_event`), so an error names the field to mark. Income fields left empty
count as 0 (the form says so); every other empty field is "unknown" (`null`), which the
rules answer with `possible`, never a guess (RULES.md, "The household").
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bot.console import access
from bot.console.auth import Login
from bot.console.common import CHINA, CONSOLE, action, api, first, page, query, respond
from bot.console.users import township_named
from bot.referrals import LEVELS, Draft, queue_name
from dialogues.answers import parse_mobile
from knowledge.eligibility import assess
from knowledge.household import (
    AREAS,
    DISABILITY_KINDS,
    PROGRAMS,
    SUPPORTERS,
    Household,
    HouseholdError,
    Income,
)
from knowledge.parameters import ParameterError, parameters_at
from knowledge.places import UnknownPlace, districts, resolve_district
from knowledge.search import default_index
from knowledge.triage import triage

MEMBER_ROWS = 6
SEARCH_TOP = 5
QUERY_MAX = 200
NOTE_MAX = 1000
MEMBER_FLAGS = ("employed", "student", "serious_illness")
HARDSHIP_FLAGS = ("sudden_event", "major_medical_expense", "basic_needs_unmet")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_NO_VEHICLE = frozenset({"0", "无", "没有", "没"})
TRIAGE_LEVEL = {"emergency": "emergency", "urgent": "urgent", "none": "normal"}


def today() -> dt.date:
    return dt.datetime.now(CHINA).date()


def district_names() -> list[str]:
    return [d.name for d in districts()]


def _base(**values: Any) -> dict[str, Any]:
    return {"districts": district_names(), **values}


# --- the knowledge base ---------------------------------------------------------------


def _entry_view(entry_id: str) -> dict[str, Any] | None:
    index = default_index()
    entry = index.get(entry_id)
    if entry is None:
        return None
    related = [(r, index.get(r)) for r in entry.related]
    return {
        "entry": entry,
        "related": [(r, e.title) for r, e in related if e is not None],
    }


@page(*access.LOOKUP_ROLES)
async def lookup_page(request: web.Request, login: Login) -> web.StreamResponse:
    q = query(request, "q")[:QUERY_MAX]
    entry_id = query(request, "id")
    result = default_index().search(q, top=SEARCH_TOP) if q else None
    shown = None
    if entry_id:
        shown = _entry_view(entry_id)
    elif result is not None and result.answered and result.best is not None:
        shown = _entry_view(result.best.id)
    status = 404 if entry_id and shown is None else 200
    return respond(
        request, "lookup", login, status=status, q=q, result=result, shown=shown, tab="kb"
    )


@api(*access.LOOKUP_ROLES)
async def kb_search(request: web.Request, login: Login) -> web.StreamResponse:
    q = query(request, "q")[:QUERY_MAX]
    return web.json_response(
        default_index().search(q).to_dict(),
        dumps=lambda data: json.dumps(data, ensure_ascii=False),
        headers={"Cache-Control": "no-store"},
    )


# --- standards ------------------------------------------------------------------------


@page(*access.LOOKUP_ROLES)
async def standards_page(request: web.Request, login: Login) -> web.StreamResponse:
    district_text, date_text = query(request, "district"), query(request, "date")
    error: str | None = None
    district: str | None = None
    day = today()
    values: dict[str, Any] = {}
    try:
        if date_text:
            day = dt.date.fromisoformat(date_text)
        if district_text:
            district = resolve_district(district_text).name
        params = parameters_at(day, district)
    except ValueError:
        error, params = "date_invalid", None
    except UnknownPlace:
        error, params, values = "unknown_district", None, {"text": district_text}
    except ParameterError as exc:
        error, params, values = "parameter", None, {"reason": str(exc).split(" / ")[0]}
    return respond(
        request,
        "standards",
        login,
        status=400 if error else 200,
        **_base(
            tab="standards",
            district=district or "",
            day=day,
            p=params,
            error=error,
            values=values,
        ),
    )


# --- screening ------------------------------------------------------------------------


def _number(form: Mapping[str, Any], path: str, *, blank: float | None) -> float | None:
    text = first(form, path).replace(",", "").replace("，", "")
    if not text:
        return blank
    try:
        value = float(text)
    except ValueError:
        raise HouseholdError(path, "应为数字", "must be a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise HouseholdError(path, "应为数字", "must be a number")
    return value


def _flag(form: Mapping[str, Any], path: str, *, blank: bool | None) -> bool | None:
    value = first(form, path)
    return {"yes": True, "no": False}.get(value, blank)


def _member_filled(form: Mapping[str, Any], i: int) -> bool:
    prefix = f"members[{i}]."
    return any(
        isinstance(v, str) and v.strip() and k.startswith(prefix) and not k.endswith("grade")
        for k, v in form.items()
    ) or first(form, f"members[{i}].disability_grade") not in ("", "0")


def household_from_form(form: Mapping[str, Any]) -> Household:
    """The household the operator typed, as CONTRACTS.md JSON read by Household.from_dict.
    Raises HouseholdError naming the field (its path is the input's name)."""
    members = []
    for i in range(MEMBER_ROWS):
        if i > 0 and not _member_filled(form, i):
            continue
        p = f"members[{i}]"
        age = _number(form, f"{p}.age", blank=None)
        grade = _number(form, f"{p}.disability_grade", blank=None)
        kind = first(form, f"{p}.disability_kind") or None
        members.append(
            {
                "age": None if age is None else int(age) if age == int(age) else age,
                **{flag: _flag(form, f"{p}.{flag}", blank=None) for flag in MEMBER_FLAGS},
                "disability_grade": None if grade is None else int(grade),
                "disability_kind": kind,
                "income": {k: _number(form, f"{p}.income.{k}", blank=0.0) for k in Income.kinds()},
            }
        )
    vehicles_text = first(form, "vehicle_values")
    vehicles: list[float] | None
    if not vehicles_text:
        vehicles = None
    elif vehicles_text in _NO_VEHICLE:
        vehicles = []
    else:
        vehicles = []
        for part in re.split(r"[,，、\s]+", vehicles_text):
            if part:
                try:
                    vehicles.append(float(part))
                except ValueError:
                    raise HouseholdError("vehicle_values", "应为数字", "must be numbers") from None
    homes = _number(form, "homes", blank=None)
    months = _number(form, "hardship.months_without_income", blank=0.0)
    as_of = first(form, "as_of") or None
    data = {
        "as_of": as_of,
        "district": first(form, "district") or None,
        "area": first(form, "area") or None,
        "members": members,
        "financial_assets": _number(form, "financial_assets", blank=None),
        "vehicle_values": vehicles,
        "homes": None if homes is None else int(homes),
        "legal_supporter": first(form, "legal_supporter") or None,
        "receiving": [p for p in PROGRAMS if first(form, f"receiving.{p}") == "yes"],
        "income_rise_from_work": _flag(form, "income_rise_from_work", blank=None),
        "hardship": {
            **{flag: _flag(form, f"hardship.{flag}", blank=False) for flag in HARDSHIP_FLAGS},
            "months_without_income": None if months is None else int(months),
            "unemployment_insurance": _flag(form, "hardship.unemployment_insurance", blank=None),
        },
    }
    return Household.from_dict(data)


def _screen_values(form: Mapping[str, Any]) -> dict[str, Any]:
    return _base(
        tab="screen",
        form={k: v for k, v in form.items() if isinstance(v, str)},
        rows=MEMBER_ROWS,
        income_kinds=Income.kinds(),
        areas=AREAS,
        kinds=DISABILITY_KINDS,
        supporters=SUPPORTERS,
        programs=PROGRAMS,
        today=today().isoformat(),
    )


@page(*access.LOOKUP_ROLES)
async def screen_form(request: web.Request, login: Login) -> web.StreamResponse:
    return respond(
        request, "screen", login, assessment=None, error=None, household="", nonce="",
        referral_form={}, **_screen_values({}),
    )  # fmt: skip


@action(*access.LOOKUP_ROLES)
async def screen_submit(request: web.Request, login: Login) -> web.StreamResponse:
    form = await request.post()
    values = _screen_values(form)
    try:
        household = household_from_form(form)
        assessment = assess(household, today())
    except HouseholdError as exc:
        return respond(
            request, "screen", login, status=400, assessment=None, household="", nonce="",
            error={"field": exc.path, "text": str(exc).split(" / ")[0]}, referral_form={},
            **values,
        )  # fmt: skip
    except LookupError as exc:  # an unknown district, a date before the first standard
        return respond(
            request, "screen", login, status=400, assessment=None, household="", nonce="",
            error={"field": "district", "text": str(exc).split(" / ")[0]}, referral_form={},
            **values,
        )  # fmt: skip
    level = "urgent" if assessment.urgency == "urgent" else "normal"
    return respond(
        request, "screen", login, assessment=assessment.to_dict(), error=None,
        household=json.dumps(household.to_dict(), ensure_ascii=False),
        nonce=secrets.token_urlsafe(18),
        referral_form={"district": assessment.district or "", "level": level},
        **values,
    )  # fmt: skip


# --- referrals for callers ------------------------------------------------------------


def _referral_values(form: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return _base(
        tab="referral",
        referral_form={k: v for k, v in form.items() if isinstance(v, str)},
        levels=LEVELS,
        nonce=first(form, "nonce") or secrets.token_urlsafe(18),
        **extra,
    )


@page(*access.REFERRAL_CREATORS)
async def referral_form(request: web.Request, login: Login) -> web.StreamResponse:
    return respond(request, "create_referral", login, error=None, **_referral_values({}))


def _highest(*levels: str) -> str:
    return min(levels, key=LEVELS.index)


@action(*access.REFERRAL_CREATORS)
async def referral_submit(request: web.Request, login: Login) -> web.StreamResponse:
    console = request.app[CONSOLE]
    form = await request.post()

    def refuse(code: str, status: int = 400, **values: Any) -> web.Response:
        return respond(
            request, "create_referral", login, status=status,
            error={"code": code, "values": values}, **_referral_values(form),
        )  # fmt: skip

    nonce = first(form, "nonce")
    if not _NONCE.fullmatch(nonce):
        return refuse("csrf", 403)
    if first(form, "consent") != "yes":
        return refuse("consent_needed")
    mobile = parse_mobile(first(form, "mobile"))
    if mobile is None:
        return refuse("mobile_needed")
    district_text, township_text = first(form, "district"), first(form, "township")
    if not district_text:
        return refuse("district_needed")
    try:
        district = resolve_district(district_text)
    except UnknownPlace:
        return refuse("unknown_district", text=district_text)
    township = township_named(district, township_text) if township_text else None
    if township_text and township is None:
        return refuse("unknown_township", district=district.name, township=township_text)
    note = first(form, "note")[:NOTE_MAX]
    screening = None
    household_text = first(form, "household")
    if household_text:
        try:
            screening = assess(Household.from_dict(json.loads(household_text)), today())
        except (ValueError, LookupError) as exc:
            return refuse("household_invalid", reason=str(exc).split(" / ")[0])
    chosen = first(form, "level")
    levels = [chosen if chosen in LEVELS else "normal"]
    signals: list[str] = []
    if note:
        urgency = triage(note)
        levels.append(TRIAGE_LEVEL.get(urgency.level, "normal"))
        signals = list(urgency.signals)
    if screening is not None and screening.urgency == "urgent":
        levels.append("urgent")
    if console.referrals is None:
        return refuse("no_queue", 503)
    draft = Draft(
        key=f"lookup:{login.user.name}:{nonce}",
        level=_highest(*levels),
        channel="sms",
        address=f"+86{mobile}",  # as the SMS channel knows the resident (opt-out, replies)
        district=district.name,
        township=township.name if township else None,
        contact=mobile,
        signals=signals,
        message="",
        screening=screening.to_dict() if screening is not None else None,
        consent=True,
    )
    referral = await console.referrals.create(draft)
    wrote_note = any(m.get("author") == login.user.name for m in referral.thread)
    if note and not wrote_note:
        await console.referrals.add_message(referral.reference, login.user.name, note)
    return respond(
        request,
        "referral_created",
        login,
        r=referral,
        queue=queue_name(referral.district, referral.township),
        tab="referral",
    )
