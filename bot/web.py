"""The web chat: the same conversation in a browser, for a cheap phone as much as a PC.

- `GET /chat`: the page (bot/templates/web/web_page.j2; bot/static/chat.css and chat.js
  served under /chat/static/, no build step) with this browser's recent conversation.
  It works without JavaScript: its forms post to `POST /chat`, which answers with a
  redirect back to the page (post/redirect/get), and the choices are submit buttons —
  in a multi-select, checkboxes sent together by a confirm button ("1 4"), but for its
  `alone` choice (都没有), a button.
- `POST /api/chat`: JSON `{"text": …, "id": client message id}` →
  `{"replies": [{"text", "text_html", "choices", "multi", "alone"}], "duplicate": false}`.
  `text_html` is as rendered (escaped by the web templates); `text` is the same as plain
  text, which the page's script puts in with textContent, never as HTML.
- `GET /api/chat/poll`: messages sent to this browser later (a staff reply), once
  (loading the page shows them too, and then they are no longer waiting).

Each browser is its own resident: a random cookie (HttpOnly, SameSite=Lax) whose hash is
the sender address, so that the address kept with a referral cannot be used as the
cookie. The client message id is the delivery id (namespaced by the browser): a retry
of the same message is answered as the first time and has no second effect. The
conversation shown on the page (`webchat`) and the outbox (`weboutbox`) are kept in the
store for a week, then forgotten.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import re
import secrets
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from aiohttp import web

from bot.inbox import Inbox
from bot.messages import MAX_TEXT, Inbound, Reply
from bot.render import render, render_reply
from bot.store import Store, StoreUnavailable, Unit

CHANNEL = "web"
COOKIE = "rb_chat"
COOKIE_AGE = 30 * 24 * 3600
TRANSCRIPT = "webchat"  # store namespace: what the page shows
OUTBOX = "weboutbox"  # store namespace: messages waiting for the page to poll them
KEEP_FOR = 7 * 24 * 3600.0
KEEP_ENTRIES = 40
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]{20,64}")
_dumps = functools.partial(json.dumps, ensure_ascii=False)  # 3 bytes a character, not 6
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def address(cookie: str) -> str:
    """The sender address of a browser: a hash of its cookie."""
    return hashlib.sha256(cookie.encode()).hexdigest()[:32]


_TAG = re.compile(r"<[^>]*>")


def plain(rendered: str) -> str:
    """A web reply as plain text: the templates' own tags (<b>) dropped, entities undone.
    Values were escaped when rendered, so every '<' left in them is an entity here."""
    return html.unescape(_TAG.sub("", rendered))


def reply_json(reply: Reply) -> dict[str, Any]:
    return {
        "text": plain(reply.text),
        "text_html": reply.text,
        "choices": list(reply.choices),
        "multi": reply.multi,
        "alone": reply.alone,
    }


def _entry(who: str, text: str, reply: Reply | None = None) -> dict[str, Any]:
    """A line of the conversation shown: `Reply.to_dict` of the bot's reply (its choices,
    and whether they combine), with its text plain."""
    return {**(reply or Reply("")).to_dict(), "who": who, "text": text}


class WebChat:
    def __init__(self, inbox: Inbox, store: Store, https: bool = False) -> None:
        """`https`: the public URL is https, so the cookie is marked Secure."""
        self.inbox = inbox
        self.store = store
        self.https = https

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/chat", self.page),
            web.post("/chat", self.form),
            web.post("/api/chat", self.api),
            web.get("/api/chat/poll", self.poll),
        ]

    # --- the browser's identity ----------------------------------------------------

    def _cookie(self, request: web.Request) -> str | None:
        value = request.cookies.get(COOKIE)
        return value if value and _COOKIE_VALUE.fullmatch(value) else None

    def _identify(self, request: web.Request) -> tuple[str, bool]:
        """This browser's cookie, and whether it is new (to be set on the response)."""
        cookie = self._cookie(request)
        return (cookie, False) if cookie else (secrets.token_urlsafe(24), True)

    def _set_cookie(self, request: web.Request, response: web.StreamResponse, cookie: str) -> None:
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip()
        secure = self.https or request.secure or proto == "https"
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=COOKIE_AGE,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=secure,
        )

    # --- one message -----------------------------------------------------------------

    async def _say(self, cookie: str, text: str, client_id: str | None) -> tuple[list[Reply], bool]:
        sender = address(cookie)
        text = text.strip()[:MAX_TEXT]
        delivery = f"{sender}:{client_id}" if client_id else None
        inbound = Inbound(CHANNEL, sender, text, delivery)
        with self.inbox.observe(CHANNEL) as seen:
            # The conversation shown is written with the session, under the same lock.
            async with self.inbox.locked(inbound, [(TRANSCRIPT, sender)]) as unit:
                handled = await self.inbox.handle_in(unit, inbound)
                if handled.duplicate:
                    seen.outcome = "duplicate"
                    return handled.replies, True
                entries = [_entry("me", text)]
                entries += [_entry("bot", plain(r.text), r) for r in handled.replies]
                await _append(unit, sender, entries)
            return handled.replies, False

    # --- routes ----------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        cookie, new = self._identify(request)
        try:
            kept = None if new else await self._shown(address(cookie))
            response = self._page(kept["log"] if kept else [])
        except StoreUnavailable:
            response = self._page([], unavailable=True, status=503)
        if new:
            self._set_cookie(request, response, cookie)
        return response

    async def _shown(self, sender: str) -> dict[str, Any] | None:
        """The conversation the page shows, which holds every message sent later too:
        those are no longer waiting for a poll (else the page would show them twice)."""
        async with locked(self.store, sender) as unit:
            kept = await unit.get(TRANSCRIPT, sender)
            unit.delete(OUTBOX, sender)
            return kept

    def _page(
        self, log: list[dict[str, Any]], *, unavailable: bool = False, status: int = 200
    ) -> web.Response:
        if not log:  # a greeting: the menu, as the conversation would show it
            welcome = render_reply(CHANNEL, "menu", {"understood": True})
            log = [_entry("bot", plain(welcome.text), welcome)]
        last = log[-1]
        # The buttons of the last reply (entries kept before multi-selects lack the keys).
        offered = Reply.from_dict(last) if last["who"] == "bot" else Reply("")
        body = render(
            CHANNEL,
            "web_page",
            log=log,
            choices=offered.choices,
            multi=offered.multi,
            alone=offered.alone,
            unavailable=unavailable,
            form_id=secrets.token_urlsafe(12),
            choice_id=secrets.token_urlsafe(12),
            max_text=MAX_TEXT,
        )
        return web.Response(text=body, content_type="text/html", status=status, headers=HEADERS)

    async def form(self, request: web.Request) -> web.Response:
        """The page's form without JavaScript: answer, then show the page again."""
        data = await request.post()
        choice, text, client_id = data.get("choice"), data.get("text"), data.get("id")
        picks = " ".join(p for p in data.getall("pick", []) if isinstance(p, str))
        said = choice if isinstance(choice, str) and choice else picks or text
        if not isinstance(said, str) or not said.strip():
            return _see_page()
        cookie, new = self._identify(request)
        client = (
            client_id if isinstance(client_id, str) and _CLIENT_ID.fullmatch(client_id) else None
        )
        try:
            await self._say(cookie, said, client)
        except StoreUnavailable:
            response = self._page([], unavailable=True, status=503)
        else:
            response = _see_page()
        if new:
            self._set_cookie(request, response, cookie)
        return response

    async def api(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
        except ValueError:
            data = None
        text = data.get("text") if isinstance(data, dict) else None
        client_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(text, str) or not text.strip():
            self.inbox.count(CHANNEL, "rejected")
            return _error(400, "text is required")
        if client_id is not None and not (
            isinstance(client_id, str) and _CLIENT_ID.fullmatch(client_id)
        ):
            self.inbox.count(CHANNEL, "rejected")
            return _error(400, "id must be 1-64 letters, digits, - or _")
        cookie, new = self._identify(request)
        try:
            replies, duplicate = await self._say(cookie, text, client_id)
        except StoreUnavailable:
            message = render_reply(CHANNEL, "web_unavailable", {}).text
            return _error(503, "unavailable", plain(message))
        response = web.json_response(
            {"replies": [reply_json(r) for r in replies], "duplicate": duplicate},
            headers={"Cache-Control": "no-store"},
            dumps=_dumps,
        )
        if new:
            self._set_cookie(request, response, cookie)
        return response

    async def poll(self, request: web.Request) -> web.Response:
        cookie = self._cookie(request)
        replies: list[dict[str, Any]] = []
        if cookie:
            sender = address(cookie)
            try:
                async with locked(self.store, sender) as unit:
                    waiting = await unit.get(OUTBOX, sender)
                    if waiting:
                        replies = list(waiting["replies"])
                        unit.delete(OUTBOX, sender)
            except StoreUnavailable:
                return _error(503, "unavailable")
        return web.json_response(
            {"replies": replies}, headers={"Cache-Control": "no-store"}, dumps=_dumps
        )

    def sender(self) -> WebOutbox:
        return WebOutbox(self.store)


def locked(store: Store, sender: str) -> AbstractAsyncContextManager[Unit]:
    """The browser's unit: the same lock as its messages' (`Inbound.key`), with the
    conversation shown and the outbox read with it."""
    key = Inbound(CHANNEL, sender, "").key
    return store.locked(key, [(TRANSCRIPT, sender), (OUTBOX, sender)])


async def _append(unit: Unit, sender: str, entries: list[dict[str, Any]]) -> None:
    kept = await unit.get(TRANSCRIPT, sender) or {"log": []}
    log = [*kept["log"], *entries][-KEEP_ENTRIES:]
    unit.put(TRANSCRIPT, sender, {"log": log}, ttl=KEEP_FOR)


def _see_page() -> web.Response:
    return web.Response(status=303, headers={"Location": "/chat#end"})


def _error(status: int, error: str, message: str | None = None) -> web.Response:
    body = {"error": error} if message is None else {"error": error, "message": message}
    return web.json_response(body, status=status, dumps=_dumps)


class WebOutbox:
    """`bot.delivery.Sender` for the web chat: the page shows it at its next poll (and
    on reload, from the conversation kept for it)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def send(self, address: str, replies: Sequence[Reply]) -> None:
        async with locked(self.store, address) as unit:
            waiting = await unit.get(OUTBOX, address) or {"replies": []}
            queued = [*waiting["replies"], *(reply_json(r) for r in replies)]
            unit.put(OUTBOX, address, {"replies": queued}, ttl=KEEP_FOR)
            await _append(unit, address, [_entry("bot", plain(r.text), r) for r in replies])
