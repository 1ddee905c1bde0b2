"""Conversations as data: tests/dialogues/conversations/*.yaml, run through the real
router on both stores (embedded SQLite and Redis) with the real referral queue.

A script is a list of steps:

    - say: 测一测                 # or a list of lines, each checked the same way
      expect: [区县]              # every fragment is in the replies to the line
      not: [抱歉]                 # no fragment is (the error reply never is)
      choices: [城镇, 农村]        # the last reply's numbered choices
      session: {state: area}      # fields of the stored session after the line
      referral: {level: urgent}   # the sender's last referral in the queue (null: none)
    - restart: true               # close store, queue and router; build them again
    - wait: 86500                 # let this many seconds pass

Lines `<empty>`, `<emoji>` and `<huge>` stand for an empty message, emoji only, and a
message longer than any channel delivers. Every script's replies must be non-empty.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from dialogues import referral, screening
from tests.bot.talk import Bench, joined

SCRIPTS_DIR = Path(__file__).resolve().parent / "conversations"
SCRIPTS = {path.stem: path for path in sorted(SCRIPTS_DIR.glob("*.yaml"))}
SPECIAL = {
    "<empty>": "",
    "<emoji>": "🌸🌸🙏",
    "<huge>": "我家里的情况是这样的，" * 300,
}
NEVER = ("没处理好您的消息",)  # the reply to a failing step


@dataclass
class Visits:
    """Which kinds of input each state of each flow received: good (it moved on), bad,
    empty, emoji, huge."""

    kinds: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def add(self, flow: str, state: str, kind: str) -> None:
        self.kinds.setdefault((flow, state), set()).add(kind)


def load(name: str) -> dict[str, Any]:
    with SCRIPTS[name].open(encoding="utf-8") as fh:
        script: dict[str, Any] = yaml.safe_load(fh)
    assert script.get("name"), f"{name}: every script has a name"
    assert script.get("steps"), f"{name}: and steps"
    return script


async def run(bench: Bench, name: str, visits: Visits | None = None) -> None:
    script = load(name)
    channel = str(script.get("channel", "sms"))
    for number, step in enumerate(script["steps"], 1):
        where = f"{name} step {number}"
        lines = step.get("say", [])
        for line in lines if isinstance(lines, list) else [lines]:
            typed = SPECIAL.get(str(line), str(line))
            before = await bench.session(channel)
            replies = await bench.say(typed, channel=channel)
            after = await bench.session(channel)
            text = joined(replies)
            assert replies, (where, line)
            assert all(r.text.strip() for r in replies), (where, line)
            for fragment in step.get("expect", []):
                assert str(fragment) in text, (where, line, fragment, text)
            for fragment in [*step.get("not", []), *NEVER]:
                assert str(fragment) not in text, (where, line, fragment, text)
            if "choices" in step:
                assert list(replies[-1].choices) == step["choices"], (where, replies[-1])
            if visits is not None and before.get("flow"):
                moved = (before.get("state"), before.get("cursor")) != (
                    after.get("state"),
                    after.get("cursor"),
                ) or before.get("flow") != after.get("flow")
                kind = str(line)[1:-1] if str(line) in SPECIAL else "good" if moved else "bad"
                visits.add(str(before["flow"]), str(before["state"]), kind)
        if step.get("restart"):
            await bench.restart()
        if "wait" in step:
            bench.clock.advance(float(step["wait"]))
        if "session" in step:
            session = await bench.session(channel)
            for key, value in step["session"].items():
                assert session.get(key) == value, (where, key, session.get(key))
        if "referral" in step:
            found = await bench.last_referral(channel)
            if step["referral"] is None:
                assert found is None, (where, found)
                continue
            assert found is not None, where
            for key, value in step["referral"].items():
                assert getattr(found, key) == value, (where, key, getattr(found, key))


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
async def bench(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Bench]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    opened = await Bench.open(request.param, tmp_path / "data", url)
    yield opened
    await opened.close()


@pytest.mark.parametrize("name", list(SCRIPTS))
async def test_conversation(bench: Bench, name: str) -> None:
    await run(bench, name)


async def test_the_scripts_give_every_state_good_bad_empty_emoji_and_huge_input(
    tmp_path: Path,
) -> None:
    visits = Visits()
    for name in SCRIPTS:
        bench = await Bench.open("embedded", tmp_path / name)
        try:
            await run(bench, name, visits)
        finally:
            await bench.close()
    every = {"good", "bad", "empty", "emoji", "huge"}
    for flow in (screening.FLOW, referral.FLOW):
        for state in flow.order:
            got = visits.kinds.get((flow.name, state), set())
            assert got >= every, (flow.name, state, every - got)
