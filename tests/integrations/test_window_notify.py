"""Staff notifications end to end: the queue's own workers deliver to a real local aiohttp
server (standing in for the Telegram/SMS relay) that records what it received, on both
backends. Retry pauses are shortened; everything else is the real path."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.config import Config
from bot.metrics import Metrics
from bot.referrals import Draft, Referral
from integrations.window import open_queue
from integrations.window.base import Window
from integrations.window.embedded import EmbeddedWindow
from integrations.window.notify import (
    HttpNotifier,
    NotifyError,
    Target,
    Targets,
    load_targets,
    parse_targets,
)
from integrations.window.redis import RedisWindow

PHONE = "13800138000"
WORDS = "家里断粮三天了"
TOWNSHIP = "渝中区/解放碑街道"
GROUP = Target("telegram", "-1001234567890")
ON_DUTY = Target("sms", "13900139000")
SUPERVISOR = Target("sms", "13700137000")
TARGETS = Targets({TOWNSHIP: (GROUP, ON_DUTY), "渝中区": (SUPERVISOR,)})
FAST = (0.01, 0.02)  # two retries: three attempts in all


@dataclass
class Relay:
    """A real HTTP server that records every notification posted to it."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0  # answer 503 to this many requests first
    always_fail: bool = False
    attempts: int = 0
    authorization: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        self.authorization.append(request.headers.get("Authorization", ""))
        if self.always_fail or self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=503)
        self.received.append(await request.json())
        return web.json_response({"ok": True})


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    recorder = Relay()
    app = web.Application()
    app.router.add_post("/notify", recorder.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    recorder.url = f"http://127.0.0.1:{port}/notify"
    yield recorder
    await runner.cleanup()


Build = Callable[..., Window]


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
async def build(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Build]:
    opened: list[Window] = []

    def make(**options: Any) -> Window:
        if request.param == "embedded":
            window: Window = EmbeddedWindow(tmp_path / "data", **options)
        else:
            window = RedisWindow(request.getfixturevalue("redis_url"), **options)
        opened.append(window)
        return window

    yield make
    for window in opened:
        await window.close()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail("not reached in time")
        await asyncio.sleep(0.02)


def draft(level: str = "urgent", key: str = "sms:+8613800138000:SM1", **fields: Any) -> Draft:
    values: dict[str, Any] = {"district": "渝中区", "township": "解放碑街道"} | fields
    return Draft(key=key, level=level, channel="sms", address="+86" + PHONE, contact=PHONE,
                 signals=["no_food"], message=WORDS, consent=True, **values)  # fmt: skip


async def recorded(window: Window, reference: str, count: int) -> Referral:
    async def enough() -> bool:
        referral = await window.get(reference)
        return referral is not None and len(referral.notifications) >= count

    await eventually(enough)
    referral = await window.get(reference)
    assert referral is not None
    return referral


async def started(build: Build, relay: Relay, **options: Any) -> Window:
    options = {"targets": TARGETS, "retry_delays": FAST} | options
    window = build(notifier=HttpNotifier(relay.url), **options)
    await window.start()
    return window


async def test_a_new_urgent_referral_reaches_the_township_group_and_the_on_duty_phone(
    build: Build, relay: Relay
) -> None:
    window = await started(build, relay)
    created = await window.create(draft())
    referral = await recorded(window, created.reference, 2)
    assert sorted((b["target"]["kind"], b["target"]["address"]) for b in relay.received) == [
        ("sms", ON_DUTY.address), ("telegram", GROUP.address)]  # fmt: skip
    texts = {b["text"] for b in relay.received}
    assert len(texts) == 1
    text = texts.pop()
    assert created.reference in text
    assert "急难" in text
    assert "渝中区解放碑街道" in text
    assert PHONE[-4:] not in text
    assert WORDS not in text
    notes = sorted((n["target"], n["status"], n["attempts"]) for n in referral.notifications)
    assert notes == [
        ("sms:139****9000", "delivered", 1),
        ("telegram:-1001234567890", "delivered", 1),
    ]
    assert [a["action"] for a in referral.audit[-2:]] == ["notification_delivered"] * 2
    await asyncio.sleep(1.5)  # acknowledged: never sent again
    assert len(relay.received) == 2


async def test_a_failing_relay_is_retried_until_it_delivers(build: Build, relay: Relay) -> None:
    relay.fail_next = 2
    window = await started(build, relay, targets=Targets({TOWNSHIP: (GROUP,)}))
    created = await window.create(draft(level="emergency"))
    referral = await recorded(window, created.reference, 1)
    assert relay.attempts == 3
    assert len(relay.received) == 1
    assert "紧急" in relay.received[0]["text"]
    (note,) = referral.notifications
    assert (note["event"], note["status"], note["attempts"]) == ("new", "delivered", 3)


async def test_after_the_retry_budget_the_failure_is_recorded_and_counted(
    build: Build, relay: Relay
) -> None:
    relay.always_fail = True
    metrics = Metrics()
    window = await started(build, relay, targets=Targets({TOWNSHIP: (ON_DUTY,)}), metrics=metrics)
    created = await window.create(draft())
    referral = await recorded(window, created.reference, 1)
    (note,) = referral.notifications
    assert (note["status"], note["attempts"], note["error"]) == ("failed", 3, "NotifyError")
    assert referral.audit[-1]["action"] == "notification_failed"
    assert metrics.notification_failures.labels("sms")._value.get() == 1
    (summary,) = await window.list([TOWNSHIP])
    assert summary.notification_failed
    await asyncio.sleep(1.5)  # reported, not retried for ever
    assert relay.attempts == 3


async def test_normal_referrals_notify_nobody_until_they_escalate(
    build: Build, relay: Relay
) -> None:
    window = await started(build, relay)
    created = await window.create(draft(level="normal"))
    await asyncio.sleep(1.2)
    assert relay.received == []
    assert await window.escalate_due(created.deadline + 1) == [created.reference]
    referral = await recorded(window, created.reference, 1)
    (body,) = relay.received
    assert body["target"] == {"kind": "sms", "address": SUPERVISOR.address}
    assert "超时未认领" in body["text"]
    assert created.reference in body["text"]
    assert referral.notifications[0]["event"] == "escalated"


async def test_an_escalated_urgent_referral_tells_the_district_supervisors(
    build: Build, relay: Relay
) -> None:
    window = await started(build, relay)
    created = await window.create(draft())
    await recorded(window, created.reference, 2)
    await window.escalate_due(created.deadline + 1)
    referral = await recorded(window, created.reference, 3)
    assert referral.notifications[-1]["target"] == "sms:137****7000"
    assert relay.received[-1]["target"]["address"] == SUPERVISOR.address


async def test_a_transfer_tells_the_new_township(build: Build, relay: Relay) -> None:
    other = Target("telegram", "-100999")
    targets = Targets({**TARGETS.by_queue, "渝中区/七星岗街道": (other,)})
    window = await started(build, relay, targets=targets)
    created = await window.create(draft())
    await recorded(window, created.reference, 2)
    await window.transfer(created.reference, "zhang", "渝中区/七星岗街道")
    referral = await recorded(window, created.reference, 3)
    assert relay.received[-1]["target"]["address"] == "-100999"
    assert "转来" in relay.received[-1]["text"]
    assert referral.notifications[-1]["event"] == "transferred"


async def test_an_urgent_referral_back_in_the_queue_tells_its_township(
    build: Build, relay: Relay
) -> None:
    window = await started(build, relay)
    created = await window.create(draft())
    await recorded(window, created.reference, 2)
    await window.claim(created.reference, "zhang")
    await window.take_over(created.reference, "chief", "zhang")  # the holder was disabled
    referral = await recorded(window, created.reference, 4)
    assert referral.notifications[-1]["event"] == "released"
    assert "退回" in relay.received[-1]["text"]
    assert created.reference in relay.received[-1]["text"]


async def test_with_no_target_anywhere_the_referral_says_nobody_was_told(
    build: Build, relay: Relay
) -> None:
    metrics = Metrics()
    window = await started(build, relay, targets=Targets(), metrics=metrics)
    created = await window.create(draft(district="江北区", township=None))
    referral = await recorded(window, created.reference, 1)
    (note,) = referral.notifications
    assert (note["target"], note["status"], note["error"]) == ("none", "failed", "no_target")
    assert metrics.notification_failures.labels("none")._value.get() == 1
    assert relay.attempts == 0


async def test_without_a_notifier_an_urgent_referral_says_nobody_was_told(build: Build) -> None:
    window = build(targets=TARGETS, retry_delays=FAST)
    await window.start()
    created = await window.create(draft(level="emergency"))
    referral = await recorded(window, created.reference, 1)
    (note,) = referral.notifications
    assert (note["target"], note["status"], note["error"]) == ("none", "failed", "no_notifier")
    (summary,) = await window.list([TOWNSHIP])
    assert summary.notification_failed


async def test_creating_does_not_wait_for_a_slow_relay(build: Build, relay: Relay) -> None:
    relay.always_fail = True
    window = await started(build, relay, retry_delays=(5.0,))  # a minute-long retry budget
    start = time.monotonic()
    created = await window.create(draft())
    assert time.monotonic() - start < 0.5
    assert created.notifications == []
    await eventually(lambda: asyncio.sleep(0, relay.attempts >= 1))
    start = time.monotonic()
    await window.close()  # in the middle of the retry pause: stops at once
    assert time.monotonic() - start < 1.0


# --- the pieces -------------------------------------------------------------------------------


async def test_an_unreachable_relay_raises(relay: Relay) -> None:
    notifier = HttpNotifier("http://127.0.0.1:9/notify", timeout=2.0)  # nothing listens on 9
    with pytest.raises(NotifyError):
        await notifier.send(GROUP, "test")
    await notifier.close()


def test_targets_fall_back_from_township_to_district_to_unrouted() -> None:
    targets = parse_targets(
        {
            "relay": "http://127.0.0.1:9100/notify",
            "targets": {
                TOWNSHIP: ["telegram:-1001", "sms:13900139000"],
                "渝中区": "sms:13700137000",
                "unrouted": ["sms:13600136000"],
            },
        }
    )
    assert targets.relay == "http://127.0.0.1:9100/notify"
    assert targets.for_queue(TOWNSHIP) == (Target("telegram", "-1001"), ON_DUTY)
    assert targets.for_queue("渝中区/七星岗街道") == (SUPERVISOR,)
    assert targets.for_queue("江北区/观音桥街道") == (Target("sms", "13600136000"),)
    assert targets.for_queue("unrouted") == (Target("sms", "13600136000"),)
    assert Targets().for_queue(TOWNSHIP) == ()
    with pytest.raises(ValueError, match="kind:address"):
        parse_targets({"targets": {TOWNSHIP: ["13900139000"]}})


def test_the_yaml_file(tmp_path: Path) -> None:
    assert load_targets(tmp_path / "missing.yaml") == Targets()
    path = tmp_path / "notify.yaml"
    path.write_text(
        "relay: http://127.0.0.1:9100/notify\ntargets:\n  渝中区/解放碑街道: [telegram:-1001]\n",
        encoding="utf-8",
    )
    assert load_targets(path).for_queue(TOWNSHIP) == (Target("telegram", "-1001"),)


async def test_open_queue_reads_the_file_named_by_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.yaml"
    path.write_text("targets:\n  渝中区: [sms:13700137000]\n", encoding="utf-8")
    window = open_queue(Config(data_dir=tmp_path / "data", notify_file=path))
    try:
        assert window.targets.for_queue(TOWNSHIP) == (SUPERVISOR,)
    finally:
        await window.close()


async def test_open_queue_picks_the_backend_and_reads_notify_yaml(
    tmp_path: Path, relay: Relay
) -> None:
    (tmp_path / "notify.yaml").write_text(
        json.dumps({"relay": relay.url, "targets": {TOWNSHIP: ["telegram:-1001"]}}),
        encoding="utf-8",
    )
    config = Config(data_dir=tmp_path, deadlines={"urgent": 600.0}, notify_token="relay-secret")
    window = open_queue(config)
    try:
        assert isinstance(window, EmbeddedWindow)
        assert isinstance(window.notifier, HttpNotifier)
        assert window.notifier.url == relay.url
        await window.start()
        created = await window.create(draft())
        assert created.deadline == created.created_at + 600
        await recorded(window, created.reference, 1)
        assert relay.received[0]["target"] == {"kind": "telegram", "address": "-1001"}
        assert relay.authorization == ["Bearer relay-secret"]
    finally:
        await window.close()
    assert (tmp_path / "window.sqlite3").exists()


@pytest.mark.redis
async def test_open_queue_uses_redis_when_configured(tmp_path: Path, redis_url: str) -> None:
    window = open_queue(Config(data_dir=tmp_path, redis_url=redis_url))
    try:
        assert isinstance(window, RedisWindow)
        assert window.notifier is None
        assert (await window.create(draft())).queue == TOWNSHIP
    finally:
        await window.close()
