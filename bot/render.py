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
    add_word_filters(env)
    return env


def add_word_filters(env: jinja2.Environment) -> None:
    """`value | yuan`, `seconds | within`, `seconds | duration`: the macros of the same
    name in common/_macros.j2, where their words are (350, 4小时内, 一天)."""
    for name in ("yuan", "within", "duration"):
        env.filters[name] = functools.partial(_macro, env, name)


def _macro(env: jinja2.Environment, name: str, *args: Any) -> str:
    text: str = getattr(env.get_template("common/_macros.j2").module, name)(*args)
    return text  # Markup where the environment escapes: not escaped twice


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
