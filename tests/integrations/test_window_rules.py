"""The life-cycle rules that both backends share: working-day deadlines, what a change
sets off, and what a purge keeps."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from bot.referrals import Draft
from integrations.window import rules
from integrations.window.rules import CHINA, add_working_time, deadline_for

DEFAULTS = rules.DEFAULT_DEADLINES


def at(day: int, hour: int = 0, minute: int = 0) -> float:
    """August 2025 in Chongqing: the 4th is a Monday, the 9th and 10th a weekend."""
    return dt.datetime(2025, 8, day, hour, minute, tzinfo=CHINA).timestamp()


def test_normal_referrals_get_two_working_days() -> None:
    assert deadline_for("normal", at(4, 9), DEFAULTS) == at(6, 9)  # Monday -> Wednesday
    assert deadline_for("normal", at(7, 9), DEFAULTS) == at(11, 9)  # Thursday -> Monday
    assert deadline_for("normal", at(8, 15), DEFAULTS) == at(12, 15)  # Friday -> Tuesday
    assert deadline_for("normal", at(9, 10), DEFAULTS) == at(13)  # Saturday -> Wednesday 0:00
    assert deadline_for("normal", at(10, 23, 59), DEFAULTS) == at(13)  # Sunday night, the same


def test_configured_seconds_win_and_urgent_levels_count_every_hour() -> None:
    assert deadline_for("urgent", at(9, 10), DEFAULTS) == at(9, 14)  # weekends count
    assert deadline_for("emergency", at(9, 10), DEFAULTS) == at(9, 10, 30)
    assert deadline_for("normal", at(9, 10), {"normal": 3600.0}) == at(9, 11)


def test_public_holidays_do_not_count_and_make_up_weekends_do() -> None:
    def day(month: int, date: int, hour: int = 0) -> float:
        return dt.datetime(2026, month, date, hour, tzinfo=CHINA).timestamp()

    # 2026: Friday 25 September (中秋) off; 1-7 October (国庆) off; Saturday 10 October works.
    assert deadline_for("normal", day(9, 30, 10), DEFAULTS) == day(10, 9, 10)
    assert deadline_for("normal", day(9, 24, 10), DEFAULTS) == day(9, 29, 10)  # Fri-Sun off
    assert deadline_for("normal", day(10, 9, 10), DEFAULTS) == day(10, 12, 10)  # Sat 10th works


def test_a_year_the_calendar_does_not_know_counts_monday_to_friday() -> None:
    far = dt.date(2099, 1, 1)  # a Thursday, New Year's Day: unknown to the calendar
    assert rules.is_working_day(far)
    assert not rules.is_working_day(far + dt.timedelta(days=2))  # Saturday


def working_seconds_between(start: float, end: float) -> float:
    """A second way to count: day by day, the working-day part of [start, end)."""
    total = 0.0
    day = dt.datetime.fromtimestamp(start, CHINA).date()
    while True:
        begin = dt.datetime.combine(day, dt.time(), CHINA).timestamp()
        if begin >= end:
            return total
        if rules.is_working_day(day):
            total += max(0.0, min(end, begin + 86400) - max(start, begin))
        day += dt.timedelta(days=1)


@given(st.floats(min_value=at(1), max_value=at(1) + 3 * 365 * 86400),
       st.floats(min_value=0, max_value=10 * 86400))  # fmt: skip
def test_working_time_counts_exactly_the_weekdays(start: float, seconds: float) -> None:
    end = add_working_time(start, seconds)
    assert end >= start + seconds - 1e-3  # datetime keeps microseconds
    assert abs(working_seconds_between(start, end) - seconds) < 1e-3


def draft(level: str = "urgent") -> Draft:
    return Draft(key="k", level=level, channel="sms", address="+8613800138000",
                 district="渝中区", township="解放碑街道")  # fmt: skip


def test_what_each_change_sets_off() -> None:
    now = at(4, 9)
    created = rules.new_referral(draft(), "12345678", now, DEFAULTS)
    assert rules.jobs(None, created) == [("new", "渝中区/解放碑街道")]
    assert rules.jobs(None, rules.new_referral(draft("normal"), "1", now, DEFAULTS)) == []
    assert rules.listed_in(created) == {"渝中区/解放碑街道"}
    assert rules.due(created)
    escalated = rules.escalate(created, created.deadline)
    assert rules.jobs(created, escalated) == [("escalated", "渝中区")]
    assert rules.listed_in(escalated) == {"渝中区/解放碑街道", "渝中区"}
    assert not rules.due(escalated)
    assert rules.escalate(escalated, created.deadline + 1) is escalated  # once
    assert rules.escalate(created, created.deadline - 1) is created  # not yet
    moved = rules.transfer(escalated, "zhang", "江北区/观音桥街道", now, DEFAULTS)
    assert rules.jobs(escalated, moved) == [("transferred", "江北区/观音桥街道")]
    assert rules.listed_in(moved) == {"江北区/观音桥街道"}
    claimed = rules.claim(moved, "li", now)
    released = rules.release(claimed, "li", now)
    assert rules.jobs(claimed, released) == [("released", "江北区/观音桥街道")]
    claimed = rules.claim(released, "li", now)
    taken_back = rules.take_over(claimed, "chief", "li", None, now)
    assert rules.jobs(claimed, taken_back) == [("released", "江北区/观音桥街道")]
    handed_on = rules.take_over(claimed, "chief", "li", "wang", now)
    assert rules.jobs(claimed, handed_on) == []  # someone has it
    resolved = rules.resolve(claimed, "li", "已办结", now)
    assert rules.listed_in(resolved) == set()
    assert rules.jobs(claimed, resolved) == []
    calm = rules.claim(rules.new_referral(draft("normal"), "2", now, DEFAULTS), "li", now)
    assert rules.jobs(calm, rules.release(calm, "li", now)) == []  # normal: nobody is told


def test_reclaim_only_takes_claims_older_than_the_timeout() -> None:
    created = rules.new_referral(draft(), "12345678", at(4, 9), DEFAULTS)
    claimed = rules.claim(created, "zhang", at(4, 10))
    assert rules.reclaim(claimed, at(4, 11), claimed_before=at(4, 9, 59)) is claimed
    back = rules.reclaim(claimed, at(4, 11), claimed_before=at(4, 10))
    assert (back.status, back.assignee, back.audit[-1]["who"]) == ("new", None, "system")


def test_a_purge_keeps_the_verdicts_only() -> None:
    screening = {
        "as_of": "2025-08-01", "district": "渝中区", "area": "urban", "standard": 770,
        "per_capita_income": 350.0, "urgency": "none", "notice": "……", "guidance": [],
        "programs": {"dibao": {"verdict": "likely", "amount_estimate": 280.0,
                               "reasons": [{"text": "家庭月人均收入350元"}]},
                     "tekun": {"verdict": "unlikely", "reasons": []}},
    }  # fmt: skip
    assert rules.verdicts_only(screening) == {
        "as_of": "2025-08-01", "district": "渝中区", "urgency": "none",
        "programs": {"dibao": {"verdict": "likely"}, "tekun": {"verdict": "unlikely"}},
    }  # fmt: skip
    assert rules.verdicts_only(None) is None
    assert rules.verdicts_only({"programs": "odd"}) == {}
