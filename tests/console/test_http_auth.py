"""Logging in over HTTP: cookies, lockout, CSRF on every form, and roles on every route."""

from __future__ import annotations

from collections.abc import Callable
from http.cookies import SimpleCookie

import aiohttp
import pytest
from yarl import URL

from bot.console.auth import SESSIONS, digest
from tests.console.helpers import PASSWORD, TOWNSHIP_A, USERS, Browser, Server

Make = Callable[[], Browser]


def cookies_set(response: aiohttp.ClientResponse) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        jar.load(header)
    return jar


async def login_response(
    server: Server, name: str, password: str, headers: dict[str, str] | None = None
) -> tuple[aiohttp.ClientResponse, str]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(server.url + "/console/login", headers=headers) as page:
            form_page = await page.text()
            login_cookie = cookies_set(page)["rb_console_login"]
        token = form_page.split('name="csrf" value="')[1].split('"')[0]
        assert login_cookie.value == token
        assert login_cookie["httponly"]
        assert login_cookie["samesite"] == "Strict"
        async with session.post(
            server.url + "/console/login",
            data={"csrf": token, "name": name, "password": password},
            # sent by hand: a Secure cookie (behind an https proxy) is not sent over http
            headers={**(headers or {}), "Cookie": f"rb_console_login={token}"},
            allow_redirects=False,
        ) as response:
            return response, await response.text()


async def test_login_sets_an_httponly_strict_session_cookie(server: Server) -> None:
    response, _ = await login_response(server, "staff_a", PASSWORD)
    assert response.status == 303
    assert response.headers["Location"] == "/console/queue"
    cookie = cookies_set(response)["rb_console"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    assert not cookie["secure"]  # plain http on 127.0.0.1
    assert await server.console.auth.resume(cookie.value) is not None


async def test_behind_an_https_proxy_the_cookie_is_secure(server: Server) -> None:
    headers = {"X-Forwarded-Proto": "https"}
    response, _ = await login_response(server, "staff_a", PASSWORD, headers)
    cookie = cookies_set(response)["rb_console"]
    assert cookie["secure"]
    assert cookie["samesite"] == "Strict"


async def test_a_wrong_password_is_refused_without_a_session(server: Server) -> None:
    response, body = await login_response(server, "staff_a", "wrong password")
    assert response.status == 401
    assert "用户名或密码不对" in body
    assert "rb_console" not in cookies_set(response)


async def test_repeated_failures_lock_the_login(server: Server) -> None:
    for _ in range(5):
        response, _ = await login_response(server, "staff_b", "wrong password")
        assert response.status == 401
    response, body = await login_response(server, "staff_b", PASSWORD)
    assert response.status == 429
    assert "15分钟" in body
    assert "rb_console" not in cookies_set(response)


async def test_login_without_its_csrf_token_does_nothing(server: Server) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await (await session.get(server.url + "/console/login")).text()
        for token in ("", "forged-token"):
            async with session.post(
                server.url + "/console/login",
                data={"csrf": token, "name": "staff_a", "password": PASSWORD},
                allow_redirects=False,
            ) as response:
                assert response.status == 403
                assert "rb_console" not in cookies_set(response)
        # a refused login is no failed attempt either: nothing was counted
        for _ in range(5):
            async with session.post(
                server.url + "/console/login",
                data={"name": "staff_a", "password": "wrong"},
                allow_redirects=False,
            ) as response:
                assert response.status == 403
    response, _ = await login_response(server, "staff_a", PASSWORD)
    assert response.status == 303


async def test_next_brings_the_user_back_but_never_elsewhere(server: Server, browser: Make) -> None:
    b = browser()
    async with b.session.get(server.url + "/console/queue", allow_redirects=False) as response:
        assert response.status == 303
        back = URL(response.headers["Location"])
        assert (back.path, back.query["next"]) == ("/console/login", "/console/queue")
    await b.get("/console/login?next=/console/queue%3Fshow%3Dresolved")
    _, _, location = await b.post(
        "/console/login", {"name": "staff_a", "password": PASSWORD, "next": "/console/queue"}
    )
    assert location == "/console/queue"
    for target in ("//evil.example/", "https://evil.example/", "/console/..//evil"):
        c = browser()
        await c.get("/console/login")
        _, _, location = await c.post(
            "/console/login", {"name": "staff_a", "password": PASSWORD, "next": target}
        )
        assert location == "/console/queue"


async def test_logout_ends_the_session_and_needs_its_token(server: Server, browser: Make) -> None:
    b = browser()
    await b.login("staff_a")
    token = b.session.cookie_jar.filter_cookies(URL(server.url))["rb_console"].value
    status, _, _ = await b.post("/console/logout", {}, csrf=False)
    assert status == 403
    assert await server.console.auth.resume(token) is not None
    status, _, location = await b.post("/console/logout", {})
    assert (status, location) == (303, "/console/login")
    assert await server.console.auth.resume(token) is None
    assert await server.services.store.get(SESSIONS, digest(token)) is None
    status, body = await b.get("/console/queue")
    assert status == 200
    assert "工作人员登录" in body


async def test_pages_carry_protective_headers(server: Server, browser: Make) -> None:
    b = browser()
    await b.login("staff_a")
    async with b.session.get(server.url + "/console/queue") as response:
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert "script-src" not in response.headers["Content-Security-Policy"]


# --- roles on every route -------------------------------------------------------------

GET_ROUTES = {
    "/console/queue": {"staff", "supervisor"},
    "/lookup": {"operator", "staff", "supervisor"},
    "/lookup?q=低保": {"operator", "staff", "supervisor"},
    "/lookup/standards": {"operator", "staff", "supervisor"},
    "/lookup/screen": {"operator", "staff", "supervisor"},
    "/lookup/referral": {"operator"},
    "/console/users": {"admin"},
    "/console/password": {"staff", "supervisor", "operator", "admin"},
}


@pytest.mark.parametrize("name", list(USERS))
async def test_every_page_serves_its_roles_only(server: Server, browser: Make, name: str) -> None:
    b = browser()
    await b.login(name)
    role = USERS[name][0]
    for path, roles in GET_ROUTES.items():
        status, body = await b.get(path)
        assert status == (200 if role in roles else 403), (name, path)
        if status == 403:
            assert "没有权限" in body
    async with b.session.get(server.url + "/api/kb/search?q=低保") as response:
        allowed = role in {"operator", "staff", "supervisor"}
        assert response.status == (200 if allowed else 403)


async def test_without_login_every_page_asks_to_log_in(server: Server, browser: Make) -> None:
    b = browser()
    referral = await server.referral(TOWNSHIP_A)
    paths = [*GET_ROUTES, f"/console/referral/{referral.reference}", "/console/"]
    for path in paths:
        async with b.session.get(server.url + path, allow_redirects=False) as response:
            assert response.status == 303, path
            assert response.headers["Location"].startswith("/console/login")
    async with b.session.get(server.url + "/api/kb/search?q=低保") as response:
        assert response.status == 401
        assert await response.json() == {"error": "login required"}
    for action in ("claim", "reply", "resolve", "transfer", "release", "contacted"):
        path = f"/console/referral/{referral.reference}/{action}"
        status, _, location = await b.post(path, {"text": "x", "outcome": "x"}, csrf=False)
        assert (status, location) == (303, "/console/login"), action
    after = await server.services.referrals.get(referral.reference)
    assert after is not None
    assert after.version == referral.version


async def test_the_landing_page_sends_each_role_home(server: Server, browser: Make) -> None:
    homes = {"staff_a": "/console/queue", "op": "/lookup", "boss": "/console/users"}
    for name, home in homes.items():
        b = browser()
        await b.login(name)
        async with b.session.get(server.url + "/console/", allow_redirects=False) as response:
            assert response.headers["Location"] == home
