"""Telegram through the real webhook route on a real aiohttp server, with the real PTB
Application offline: a `telegram.request.BaseRequest` double answers the Bot API calls
and records them (../shared/reference/channels.md, "Telegram")."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from markupsafe import escape
from telegram.request import BaseRequest, RequestData

from bot.app import Services
from bot.delivery import DeliveryError
from bot.messages import Reply
from bot.render import render_reply
from integrations.telegram.channel import SECRET_HEADER, picking, split_html
from tests.channel_support import ANSWERS, answer_screening, serving, session_of

SECRET = "webhook_SECRET-123"
ENV = {"TELEGRAM_BOT_TOKEN": "123456:TEST-token", "TELEGRAM_WEBHOOK_SECRET": SECRET}
CHAT = 424242


class FakeBotApi(BaseRequest):
    """The Bot API, offline: every call is recorded; sendMessage answers a message."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = []  # served once by getUpdates (polling)
        self.refuse: dict[str, tuple[int, str]] = {}  # method -> (error code, description)
        self._message_id = 1000

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        if name == "getUpdates":
            served, self.updates = self.updates, []
            if not served:
                await asyncio.sleep(0.05)
            return 200, json.dumps({"ok": True, "result": served}).encode()
        self.calls.append((name, params))
        if name in self.refuse:
            code, description = self.refuse[name]
            body = {"ok": False, "error_code": code, "description": description}
            return code, json.dumps(body).encode()
        result: Any = True
        if name == "getMe":
            result = {"id": 1, "is_bot": True, "first_name": "救助助手", "username": "cq_bot"}
        elif name == "sendMessage":
            self._message_id += 1
            result = {
                "message_id": self._message_id,
                "date": 0,
                "chat": {"id": params["chat_id"], "type": "private"},
                "text": params["text"],
            }
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def made(self, name: str) -> list[dict[str, Any]]:
        return [params for called, params in self.calls if called == name]

    def sent(self) -> list[dict[str, Any]]:
        return self.made("sendMessage")


def person(chat: int) -> dict[str, Any]:
    return {"id": chat, "is_bot": False, "first_name": "居民"}


def text_update(
    update_id: int, text: str, chat: int = CHAT, kind: str = "private"
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": 0,
        "chat": {"id": chat, "type": kind, **({"title": "村里群"} if kind != "private" else {})},
        "from": person(abs(chat)),
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


def press(update_id: int, digit: str, message_id: int, chat: int = CHAT) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cq{update_id}",
            "from": person(chat),
            "chat_instance": "ci",
            "data": digit,
            "message": {
                "message_id": message_id,
                "date": 0,
                "chat": {"id": chat, "type": "private"},
                "text": "…",
            },
        },
    }


def buttons(params: dict[str, Any]) -> list[tuple[str, str]]:
    markup = params.get("reply_markup") or {"inline_keyboard": []}
    return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row]


Client = TestClient[Any, Any]


@pytest.fixture
async def telegram(tmp_path: Path) -> AsyncIterator[tuple[Services, Client, FakeBotApi]]:
    api = FakeBotApi()
    async with serving(tmp_path, ENV, telegram_request=api) as (services, client):
        yield services, client, api


async def post(client: Client, update: dict[str, Any], secret: str | None = SECRET) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    response = await client.post("/telegram/webhook", json=update, headers=headers)
    await response.read()
    return response.status


def count(services: Services, outcome: str) -> float:
    value = services.metrics.registry.get_sample_value(
        "residentbot_messages_total", {"channel": "telegram", "outcome": outcome}
    )
    return value or 0.0


async def test_start_up_registers_the_commands(
    telegram: tuple[Services, Client, FakeBotApi],
) -> None:
    _, _, api = telegram
    (registered,) = api.made("setMyCommands")
    assert [c["command"] for c in registered["commands"]] == ["start", "menu", "help"]
    assert all(c["description"] for c in registered["commands"])
    assert api.made("setWebhook") == []  # no TELEGRAM_WEBHOOK_URL: registered elsewhere


async def test_start_shows_the_menu_with_an_inline_keyboard(
    telegram: tuple[Services, Client, FakeBotApi],
) -> None:
    services, client, api = telegram
    assert await post(client, text_update(1, "/start")) == 200
    (menu,) = api.sent()
    assert menu["chat_id"] == CHAT
    assert menu["parse_mode"] == "HTML"
    assert "社会救助咨询助手" in menu["text"]
    expected = render_reply("telegram", "menu", {"understood": True})
    assert buttons(menu) == [(f"{n} {c}", str(n)) for n, c in enumerate(expected.choices, 1)]
    assert count(services, "replied") == 1


async def test_a_forged_or_malformed_call_is_refused_without_effect(
    telegram: tuple[Services, Client, FakeBotApi],
) -> None:
    services, client, api = telegram
    assert await post(client, text_update(1, "/start"), secret=None) == 403
    assert await post(client, text_update(1, "/start"), secret="wrong") == 403
    assert await post(client, text_update(1, "/start"), secret=SECRET + "x") == 403
    response = await client.post(
        "/telegram/webhook", data=b"{not json", headers={SECRET_HEADER: SECRET}
    )
    assert response.status == 400
    response = await client.post(
        "/telegram/webhook", json={"message": "no update_id"}, headers={SECRET_HEADER: SECRET}
    )
    assert response.status == 400
    assert api.sent() == []
    assert await session_of(services, f"telegram:{CHAT}") == {}
    assert count(services, "rejected") == 5
    # The same update, properly signed, is then handled as new: nothing was recorded.
    assert await post(client, text_update(1, "/start")) == 200
    assert len(api.sent()) == 1


async def test_a_repeated_update_has_no_second_effect(
    telegram: tuple[Services, Client, FakeBotApi],
) -> None:
    services, client, api = telegram
    assert await post(client, text_update(7, "测一测")) == 200
    first = await session_of(services, f"telegram:{CHAT}")
    assert await post(client, text_update(7, "测一测")) == 200
    assert len(api.sent()) >= 1
    sent = len(api.sent())
    assert await post(client, text_update(7, "测一测")) == 200
    assert len(api.sent()) == sent
    assert await session_of(services, f"telegram:{CHAT}") == first
    assert count(services, "duplicate") == 2


async def test_group_chats_are_ignored(telegram: tuple[Services, Client, FakeBotApi]) -> None:
    services, client, api = telegram
    assert await post(client, text_update(3, "/start", chat=-100123, kind="supergroup")) == 200
    assert await post(client, text_update(4, "低保怎么申请", chat=-100123, kind="group")) == 200
    assert api.sent() == []
    assert await session_of(services, "telegram:-100123") == {}


async def test_a_photo_is_answered_once_with_a_request_for_text(
    telegram: tuple[Services, Client, FakeBotApi],
) -> None:
    _, client, api = telegram
    update = text_update(5, "")
    del update["message"]["text"]
    update["message"]["photo"] = [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]
    assert await post(client, update) == 200
    assert await post(client, update) == 200
    (reply,) = api.sent()
    assert reply["text"] == render_reply("telegram", "telegram_not_text", {}).text


async def test_a_button_press_is_answered_and_goes_on_as_the_digit(
    telegram: tuple[Services, Client, FakeBotApi],
) -> None:
    services, client, api = telegram
    await post(client, text_update(1, "/menu"))
    (menu,) = api.sent()
    message_id = 1001
    digit = dict((label.split(" ", 1)[1], data) for label, data in buttons(menu))[
        "测一测能申请什么"
    ]
    assert await post(client, press(2, digit, message_id)) == 200
    (answered,) = api.made("answerCallbackQuery")
    assert answered["callback_query_id"] == "cq2"
    (cleared,) = api.made("editMessageReplyMarkup")
    assert cleared["message_id"] == message_id
    assert "reply_markup" not in cleared or not cleared["reply_markup"]
    session = await session_of(services, f"telegram:{CHAT}")
    assert session["flow"] == "screening"
    # Telegram delivering the press again: nothing is said or changed (the menu is old
    # now, below the question sent since, so the press gets at most the old-button note).
    sent = len(api.sent())
    assert await post(client, press(2, digit, message_id)) == 200
    assert len(api.sent()) == sent
    assert await session_of(services, f"telegram:{CHAT}") == session


async def test_a_button_under_an_older_message_is_answered_but_not_taken(
    telegram: tuple[Services, Client, FakeBotApi],
) -> None:
    """Only the newest keyboard counts: a resident scrolling up and pressing "1" under
    the menu must not answer the question asked since."""
    services, client, api = telegram
    await post(client, text_update(1, "/start"))
    menu = api._message_id  # the menu, with its keyboard
    await post(client, text_update(2, "测一测"))
    await post(client, text_update(3, "渝中区"))
    area = api._message_id  # 城镇 / 农村, with its keyboard
    assert area != menu
    before = await session_of(services, f"telegram:{CHAT}")
    sent = len(api.sent())
    assert await post(client, press(4, "1", menu)) == 200
    (answered,) = api.made("answerCallbackQuery")
    assert answered["callback_query_id"] == "cq4"
    assert "过期" in answered["text"]
    (cleared,) = api.made("editMessageReplyMarkup")
    assert cleared["message_id"] == menu
    assert len(api.sent()) == sent  # nothing said: the question stays as it was
    after = await session_of(services, f"telegram:{CHAT}")
    assert (after["state"], after["answers"]) == (before["state"], before["answers"])
    assert await post(client, press(5, "1", area)) == 200  # the newest one works
    assert (await session_of(services, f"telegram:{CHAT}"))["answers"]["area"] == "urban"


async def test_a_message_without_buttons_makes_the_earlier_buttons_old(
    telegram: tuple[Services, Client, FakeBotApi],
) -> None:
    """城镇/农村 answered by typing, the next question has no buttons: "1" pressed under
    城镇/农村 must not answer it (as 1 person, 1 yuan…)."""
    services, client, api = telegram
    key = f"telegram:{CHAT}"
    update_id = await to_question(services, client, "area")
    while buttons(api.sent()[-1]):  # answer by typing until a question has no buttons
        with_buttons = api._message_id
        state = (await session_of(services, key))["state"]
        await post(client, text_update(update_id, ANSWERS[state]))
        update_id += 1
    before = await session_of(services, key)
    sent = len(api.sent())
    assert await post(client, press(update_id, "1", with_buttons)) == 200
    (answered,) = api.made("answerCallbackQuery")
    assert answered["text"] == render_reply("telegram", "telegram_old_button", {}).text
    (cleared,) = api.made("editMessageReplyMarkup")
    assert cleared["message_id"] == with_buttons
    assert len(api.sent()) == sent
    after = await session_of(services, key)
    assert (after["state"], after["answers"]) == (before["state"], before["answers"])


async def test_any_later_message_makes_the_buttons_old(
    telegram: tuple[Services, Client, FakeBotApi],
) -> None:
    """A staff reply without buttons, sent after the menu: the menu's buttons are old."""
    services, client, api = telegram
    await post(client, text_update(1, "/start"))
    menu = api._message_id
    await services.delivery.send("telegram", str(CHAT), [Reply("工作人员回复：明天来办")])
    before = await session_of(services, f"telegram:{CHAT}")
    assert await post(client, press(2, "1", menu)) == 200
    assert "过期" in api.made("answerCallbackQuery")[0]["text"]
    assert await session_of(services, f"telegram:{CHAT}") == before


async def test_a_full_screening_with_inline_keyboards(
    telegram: tuple[Services, Client, FakeBotApi],
) -> None:
    services, client, api = telegram
    key = f"telegram:{CHAT}"
    update_id = 100
    await post(client, text_update(update_id, "测一测"))
    pressed = 0

    async def say(state: str, text: str) -> None:
        nonlocal update_id, pressed
        update_id += 1
        last = api.sent()[-1]
        labels = {label.split(" ", 1)[-1]: data for label, data in buttons(last)}
        if text in labels:  # a question with buttons: press the one that says it
            pressed += 1
            await post(client, press(update_id, labels[text], api._message_id))
        else:
            await post(client, text_update(update_id, text))

    asked = await answer_screening(services, key, say)
    assert {"district", "size", "ages", "savings", "hardship"} <= set(asked)
    assert pressed >= 3  # receiving, situation, supporter, hardship come as buttons
    result = api.sent()[-1]
    assert "预筛查结果" in result["text"]
    assert "<b>" in result["text"]  # the template's own markup, for Telegram's HTML mode
    assert [label for label, _ in buttons(result)] == ["1 转交乡镇窗口", "2 不用"]
    session = await session_of(services, key)
    assert session["result"]["programs"]["dibao"]["verdict"] == "likely"
    assert session["result"]["district"] == ANSWERS["district"]
    assert len(api.made("answerCallbackQuery")) == pressed
    assert all(len(p["text"]) < 4096 for p in api.sent())


async def to_question(services: Services, client: Client, state: str) -> int:
    """Start the screening and answer by typing until `state` is asked; the next update id."""
    await post(client, text_update(100, "测一测"))
    for update_id in range(101, 140):
        session = await session_of(services, f"telegram:{CHAT}")
        if session["state"] == state:
            return update_id
        await post(client, text_update(update_id, ANSWERS[session["state"]]))
    raise AssertionError(f"{state} was not asked")


def marked(params: dict[str, Any]) -> list[str]:
    """The labels of the buttons shown as picked, without their mark."""
    mark = picking().mark
    return [label[len(mark) :].strip() for label, _ in buttons(params) if label.startswith(mark)]


async def test_a_multi_select_is_picked_by_several_presses_then_confirmed(
    telegram: tuple[Services, Client, FakeBotApi],
) -> None:
    """残疾 and 重病 by tapping: each press marks (or unmarks) its option in place; the
    confirm button sends the picks as if typed ("1 2")."""
    services, client, api = telegram
    key = f"telegram:{CHAT}"
    update_id = await to_question(services, client, "situation")
    question = api.sent()[-1]
    message_id = api._message_id
    shown = buttons(question)
    labels = [label for label, _ in shown]
    assert labels[:5] == ["1 残疾", "2 重病", "3 在上学", "4 有工作", "5 都没有"]
    assert labels[5] == picking().done  # 选好了
    assert all(len(data.encode()) <= 64 for _, data in shown)
    data = dict(shown)
    sent = len(api.sent())

    for n, label in enumerate(("1 残疾", "2 重病", "2 重病", "2 重病")):
        assert await post(client, press(update_id + n, data[label], message_id)) == 200
    edits = api.made("editMessageReplyMarkup")
    assert [e["message_id"] for e in edits] == [message_id] * 4
    assert [marked(e) for e in edits] == [
        ["1 残疾"],
        ["1 残疾", "2 重病"],
        ["1 残疾"],  # 重病 off again
        ["1 残疾", "2 重病"],
    ]
    assert len(api.made("answerCallbackQuery")) == 4
    assert len(api.sent()) == sent  # nothing said yet
    assert (await session_of(services, key))["state"] == "situation"

    # Telegram delivering a press again does not undo it.
    assert await post(client, press(update_id + 3, data["2 重病"], message_id)) == 200
    assert await post(client, press(update_id + 4, data[labels[5]], message_id)) == 200
    session = await session_of(services, key)
    assert session["answers"]["situation"][0] == ["disabled", "ill"]
    assert session["state"] == "grade"  # 残疾: which grade
    assert "几级" in api.sent()[-1]["text"]
    assert not api.made("editMessageReplyMarkup")[-1].get("reply_markup")  # taken off


async def test_confirming_nothing_asks_to_pick_and_none_answers_at_once(
    telegram: tuple[Services, Client, FakeBotApi],
) -> None:
    services, client, api = telegram
    key = f"telegram:{CHAT}"
    update_id = await to_question(services, client, "situation")
    message_id = api._message_id
    data = dict(buttons(api.sent()[-1]))
    sent = len(api.sent())
    assert await post(client, press(update_id, data[picking().done], message_id)) == 200
    (answered,) = api.made("answerCallbackQuery")
    assert answered["text"] == picking().note
    assert len(api.sent()) == sent
    assert (await session_of(services, key))["state"] == "situation"
    assert await post(client, press(update_id + 1, data["1 残疾"], message_id)) == 200
    assert await post(client, press(update_id + 2, data["5 都没有"], message_id)) == 200
    session = await session_of(services, key)
    assert session["answers"]["situation"][0] == []  # 都没有 is the answer, on its own
    assert session["state"] != "situation"


async def test_a_multi_select_under_an_older_message_is_answered_but_not_taken(
    telegram: tuple[Services, Client, FakeBotApi],
) -> None:
    services, client, api = telegram
    key = f"telegram:{CHAT}"
    update_id = await to_question(services, client, "situation")
    old = api._message_id
    data = dict(buttons(api.sent()[-1]))
    await post(client, text_update(update_id, "菜单"))  # the menu's keyboard is newer
    before = await session_of(services, key)
    sent = len(api.sent())
    for n, label in enumerate(("1 残疾", picking().done)):
        assert await post(client, press(update_id + 1 + n, data[label], old)) == 200
    notes = [a.get("text", "") for a in api.made("answerCallbackQuery")]
    assert len(notes) == 2
    assert all("过期" in t for t in notes)
    assert len(api.sent()) == sent
    after = await session_of(services, key)
    assert (after["state"], after["answers"]) == (before["state"], before["answers"])


async def test_delivery_later_sends_html_with_buttons_and_reports_a_blocked_bot(
    telegram: tuple[Services, Client, FakeBotApi],
) -> None:
    services, _, api = telegram
    reply = Reply(f"工作人员回复：{escape('<b>明天</b> & 后天')}", ("好的", "人工"))
    await services.delivery.send("telegram", str(CHAT), [reply])
    (sent,) = api.sent()
    assert sent["text"] == "工作人员回复：&lt;b&gt;明天&lt;/b&gt; &amp; 后天"
    assert sent["parse_mode"] == "HTML"
    assert buttons(sent) == [("1 好的", "1"), ("2 人工", "2")]
    api.refuse["sendMessage"] = (403, "Forbidden: bot was blocked by the user")
    with pytest.raises(DeliveryError) as caught:
        await services.delivery.send("telegram", str(CHAT), [reply])
    assert caught.value.reason == "blocked"


async def test_the_webhook_url_is_registered_with_its_secret(tmp_path: Path) -> None:
    api = FakeBotApi()
    env = {
        **ENV,
        "TELEGRAM_WEBHOOK_URL": "https://bot.example.gov.cn/telegram/webhook",
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot",
    }
    async with serving(tmp_path, env, telegram_request=api):
        (registered,) = api.made("setWebhook")
    assert registered["url"] == "https://bot.example.gov.cn/telegram/webhook"
    assert registered["secret_token"] == SECRET
    assert registered["allowed_updates"] == ["message", "callback_query"]


async def test_polling_mode_answers_without_the_webhook_route(tmp_path: Path) -> None:
    api = FakeBotApi()
    api.updates = [text_update(1, "/start")]
    env = {"TELEGRAM_BOT_TOKEN": "123456:TEST-token", "TELEGRAM_MODE": "polling"}
    async with serving(tmp_path, env, telegram_request=api) as (_, client):
        for _ in range(100):
            if api.sent():
                break
            await asyncio.sleep(0.02)
        assert "社会救助咨询助手" in api.sent()[0]["text"]
        assert await post(client, text_update(2, "/start")) == 404


async def test_a_store_outage_answers_503_so_telegram_delivers_again(
    tmp_path: Path, redis_server: Any, redis_url: str
) -> None:
    api = FakeBotApi()
    async with serving(tmp_path, {**ENV, "REDIS_URL": redis_url}, telegram_request=api) as (
        services,
        client,
    ):
        redis_server.stop()
        try:
            assert await post(client, text_update(9, "/start")) == 503
            assert api.sent() == []
            assert count(services, "unavailable") == 1
        finally:
            redis_server.start()
        assert await post(client, text_update(9, "/start")) == 200
        assert len(api.sent()) == 1


def test_long_replies_are_split_under_4096_without_breaking_entities() -> None:
    line = ("低保&amp;特困 " * 40).strip()  # 399 characters with entities
    text = "\n".join([line] * 30)  # 11999 characters: 10 lines (3999) fit in one message
    parts = split_html(text)
    assert parts == ["\n".join([line] * 10)] * 3
    one_line = "字" * 4092 + "&amp;" + "字" * 10  # the entity straddles character 4095
    parts = split_html(one_line)
    assert parts[0] == "字" * 4092
    assert parts[1] == "&amp;" + "字" * 10
