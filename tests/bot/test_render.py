"""Amounts and times in words: the `yuan`, `within` and `duration` filters are macros of
common/_macros.j2 (bot/render.py), read here through the templates that use them."""

from __future__ import annotations

import jinja2
import pytest

from bot.console.common import environment as console_environment
from bot.render import render, template_for

MINUTE, HOUR, DAY = 60, 3600, 86400


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "1分钟内"),  # never "0分钟"
        (30 * MINUTE, "30分钟内"),
        (90 * MINUTE, "90分钟内"),  # minutes up to 90
        (90 * MINUTE + 30, "90分钟内"),
        (91 * MINUTE, "2小时内"),  # then hours, rounded
        (4 * HOUR, "4小时内"),
        (48 * HOUR, "48小时内"),  # hours up to 48
        (48 * HOUR + 30 * MINUTE, "48小时内"),
        (49 * HOUR, "2天内"),  # then days, rounded
        (3 * DAY, "3天内"),
    ],
)
@pytest.mark.parametrize("channel", ["sms", "telegram"])
def test_a_referral_says_within_how_long_staff_call(channel: str, seconds: int, said: str) -> None:
    referral = {"reference": "CQ1", "created_at": 1000.0, "deadline": 1000.0 + seconds}
    text = render(channel, "referral_created", referral=referral)
    assert f"工作人员会在{said}联系您。" in text


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "1分钟"),
        (30 * MINUTE, "30分钟"),
        (90 * MINUTE, "90分钟"),  # not whole hours: minutes
        (12 * HOUR, "12小时"),
        (25 * HOUR, "25小时"),
        (DAY - 20, "一天"),  # to the minute
        (DAY, "一天"),
        (DAY + MINUTE, "1441分钟"),
        (2 * DAY, "2天"),
        (7 * DAY, "7天"),
    ],
)
@pytest.mark.parametrize("channel", ["sms", "telegram"])
def test_an_expired_session_says_after_how_long(channel: str, seconds: int, said: str) -> None:
    text = render(channel, "session_expired", idle=seconds)
    assert f"上次的问答超过{said}没有继续" in text


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (None, "未知"),
        (0, "0"),
        (350, "350"),
        (350.0, "350"),
        (12.5, "12.5"),
        (1234.50, "1234.5"),
        (12.345, "12.35"),  # to the fen
        (0.1 + 0.2, "0.3"),
        (0.001, "0"),
        (99.999, "100"),
        (-3.5, "-3.5"),
    ],
)
@pytest.mark.parametrize(
    "environment",
    [
        template_for("sms", "menu").environment,
        template_for("telegram", "menu").environment,  # escapes HTML
        console_environment(),  # the staff console's own
    ],
    ids=["text", "html", "console"],
)
def test_yuan_writes_amounts_as_people_do(
    environment: jinja2.Environment, value: float | None, written: str
) -> None:
    assert environment.from_string("{{ value | yuan }}元").render(value=value) == f"{written}元"
