"""The web chat through a real aiohttp server (bot/web.py): the page, the JSON API,
a session per browser, retries de-duplicated, escaping, the form without JavaScript,
messages delivered later, and a full screening."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import CookieJar
from aiohttp.test_utils import TestClient
from markupsafe import escape
from multidict import MultiDict

from bot.app import Services
from bot.messages import Reply
from bot.render import render_reply
from bot.web import COOKIE, TRANSCRIPT, address, plain
from tests.channel_support import ANSWERS, answer_screening, serving, session_of

Client = TestClient[Any, Any]


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[tuple[Services, Client]]:
    async with serving(tmp_path) as running:
        yield running


def cookie_of(client: Client) -> str:
    for cookie in client.session.cookie_jar:
        if cookie.key == COOKIE:
            return cookie.value
    raise AssertionError("no chat cookie")


async def chat(client: Client, text: str, message_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"text": text}
    if message_id is not None:
        body["id"] = message_id
    response = await client.post("/api/chat", json=body)
    assert response.status == 200, await response.text()
    data: dict[str, Any] = await response.json()
    return data


async def test_the_page_greets_with_the_menu_and_sets_a_private_cookie(
    web: tuple[Services, Client],
) -> None:
    _, client = web
    response = await client.get("/chat")
    assert response.status == 200
    page = await response.text()
    menu = render_reply("web", "menu", {"understood": True})
    for n, label in enumerate(menu.choices, 1):
        assert f'<button type="submit" name="choice" value="{n}">{n} {label}</button>' in page
    header = response.headers.getall("Set-Cookie")[0]
    assert header.startswith(f"{COOKIE}=")
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header
    assert "Secure" not in header  # plain http on 127.0.0.1
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    for asset in ("/chat/static/chat.js", "/chat/static/chat.css"):
        assert asset in page
        static = await client.get(asset)
        assert static.status == 200
        assert len(await static.read()) > 500


async def test_an_answer_with_choices_and_a_retry_answered_the_same(
    web: tuple[Services, Client],
) -> None:
    services, client = web
    first = await chat(client, "测一测", "m-1")
    assert first["duplicate"] is False
    (*_, question) = first["replies"]
    assert question["text"]
    key = f"web:{address(cookie_of(client))}"
    session = await session_of(services, key)
    assert session["flow"] == "screening"
    transcript = await services.store.get(TRANSCRIPT, address(cookie_of(client)))
    again = await chat(client, "测一测", "m-1")
    assert again["duplicate"] is True
    assert again["replies"] == first["replies"]
    assert await session_of(services, key) == session
    assert await services.store.get(TRANSCRIPT, address(cookie_of(client))) == transcript


async def test_each_browser_is_its_own_resident(web: tuple[Services, Client]) -> None:
    services, client = web
    other: Client = TestClient(client.server, cookie_jar=CookieJar(unsafe=True))
    try:
        await chat(client, "测一测", "same-id")
        reply = await chat(other, "你好", "same-id")  # the same client id in another browser
        assert reply["duplicate"] is False
        mine = await session_of(services, f"web:{address(cookie_of(client))}")
        theirs = await session_of(services, f"web:{address(cookie_of(other))}")
        assert mine["flow"] == "screening"
        assert theirs.get("flow") is None
        assert cookie_of(client) != cookie_of(other)
    finally:
        await other.session.close()


async def test_everything_shown_is_escaped(web: tuple[Services, Client]) -> None:
    _, client = web
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    data = await chat(client, attack, "xss")
    assert data["replies"]
    page = await (await client.get("/chat")).text()
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


async def test_the_form_works_without_javascript(web: tuple[Services, Client]) -> None:
    services, client = web
    await client.get("/chat")
    response = await client.post(
        "/chat", data={"text": "低保标准是多少", "id": "f1"}, allow_redirects=False
    )
    assert response.status == 303
    assert response.headers["Location"] == "/chat#end"
    page = await (await client.get("/chat")).text()
    assert "低保标准是多少" in page
    assert "770" in page  # the answer, shown on the page
    await client.post("/chat", data={"text": "菜单", "id": "f1b"}, allow_redirects=False)
    response = await client.post(
        "/chat", data={"choice": "2", "text": "", "id": "f2"}, allow_redirects=False
    )
    assert response.status == 303
    session = await session_of(services, f"web:{address(cookie_of(client))}")
    assert session["flow"] == "screening"
    # A double submit of the same form (same id) changes nothing.
    await client.post("/chat", data={"choice": "2", "id": "f2"}, allow_redirects=False)
    assert await session_of(services, f"web:{address(cookie_of(client))}") == session


async def to_question(services: Services, client: Client, state: str) -> dict[str, Any]:
    """Start the screening and type the answers until `state` is asked; its reply."""
    last = await chat(client, "测一测")
    key = f"web:{address(cookie_of(client))}"
    for _ in range(40):
        session = await session_of(services, key)
        if session["state"] == state:
            reply: dict[str, Any] = last["replies"][-1]
            return reply
        last = await chat(client, ANSWERS[session["state"]])
    raise AssertionError(f"{state} was not asked")


async def test_a_multi_select_is_ticked_and_sent_together_without_javascript(
    web: tuple[Services, Client],
) -> None:
    """残疾 and 重病: checkboxes sent by one button, as if "1 2" were typed."""
    services, client = web
    question = await to_question(services, client, "situation")
    assert question["choices"][:2] == ["残疾", "重病"]
    assert (question["multi"], question["alone"]) == (True, 5)
    page = await (await client.get("/chat")).text()
    for n, label in enumerate(question["choices"][:4], 1):
        assert f'<input type="checkbox" name="pick" value="{n}"><span>{n} {label}</span>' in page
    assert '<button type="submit" name="choice" value="5">5 都没有</button>' in page
    assert 'name="done"' in page
    form = MultiDict([("id", "t1"), ("pick", "1"), ("pick", "2"), ("done", "1")])
    response = await client.post("/chat", data=form, allow_redirects=False)
    assert response.status == 303
    session = await session_of(services, f"web:{address(cookie_of(client))}")
    assert session["answers"]["situation"][0] == ["disabled", "ill"]
    assert session["state"] == "grade"
    page = await (await client.get("/chat")).text()
    assert 'name="pick"' not in page  # the next question is a single one


async def test_a_page_kept_before_multi_selects_still_shows(web: tuple[Services, Client]) -> None:
    services, client = web
    await client.get("/chat")
    sender = address(cookie_of(client))
    entry = {"who": "bot", "text": "城镇还是农村？", "choices": ["城镇", "农村"]}
    await services.store.put(TRANSCRIPT, sender, {"log": [entry]})
    page = await (await client.get("/chat")).text()
    assert '<button type="submit" name="choice" value="2">2 农村</button>' in page


async def test_bad_requests_are_400_without_effect(web: tuple[Services, Client]) -> None:
    services, client = web
    for body in (
        b"not json",
        b"[]",
        b'{"id": "x"}',
        b'{"text": "  "}',
        b'{"text": "hi", "id": "has space"}',
        b'{"text": "hi", "id": 5}',
    ):
        response = await client.post(
            "/api/chat", data=body, headers={"Content-Type": "application/json"}
        )
        assert response.status == 400, body
    assert list(client.session.cookie_jar) == []  # no session was even started

    def count(outcome: str) -> float | None:
        labels = {"channel": "web", "outcome": outcome}
        return services.metrics.registry.get_sample_value("residentbot_messages_total", labels)

    assert count("replied") is None
    assert count("rejected") == 6


async def test_a_message_sent_later_is_polled_once_and_kept_on_the_page(
    web: tuple[Services, Client],
) -> None:
    services, client = web
    await chat(client, "你好", "p1")
    assert (await (await client.get("/api/chat/poll")).json()) == {"replies": []}
    # Rendered for the web channel, so escaped: what a template gives.
    later = Reply(f"工作人员回复：{escape('<请>')}明天上午来窗口。", ("好的",))
    await services.delivery.send("web", address(cookie_of(client)), [later])
    polled = await (await client.get("/api/chat/poll")).json()
    assert polled["replies"] == [
        {
            "text": "工作人员回复：<请>明天上午来窗口。",
            "text_html": later.text,
            "choices": ["好的"],
            "multi": False,
            "alone": 0,
        }
    ]
    assert (await (await client.get("/api/chat/poll")).json()) == {"replies": []}
    page = await (await client.get("/chat")).text()
    assert "工作人员回复：&lt;请&gt;明天上午来窗口。" in page


async def test_a_message_shown_by_loading_the_page_is_not_polled_again(
    web: tuple[Services, Client],
) -> None:
    """The page shows the whole conversation kept for it, later messages included: a
    poll after it must not show them a second time."""
    services, client = web
    await chat(client, "你好", "q1")
    await services.delivery.send("web", address(cookie_of(client)), [Reply("工作人员：明天上门。")])
    page = await (await client.get("/chat")).text()
    assert "工作人员：明天上门。" in page
    assert (await (await client.get("/api/chat/poll")).json()) == {"replies": []}


async def test_a_full_screening_in_the_web_chat(web: tuple[Services, Client]) -> None:
    services, client = web
    last: dict[str, Any] = await chat(client, "测一测", "s0")
    key = f"web:{address(cookie_of(client))}"
    n = 0

    async def say(state: str, text: str) -> None:
        nonlocal last, n
        n += 1
        choices = last["replies"][-1]["choices"]
        sent = str(choices.index(text) + 1) if text in choices else text  # press the button
        last = await chat(client, sent, f"s{n}")

    await answer_screening(services, key, say)
    result = last["replies"][-1]
    assert "预筛查结果" in result["text"]
    assert result["text"] == plain(result["text_html"])
    assert result["choices"] == ["转交乡镇窗口", "不用"]
    session = await session_of(services, key)
    assert session["result"]["programs"]["dibao"]["verdict"] == "likely"
    assert session["result"]["district"] == ANSWERS["district"]
    # ... and on to the township window: consent, a phone number, the township, confirm.
    await chat(client, "1", "r1")
    await chat(client, "同意", "r2")
    await chat(client, "13800001111", "r3")
    for step, text in enumerate(("不知道", "确认", "确认"), 4):
        if (await session_of(services, key)).get("flow") != "referral":
            break
        last = await chat(client, text, f"r{step}")
    assert "编号" in last["replies"][0]["text"]


async def test_the_store_being_down_is_503_with_a_message(
    tmp_path: Path, redis_server: Any, redis_url: str
) -> None:
    async with serving(tmp_path, {"REDIS_URL": redis_url}) as (_, client):
        await client.get("/chat")  # a browser that has been here: its page needs the store
        redis_server.stop()
        try:
            response = await client.post("/api/chat", json={"text": "你好", "id": "u1"})
            assert response.status == 503
            body = await response.json()
            assert body["message"] == render_reply("web", "web_unavailable", {}).text
            assert (await client.get("/chat")).status == 503
        finally:
            redis_server.start()
        assert (await client.post("/api/chat", json={"text": "你好", "id": "u1"})).status == 200


async def test_the_cookie_is_secure_behind_https(tmp_path: Path) -> None:
    env = {"RESIDENTBOT_PUBLIC_URL": "https://bot.example.gov.cn"}
    async with serving(tmp_path, env) as (_, client):
        response = await client.get("/chat")
        assert "Secure" in response.headers["Set-Cookie"]
