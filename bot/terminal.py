"""`residentbot chat`: the whole conversation in a terminal, as a resident would have it.

It runs on the embedded store under RESIDENTBOT_DATA_DIR (or Redis with REDIS_URL), so a
questionnaire left half-way resumes the next time, exactly as on SMS or Telegram.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.config import Config, ConfigError
from bot.messages import Inbound, Reply
from bot.render import render

SENDER = "local"


async def run(config: Config, stdin: TextIO, stdout: TextIO, sender: str = SENDER) -> None:
    from bot.app import Services

    services = await Services.open(config)
    try:
        interactive = stdin.isatty()
        if interactive:
            stdout.write(render("terminal", "terminal_banner") + "\n")
        first = await services.router.handle(Inbound("terminal", sender, "菜单"))
        _show(first.replies, stdout)
        while True:
            if interactive:
                stdout.write("> ")
                stdout.flush()
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            text = line.rstrip("\n")
            if not text.strip():
                continue
            handled = await services.router.handle(Inbound("terminal", sender, text))
            _show(handled.replies, stdout)
    finally:
        await services.close()


def _show(replies: list[Reply], stdout: TextIO) -> None:
    for reply in replies:
        stdout.write(reply.text.rstrip() + "\n\n")
    stdout.flush()


def chat() -> None:
    __import__("bot.logs").logs.setup_logging(default="WARNING")  # stderr, personal data redacted
    try:
        config = Config.from_env()
    except ConfigError as exc:
        sys.stderr.write(f"residentbot: {exc}\n")
        raise SystemExit(2) from None
    try:
        asyncio.run(run(config, sys.stdin, sys.stdout))
    except ConfigError as exc:  # found at start-up: the data directory in use, say
        sys.stderr.write(f"residentbot: {exc}\n")
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        sys.stdout.write("\n")
