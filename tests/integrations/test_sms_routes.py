"""The SMS webhooks through a real aiohttp server: Twilio (signed form, TwiML reply),
Aliyun and Tencent (token, JSON, replies through a local outbound gateway); forged,
malformed and repeated deliveries; opt-out; a full screening by SMS."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from twilio.request_validator import RequestValidator

from bot.app import Services
from bot.console import handover
from bot.delivery import DeliveryError
from bot.messages import Reply
from bot.referrals import Draft
from bot.render import render_reply
from integrations.sms.channel import DONE, OPTOUT
from integrations.sms.segments import PART, SINGLE, sms_length, split
from integrations.sms.twilio import twiml
from knowledge.search import default_index
from tests.channel_support import (
    ANSWERS,
    GatewayRecorder,
    answer_screening,
    gateway_server,
    serving,
    session_of,
)

AUTH = "twilio-auth-token-0123"
HOOK = "sms-webhook-token-0123456789"
NUMBER = "+8613800001111"
Client = TestClient[Any, Any]


@pytest.fixture
async def sms(tmp_path: Path) -> AsyncIterator[tuple[Services, Client, GatewayRecorder]]:
    async with gateway_server() as (recorder, base):
        env = {
            "TWILIO_AUTH_TOKEN": AUTH,
            "SMS_WEBHOOK_TOKEN": HOOK,
            "SMS_PROVIDER": "http",
            "SMS_GATEWAY_URL": base + "/send",
            "SMS_GATEWAY_TIMEOUT": "2",
        }
        async with serving(tmp_path, env) as (services, client):
            yield services, client, recorder


def signature(url: str, params: dict[str, str], token: str = AUTH) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


async def twilio(
    client: Client,
    body: str,
    sid: str,
    sender: str = NUMBER,
    *,
    url: str | None = None,
    token: str = AUTH,
    headers: dict[str, str] | None = None,
) -> tuple[int, list[str]]:
    """Post like Twilio does; the status and the SMS texts of the TwiML answer."""
    params = {
        "MessageSid": sid,
        "From": sender,
        "To": "+8610690000",
        "Body": body,
        "NumSegments": "1",
    }
    signed_url = url or str(client.make_url("/sms/twilio"))
    sent = {"X-Twilio-Signature": signature(signed_url, params, token), **(headers or {})}
    response = await client.post("/sms/twilio", data=params, headers=sent)
    text = await response.text()
    if response.status != 200:
        return response.status, []
    assert response.content_type == "application/xml"
    return 200, [m.text or "" for m in ET.fromstring(text).iter("Message")]


def well_formed(texts: list[str]) -> None:
    """One SMS of at most 70, or at most 3 numbered parts of at most 67."""
    if len(texts) == 1 and not texts[0].startswith("(1/"):
        assert sms_length(texts[0]) <= SINGLE
        return
    assert 1 <= len(texts) <= 3
    for n, text in enumerate(texts, 1):
        assert text.startswith(f"({n}/{len(texts)})")
        assert sms_length(text) <= PART


def count(services: Services, outcome: str) -> float:
    value = services.metrics.registry.get_sample_value(
        "residentbot_messages_total", {"channel": "sms", "outcome": outcome}
    )
    return value or 0.0


# --- Twilio ------------------------------------------------------------------------


def test_the_validator_accepts_twilios_documented_vector() -> None:
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert RequestValidator("12345").validate(url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")


def test_twiml_escapes_the_reply() -> None:
    xml = twiml(["1 < 2 & “全文”"])
    assert "1 &lt; 2 &amp; “全文”" in xml
    assert [m.text for m in ET.fromstring(xml).iter("Message")] == ["1 < 2 & “全文”"]


async def test_twilio_answers_in_twiml(sms: tuple[Services, Client, GatewayRecorder]) -> None:
    services, client, recorder = sms
    status, texts = await twilio(client, "帮助", "SM0001")
    assert status == 200
    joined = "".join(texts)
    assert "社会救助咨询助手" in joined
    well_formed(texts)
    assert recorder.requests == []  # in-band: nothing through the outbound gateway
    assert count(services, "replied") == 1


async def test_forged_twilio_requests_are_refused_without_effect(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    services, client, _ = sms
    assert (await twilio(client, "帮助", "SM0002", token="not-the-token"))[0] == 403
    other = "https://attacker.example.com/sms/twilio"
    assert (await twilio(client, "帮助", "SM0002", url=other))[0] == 403
    response = await client.post(
        "/sms/twilio", data={"MessageSid": "SM0002", "From": NUMBER, "Body": "帮助"}
    )
    assert response.status == 403
    assert await session_of(services, f"sms:{NUMBER}") == {}
    assert await services.store.get(DONE, "twilio:SM0002") is None
    assert count(services, "rejected") == 3
    # The genuine delivery is then handled as new.
    status, texts = await twilio(client, "帮助", "SM0002")
    assert status == 200
    assert texts


async def test_a_malformed_twilio_form_is_400(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    services, client, _ = sms
    params = {"MessageSid": "SM0003", "Body": "帮助"}  # no From
    url = str(client.make_url("/sms/twilio"))
    response = await client.post(
        "/sms/twilio", data=params, headers={"X-Twilio-Signature": signature(url, params)}
    )
    assert response.status == 400
    assert await services.store.get(DONE, "twilio:SM0003") is None


async def test_the_public_url_is_rebuilt_from_forwarded_headers(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    _, client, _ = sms
    public = "https://bot.example.gov.cn/sms/twilio"
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "bot.example.gov.cn"}
    assert (await twilio(client, "帮助", "SM0004", url=public, headers=forwarded))[0] == 200
    assert (await twilio(client, "帮助", "SM0005", url=public))[0] == 403  # no proxy headers


async def test_the_configured_public_url_is_what_is_checked(tmp_path: Path) -> None:
    env = {"TWILIO_AUTH_TOKEN": AUTH, "RESIDENTBOT_PUBLIC_URL": "https://bot.example.gov.cn/"}
    async with serving(tmp_path, env) as (_, client):
        public = "https://bot.example.gov.cn/sms/twilio"
        assert (await twilio(client, "帮助", "SM0006", url=public))[0] == 200
        assert (await twilio(client, "帮助", "SM0007"))[0] == 403


async def test_a_repeated_message_sid_gets_the_same_twiml_and_nothing_else(
    sms: tuple[Services, Client, GatewayRecorder], tmp_path: Path
) -> None:
    services, client, _ = sms
    _, first = await twilio(client, "测一测", "SM0100")
    session = await session_of(services, f"sms:{NUMBER}")
    assert session["flow"] == "screening"
    _, again = await twilio(client, "测一测", "SM0100")
    assert again == first
    assert await session_of(services, f"sms:{NUMBER}") == session
    assert count(services, "duplicate") == 1


async def test_the_duplicate_record_survives_a_restart(tmp_path: Path) -> None:
    env = {"TWILIO_AUTH_TOKEN": AUTH}
    async with serving(tmp_path, env) as (services, client):
        _, first = await twilio(client, "测一测", "SM0200")
        session = await session_of(services, f"sms:{NUMBER}")
    async with serving(tmp_path, env) as (services, client):  # a new process, same data
        _, again = await twilio(client, "测一测", "SM0200")
        assert again == first
        assert await session_of(services, f"sms:{NUMBER}") == session
        assert count(services, "duplicate") == 1


# --- Aliyun and Tencent ------------------------------------------------------------


def aliyun_item(sequence: int, content: str, number: str = "13800001111") -> dict[str, Any]:
    return {
        "phone_number": number,
        "content": content,
        "send_time": "2026-11-22 08:00:00",
        "dest_code": "1069",
        "sequence_id": sequence,
        "sign_name": "社会救助",
    }


async def test_aliyun_replies_through_the_gateway_once(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    services, client, recorder = sms
    response = await client.post(f"/sms/aliyun?token={HOOK}", json=[aliyun_item(1, "帮助")])
    assert response.status == 200
    assert await response.json() == {"code": 0, "msg": "接收成功"}
    texts = recorder.texts()
    well_formed(texts)
    assert "社会救助咨询助手" in "".join(texts)
    assert {r["body"] and r["path"] for r in recorder.requests} == {"/send"}
    assert all(
        b'"to": "+8613800001111"' in r["body"] or b'"to":"+8613800001111"' in r["body"]
        for r in recorder.requests
    )
    # Aliyun delivers it again (to the path form of the token this time): acknowledged only.
    response = await client.post(f"/sms/aliyun/{HOOK}", json=[aliyun_item(1, "帮助")])
    assert await response.json() == {"code": 0, "msg": "接收成功"}
    assert recorder.texts() == texts
    assert count(services, "duplicate") == 1


async def test_the_acknowledgements_are_the_documented_bytes(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    """Gateways compare the answer, not its meaning: compact JSON, Chinese as UTF-8
    (CONTRACTS.md "HTTP endpoints"; ../shared/reference/channels.md "SMS")."""
    _, client, _ = sms
    tencent = {"mobile": "13800001111", "nationcode": "86", "text": "帮助", "time": 1795000000}
    for path, body, expected in (
        ("/sms/aliyun", [aliyun_item(7, "帮助")], '{"code":0,"msg":"接收成功"}'),
        ("/sms/tencent", tencent, '{"result":0,"errmsg":"OK"}'),
    ):
        response = await client.post(f"{path}?token={HOOK}", json=body)
        assert response.status == 200
        assert await response.read() == expected.encode("utf-8"), path
        assert response.headers["Content-Type"] == "application/json; charset=utf-8", path


async def test_aliyun_refuses_a_wrong_token_and_a_malformed_body_without_effect(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    services, client, recorder = sms
    body = [aliyun_item(2, "帮助")]
    assert (await client.post("/sms/aliyun", json=body)).status == 403
    assert (await client.post("/sms/aliyun?token=wrong", json=body)).status == 403
    assert (await client.post(f"/sms/aliyun/{HOOK}x", json=body)).status == 403
    for bad in (
        b"not json",
        b'{"phone_number": "138"}',
        b'[{"content": "x"}]',
        b'[{"phone_number": "13800001111", "content": "x"}]',
        b'[{"phone_number": "abc", "content": "x", "sequence_id": 3}]',
    ):
        response = await client.post(
            f"/sms/aliyun?token={HOOK}", data=bad, headers={"Content-Type": "application/json"}
        )
        assert response.status == 400, bad
    assert recorder.requests == []
    assert await session_of(services, f"sms:{NUMBER}") == {}
    assert count(services, "rejected") == 8


async def test_a_gateway_failure_is_retried_by_aliyun_without_a_second_effect(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    services, client, recorder = sms
    recorder.script = [503, 503, 503]  # all three attempts of the first delivery fail
    body = [aliyun_item(3, "测一测")]
    response = await client.post(f"/sms/aliyun?token={HOOK}", json=body)
    assert response.status == 503
    session = await session_of(services, f"sms:{NUMBER}")
    assert session["flow"] == "screening"
    response = await client.post(f"/sms/aliyun?token={HOOK}", json=body)  # Aliyun retries
    assert response.status == 200
    assert await session_of(services, f"sms:{NUMBER}") == session  # not started twice
    accepted = recorder.texts()[3:]
    well_formed(accepted)
    response = await client.post(f"/sms/aliyun?token={HOOK}", json=body)  # and once more
    assert recorder.texts()[3:] == accepted  # nothing sent again


async def test_tencent_valid_repeated_forged_and_malformed(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    services, client, recorder = sms
    body = {
        "extend": "",
        "mobile": "13800001111",
        "nationcode": "86",
        "sign": "社会救助",
        "text": "帮助",
        "time": 1795000000,
    }
    assert (await client.post("/sms/tencent?token=nope", json=body)).status == 403
    response = await client.post(
        "/sms/tencent",
        data=b"[1,2]",
        params={"token": HOOK},
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 400
    assert (
        await client.post(f"/sms/tencent?token={HOOK}", json={**body, "time": "soon"})
    ).status == 400
    assert recorder.requests == []
    response = await client.post(f"/sms/tencent?token={HOOK}", json=body)
    assert await response.json() == {"result": 0, "errmsg": "OK"}
    texts = recorder.texts()
    assert "社会救助咨询助手" in "".join(texts)
    response = await client.post(f"/sms/tencent/{HOOK}", json=body)
    assert await response.json() == {"result": 0, "errmsg": "OK"}
    assert recorder.texts() == texts
    # The same words at another time are a new message.
    await client.post(f"/sms/tencent?token={HOOK}", json={**body, "time": 1795000060})
    assert len(recorder.texts()) == 2 * len(texts)
    assert count(services, "duplicate") == 1


async def test_routes_are_off_without_their_settings(tmp_path: Path) -> None:
    async with serving(tmp_path) as (_, client):
        for path in ("/sms/twilio", "/sms/aliyun", "/sms/tencent", f"/sms/aliyun/{HOOK}"):
            assert (await client.post(path, data=b"{}")).status == 404


# --- opt-out, help, long replies ---------------------------------------------------


async def test_opting_out_is_confirmed_respected_and_reversible(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    services, client, recorder = sms
    await twilio(client, "测一测", "SM0300")
    session = await session_of(services, f"sms:{NUMBER}")
    _, texts = await twilio(client, "退订", "SM0301")
    assert len(texts) == 1
    assert "订阅" in texts[0]  # says how to come back
    assert await services.store.get(OPTOUT, NUMBER) is not None
    # No further SMS: not to a question, not a repeated 退订, not from staff.
    assert (await twilio(client, "低保标准是多少", "SM0302"))[1] == []
    assert (await twilio(client, "TD", "SM0303"))[1] == []
    assert await session_of(services, f"sms:{NUMBER}") == session  # the question went nowhere
    with pytest.raises(DeliveryError) as caught:
        await services.delivery.send("sms", NUMBER, [Reply("工作人员回复：明天来办。")])
    assert caught.value.reason == "opted_out"
    assert recorder.requests == []
    # 订阅 opts back in, confirmed; then everything works again.
    _, texts = await twilio(client, "订阅", "SM0304")
    assert len(texts) == 1
    assert await services.store.get(OPTOUT, NUMBER) is None
    assert (await twilio(client, "帮助", "SM0305"))[1]
    await services.delivery.send("sms", NUMBER, [Reply("工作人员回复：明天来办。")])
    assert recorder.texts() == ["工作人员回复：明天来办。"]


async def test_an_operators_referral_relays_the_residents_answer_and_respects_opt_out(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    """A referral the resident did not start here (an operator's, bot/console/lookup.py):
    once staff reply, the resident's answer goes into its thread (the router follows the
    session's last referral, which the handover now makes it). Referrals operators made
    before their numbers were stored as +86… hold the 11 digits typed: the SMS sender
    reads those as the sender they are, so an opt-out still holds."""
    services, client, recorder = sms
    draft = Draft(key="lookup:op:n1", level="urgent", channel="sms", address=NUMBER,
                  district="渝中区", township="解放碑街道", consent=True)  # fmt: skip
    referral = await services.referrals.create(draft)
    await services.referrals.claim(referral.reference, "staff_a")
    sent = await services.referrals.reply(referral.reference, "staff_a", "请问您住哪里？")
    words = handover.resident_reply(referral, sent.text)
    await services.delivery.send("sms", sent.address, [words])
    await services.referrals.reply_sent(referral.reference, "staff_a", sent.index, None)
    await handover.begin(services.store, referral)  # as the console's reply does
    await twilio(client, "我住解放碑民族路", "SM0350")
    after = await services.referrals.get(referral.reference)
    assert after is not None
    assert after.thread[-1]["text"] == "我住解放碑民族路"  # the answer reached staff
    typed = NUMBER.removeprefix("+86")
    await services.delivery.send("sms", typed, [Reply("工作人员：明天上门。")])
    assert json.loads(recorder.requests[-1]["body"])["to"] == NUMBER
    await twilio(client, "退订", "SM0351")
    for address in (NUMBER, typed):
        with pytest.raises(DeliveryError) as caught:
            await services.delivery.send("sms", address, [Reply("工作人员：明天上门。")])
        assert caught.value.reason == "opted_out"


async def test_an_emergency_still_reaches_the_conversation_after_opting_out(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    _services, client, _ = sms
    await twilio(client, "STOP", "SM0400")
    _, texts = await twilio(client, "我不想活了", "SM0401")
    assert texts
    assert "12356" in "".join(texts)
    well_formed(texts)


async def test_a_long_reply_comes_in_parts_and_the_rest_on_request(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    _, client, _ = sms
    _, answer = await twilio(client, "低保标准是多少", "SM0500")
    well_formed(answer)
    assert "全文" in "".join(answer)  # the short form offers the full text
    _, full = await twilio(client, "全文", "SM0501")
    well_formed(full)
    sent = [full]
    for n in range(2, 6):
        if "全文" not in full[-1]:
            break
        _, full = await twilio(client, "全文", f"SM050{n}")
        well_formed(full)
        sent.append(full)
    assert len(sent) >= 2  # the full answer did not fit in 3 parts: it came in pages
    assert "全文" not in sent[-1][-1]  # ... up to its end
    assert "（依据：" in "".join("".join(page) for page in sent)


async def test_a_question_mid_questionnaire_is_answered_and_the_question_still_arrives(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    _, client, _ = sms
    for n, text in enumerate(["测一测", "渝中区", "城镇", "没有"]):
        await twilio(client, text, f"SM060{n}")
    _, texts = await twilio(client, "低保标准是好多钱", "SM0610")
    well_formed(texts)
    joined = "".join(texts)
    assert "770" in joined  # the answer
    assert "几口人" in joined  # and, in the same SMS, the question it interrupted


async def test_a_long_turn_keeps_the_question_whole_and_the_answer_waits_for_full_text(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    _, client, _ = sms
    for n, text in enumerate(["测一测", "渝中区", "城镇", "没有", "68 66"]):
        await twilio(client, text, f"SM065{n}")
    _, texts = await twilio(client, "支出型困难家庭是啥子", "SM0660")  # a long answer
    well_formed(texts)
    joined = "".join(re.sub(r"^\(\d/\d\)", "", t) for t in texts)
    assert "支出型" in joined  # the answer begins
    assert "“全文”看后面" in joined  # the rest of it on request
    question = "我们接着刚才的问题：\n您本人有下面的情况吗？可多选，比如：1 4\n1 残疾"
    assert question in joined  # and the question it interrupted, whole
    assert joined.endswith("5 都没有")
    _, rest = await twilio(client, "全文", "SM0661")
    well_formed(rest)
    assert "依据" in "".join(rest)


async def test_an_urgent_message_asks_for_consent_within_the_three_parts(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    _, client, _ = sms
    _, texts = await twilio(client, "屋头没得米了，娃儿饿了两天了", "SM0620")
    well_formed(texts)
    joined = "".join(texts)
    assert "急难" in joined
    assert "同意吗" in joined
    assert joined.endswith("1 同意\n2 不同意")


async def test_an_emergency_mid_questionnaire_keeps_its_numbers_and_its_reference(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    services, client, _ = sms
    for n, text in enumerate(["测一测", "渝中区"]):
        await twilio(client, text, f"SM063{n}")
    _, texts = await twilio(client, "我不想活了", "SM0640")
    well_formed(texts)
    joined = "".join(texts)
    reference = (await session_of(services, f"sms:{NUMBER}"))["referral"]["reference"]
    assert "12356" in joined
    assert reference in joined
    assert joined.count("转给") == 1  # the handover is said once, with its reference


# One message for each kind of emergency advice (knowledge/triage.yaml `advice`).
EMERGENCIES = [
    "我不想活了",
    "他又在打我，我好怕",
    "我爸突然倒了叫不醒",
    "屋头着火了",
    "水淹到屋头了，出不去",
    "救命啊",
    "我妈走丢了",
]
NUMBERS = "请马上拨打：报警110，急救120，火警119；心里难受、想不开，请打心理援助热线12356。"


def whole_instructions(texts: list[str]) -> None:
    """Each part of an emergency reply ends after a sentence, so that every instruction
    arrives whole in one part, the numbers above all."""
    more = render_reply("sms", "sms_more", {}).text
    body = [re.sub(r"^\(\d/\d\)", "", t) for t in texts]
    assert any(NUMBERS in part for part in body), body
    for part in body[:-1]:
        assert part[-1] in "。！？；：", body
    if body[-1].endswith(more):  # what waits for 全文 begins with its lead-in (…的问题：)
        assert body[-1].removesuffix(more)[-1] in "。！？；", body


async def test_an_emergency_arrives_in_whole_sentences(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    _, client, _ = sms
    for n, text in enumerate(EMERGENCIES):
        _, texts = await twilio(client, text, f"SM07{n:02d}", sender=f"+86138000022{n:02d}")
        well_formed(texts)
        whole_instructions(texts)
    # In the middle of the questionnaire, where the question it interrupted follows.
    for n, text in enumerate(EMERGENCIES[:4]):
        sender = f"+86138000033{n:02d}"
        for m, line in enumerate(["测一测", "渝中区", text]):
            _, texts = await twilio(client, line, f"SM08{n}{m}", sender=sender)
        well_formed(texts)
        whole_instructions(texts)


def test_every_knowledge_base_answer_by_sms_fits_three_parts_with_its_main_source() -> None:
    """The SMS form of an answer cites its first source (the full text cites them all),
    so that with the question it may interrupt it still comes in one go."""
    index = default_index()
    for entry in index.entries:
        text = render_reply("sms", "kb_answer", {"entry": entry, "related": []}).text
        assert not split(text, more="…").truncated, entry.id
        assert text.count(entry.sources[0].cite) == 1, entry.id  # cited, and only once


async def test_staff_replies_are_split_into_numbered_parts(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    services, _, recorder = sms
    text = "您好，您的低保申请材料已收到。" * 6  # 90 characters
    await services.delivery.send("sms", NUMBER, [Reply(text)])
    texts = recorder.texts()
    well_formed(texts)
    assert len(texts) == 2


async def test_a_full_screening_by_sms_with_twiml_replies(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    services, client, _ = sms
    key = f"sms:{NUMBER}"
    sids = iter(f"SM{n:04d}" for n in range(1000, 2000))
    replies: list[list[str]] = []

    async def say(state: str, text: str) -> None:
        status, texts = await twilio(client, text, next(sids))
        assert status == 200
        well_formed(texts)
        replies.append(texts)

    await say("-", "测一测")
    asked = await answer_screening(services, key, say)
    assert {"district", "size", "ages", "savings", "hardship"} <= set(asked)
    result = "".join(replies[-1])
    assert "预筛查" in result
    assert "低保" in result
    assert "不用" in replies[-1][-1]  # the offer at its end survived the split
    session = await session_of(services, key)
    assert session["result"]["programs"]["dibao"]["verdict"] == "likely"
    assert session["result"]["district"] == ANSWERS["district"]


async def test_an_urgent_screening_by_sms_offers_the_referral_in_its_first_sms(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    """The run the audit found filling 3×67 characters: urgent, 在领低保, 不知道 to the
    rest, nine programs to list."""
    services, client, _ = sms
    sids = iter(f"SM{n:04d}" for n in range(3000, 3100))
    replies: list[list[str]] = []

    async def say(state: str, text: str) -> None:
        replies.append((await twilio(client, text, next(sids)))[1])

    await say("-", "测一测")
    answers = {"receiving": "1", "size": "1", "hardship": "1 3"}
    await answer_screening(services, f"sms:{NUMBER}", say, answers)
    result = replies[-1]
    well_formed(result)
    assert "紧急" in result[0]
    assert "回复1转交" in result[0]
    assert "全文" not in "".join(result)  # nothing held back
    _, detail = await twilio(client, "详细", next(sids))
    well_formed(detail)
    assert "先行救助" in detail[0]
    assert "回复1转交" in detail[0]
    assert "身份证" in "".join(detail)


async def test_a_body_over_the_cap_is_refused(
    sms: tuple[Services, Client, GatewayRecorder],
) -> None:
    _, client, recorder = sms
    response = await client.post(
        f"/sms/aliyun?token={HOOK}",
        data=b"[" + b" " * 70_000 + b"]",
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 413
    assert recorder.requests == []
