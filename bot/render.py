"""Every word a person reads comes from a jinja2 template in `bot/templates/`.

A template is looked up as `<channel>/<name>.j2`, then `common/<name>.j2` (plain text
shared by all channels). Channels that speak HTML (Telegram, web) render with
autoescaping on, so values are always escaped there, whichever template is used.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jinja2

from bot.messages import Reply

HTML_CHANNELS = frozenset({"telegram", "web"})
CHANNELS = frozenset({"sms", "cli", "terminal"}) | HTML_CHANNELS


@functools.cache
def _env(html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot", "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # templates ship with the package: no stat() per render
    )
    env.filters["yuan"] = format_yuan
    env.filters["within"] = format_within
    env.filters["duration"] = format_duration
    return env


def format_yuan(value: float | int | None) -> str:
    """350.0 -> '350', 12.5 -> '12.5', None -> '未知'."""
    if value is None:
        return "未知"
    number = round(float(value), 2)
    return f"{number:.2f}".rstrip("0").rstrip(".") if number != int(number) else str(int(number))


def format_within(seconds: float) -> str:
    """A delay as residents say it: 30分钟内, 4小时内, 2天内."""
    minutes = max(1, round(seconds / 60))
    if minutes <= 90:
        return f"{minutes}分钟内"
    hours = round(minutes / 60)
    return f"{hours}小时内" if hours <= 48 else f"{round(hours / 24)}天内"


def format_duration(seconds: float) -> str:
    """A length of time as residents say it: 一天, 3天, 12小时, 30分钟."""
    minutes = max(1, round(seconds / 60))
    if minutes % 1440 == 0:
        days = minutes // 1440
        return "一天" if days == 1 else f"{days}天"
    return f"{minutes // 60}小时" if minutes % 60 == 0 else f"{minutes}分钟"


@functools.cache
def template_for(channel: str, name: str) -> jinja2.Template:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    env = _env(channel in HTML_CHANNELS)
    return env.select_template([f"{channel}/{name}.j2", f"common/{name}.j2"])


def render(channel: str, name: str, **values: Any) -> str:
    return template_for(channel, name).render(channel=channel, **values)


def render_reply(channel: str, name: str, values: Mapping[str, Any]) -> Reply:
    """Render a template to a `Reply`. A template offers numbered choices by setting
    `{% set choices = ["城镇", "农村"] %}` at its top level; its text shows them too.
    `{% set multi = true %}` makes them a multi-select, and `{% set alone = 5 %}` names the
    one choice of it that is an answer on its own (都没有)."""
    module = template_for(channel, name).make_module({"channel": channel, **values})
    text = str(module).strip()
    choices = tuple(str(c) for c in getattr(module, "choices", ()) or ())
    multi = bool(getattr(module, "multi", False))
    return Reply(text, choices, multi, int(getattr(module, "alone", 0)) if multi else 0)
