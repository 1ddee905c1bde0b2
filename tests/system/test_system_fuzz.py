"""Hostile input through every HTTP endpoint of the real application (issue 7, "Bad input
and abuse"), served by one in-process aiohttp server on 127.0.0.1: the SMS webhooks
(Twilio signed, Aliyun and Tencent with their token, replies through a local outbound
gateway), the Telegram webhook (the real PTB Application, with the Bot API offline),
the web chat (JSON and the no-JavaScript form), the console's login, and the operator's
lookup, KB search, screening and referral forms.

Hypothesis sends random and hostile text (control characters, HTML and script, SQL- and
template-like strings, emoji, numbers out of range, over-long messages) in well-formed
requests, and random bytes, broken JSON, wrong content types and unknown charsets in
malformed ones. Whatever comes in: never a 5xx (the store is up), a valid message always
gets a reply, and what a page or an HTML message shows of the input is escaped — the
marker element `<x-fz>` never appears as markup.
"""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from bot.app import MAX_BODY, Services
from bot.console.common import CONSOLE
from bot.messages import MAX_TEXT
from bot.web import TRANSCRIPT, address
from integrations.telegram.channel import SECRET_HEADER
from tests.channel_support import GatewayRecorder, gateway_server, serving
from tests.console.helpers import LOG2_N
from tests.integrations.test_telegram import FakeBotApi, text_update

TWILIO = "fuzz-twilio-token-0123456789"
HOOK = "fuzz-webhook-token-0123456789"
SECRET = "fuzz_webhook_SECRET"
PUBLIC = "http://bot.example.test"
OPERATOR, PASSWORD = "op_fuzz", "correct horse battery"
LINE_MAX = 8000  # about aiohttp's limit on a request line (8190 bytes)
MARKER = "<x-fz>"  # an element no template writes: seen as markup, the input was not escaped
Client = TestClient[Any, Any]
pytestmark = pytest.mark.slow

HOSTILE = [
    MARKER,
    f"<script>alert(1)</script>{MARKER}",
    f'"><img src=x onerror=alert(1)>{MARKER}',
    f"&lt;x-fz&gt;{MARKER}&amp;",
    "]]><!-- <![CDATA[ x ]]>",
    "'; DROP TABLE kv; --",
    "1' OR '1'='1",
    "%s%n%x%d",
    "{{ 7*7 }}{% raw %}",
    "${jndi:ldap://127.0.0.1/x}",
    "\x00\x01\x02\x07\x08\x0b\x0c\x1b[2J\x7f",
    "\r\n\r\n\t",
    "\u202e\u200b\ufeff\u2028\u2029",
    "😊🙏🏽👨‍👩‍👧‍👦" * 20,
    "-1",
    "0",
    "99999999999999999999999999999",
    "1e309",
    "-1e309",
    "NaN",
    "inf",
    "１２３",
    "三百万亿",
    "测一测",
    "2",
    "1",
    "人工",
    "退订",
    "全文",
    "结束",
    "我不想活了",
    "家里没饭吃了",
    "低保怎么申请",
    " ",
    "",
]
PIECE = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=120))
TEXT = st.one_of(
    PIECE,
    st.lists(PIECE, min_size=2, max_size=4).map("".join),
    st.text(min_size=MAX_TEXT, max_size=MAX_TEXT + 800),  # over the message length cap
)
SPOKEN = TEXT.filter(lambda t: t.strip() != "")  # a message a resident could send
FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/x-www-form-urlencoded; charset=no-such-charset",
    "application/json",
    "application/json; charset=no-such-charset",
    "multipart/form-data",
    "multipart/form-data; boundary=zz",
    "text/plain",
    "text/xml",
    "application/octet-stream",
    "",
]
BYTES = st.one_of(
    st.binary(max_size=600),
    st.sampled_from(
        [
            b"Body=\xff\xfe&From=%2B8613800000000&MessageSid=SM1",
            b'--zz\r\nContent-Disposition: form-data; name="text"\r\n\r\n\xff\xfe\r\n--zz--\r\n',
            b'{"text": "\xff"}',
            b'{"text": ',
            b"[1, 2, {]",
            b'{"update_id": 1, "message": {"chat": "x"}}',
            b'[{"phone_number": 13800000000, "content": null, "sequence_id": true}]',
            b'{"mobile": "1", "text": "x", "time": 1e999}',
            b"\x00" * 64,
        ]
    ),
)


class Fuzzed:
    """The application under fuzzing (a plain class: hypothesis would print a dataclass's
    whole contents with each failing example)."""

    def __init__(
        self, services: Services, client: Client, gateway: GatewayRecorder, telegram: FakeBotApi,
        csrf: str,
    ) -> None:  # fmt: skip
        self.services, self.client, self.gateway, self.telegram = (
            services,
            client,
            gateway,
            telegram,
        )
        self.csrf = csrf  # the operator's session's CSRF token (the client keeps its cookie)

    def __repr__(self) -> str:
        return "app"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Fuzzed]:
    api = FakeBotApi()
    async with gateway_server() as (recorder, base):
        env = {
            "RESIDENTBOT_PUBLIC_URL": PUBLIC,
            "TWILIO_AUTH_TOKEN": TWILIO,
            "SMS_WEBHOOK_TOKEN": HOOK,
            "SMS_PROVIDER": "http",
            "SMS_GATEWAY_URL": base + "/send",
            "TELEGRAM_BOT_TOKEN": "123456:FUZZ-token",
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
        }
        async with serving(tmp_path, env, telegram_request=api) as (services, client):
            users = client.app[CONSOLE].users  # type: ignore[union-attr]
            users.log2_n = LOG2_N  # cheap hashes (and dummy hashes): logins stay fast
            await users.add(OPERATOR, "operator", None, PASSWORD, "孙八")
            csrf = await log_in(client)
            yield Fuzzed(services, client, recorder, api, csrf)


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def log_in(client: Client) -> str:
    page = await client.get("/console/login")
    token = CSRF.search(await page.text())
    assert token is not None
    answer = await client.post(
        "/console/login",
        data={"csrf": token.group(1), "name": OPERATOR, "password": PASSWORD},
        allow_redirects=False,
    )
    assert answer.status == 303, await answer.text()
    found = CSRF.search(await (await client.get("/lookup/screen")).text())
    assert found is not None
    return found.group(1)


def no_server_error(status: int, body: str) -> None:
    assert status < 500, body[:500]


def escaped(html: str) -> None:
    assert MARKER not in html, html[:2000]


def fresh_mobile() -> str:
    """A number not used before (hypothesis seeds `random`, so not from there)."""
    return f"+86139{uuid.uuid4().int % 10**8:08d}"


def fresh_id() -> int:
    return uuid.uuid4().int % 2**48


def sign(path: str, form: dict[str, str]) -> str:
    return str(RequestValidator(TWILIO).compute_signature(PUBLIC + path, form))


# --- SMS ----------------------------------------------------------------------------------


@FUZZ
@given(text=TEXT, sid=st.text(min_size=1, max_size=40))
async def test_twilio_any_text_is_answered_in_well_formed_twiml(
    app: Fuzzed, text: str, sid: str
) -> None:
    form = {"MessageSid": sid, "From": fresh_mobile(), "To": "+8610690000", "Body": text}
    headers = {"X-Twilio-Signature": sign("/sms/twilio", form)}
    answer = await app.client.post("/sms/twilio", data=form, headers=headers)
    body = await answer.text()
    if len(form["Body"].encode()) * 3 > MAX_BODY and answer.status == 413:
        return  # percent-encoded, the form is over the body cap
    assert answer.status == 200, body[:500]
    assert answer.content_type == "application/xml"
    texts = [m.text or "" for m in ET.fromstring(body).iter("Message")]  # parses as XML
    assert texts
    assert all(t.strip() for t in texts)
    escaped(body)


@FUZZ
@given(content_type=st.sampled_from(TYPES), data=BYTES, signed=st.booleans())
async def test_twilio_malformed_deliveries_are_refused_not_crashed_on(
    app: Fuzzed, content_type: str, data: bytes, signed: bool
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    if signed:
        headers["X-Twilio-Signature"] = sign("/sms/twilio", {})
    answer = await app.client.post("/sms/twilio", data=data, headers=headers)
    body = await answer.text()
    no_server_error(answer.status, body)
    assert answer.status in (400, 403), body[:300]


@FUZZ
@given(text=TEXT, provider=st.sampled_from(["aliyun", "tencent"]))
async def test_aliyun_and_tencent_messages_are_answered_through_the_gateway(
    app: Fuzzed, text: str, provider: str
) -> None:
    number = fresh_mobile()
    if provider == "aliyun":
        payload: Any = [{"phone_number": number[3:], "content": text, "sequence_id": fresh_id()}]
    else:
        payload = {"mobile": number[3:], "nationcode": "86", "text": text, "time": 1754000000}
    sent = len(app.gateway.requests)
    answer = await app.client.post(f"/sms/{provider}/{HOOK}", json=payload)
    body = await answer.text()
    assert answer.status == 200, body[:500]
    replies = [json.loads(r["body"]) for r in app.gateway.requests[sent:]]
    assert replies
    assert {r["to"] for r in replies} == {number}
    assert all(r["text"].strip() for r in replies)


@FUZZ
@given(
    provider=st.sampled_from(["aliyun", "tencent"]),
    content_type=st.sampled_from(TYPES),
    data=st.one_of(
        BYTES,
        st.recursive(
            st.none() | st.booleans() | st.floats() | st.text(),
            lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode()),
    ),
    token=st.sampled_from([HOOK, "", "wrong-token-0123456789"]),
)
async def test_aliyun_and_tencent_malformed_bodies_are_refused(
    app: Fuzzed, provider: str, content_type: str, data: bytes, token: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    answer = await app.client.post(f"/sms/{provider}?token={quote(token)}", data=data,
                                   headers=headers)  # fmt: skip
    body = await answer.text()
    no_server_error(answer.status, body)
    assert answer.status in (200, 400, 403), body[:300]


# --- Telegram -----------------------------------------------------------------------------


@FUZZ
@given(text=SPOKEN.map(lambda t: t[:4096]), chat=st.integers(1, 2**52))
async def test_telegram_any_text_gets_an_escaped_html_reply(
    app: Fuzzed, text: str, chat: int
) -> None:
    sent = len(app.telegram.sent())
    update = text_update(fresh_id() % 2**31, text, chat=chat)
    answer = await app.client.post(
        "/telegram/webhook", json=update, headers={SECRET_HEADER: SECRET}
    )
    body = await answer.text()
    assert answer.status == 200, body[:500]
    replies = [m for m in app.telegram.sent()[sent:] if m["chat_id"] == chat]
    assert replies
    for reply in replies:
        assert reply["text"].strip()
        escaped(reply["text"])


@FUZZ
@given(content_type=st.sampled_from(TYPES), data=BYTES, secret=st.sampled_from([SECRET, ""]))
async def test_telegram_malformed_updates_are_refused(
    app: Fuzzed, content_type: str, data: bytes, secret: str
) -> None:
    headers = {SECRET_HEADER: secret, **({"Content-Type": content_type} if content_type else {})}
    answer = await app.client.post("/telegram/webhook", data=data, headers=headers)
    body = await answer.text()
    no_server_error(answer.status, body)


# --- the web chat -------------------------------------------------------------------------


@FUZZ
@given(text=TEXT, client_id=st.one_of(st.none(), st.text(max_size=70)), fresh=st.booleans())
async def test_web_chat_any_text_gets_an_escaped_reply(
    app: Fuzzed, text: str, client_id: str | None, fresh: bool
) -> None:
    if fresh:
        app.client.session.cookie_jar.clear(lambda c: c.key == "rb_chat")
    answer = await app.client.post("/api/chat", json={"text": text, "id": client_id})
    body = await answer.text()
    no_server_error(answer.status, body)
    if not text.strip() or (
        client_id is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", client_id)
    ):
        assert answer.status == 400, body[:300]
        return
    if len(json.dumps({"text": text, "id": client_id})) > MAX_BODY:
        assert answer.status == 413
        return
    assert answer.status == 200, body[:500]
    replies = json.loads(body)["replies"]
    assert replies
    for reply in replies:
        assert reply["text"].strip()
        escaped(reply["text_html"])
    page = await app.client.get("/chat")
    assert page.status == 200
    escaped(await page.text())


@FUZZ
@given(
    content_type=st.sampled_from(TYPES), data=BYTES, path=st.sampled_from(["/api/chat", "/chat"])
)
async def test_web_chat_malformed_posts_are_refused(
    app: Fuzzed, content_type: str, data: bytes, path: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    answer = await app.client.post(path, data=data, headers=headers, allow_redirects=False)
    body = await answer.text()
    no_server_error(answer.status, body)


@FUZZ
@given(text=TEXT, choice=st.one_of(st.none(), TEXT))
async def test_web_chat_form_any_text_shows_an_escaped_page(
    app: Fuzzed, text: str, choice: str | None
) -> None:
    form = {"text": text, **({"choice": choice} if choice is not None else {})}
    answer = await app.client.post("/chat", data=form)
    body = await answer.text()
    no_server_error(answer.status, body)
    if answer.status == 413:
        return
    assert answer.status == 200, body[:300]
    escaped(body)


# --- the console and the operator's lookup ------------------------------------------------


@settings(FUZZ, max_examples=20)
@given(name=st.one_of(st.just(OPERATOR), TEXT), password=TEXT, next_path=TEXT)
async def test_console_login_refuses_any_credentials_calmly(
    app: Fuzzed, name: str, password: str, next_path: str
) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:  # not logged in
        base = str(app.client.make_url("/console/login"))
        async with browser.get(base, params={"next": next_path[:500]}) as page:
            body = await page.text()
            assert page.status == 200
        escaped(body)
        token = CSRF.search(body)
        assert token is not None
        form = {"csrf": token.group(1), "name": name, "password": password, "next": next_path}
        async with browser.post(base, data=form, allow_redirects=False) as answer:
            body = await answer.text()
            status = answer.status
    no_server_error(status, body)
    assert status in (401, 429), body[:300]
    escaped(body)


@FUZZ
@given(q=TEXT, entry=st.one_of(st.none(), TEXT))
async def test_lookup_and_kb_search_take_any_query(app: Fuzzed, q: str, entry: str | None) -> None:
    params = {"q": q, **({"id": entry} if entry is not None else {})}
    too_long = len(urlencode(params)) > LINE_MAX  # aiohttp refuses the request line: 400
    page = await app.client.get("/lookup", params=params)
    body = await page.text()
    no_server_error(page.status, body)
    assert page.status in ((400,) if too_long else (200, 404)), body[:300]
    escaped(body)
    found = await app.client.get("/api/kb/search", params={"q": q})
    if len(urlencode({"q": q})) > LINE_MAX:
        assert found.status == 400
        return
    assert found.status == 200, await found.text()
    assert isinstance(await found.json(), dict)


FIELDS = [
    "members[0].age",
    "members[0].disability_grade",
    "members[0].income.wages",
    "members[1].age",
    "financial_assets",
    "vehicle_values",
    "homes",
    "hardship.months_without_income",
    "district",
    "area",
    "as_of",
    "legal_supporter",
]
NUMBERISH = st.one_of(
    TEXT,
    st.integers().map(str),
    st.floats().map(str),
    st.sampled_from(["1e308", "-1e308", "1e-400", "9" * 400, "0x10", "1_000", "٣"]),
)


@FUZZ
@given(values=st.dictionaries(st.sampled_from(FIELDS), NUMBERISH, max_size=6))
async def test_operator_screening_form_takes_any_numbers(
    app: Fuzzed, values: dict[str, str]
) -> None:
    answer = await app.client.post("/lookup/screen", data={"csrf": app.csrf, **values})
    body = await answer.text()
    no_server_error(answer.status, body)
    assert answer.status in (200, 400, 413), body[:300]
    escaped(body)


@FUZZ
@given(
    values=st.dictionaries(
        st.sampled_from(["mobile", "district", "township", "level", "note", "household"]),
        TEXT,
        max_size=6,
    ),
    consent=st.booleans(),
)
async def test_operator_referral_form_takes_any_text(
    app: Fuzzed, values: dict[str, str], consent: bool
) -> None:
    form = {
        "csrf": app.csrf,
        "nonce": "n" * 24,
        **values,
        **({"consent": "yes"} if consent else {}),
    }
    answer = await app.client.post("/lookup/referral", data=form, allow_redirects=False)
    body = await answer.text()
    no_server_error(answer.status, body)
    assert answer.status in (200, 303, 400, 413), body[:300]
    escaped(body)


async def test_a_message_over_the_length_cap_is_cut_not_refused(app: Fuzzed) -> None:
    app.client.session.cookie_jar.clear(lambda c: c.key == "rb_chat")
    text = "我家的情况" * (MAX_TEXT // 5) + "后面这些字不会被看到" * 50
    answer = await app.client.post("/api/chat", json={"text": text, "id": "long-1"})
    assert answer.status == 200, await answer.text()
    assert (await answer.json())["replies"]
    cookie = app.client.session.cookie_jar.filter_cookies(app.client.make_url("/"))["rb_chat"]
    shown = await app.services.store.get(TRANSCRIPT, address(cookie.value))
    assert shown is not None
    said = [e["text"] for e in shown["log"] if e["who"] == "me"]
    assert said == [text[:MAX_TEXT]]


@pytest.mark.parametrize(
    "path",
    ["/sms/twilio", f"/sms/aliyun/{HOOK}", f"/sms/tencent/{HOOK}", "/telegram/webhook",
     "/api/chat", "/chat", "/console/login", "/lookup/screen"],
)  # fmt: skip
async def test_a_body_over_the_cap_is_refused_with_413(app: Fuzzed, path: str) -> None:
    huge = b"a" * (MAX_BODY + 1)
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/x-www-form-urlencoded"}
    answer = await app.client.post(path, data=huge, headers=headers)
    await answer.read()
    assert answer.status == 413
