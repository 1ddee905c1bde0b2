"""No personal data in the logs of a whole run (issue 7): `residentbot serve` as a real
process at DEBUG, its stderr in a file; residents on the web chat and on SMS (Twilio-
signed) write their ID-card, mobile and bank-card numbers, go through the whole
screening and ask for a person, leaving a contact number; an urgent referral notifies
staff targets named by a Telegram chat id and a mobile number, through a relay that is
down, so the server logs each failed attempt with the target. Then the whole log is
searched for every one of those numbers, in every way they were written: none is there.

The notification warnings prove the point is not an empty log: the server logged lines
that named personal identifiers, and they came out redacted."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from twilio.request_validator import RequestValidator
from yarl import URL

from bot.store.embedded import EmbeddedStore
from tests.channel_support import ANSWERS
from tests.conftest import ROOT, free_port

TOKEN = "full-run-twilio-token-0123456789"
PUBLIC_URL = "http://bot.example.test"  # http: the web chat cookie is not Secure

# Everything personal that is said, each written as a resident would (and its plain digits)
ID_WEB = "11010519491231002X"
MOBILE_WEB = "13912345678"
CARD_WEB = "6200000000000005"
CONTACT_WEB = "15987654321"
SMS_FROM = "+8613512345678"
ID_SMS = "440524188001010014"
CARD_SMS = "6205500000000000004"
STAFF_CHAT = "5123456789"  # a staff member's private Telegram chat
STAFF_MOBILE = "18612345678"  # an on-duty mobile, named under a kind the label leaves as is
SECRETS = [
    ID_WEB,
    MOBILE_WEB,
    CARD_WEB,
    CONTACT_WEB,
    SMS_FROM,
    SMS_FROM.removeprefix("+86"),
    ID_SMS,
    CARD_SMS,
    STAFF_CHAT,
    STAFF_MOBILE,
]
REFERRAL_ANSWERS = {
    "consent": "同意",
    "district": "奉节县",
    "township": "不知道",
    "confirm": "确认",
}


@dataclass
class Server:
    base: str
    data: Path
    log: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """SIGTERM, as systemd stops it; the log is complete afterwards."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """`residentbot serve` at DEBUG on the embedded store, its output in a file."""
    data, log = tmp_path / "var", tmp_path / "server.log"
    data.mkdir()
    relay = f"http://127.0.0.1:{free_port()}/notify"  # nothing listens there
    (data / "notify.yaml").write_text(
        f"relay: {relay}\n"
        f'targets:\n  unrouted: ["telegram:{STAFF_CHAT}", "voice:{STAFF_MOBILE}"]\n',
        encoding="utf-8",
    )
    port = free_port()
    env = {
        **os.environ,
        "RESIDENTBOT_PORT": str(port),
        "RESIDENTBOT_DATA_DIR": str(data),
        "RESIDENTBOT_LOG_LEVEL": "DEBUG",
        "RESIDENTBOT_PUBLIC_URL": PUBLIC_URL,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PYTHONIOENCODING": "utf-8",
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, stdout=sink, stderr=sink
        )
    try:
        deadline = time.monotonic() + 30
        while "listening on" not in log.read_text(encoding="utf-8"):
            assert process.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        running = Server(f"http://127.0.0.1:{port}", data, log, process)
        yield running
    finally:
        Server("", data, log, process).stop()


class Resident:
    """One resident on one channel; answers whatever the session in the store asks."""

    def __init__(self, http: aiohttp.ClientSession, base: str, store: EmbeddedStore) -> None:
        self.http, self.base, self.store = http, base, store
        self.replies: list[str] = []

    async def say(self, text: str) -> str:
        raise NotImplementedError

    def key(self) -> str:
        raise NotImplementedError

    async def follow(self, referral: Mapping[str, str]) -> list[str]:
        """Answer the screening and the referral questions until no flow is active."""
        asked: list[str] = []
        for _ in range(60):
            session: dict[str, Any] = await self.store.get("session", self.key()) or {}
            flow, state = session.get("flow"), str(session.get("state"))
            if flow is None:
                return asked
            asked.append(f"{flow}.{state}")
            answers = ANSWERS if flow == "screening" else referral
            await self.say(answers.get(state, "不知道"))
        raise AssertionError(f"the conversation did not end: {asked}")


class WebResident(Resident):
    async def say(self, text: str) -> str:
        n = len(self.replies)
        async with self.http.post(
            self.base + "/api/chat", json={"text": text, "id": f"m{n}"}
        ) as answer:
            assert answer.status == 200, await answer.text()
            body = await answer.json()
        reply = "\n".join(r["text"] for r in body["replies"])
        self.replies.append(reply)
        return reply

    def key(self) -> str:
        cookie = self.http.cookie_jar.filter_cookies(URL(self.base))["rb_chat"].value
        return "web:" + hashlib.sha256(cookie.encode()).hexdigest()[:32]


class SmsResident(Resident):
    validator = RequestValidator(TOKEN)

    async def say(self, text: str) -> str:
        form = {
            "MessageSid": f"SM{len(self.replies):032d}",
            "From": SMS_FROM,
            "To": "+8610690000",
            "Body": text,
        }
        signature = self.validator.compute_signature(PUBLIC_URL + "/sms/twilio", form)
        async with self.http.post(
            self.base + "/sms/twilio",
            data=urlencode(form),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
            },
        ) as answer:
            assert answer.status == 200, await answer.text()
            reply = await answer.text()
        self.replies.append(reply)
        return reply

    def key(self) -> str:
        return f"sms:{SMS_FROM}"


async def wait_for(log: Path, text: str, seconds: float = 20) -> str:
    deadline, content = time.monotonic() + seconds, ""
    while time.monotonic() < deadline:
        content = await asyncio.to_thread(log.read_text, encoding="utf-8")
        if text in content:
            return content
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} never logged:\n{content[-3000:]}")


async def test_no_personal_data_in_the_logs_of_a_full_run(server: Server) -> None:
    base, data, log = server.base, server.data, server.log
    store = EmbeddedStore(data)  # reads the server's sessions, to answer what is asked
    try:
        jar = aiohttp.CookieJar(unsafe=True)  # keep the web chat's cookie for 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            web = WebResident(http, base, store)
            await web.say(
                f"我的身份证号是{ID_WEB}，电话{MOBILE_WEB}，银行卡{CARD_WEB}，低保怎么申请"
            )
            await web.say(f"身份证 110105 19491231 002X，手机 +86 139-1234-5678，卡号 {CARD_WEB}")
            await web.say("测一测")
            screened = await web.follow({})
            assert screened[0] == "screening.district"
            assert "screening.savings" in screened
            urgent = await web.say("家里没饭吃了，好几天没吃饭了")
            assert "急难" in urgent
            referred = await web.follow({**REFERRAL_ANSWERS, "phone": CONTACT_WEB})
            assert "referral.phone" in referred
            assert re.search(r"已转交，编号\d{8}", web.replies[-1]), web.replies[-1]

            sms = SmsResident(http, base, store)
            await sms.say(f"身份证{ID_SMS}，卡号6205 5000 0000 0000 004，电话{MOBILE_WEB}")
            await sms.say("测一测")
            screened = await sms.follow({})
            assert "screening.savings" in screened
            await sms.say("人工")
            referred = await sms.follow({**REFERRAL_ANSWERS, "phone": "1"})  # keep own number
            assert "referral.phone" in referred
            assert re.search(r"已转交，编号\d{8}", sms.replies[-1]), sms.replies[-1]
    finally:
        await store.close()

    # the urgent referral's notifications failed against the dead relay, and said so
    await wait_for(log, "notification to voice:")
    await wait_for(log, "notification to telegram:")
    server.stop()
    content = log.read_text(encoding="utf-8")

    assert "listening on" in content
    assert "stopping" in content
    assert " DEBUG " in content  # the run logged at DEBUG
    assert "notification to telegram:[chat-id] failed" in content
    assert "notification to voice:[mobile] failed" in content
    squeezed = re.sub(r"[\s\-+()]", "", content)
    for secret in SECRETS:
        assert secret not in content, secret
        assert secret.removeprefix("+") not in squeezed, secret
    assert "Traceback" not in content
