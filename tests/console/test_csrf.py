"""Every form of the console and the lookup refuses a POST without the session's CSRF
token, or with a wrong one: 403, and nothing changes."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.console.helpers import PASSWORD, TOWNSHIP_A, Browser, Server

Make = Callable[[], Browser]
Snapshot = Callable[[Server], Awaitable[Any]]


async def referral_state(server: Server) -> Any:
    found = await server.services.referrals.list([TOWNSHIP_A, "渝中区/七星岗街道"])
    full = [await server.services.referrals.get(s.reference) for s in found]
    return [(r.reference, r.version, r.status, r.queue, len(r.thread)) for r in full if r]


async def users_state(server: Server) -> Any:
    return json.dumps([u.to_dict() for u in await server.console.users.list()])


async def everything(server: Server) -> Any:
    return (await referral_state(server), await users_state(server))


REFERRAL_FORM = {"district": "渝中区", "mobile": "13800138000", "consent": "yes", "nonce": "n" * 20}
# (who, path, form); {ref} is a referral of township A, claimed by staff_a for the
# actions only its holder may take.
CASES: list[tuple[str, str, dict[str, str]]] = [
    ("staff_a", "/console/referral/{new}/claim", {}),
    ("staff_a", "/console/referral/{held}/release", {}),
    ("staff_a", "/console/referral/{held}/contacted", {}),
    ("staff_a", "/console/referral/{held}/reply", {"text": "您好"}),
    ("staff_a", "/console/referral/{held}/resolve", {"outcome": "已办"}),
    ("staff_a", "/console/referral/{new}/transfer", {"township": "七星岗街道"}),
    ("staff_a", "/console/password", {"current": PASSWORD, "new": "x" * 20, "repeat": "x" * 20}),
    ("op", "/lookup/screen", {"members[0].age": "70"}),
    (
        "op",
        "/lookup/referral",
        {"district": "渝中区", "mobile": "13800138000", "consent": "yes", "nonce": "n" * 20},
    ),
    ("boss", "/console/users", {"name": "newbie", "role": "operator", "password": "y" * 20}),
    ("boss", "/console/users/staff_b", {"do": "disable"}),
    ("boss", "/console/users/staff_b", {"do": "password", "password": "z" * 20}),
    ("staff_a", "/console/logout", {}),
]


@pytest.mark.parametrize("token", ["", "wrong-token-0123456789"])
@pytest.mark.parametrize(("who", "path", "form"), CASES)
async def test_a_post_without_the_right_token_is_refused_and_changes_nothing(
    server: Server, browser: Make, who: str, path: str, form: dict[str, str], token: str
) -> None:
    new = await server.referral(TOWNSHIP_A)
    held = await server.referral(TOWNSHIP_A)
    await server.services.referrals.claim(held.reference, "staff_a")
    b = browser()
    await b.login(who)
    before = await everything(server)
    hash_before = (await server.console.users.get(who)).password  # type: ignore[union-attr]
    target = path.format(new=new.reference, held=held.reference)
    data = dict(form) if token == "" else {**form, "csrf": token}
    status, body, _ = await b.post(target, data, csrf=False)
    assert status == 403
    assert "操作没有执行" in body
    assert await everything(server) == before
    assert (await server.console.users.get(who)).password == hash_before  # type: ignore[union-attr]
    status, _ = await b.get("/console/password")
    assert status == 200  # still logged in: not even logout happened


async def test_the_same_forms_work_with_the_token(server: Server, browser: Make) -> None:
    """The control: with the session's token the same posts do change things."""
    new = await server.referral(TOWNSHIP_A)
    b = browser()
    await b.login("staff_a")
    status, _, _ = await b.post(f"/console/referral/{new.reference}/claim", {})
    assert status == 303
    assert (await server.services.referrals.get(new.reference)).status == "claimed"  # type: ignore[union-attr]
    admin = browser()
    await admin.login("boss")
    status, _, _ = await admin.post("/console/users/staff_b", {"do": "disable"})
    assert status == 303
    assert (await server.console.users.get("staff_b")).disabled  # type: ignore[union-attr]
