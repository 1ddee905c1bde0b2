"""The web chat page in headless Chromium (Playwright): the script sends what is typed,
shows the answers, offers the choices as buttons, and the page breaks no CSP rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from bot.messages import Reply
from bot.web import COOKIE, address
from tests.browser import PHONE, chromium
from tests.channel_support import ANSWERS, serving, session_of

pytestmark = pytest.mark.browser


async def test_typing_and_pressing_choices_in_a_real_browser(tmp_path: Path) -> None:
    async with serving(tmp_path) as (services, client), chromium() as browser:
        page = await browser.new_page(viewport=PHONE)  # a cheap phone
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("response", lambda r: problems.append(r.url) if r.status >= 400 else None)
        await page.goto(str(client.make_url("/chat")))
        bots = page.locator(".msg.bot")
        assert await bots.count() == 1  # the greeting
        await page.fill("#text", "低保标准是多少")
        await page.click("#send button")
        await expect(bots).to_have_count(2)
        assert await page.locator(".msg.me").last.inner_text() == "低保标准是多少"
        assert "770" in await bots.last.inner_text()
        assert await page.input_value("#text") == ""
        # The answer's related topics are now the buttons; going to the menu and
        # pressing 测一测 starts the questionnaire.
        await page.fill("#text", "菜单")
        await page.press("#text", "Enter")
        await expect(page.locator(".msg.me")).to_have_count(2)
        await page.click("#choices button:has-text('测一测')")
        await expect(page.locator(".msg.me")).to_have_count(3)
        assert await page.locator(".msg.me").last.inner_text() == "2"
        assert "区县" in await bots.last.inner_text()
        (cookie,) = [c for c in await page.context.cookies() if c["name"] == COOKIE]
        assert cookie["httpOnly"]
        session = await session_of(services, f"web:{address(cookie['value'])}")
        assert session["flow"] == "screening"
        # Reloading shows the same conversation, kept on the server.
        await page.reload()
        assert await page.locator(".msg.me").count() == 3
        assert problems == []


async def test_a_staff_reply_shows_as_soon_as_the_resident_writes_or_comes_back(
    tmp_path: Path,
) -> None:
    """Waiting messages are fetched every 20 s while the page is in view; a resident who
    writes, or comes back to the page, sees them at once instead."""
    async with serving(tmp_path) as (services, client), chromium() as browser:
        page = await browser.new_page(viewport=PHONE)
        await page.goto(str(client.make_url("/chat")))
        (cookie,) = [c for c in await page.context.cookies() if c["name"] == COOKIE]
        sender = address(cookie["value"])
        bots = page.locator(".msg.bot")
        await services.delivery.send("web", sender, [Reply("工作人员：我们明天上门。")])
        await page.fill("#text", "你好")
        await page.click("#send button")
        await expect(bots.filter(has_text="我们明天上门")).to_have_count(1, timeout=5000)
        await services.delivery.send("web", sender, [Reply("工作人员：已经到楼下了。")])
        await page.evaluate(
            "Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
            "document.dispatchEvent(new Event('visibilitychange'))"
        )
        await expect(bots.filter(has_text="已经到楼下了")).to_have_count(1, timeout=5000)


async def test_after_each_answer_on_a_phone_the_choices_and_the_box_are_in_view(
    tmp_path: Path,
) -> None:
    """An elderly resident should not have to find the buttons below the fold."""
    async with serving(tmp_path) as (_services, client), chromium() as browser:
        page = await browser.new_page(viewport=PHONE)
        await page.goto(str(client.make_url("/chat")))
        bots = page.locator(".msg.bot")
        await page.fill("#text", "低保标准是多少")
        await page.click("#send button")
        await expect(bots).to_have_count(2)
        # a long answer taller than the screen is shown from its start
        top = await bots.last.evaluate("e => e.getBoundingClientRect().top")
        assert 0 <= top < 640
        for count, text in ((4, "测一测"), (5, "渝中区")):
            await page.fill("#text", text)
            await page.click("#send button")
            await expect(bots).to_have_count(count)
            await expect(bots.last).to_be_in_viewport()
            await expect(page.locator("#text")).to_be_in_viewport()
        await expect(page.locator("#choices button")).to_have_count(2)  # 城镇, 农村
        for button in await page.locator("#choices button").all():
            await expect(button).to_be_in_viewport()


async def test_ticking_several_choices_and_sending_them_together(tmp_path: Path) -> None:
    """残疾 and 重病 by tapping: the options tick (on a reply the script shows, and on a
    page loaded afresh), and one button sends them as if "1 2" were typed."""
    async with serving(tmp_path) as (services, client), chromium() as browser:
        page = await browser.new_page(viewport=PHONE)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        await page.goto(str(client.make_url("/chat")))
        (cookie,) = [c for c in await page.context.cookies() if c["name"] == COOKIE]
        key = f"web:{address(cookie['value'])}"
        mine = page.locator(".msg.me")

        async def type_until(state: str) -> None:
            for _ in range(40):
                session = await session_of(services, key)
                if session.get("state") == state:
                    return
                said = await mine.count()
                text = ANSWERS[session["state"]] if session.get("flow") else "测一测"
                await page.fill("#text", text)
                await page.click("#send button")
                await expect(mine).to_have_count(said + 1)
            raise AssertionError(f"{state} was not asked")

        picks = page.locator("#choices input[name=pick]")
        done = page.locator("#choices button[name=done]")
        await type_until("situation")
        await expect(picks).to_have_count(4)  # 都没有 is a button: it answers alone
        await expect(page.locator("#choices button[name=choice]")).to_have_text(["5 都没有"])
        await expect(done).to_be_disabled()  # nothing ticked yet
        for label in ("1 残疾", "2 重病", "2 重病", "2 重病"):  # 重病 off, then on again
            await page.click(f"#choices label:has-text('{label}')")
        await expect(picks.nth(0)).to_be_checked()
        await expect(picks.nth(1)).to_be_checked()
        await expect(picks.nth(2)).not_to_be_checked()
        for target in await page.locator("#choices label, #choices button").all():
            assert (await target.bounding_box() or {"height": 0})["height"] >= 44  # big
        said = await mine.count()
        await done.click()
        await expect(mine).to_have_count(said + 1)
        assert await mine.last.inner_text() == "1 2"
        await expect(page.locator(".msg.bot").last).to_contain_text("几级")
        session = await session_of(services, key)
        assert session["answers"]["situation"][0] == ["disabled", "ill"]

        # The page loaded afresh at a multi-select: the same, from the server's markup.
        await type_until("hardship")
        await page.reload()
        await expect(done).to_be_disabled()
        await page.click("#choices label:has-text('1 突发意外或灾害')")
        await page.click("#choices label:has-text('3 吃饭住房没着落')")
        said = await mine.count()
        await done.click()
        await expect(mine).to_have_count(said + 1)
        assert await mine.last.inner_text() == "1 3"
        session = await session_of(services, key)
        hardship = session["result"]["household"]["hardship"]  # the last question
        assert hardship["sudden_event"]
        assert hardship["basic_needs_unmet"]
        assert not hardship["major_medical_expense"]
        assert problems == []
