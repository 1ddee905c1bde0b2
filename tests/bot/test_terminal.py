"""`residentbot chat` end to end: a real process, lines piped to its stdin, the embedded
store and queue under RESIDENTBOT_DATA_DIR; a second process resumes the conversation."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from bot.config import Config
from integrations.window import open_queue
from tests.conftest import ROOT

ELDERLY_COUPLE = ["测一测", "万州", "农村", "没有", "68 66", "5", "5", "500", "300", "0"]


def chat(data_dir: Path, *lines: str) -> str:
    env = {**os.environ, "RESIDENTBOT_DATA_DIR": str(data_dir), "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


async def test_a_screening_and_a_referral_in_the_terminal_across_two_runs(tmp_path: Path) -> None:
    data = tmp_path / "var"
    first = chat(data, *ELDERLY_COUPLE)
    assert "社会救助咨询助手" in first  # the menu greets
    assert "您家住在重庆哪个区县" in first
    assert "存款" in first  # where the first run stopped
    second = chat(data, "8000", "0", "1", "3", "5", "1", "1", "13912345678", "不知道", "1")
    assert "存款" in second  # it resumed at the same question
    assert "低保：" not in second  # the terminal shows the full result, not the SMS one
    assert "【很可能符合】" in second
    assert "到哪里申请" in second
    assert "不是审批决定" in second
    found = re.search(r"已转交，编号(\d{8})", second)
    assert found, second
    queue = open_queue(Config(data_dir=data))
    try:
        referral = await queue.get(found.group(1))
    finally:
        await queue.close()
    assert referral is not None
    assert referral.channel == "terminal"
    assert referral.district == "万州区"
    assert referral.contact == "13912345678"
    assert referral.screening is not None


def test_an_empty_stdin_just_greets_and_ends(tmp_path: Path) -> None:
    out = chat(tmp_path / "var")
    assert "请回复数字" in out
