"""Global commands: understood in every state, whatever the active dialogue.

A command is the whole message (so "返回" is a command, but "低保能返回吗" is a
question). The words are data (dialogues/commands.yaml) so staff can add what
residents actually type. The same file lists the words that only may mean leaving
(算了): no command, but `maybe_exit` lets a dialogue check before anything is dropped.
"""

from __future__ import annotations

import enum
import functools
from pathlib import Path

import yaml

from knowledge.text import compact

COMMANDS_FILE = Path(__file__).resolve().parent / "commands.yaml"


class Command(enum.Enum):
    HELP = "help"  # 帮助 / 菜单: the menu (the active dialogue stays where it is)
    RESTART = "restart"  # 重来: start the active dialogue again from its first question
    BACK = "back"  # 返回 / 上一步: one question back, keeping the answers
    HUMAN = "human"  # 人工: the referral flow, to a person at the township window
    EXIT = "exit"  # 退出 / 结束: leave the dialogue (or end a conversation with staff)
    SCREEN = "screen"  # 测一测: start the pre-screening questionnaire


MAYBE_EXIT = "maybe_exit"  # the commands.yaml list that is no command


@functools.cache
def _words() -> dict[str, Command | None]:
    """Each word's command; None for the words that only may mean leaving."""
    with COMMANDS_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    table: dict[str, Command | None] = {}
    for name, words in data.items():
        for word in words:
            key = compact(str(word))
            if key in table:
                raise ValueError(f"commands.yaml: {word!r} listed twice")
            table[key] = None if name == MAYBE_EXIT else Command(name)
    return table


def parse_command(text: str) -> Command | None:
    """The command this whole message is, if any ("/start" and "/help" work too)."""
    return _words().get(compact(text))


def maybe_exit(text: str) -> bool:
    """The whole message may mean "stop" or only "never mind" (算了): no command."""
    key = compact(text)
    return key in _words() and _words()[key] is None
