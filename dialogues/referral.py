"""Referral consent: handing a case to a person at the 乡镇/街道 social-assistance window.

The resident is told what will be shared (their words, the screening result if any,
a contact number, where they live), with whom (the staff of their township's window)
and why (so that someone contacts them); nothing is queued without their yes, and a
no keeps nothing. Then a contact number (a mainland mobile, or none: staff then answer
in this chat), the district and the township when not known yet, a summary to confirm,
and the referral (created by the router from the `referral` effect) with its reference
number and when to expect contact.

Flow (referral.mmd):  CONSENT → PHONE → DISTRICT? → TOWNSHIP? → CONFIRM → queued

The router starts it with `answers = {"case": {...}, "own_number": …}`: the case holds
the level (emergency / urgent / normal), triage signals, the resident's words, the
district and the screening result known so far; `own_number` is the sender's mobile on
SMS (then "1" keeps it).
"""

from __future__ import annotations

from typing import Any

from dialogues.answers import UNKNOWN, parse_district, parse_mobile, parse_township, says_word
from dialogues.choices import pick_one, shown
from dialogues.engine import Effect, Flow, Say, Session, State, Step
from knowledge.places import resolve_district

NAME = "referral"
CONSENT, PHONE, DISTRICT, TOWNSHIP, CONFIRM = "consent", "phone", "district", "township", "confirm"


def _case(session: Session) -> dict[str, Any]:
    case: dict[str, Any] = session.answers.setdefault("case", {})
    return case


def _ask(template: str, **values: Any) -> list[Say]:
    return [Say(template, {"retry": False, **values})]


def _again(template: str, **values: Any) -> Step:
    return Step.again(template, retry=True, **values)


# CONSENT


def ask_consent(session: Session) -> list[Say]:
    return _ask("referral_consent", case=_case(session), options=shown("consent"))


def answer_consent(session: Session, text: str) -> Step:
    said = pick_one(text, "consent")
    if said == "yes":
        case = _case(session)
        case["consent"] = True
        _forget_asked(case)  # started again (重来): what this flow asked is asked again
        return Step()
    if said == "no":
        session.answers.clear()  # declining keeps nothing
        return Step(says=(Say("referral_declined"),), done=True)
    return _again("referral_consent", case=_case(session), options=shown("consent"))


def _forget_asked(case: dict[str, Any]) -> None:
    """Drop the district and township this flow asked (those from the screening stay)."""
    if case.pop("district_asked", False):
        case.pop("district", None)
    if case.pop("township_asked", False):
        case.pop("township", None)


# PHONE


def ask_phone(session: Session) -> list[Say]:
    return _ask("referral_phone", own_number=session.answers.get("own_number"))


def answer_phone(session: Session, text: str) -> Step:
    own = session.answers.get("own_number")
    if own and says_word(text, "own_number"):
        _case(session)["contact"] = own
        return Step()
    number = parse_mobile(text)
    if number is not None:
        _case(session)["contact"] = number
        return Step()
    if says_word(text, "no_number") or pick_one(text, "yes_no") == "no":
        _case(session)["contact"] = None  # staff reply through this chat instead
        return Step()
    return _again("referral_phone", own_number=own)


def _no_number(session: Session) -> Step:
    _case(session)["contact"] = None
    return Step()


# DISTRICT and TOWNSHIP (when not known yet)


def ask_district(session: Session) -> list[Say]:
    return _ask("referral_district")


def answer_district(session: Session, text: str) -> Step:
    district = parse_district(text)
    if district is None:
        return _again("referral_district")
    case = _case(session)
    case["district"], case["district_asked"] = district.name, True
    return Step()


def _district_unknown(session: Session) -> Step:
    case = _case(session)
    case["district"], case["district_asked"] = None, True  # the unrouted queue
    return Step()


def _needs_district(session: Session) -> bool:
    case = _case(session)
    return not case.get("district") and not case.get("district_asked")


def ask_township(session: Session) -> list[Say]:
    return _ask("referral_township", district=_case(session).get("district"))


def answer_township(session: Session, text: str) -> Step:
    case = _case(session)
    township = parse_township(resolve_district(str(case["district"])), text)
    if township is UNKNOWN:
        return _township_unknown(session)
    if township is None:
        return _again("referral_township", district=case.get("district"))
    case["township"], case["township_asked"] = township.name, True
    return Step()


def _township_unknown(session: Session) -> Step:
    case = _case(session)
    case["township"], case["township_asked"] = None, True  # the district's queue
    return Step()


def _needs_township(session: Session) -> bool:
    """Asked when the district is known and its township list is (knowledge/places.yaml)."""
    case = _case(session)
    if not case.get("district") or case.get("township") or case.get("township_asked"):
        return False
    return bool(resolve_district(str(case["district"])).townships)


# CONFIRM


def ask_confirm(session: Session) -> list[Say]:
    return _ask("referral_confirm", case=_case(session), options=shown("confirm"))


def answer_confirm(session: Session, text: str) -> Step:
    said = pick_one(text, "confirm")
    if said == "yes":
        return Step(done=True)
    if said == "no":
        case = _case(session)
        _forget_asked(case)  # asked here, so asked again; from the screening: kept
        case.pop("contact", None)
        return Step(next=PHONE)
    return _again("referral_confirm", case=_case(session), options=shown("confirm"))


def finish(session: Session) -> Step:
    """Queue the referral (the router creates it) when the resident agreed."""
    case = _case(session)
    if not case.get("consent"):
        return Step()
    data = {
        "level": case.get("level", "normal"),
        "district": case.get("district"),
        "township": case.get("township"),
        "contact": case.get("contact"),
        "signals": list(case.get("signals", [])),
        "message": case.get("message", ""),
        "screening": case.get("screening"),
        "consent": True,
    }
    return Step(
        says=(Say("referral_created", {"case": case}),), effects=(Effect("referral", data),)
    )


FLOW = Flow(
    NAME,
    [
        State(CONSENT, ask_consent, answer_consent),
        State(PHONE, ask_phone, answer_phone, skip=_no_number),
        State(
            DISTRICT, ask_district, answer_district, when=_needs_district, skip=_district_unknown
        ),
        State(
            TOWNSHIP, ask_township, answer_township, when=_needs_township, skip=_township_unknown
        ),
        State(CONFIRM, ask_confirm, answer_confirm),
    ],
    finish,
)
