"""The figures the knowledge base quotes are the parameters in force today.

Answers are literal text ("2025年7月1日起城市770元、农村630元"), so a new standard in
knowledge/parameters/ changes nothing a resident reads until the answers are edited
(docs/DEPLOY.md, "A new standard is announced"). Each wording below names the
parameters it quotes; it is filled in from the values in force today (China time) and
must appear in its entry's answer or SMS text. A new value therefore fails here, from
its start date, until every answer quoting the old one says the new one, with its date.

A second check finds every figure derived from today's 低保 and 特困 standards (the
standards, 1.5 × and 24 × them) anywhere in the answers, so that a figure quoted in a
wording not listed here fails too, instead of going stale unnoticed.

FAQ_FIGURES_AS_OF=YYYY-MM-DD checks against another day: run it with the start date of
a value not yet in force to list the answers that must change on that day.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping

import pytest

from knowledge.kb import load_entries
from knowledge.parameters import Parameters, parameters_at

CHINA = dt.timezone(dt.timedelta(hours=8))
AS_OF = dt.date.fromisoformat(
    os.environ.get("FAQ_FIGURES_AS_OF") or dt.datetime.now(CHINA).date().isoformat()
)
P = parameters_at(AS_OF)


def number(value: float) -> str:
    """A figure as the answers write it: 770, 1.5, 1.85."""
    return format(value, "g")


def same(*values: float) -> str:
    """One figure an answer gives for several parameters (e.g. "60元" for three kinds of
    member): a text no answer contains once they differ, so the wording fails."""
    if len(set(values)) > 1:
        return "<now " + "/".join(number(v) for v in values) + ">"
    return number(values[0])


def since(name: str, day: bool = True) -> str:
    """The start of the value of `name` in force: 2025年7月1日 (day) or 2025年7月."""
    start = P.sources[name].start
    return f"{start.year}年{start.month}月" + (f"{start.day}日" if day else "")


def notice(name: str) -> str:
    """The notice of the value in force: "渝民规〔2025〕6号" of its reference."""
    return P.sources[name].reference.split("（")[0]


def figures(p: Parameters) -> dict[str, str]:
    care, aid, review = p.tekun_care, p.category_aid, p.review
    assert p.asset_multiplier is not None
    assert p.asset_limit_serious_illness is not None
    assert p.vehicle_exempt_max is not None
    assert review is not None
    fengjie = parameters_at(p.date, "奉节县").employment_cost_deduction
    assert fengjie is not None
    return {
        "since": since("dibao_standard_urban"),
        "since_m": since("dibao_standard_urban", day=False),
        "urban": number(p.dibao_urban),
        "rural": number(p.dibao_rural),
        "tekun_since": since("tekun_basic_standard"),
        "tekun_since_m": since("tekun_basic_standard", day=False),
        "tekun_notice": notice("tekun_basic_standard"),
        "tekun": number(p.tekun_basic),
        "care_self": number(care.full_self_care),
        "care_half": number(care.half_care),
        "care_full": number(care.full_care),
        "edge": number(p.edge_multiplier),
        "edge_urban": number(p.edge_multiplier * p.dibao_urban),
        "edge_rural": number(p.edge_multiplier * p.dibao_rural),
        "months": str(p.gradual_exit_months),
        # dibao.amount's worked example: a rural couple with 330 yuan each a month
        "amount": number((p.dibao_rural - 330) * 2),
        "aid_disabled": number(aid.disabled),
        "aid_60": same(aid.severe_disability, aid.serious_illness, aid.aged_70),
        "aid_100": same(aid.preschool, aid.student),
        "aid_min": number(min(vars(aid).values())),
        "aid_max": number(max(vars(aid).values())),
        "asset_months": number(p.asset_multiplier),
        "asset_urban": number(round(p.asset_multiplier * p.dibao_urban / 10_000, 2)),
        "asset_rural": number(round(p.asset_multiplier * p.dibao_rural / 10_000, 2)),
        "ill": number(p.asset_limit_serious_illness / 10_000),
        "vehicle": number(p.vehicle_exempt_max / 10_000),
        "fengjie": number(fengjie * 100),
        "review_days": str(review.working_days),
        "review_township": str(review.township_working_days),
        "review_extended": str(review.extended_working_days),
        "publicity": str(review.publicity_days),
    }


FIGURES = figures(P)

# Figures derived from the 低保 and 特困 standards: each one found in an answer must be
# inside one of that entry's wordings below.
DERIVED = {
    "urban": FIGURES["urban"],
    "rural": FIGURES["rural"],
    "tekun": FIGURES["tekun"],
    "edge_urban": FIGURES["edge_urban"],
    "edge_rural": FIGURES["edge_rural"],
    "asset_urban": FIGURES["asset_urban"] + "万",
    "asset_rural": FIGURES["asset_rural"] + "万",
}

# (entry, field) -> the wordings that quote parameters, with {figure} placeholders.
QUOTES: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("dibao.standard", "answer"): (
        "{since}起，重庆市定的标准：城市低保每人每月{urban}元，农村低保每人每月{rural}元",
    ),
    ("dibao.standard", "sms"): ("{since}起重庆低保标准：城市每人每月{urban}元，农村{rural}元",),
    ("dibao.conditions", "answer"): (
        "全家每月人均收入低于当地低保标准（{since}起城市{urban}元、农村{rural}元）",
    ),
    ("dibao.conditions", "sms"): (
        "全家月人均收入低于当地标准（{since_m}起城市{urban}元、农村{rural}元）",
    ),
    ("dibao.urban_rural", "answer"): ("{since}起，城市每人每月{urban}元，农村{rural}元",),
    ("dibao.urban_rural", "sms"): ("{since_m}起城市每人每月{urban}元，农村{rural}元",),
    ("vagrancy.help", "answer"): ("{since}起与城市低保标准相同，每人每月{urban}元",),
    ("vagrancy.help", "sms"): ("{since}起与城市低保相同，每人每月{urban}元",),
    ("tekun.standard", "answer"): (
        "{tekun_since}起，重庆特困人员基本生活标准每人每月{tekun}元（{tekun_notice}），"
        "是城市低保标准{urban}元的1.3倍",
        "全自理{care_self}元，半护理{care_half}元，全护理{care_full}元",
    ),
    ("tekun.standard", "sms"): (
        "{tekun_since}起重庆特困人员基本生活标准每人每月{tekun}元（低保标准1.3倍，{tekun_notice}）；"
        "照料护理补贴全自理{care_self}元、半护理{care_half}元、全护理{care_full}元",
    ),
    ("tekun.what", "answer"): ("{tekun_since}起，基本生活标准每人每月{tekun}元（{tekun_notice}）",),
    ("tekun.what", "sms"): ("{tekun_since_m}起每人每月{tekun}元",),
    ("tekun.care", "answer"): (
        "全自理每月{care_self}元、半护理{care_half}元、全护理{care_full}元",
    ),
    ("tekun.care", "sms"): ("护理补贴全自理{care_self}、半护理{care_half}、全护理{care_full}元",),
    ("dibao_edge.what", "answer"): (
        "全家月人均收入低于当地低保标准的{edge}倍",
        "按{since}起的低保标准算，{edge}倍是：城市{edge_urban}元，农村{edge_rural}元",
    ),
    ("dibao_edge.what", "sms"): (
        "月人均收入低于低保标准{edge}倍（{since_m}起城市{edge_urban}元、农村{edge_rural}元）",
    ),
    ("dibao.single_person", "answer"): ("人均收入低于低保标准{edge}倍",),
    ("dibao.amount", "answer"): (
        "例：农村标准{rural}元，两口人，人均月收入330元，每月约领（{rural}－330）×2＝{amount}元",
        "残疾人{aid_disabled}元；一二级重残、重大疾病、70岁以上老人{aid_60}元；"
        "学龄前儿童、在校学生{aid_100}元",
    ),
    ("dibao.amount", "sms"): ("每人每月另加{aid_min}—{aid_max}元分类重点救助金",),
    ("dibao.gradual_exit", "answer"): (
        "有{months}个月“渐退期”",
        "人均收入超过低保标准的，原则上再给{months}个月",
        "人均收入超过标准、但低于标准{edge}倍的，也给{months}个月",
        "例：农村标准{rural}元，{edge}倍是{edge_rural}元。不是因为就业增收的，"
        "人均收入在{rural}到{edge_rural}元之间可渐退{months}个月；"
        "超过{edge_rural}元就没有这{months}个月",
    ),
    ("dibao.gradual_exit", "sms"): (
        "人均收入超过低保标准的，原则上给{months}个月；"
        "其他原因增收、人均收入超过标准但低于{edge}倍的，也给{months}个月",
    ),
    ("dibao.employment", "answer"): ("按工资{fengjie}%扣", "原则上还给{months}个月渐退期"),
    ("dibao.employment", "sms"): ("原则上给{months}个月渐退期",),
    ("dibao.income_calc", "answer"): ("按工资{fengjie}%扣",),
    ("dibao.refused", "answer"): ("能不能享受{months}个月渐退期", "公示{publicity}天"),
    ("dibao.property", "answer"): (
        "一般每人不超过{asset_months}个月的低保标准（城市约{asset_urban}万元、农村约{asset_rural}万元",
        "每人可放宽到{ill}万元",
        "价值{vehicle}万元以内的",
    ),
    ("dibao.property", "sms"): (
        "金融资产一般每人不超{asset_months}个月低保标准，重病家庭可到每人{ill}万元；"
        "{vehicle}万元以内的车",
    ),
    ("dibao.timeline", "answer"): (
        "一般{review_days}个工作日内办完",
        "审批权下放到乡镇（街道）的，{review_township}个工作日内",
        "最长{review_extended}个工作日",
        "公示{publicity}天",
    ),
    ("dibao.timeline", "sms"): (
        "低保审核自受理起{review_days}个工作日内完成；"
        "下放乡镇（街道）审批的{review_township}个工作日；",
        "最长{review_extended}个工作日",
    ),
    ("dibao.publicity", "answer"): (
        "公示{publicity}天",
        "审核时间可以延长到{review_extended}个工作日",
    ),
    ("dibao.publicity", "sms"): ("公示{publicity}天",),
    ("dibao.how_to_apply", "answer"): ("公示{publicity}天",),
    ("dibao.how_to_apply", "sms"): ("公示{publicity}天",),
    ("dibao.where_nonlocal", "answer"): ("审核最长可到{review_extended}个工作日",),
}

ENTRIES = {entry.id: entry for entry in load_entries()}
FIELDS = ("answer", "sms")


def text_of(entry_id: str, field: str) -> str:
    return str(getattr(ENTRIES[entry_id], field))


def expected(entry_id: str, field: str) -> list[str]:
    return [wording.format(**FIGURES) for wording in QUOTES.get((entry_id, field), ())]


@pytest.mark.parametrize(
    ("entry_id", "field"), sorted(QUOTES), ids=[":".join(k) for k in sorted(QUOTES)]
)
def test_each_quote_gives_the_figures_in_force(entry_id: str, field: str) -> None:
    text = text_of(entry_id, field)
    missing = [wording for wording in expected(entry_id, field) if wording not in text]
    assert not missing, (
        f"knowledge/faq/{entry_id}.yaml {field} should say, with the parameters in force "
        f"on {AS_OF}: {missing}"
    )


def test_every_figure_derived_from_the_standards_is_a_known_quote() -> None:
    """A figure of today's standards in a wording not listed in QUOTES would not be
    checked when the standard changes: it must be listed (or not be that figure).
    Texts whose listed wordings are out of date fail the test above instead."""
    unknown = []
    for entry_id in sorted(ENTRIES):
        for field in FIELDS:
            text = text_of(entry_id, field)
            if any(wording not in text for wording in expected(entry_id, field)):
                continue
            covered = [
                range(found.start(), found.end())
                for wording in expected(entry_id, field)
                for found in re.finditer(re.escape(wording), text)
            ]
            for name, figure in DERIVED.items():
                for found in re.finditer(rf"(?<![\d.]){re.escape(figure)}(?![\d.])", text):
                    if not any(found.start() in span for span in covered):
                        line = text[: found.start()].rsplit("\n", 1)[-1][-30:]
                        unknown.append(f"{entry_id} {field}: {figure} ({name}) in …{line}{figure}")
    assert not unknown, unknown


def test_the_tekun_standard_is_still_1_3_times_the_urban_one() -> None:
    """tekun.standard says so ("是城市低保标准770元的1.3倍"); the notices round."""
    assert abs(P.tekun_basic - 1.3 * P.dibao_urban) <= 1
