"""The console in real headless Chromium (Debian's, driven by Playwright), on the whole
application of bot/app.py with the console added, served on a free port of 127.0.0.1:
log in; staff of township A cannot see or act on township B's referral, not even by its
URL; claim → reply → the resident reads it in the web chat → resolve; the lookup
answers and screens; forms without their CSRF token are refused."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
)

from bot.app import Services, make_app
from bot.config import Config
from bot.console import setup
from bot.console.common import CONSOLE
from bot.referrals import Draft, Referral
from tests.browser import PHONE, chromium
from tests.console.helpers import LOG2_N, PASSWORD, TOWNSHIP_A, TOWNSHIP_B, add_users, free_port

pytestmark = pytest.mark.browser


@dataclass
class Running:
    url: str
    services: Services
    browser: Browser

    async def context(self) -> BrowserContext:
        return await self.browser.new_context(viewport=PHONE, locale="zh-CN")

    async def referral(self, queue: str, level: str = "urgent", key: str = "") -> Referral:
        district, _, township = queue.partition("/")
        draft = Draft(
            key=key or f"browser:{queue}:{level}", level=level, channel="web",
            address="c" * 32, district=district, township=township or None,
            contact="13700137000", signals=["no_food"], message="家里断粮了", consent=True,
        )  # fmt: skip
        return await self.services.referrals.create(draft)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    services = await Services.open(Config(data_dir=tmp_path))
    app = make_app(services)
    setup(app, services, log2_n=LOG2_N)
    await add_users(app[CONSOLE])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with chromium() as browser:
            yield Running(f"http://127.0.0.1:{port}", services, browser)
    finally:
        await runner.cleanup()  # closes the services too (the app's cleanup)


def watch(page: Page) -> list[str]:
    """Script errors and CSP violations ("Refused to …"). Error statuses are the tests'
    own business (a 401 login, a 404 referral), so Chromium's note on them is left out."""
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


async def log_in(page: Page, url: str, name: str, password: str = PASSWORD) -> None:
    await page.goto(url + "/console/login")
    await page.fill("#name", name)
    await page.fill("#password", password)
    await page.click("button[type=submit].primary")


async def test_staff_log_in_and_see_their_township_only(running: Running) -> None:
    mine = await running.referral(TOWNSHIP_A)
    theirs = await running.referral(TOWNSHIP_B)
    context = await running.context()
    page = await context.new_page()
    problems = watch(page)
    await log_in(page, running.url, "staff_a", "not the password")
    await expect(page.locator(".flash.error")).to_contain_text("用户名或密码不对")
    await log_in(page, running.url, "staff_a")
    await expect(page).to_have_url(running.url + "/console/queue")
    cards = page.locator("#queue .card")
    await expect(cards).to_have_count(1)
    assert await cards.first.get_attribute("data-reference") == mine.reference
    assert "137****7000" in await cards.first.inner_text()
    # a phone screen: nothing wider than the screen, buttons big enough to tap
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]

    # township B's referral, by its URL: not found, and nothing of it shown
    response = await page.goto(f"{running.url}/console/referral/{theirs.reference}")
    assert response is not None
    assert response.status == 404
    body = await page.inner_text("body")
    assert "没有找到" in body
    assert "13700137000" not in body
    # acting on it by its URL, with this user's own valid CSRF token: not found either
    await page.goto(f"{running.url}/console/referral/{mine.reference}")
    token = await page.get_attribute("form[action$='/claim'] input[name=csrf]", "value")
    assert token
    for action in ("claim", "transfer", "resolve"):
        posted = await page.request.post(
            f"{running.url}/console/referral/{theirs.reference}/{action}",
            form={"csrf": token, "township": "解放碑街道", "outcome": "x"},
            max_redirects=0,
        )
        assert posted.status == 404, action
    after = await running.services.referrals.get(theirs.reference)
    assert after is not None
    assert (after.status, after.assignee, after.queue) == ("new", None, TOWNSHIP_B)
    assert [a for a in after.audit if a["who"] != "system"] == []  # (notifications are system's)

    claim = page.locator("#claim")
    box = await claim.bounding_box()
    assert box is not None
    assert box["height"] >= 44
    assert problems == []
    await context.close()


async def say(page: Page, text: str) -> None:
    before = await page.locator(".msg.bot").count()
    await page.fill("#text", text)
    await page.click("#send button")
    await expect(page.locator(".msg.bot")).not_to_have_count(before)


async def test_claim_reply_reaches_the_web_chat_then_resolve(running: Running) -> None:
    resident_context = await running.context()
    resident = await resident_context.new_page()
    resident_problems = watch(resident)
    await resident.goto(running.url + "/chat")
    for text in ("人工", "同意", "13912345678", "渝中区", "解放碑", "1"):
        await say(resident, text)
    confirmation = await resident.locator(".msg.bot").last.inner_text()
    found = re.search(r"编号(\d{8})", confirmation)
    assert found is not None, confirmation
    reference = found.group(1)

    staff_context = await running.context()
    staff = await staff_context.new_page()
    staff_problems = watch(staff)
    await log_in(staff, running.url, "staff_a")
    card = staff.locator(f"#queue .card[data-reference='{reference}']")
    await expect(card).to_be_visible()
    await card.locator("a").click()
    await expect(staff.locator("#status")).to_have_text("待认领")
    await expect(staff.locator(".phone")).to_have_text("13912345678")  # whole here
    await staff.click("#claim")
    await expect(staff.locator(".flash.ok")).to_contain_text("已认领")
    await staff.fill("#reply-text", "您好，我是解放碑街道的张三，明天上午给您打电话。")
    await staff.click("#reply")
    await expect(staff.locator(".flash.ok")).to_contain_text("回复已发送给居民")

    # the resident's chat shows it (at its next poll, or at once on reload)
    await resident.reload()
    last = resident.locator(".msg.bot").last
    await expect(last).to_contain_text("明天上午给您打电话")
    await expect(last).to_contain_text(reference)
    # handed over: what the resident writes now goes to the thread, not to the bot
    await say(resident, "好的，我等电话，谢谢")
    await expect(resident.locator(".msg.bot").last).to_contain_text("已转给工作人员")

    await staff.reload()
    await expect(staff.locator("#thread")).to_contain_text("好的，我等电话，谢谢")
    # each message is as tall as its lines: the page's own indentation shows no blank lines
    gaps = await staff.eval_on_selector_all(
        "#thread li",
        """items => items.map(li => li.getBoundingClientRect().height
            - li.querySelector('.meta').getBoundingClientRect().height
            - li.querySelector('.text').getBoundingClientRect().height)""",
    )
    assert gaps
    assert all(gap < 24 for gap in gaps), gaps  # the padding, no empty lines
    await staff.fill("#outcome", "已电话联系，明天上门核实")
    await staff.click("#resolve")
    await expect(staff.locator(".flash.ok")).to_contain_text("已办结")
    await expect(staff.locator("#status")).to_have_text("已办结")
    audit = await staff.locator("table.audit").inner_text()
    for step in ("建立转介", "认领", "回复居民", "对话留言", "办结"):
        assert step in audit
    assert "张三" in audit
    done = await running.services.referrals.get(reference)
    assert done is not None
    assert done.status == "resolved"
    # back to the bot: the resident gets answers again
    await say(resident, "低保标准是多少")
    await expect(resident.locator(".msg.bot").last).to_contain_text("770")
    assert resident_problems == []
    assert staff_problems == []
    await resident_context.close()
    await staff_context.close()


async def test_the_lookup_answers_and_screens(running: Running) -> None:
    context = await running.context()
    page = await context.new_page()
    problems = watch(page)
    await log_in(page, running.url, "op")
    await expect(page).to_have_url(running.url + "/lookup")
    await page.fill("#q", "吃低保要什么条件")
    await page.click("form.search button")
    await expect(page.locator("#answer h2")).to_have_text("申请低保需要什么条件？")
    await expect(page.locator("#sources li")).not_to_have_count(0)
    await page.locator("#related a").first.click()
    await expect(page.locator("#answer")).to_be_visible()

    await page.click("nav.tabs >> text=当地标准")
    await page.select_option("#district", "南岸区")
    await page.fill("#date", "2025-08-01")
    await page.click("form.stack button")
    await expect(page.locator("#standards")).to_contain_text("本区县农村居民按城市标准")
    # on a phone a standard's name reads on a line or two, not a character a line
    heights = await page.eval_on_selector_all(
        "#standards th", "cells => cells.map(th => th.getBoundingClientRect().height)"
    )
    assert heights
    assert max(heights) < 60, heights
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    await page.click("nav.tabs >> text=快速预筛查")
    await page.select_option("#district", "奉节县")
    await page.select_option("#area", "rural")
    await page.fill("[id='members[0].age']", "67")
    await page.fill("[id='members[0].income.farming']", "150")
    await page.fill("[id='members[0].income.basic_pension']", "180")
    await page.fill("[id='members[0].income.support']", "200")
    await page.fill("#financial_assets", "3000")
    await page.fill("#vehicle_values", "0")
    await page.fill("#homes", "1")
    await page.select_option("#legal_supporter", "none")
    await page.click("#screen")
    dibao = page.locator("#result [data-program='dibao']")
    await expect(dibao).to_have_class(re.compile("verdict-likely"))
    await expect(dibao).to_contain_text("估算每月约280元")
    await expect(page.locator("#result [data-program='tekun']")).to_have_class(
        re.compile("verdict-likely")
    )
    # refer the caller from the result
    await page.fill("#r-mobile", "13600136000")
    await page.fill("#r-township", "永安")
    await page.check("input[name=consent]")
    await page.click("#create-referral")
    reference = await page.locator("#reference").inner_text()
    referral = await running.services.referrals.get(reference)
    assert referral is not None
    assert referral.queue == "奉节县/永安街道"
    assert referral.screening is not None
    assert referral.screening["programs"]["tekun"]["verdict"] == "likely"
    assert problems == []
    await context.close()


async def test_the_users_page_reads_on_a_phone(running: Running) -> None:
    context = await running.context()
    page = await context.new_page()
    problems = watch(page)
    await log_in(page, running.url, "boss")
    await page.goto(running.url + "/console/users")
    await expect(page.locator("#users tr[data-user='staff_a']")).to_contain_text("张三")
    # a name or a role on a line, not a character a line
    heights = await page.eval_on_selector_all(
        "#users td[data-label]", "cells => cells.map(td => td.getBoundingClientRect().height)"
    )
    assert heights
    assert max(heights) < 60, heights
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert problems == []
    await context.close()


async def test_forms_without_their_csrf_token_are_refused(running: Running) -> None:
    referral = await running.referral(TOWNSHIP_A, key="csrf")
    context = await running.browser.new_context(viewport=PHONE, bypass_csp=True)
    page = await context.new_page()
    # the login form
    await page.goto(running.url + "/console/login")
    await page.evaluate("document.querySelector('input[name=csrf]').remove()")
    await page.fill("#name", "staff_a")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit].primary")
    await expect(page.locator("[data-code=csrf]")).to_be_visible()
    assert not [c for c in await context.cookies() if c["name"] == "rb_console"]
    # a form of a logged-in user
    await log_in(page, running.url, "staff_a")
    await page.goto(f"{running.url}/console/referral/{referral.reference}")
    claim_token = "document.querySelector('form[action$=\"/claim\"] input[name=csrf]')"
    await page.evaluate(f"{claim_token}.remove()")
    await page.click("#claim")
    await expect(page.locator("[data-code=csrf]")).to_be_visible()
    await expect(page.locator("h1")).to_have_text("操作未执行")
    # a wrong token
    await page.goto(f"{running.url}/console/referral/{referral.reference}")
    await page.evaluate(f"{claim_token}.value = 'forged'")
    await page.click("#claim")
    await expect(page.locator("[data-code=csrf]")).to_be_visible()
    after = await running.services.referrals.get(referral.reference)
    assert after is not None
    assert (after.status, after.assignee) == ("new", None)
    assert [a for a in after.audit if a["who"] != "system"] == []  # (notifications are system's)
    # with the token the same button works
    await page.goto(f"{running.url}/console/referral/{referral.reference}")
    await page.click("#claim")
    await expect(page.locator("#status")).to_have_text("已认领")
    await context.close()
