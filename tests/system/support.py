"""What the system tests share: `residentbot serve` as real processes on free ports of
127.0.0.1 (killed with SIGKILL when a test says so), and residents who write to them by
SMS through the Twilio webhook, signed with twilio's RequestValidator, like a gateway:
a delivery that gets no 200 (a dead server, a 503) is delivered again, with the same
MessageSid, until it is answered.

A resident answers whatever question the session in the store says is current (the
questionnaire as it is, not a script of it), and keeps a transcript of each answer's
state and the reply it got. Two residents following the same plan must have the same
transcript whatever happened to the servers: no answer lost, none applied twice, every
questionnaire resuming where it was.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from twilio.request_validator import RequestValidator

from bot.config import Config
from bot.referrals import Referral
from bot.store import Store, StoreUnavailable
from integrations.window import Window, open_queue
from tests.channel_support import ANSWERS
from tests.conftest import ROOT, free_port

TOKEN = "system-twilio-token-0123456789"
PUBLIC_URL = "http://bot.example.test"  # what the gateway signs, whichever server it calls
START_TIMEOUT = 60.0
REQUEST_TIMEOUT = 30.0  # above the router's lock wait (15 s)
REDELIVERY_PAUSE = 0.2
REDELIVERY_FOR = 60.0  # a gateway gives up after this; a test fails long before
REFERRAL = {"consent": "同意", "district": "奉节县", "township": "不知道", "confirm": "确认"}
EMERGENCY = "我不想活了"
_REFERENCE = re.compile(r"\d{8,}")  # referral numbers, the resident's own number


class Server:
    """One `residentbot serve` process; its log (every start appended) in `log`."""

    def __init__(self, name: str, directory: Path, env: Mapping[str, str]) -> None:
        self.name = name
        self.data = directory / name
        self.data.mkdir(parents=True, exist_ok=True)
        self.log = directory / f"{name}.log"
        self.port = free_port()
        self.env = {
            **os.environ,
            "RESIDENTBOT_PORT": str(self.port),
            "RESIDENTBOT_DATA_DIR": str(self.data),
            "RESIDENTBOT_PUBLIC_URL": PUBLIC_URL,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "PYTHONIOENCODING": "utf-8",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._offset = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it; `ready()` waits until it listens."""
        assert self.process is None or self.process.poll() is not None
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve"],
                cwd=ROOT,
                env=self.env,
                stdout=sink,
                stderr=sink,
            )

    def ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while "listening on" not in self.output():
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, f"{self.name} did not start:\n{self.output()}"
            time.sleep(0.05)

    def output(self) -> str:
        """What this start of the process logged."""
        with self.log.open("rb") as fh:
            fh.seek(self._offset)
            return fh.read().decode("utf-8", "replace")

    def kill(self) -> None:
        """SIGKILL: no clean-up, nothing flushed."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM, as systemd stops it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_all(servers: Iterable[Server]) -> None:
    """Start the servers side by side, then wait for each."""
    started = list(servers)
    for server in started:
        server.start()
    for server in started:
        server.ready()


def fresh_number() -> str:
    return f"+86137{uuid.uuid4().int % 10**8:08d}"


def masked(text: str) -> str:
    """A reply without its referral number (random) and phone number, to compare."""
    return _REFERENCE.sub("########", text)


@dataclass
class Statuses:
    """The HTTP statuses the gateway got, and the deliveries it could not make at all."""

    seen: dict[int, int] = field(default_factory=dict)
    unreachable: int = 0

    def add(self, status: int) -> None:
        self.seen[status] = self.seen.get(status, 0) + 1


class Gateway:
    """Twilio, as far as the servers can tell: a signed form per SMS, redelivered with the
    same MessageSid until a 200."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.validator = RequestValidator(TOKEN)
        self.statuses = Statuses()
        self.answered = 0  # deliveries answered 200
        self._waiting: list[tuple[int, asyncio.Event]] = []

    async def until_answered(self, count: int) -> None:
        """Wait until `count` deliveries have been answered 200 in all."""
        if self.answered < count:
            event = asyncio.Event()
            self._waiting.append((count, event))
            await event.wait()

    async def post(self, server: Server, number: str, text: str, sid: str) -> tuple[int, str]:
        """One attempt: the status and the body, or (0, error) when nothing answered."""
        form = {"MessageSid": sid, "From": number, "To": "+8610690000", "Body": text}
        signature = self.validator.compute_signature(PUBLIC_URL + "/sms/twilio", form)
        try:
            async with self.http.post(
                server.base + "/sms/twilio",
                data=form,
                headers={"X-Twilio-Signature": signature},
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            ) as answer:
                body = await answer.text()
                self.statuses.add(answer.status)
                return answer.status, body
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.statuses.unreachable += 1
            return 0, type(exc).__name__

    async def deliver(self, pick: Callable[[], Server], number: str, text: str, sid: str) -> str:
        """Deliver until answered 200; the SMS texts of the TwiML answer, joined."""
        deadline = time.monotonic() + REDELIVERY_FOR
        while True:
            status, body = await self.post(pick(), number, text, sid)
            if status == 200:
                self.answered += 1
                for count, event in self._waiting:
                    if self.answered >= count:
                        event.set()
                return "\n".join(m.text or "" for m in ET.fromstring(body).iter("Message"))
            assert status in (0, 503), f"{status}: {body[:500]}"  # never a 500, a 400…
            assert time.monotonic() < deadline, f"not answered after {REDELIVERY_FOR:g} s"
            await asyncio.sleep(REDELIVERY_PAUSE)


@dataclass
class Plan:
    """What a resident does: the screening, then maybe an emergency message in the middle
    of it (a referral made without asking), and maybe a referral asked for at the end."""

    emergency_at: int | None = None  # after this many screening answers
    refer: bool = False

    @property
    def kind(self) -> str:
        return f"emergency={self.emergency_at},refer={self.refer}"


@dataclass
class Resident:
    number: str
    plan: Plan
    transcript: list[tuple[str, str]] = field(default_factory=list)  # (state, reply)

    @property
    def key(self) -> str:
        return f"sms:{self.number}"

    async def state(self, store: Store) -> tuple[str | None, str | None, bool]:
        """The flow and state the store has for this resident, and whether a result is
        (waiting while the store is down: the resident reads their phone meanwhile)."""
        deadline = time.monotonic() + REDELIVERY_FOR
        while True:
            try:
                session: dict[str, Any] = await store.get("session", self.key) or {}
            except StoreUnavailable:
                assert time.monotonic() < deadline, "the store never came back"
                await asyncio.sleep(REDELIVERY_PAUSE)
                continue
            return session.get("flow"), session.get("state"), bool(session.get("result"))

    async def converse(
        self,
        gateway: Gateway,
        store: Store,
        pick: Callable[[], Server],
        pause: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """The whole conversation, one SMS at a time; `pause` runs before each one."""
        answered = 0
        for step in range(80):
            flow, state, result = await self.state(store)
            if step == 0:
                text, label = "测一测", "start"
            elif flow == "screening" and answered == self.plan.emergency_at:
                text, label = EMERGENCY, f"emergency@{state}"
                answered += 1
            elif flow == "screening":
                text, label = ANSWERS.get(str(state), "不知道"), f"screening.{state}"
                answered += 1
            elif flow == "referral":
                text, label = REFERRAL.get(str(state), "1"), f"referral.{state}"
            elif self.plan.refer and result and not any(s == "ask" for s, _ in self.transcript):
                text, label = "人工", "ask"
            else:
                return
            if pause is not None:
                await pause()
            reply = await gateway.deliver(pick, self.number, text, f"SM{uuid.uuid4().hex}")
            self.transcript.append((label, masked(reply)))
        raise AssertionError(f"the conversation did not end: {self.transcript[-3:]}")


def plans(count: int) -> list[Plan]:
    """A mix: a third ask for a person at the end, a quarter have an emergency midway."""
    return [Plan(emergency_at=4 if n % 4 == 1 else None, refer=n % 3 == 0) for n in range(count)]


async def references(
    gateway: Gateway,
    store: Store,
    pick: Callable[[], Server],
    kinds: Sequence[Plan],
    known: dict[str, list[tuple[str, str]]],
) -> dict[str, list[tuple[str, str]]]:
    """Each plan's transcript with no fault at all, on these servers: what every resident
    must match. `known` keeps those already made, for the tests on the same servers."""
    for plan in kinds:
        if plan.kind not in known:
            resident = Resident(fresh_number(), plan)
            await resident.converse(gateway, store, pick)
            known[plan.kind] = resident.transcript
    return dict(known)


def queue_for(config: Config) -> Window:
    """The servers' referral queue, opened by the test (its workers never started)."""
    return open_queue(config)


async def referrals_of(window: Window, numbers: Iterable[str]) -> dict[str, list[Referral]]:
    """Every referral in the queue, open or not, by the resident's number."""
    wanted = set(numbers)
    found: dict[str, list[Referral]] = {n: [] for n in wanted}
    summaries = await window.list(["奉节县", "奉节县/*", "unrouted"],
                                  statuses=["new", "claimed", "contacted", "resolved",
                                            "transferred"], limit=10_000)  # fmt: skip
    for summary in summaries:
        referral = await window.get(summary.reference)
        assert referral is not None
        if referral.address in wanted:
            found[referral.address].append(referral)
    return found


def difference(got: list[tuple[str, str]], want: list[tuple[str, str]]) -> str:
    """Where two transcripts part."""
    for n, (mine, theirs) in enumerate(zip(got, want, strict=False)):
        if mine != theirs:
            return f"step {n}: got {mine!r}, expected {theirs!r}"
    return f"{len(got)} steps, expected {len(want)}: {got[len(want) :]!r} {want[len(got) :]!r}"


def expected_referrals(plan: Plan) -> int:
    return int(plan.emergency_at is not None) + int(plan.refer)


async def check_outcome(
    residents: Sequence[Resident],
    expected: Mapping[str, list[tuple[str, str]]],
    window: Window,
) -> None:
    """Every transcript is its plan's, and every resident has exactly the referrals of
    their plan, each the one their session names."""
    for resident in residents:
        assert resident.transcript == expected[resident.plan.kind], difference(
            resident.transcript, expected[resident.plan.kind]
        )
    made = await referrals_of(window, [r.number for r in residents])
    for resident in residents:
        assert len(made[resident.number]) == expected_referrals(resident.plan), (
            resident.number,
            [(r.reference, r.level) for r in made[resident.number]],
        )
        levels = sorted(r.level for r in made[resident.number])
        want = sorted(
            [*(["emergency"] if resident.plan.emergency_at is not None else []),
             *(["normal"] if resident.plan.refer else [])]
        )  # fmt: skip
        assert levels == want, resident.number
