"""The SMS forms of the screening result and its detail (bot/templates/sms/), split as the
SMS channel splits them: what the resident must see arrives in the SMS sent at once,
not in the rest that waits for 全文."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from bot.render import render_reply
from integrations.sms.segments import Split, split
from knowledge.eligibility import PROGRAMS, assess
from knowledge.household import Household
from tests.knowledge.test_eligibility import EXAMPLE

MORE = render_reply("sms", "sms_more", {}).text
OFFER = "回复1转交乡镇窗口，2不用"

# The household of CONTRACTS.md (67, alone, rural 奉节县, 350 yuan a month), with no
# legal supporter.
HOUSEHOLD: dict[str, Any] = {**EXAMPLE, "legal_supporter": "none"}


def sent(name: str, result: dict[str, Any], level: str) -> Split:
    text = render_reply("sms", name, {"result": result, "level": level}).text
    return split(text, more=MORE)


def listing(verdicts: tuple[str, ...]) -> dict[str, Any]:
    """A synthetic result: these verdicts for the nine programs, the largest amount."""
    reason = {"rule": "r", "passed": False, "text": "要核实。", "source": "渝民〔2022〕239号"}
    programs = {
        code: {"verdict": v, "reasons": [reason]}
        for code, v in zip(PROGRAMS, verdicts, strict=True)
    }
    programs["dibao"]["amount_estimate"] = 3456.78
    return {"programs": programs, "guidance": [], "notice": "不是审批决定。"}


@pytest.mark.parametrize("level", ["urgent", "normal"])
def test_a_result_listing_all_nine_programs_is_sent_whole_with_its_offer(level: str) -> None:
    for verdicts in itertools.product(("likely", "possible"), repeat=len(PROGRAMS)):
        result = sent("screening_result", listing(verdicts), level)
        assert not result.truncated, (verdicts, result.parts)
        assert len(result.parts) <= 3
        first = result.parts[0]
        if level == "urgent":  # in the first SMS, whatever follows
            assert "紧急" in first, verdicts
            assert OFFER in first, verdicts
        else:
            assert OFFER in result.parts[-1], verdicts


def household(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(HOUSEHOLD)
    data.update(changes)
    return assess(Household.from_dict(data)).to_dict()


URGENT = {**HOUSEHOLD["hardship"], "sudden_event": True, "basic_needs_unmet": True}
DETAILS = {
    "normal": (household(), "normal"),
    "urgent": (household(hardship=URGENT), "urgent"),
    "before the deadlines were set": (household(as_of="2022-10-01"), "normal"),
    "an exempt vehicle": (household(vehicle_values=[20000]), "normal"),
}


@pytest.mark.parametrize("case", list(DETAILS))
def test_the_detail_says_where_what_to_bring_and_how_long_in_the_sms_sent_at_once(
    case: str,
) -> None:
    result, level = DETAILS[case]
    detail = sent("screening_detail", result, level)
    assert detail.truncated  # the reasons and the guidance in full wait for 全文
    assert len(detail.parts) <= 3
    first = "".join(detail.parts)
    for fragment in ("乡镇（街道）社会救助窗口申请", "身份证、户口簿", "授权书", OFFER, MORE):
        assert fragment in first, (case, fragment)
    assert "个工作日" in first or "告知为准" in first, case
    if level == "urgent":  # help at once, and the offer, in the first SMS
        assert "先行救助" in detail.parts[0]
        assert OFFER in detail.parts[0]
    else:
        assert len(detail.parts) == 2  # the first page costs no third SMS
    assert "低保（很可能符合）：" in detail.rest  # a program's reasons
    assert "要带什么：" in detail.rest  # the guidance in full
    assert "不是审批决定" in detail.rest


def test_the_detail_gives_a_likely_program_a_reason_that_holds_with_its_own_source() -> None:
    medical = {**HOUSEHOLD["hardship"], "major_medical_expense": True}
    result = household(hardship=medical)
    linshi = result["programs"]["linshi"]
    assert linshi["verdict"] == "likely"
    holds = next(r for r in linshi["reasons"] if r["passed"])
    fails = next(r for r in linshi["reasons"] if not r["passed"])  # 3 months without income
    rest = sent("screening_detail", result, "normal").rest
    line = next(line for line in rest.splitlines() if line.startswith("临时救助（"))
    assert holds["text"].rstrip("。") in line
    assert holds["source"] in line
    assert fails["text"].rstrip("。") not in line  # once shown as the reason, wrongly


def test_the_detail_gives_a_possible_program_what_is_still_to_check() -> None:
    result = household(financial_assets=None)
    dibao = result["programs"]["dibao"]
    assert dibao["verdict"] == "possible"
    rest = sent("screening_detail", result, "normal").rest
    line = next(line for line in rest.splitlines() if line.startswith("低保（"))
    for reason in dibao["reasons"]:
        assert (reason["text"].rstrip("。") in line) is (not reason["passed"]), reason
