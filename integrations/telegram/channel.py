"""Telegram: python-telegram-bot embedded in our aiohttp app (ARCHITECTURE.md).

- Webhook mode (default): the Application is built with `updater(None)`; our route
  `POST /telegram/webhook` answers 403 unless `X-Telegram-Bot-Api-Secret-Token` equals
  `TELEGRAM_WEBHOOK_SECRET` (constant-time), then has PTB process the update and answers
  200 — or 503 when the store is down, so that Telegram delivers the update again.
  `TELEGRAM_WEBHOOK_URL`, when set, is registered with `set_webhook` at start-up.
- Polling mode (`TELEGRAM_MODE=polling`): PTB's Updater fetches the updates.
- `TELEGRAM_API_BASE_URL` points PTB at another Bot API server (a local one, an emulator).

Only private chats are served: in a group a resident's words and numbers would be read
by everyone, so group messages are ignored silently (the bot never posts there).
Text and /start, /help, /menu (registered with `set_my_commands`, commands.yaml) go to
the router with the `update_id` as delivery id: a repeated update has no second effect
and sends nothing. Choices come as an inline keyboard, one big button a row, whose
callback data is the digit; a press is answered (so the client stops waiting), the
keyboard is taken off that message, and the digit goes to the router as if typed. In a
multi-select (screen_situation.j2) an option ("pick 3") toggles instead: the press is
answered and the keyboard redrawn with a mark on the picked ones, which are kept with
the record of the chat's newest message under the resident's lock (quick presses add
up); its last button ("done") sends the picks as if typed ("1 4"), and its `alone`
option (都没有) answers at once like any digit. Only the buttons under the newest message
the bot sent in a chat count: a press under an older message (the menu the resident
scrolled back to, a question since answered by typing) is answered with a note and
taken off, and changes nothing.
Replies are HTML, escaped by the telegram templates (bot/render.py), cut into messages
under 4096 characters; outbound calls go through PTB's `AIORateLimiter`.
Nothing logs chat ids or text.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from aiohttp import web
from telegram import BotCommand, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType, MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.config import Config, ConfigError
from bot.delivery import DeliveryError
from bot.inbox import Inbox
from bot.messages import Inbound, Reply
from bot.render import render_reply, template_for
from bot.store import Store, StoreUnavailable, Unit

log = logging.getLogger(__name__)

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ("message", "callback_query")
COMMANDS_FILE = Path(__file__).resolve().parent / "commands.yaml"
OTHER = "tgother"  # store namespace: non-text updates already answered
OTHER_TTL = 7 * 24 * 3600.0
KEYBOARD = "tgkeyboard"  # store namespace: each chat's newest message (id; a multi's picks)
KEYBOARD_TTL = 8 * 24 * 3600.0  # as long as a session is remembered
RETRY_START = 30.0  # seconds between start-up attempts while the Bot API is unreachable
_CHOICE = re.compile(r"[1-9][0-9]?")
PICK, DONE = "pick ", "done"  # callback data of a multi-select: "pick 3" toggles 3; "done"
_PICK = re.compile(rf"{PICK}([1-9][0-9]?)|{DONE}")


@functools.cache
def commands() -> dict[str, dict[str, str]]:
    with COMMANDS_FILE.open(encoding="utf-8") as fh:
        data: dict[str, dict[str, str]] = yaml.safe_load(fh)
    return data


def file_base_url(base_url: str) -> str | None:
    """http://host:port/bot → http://host:port/file/bot (the Bot API's layout)."""
    return base_url[: -len("bot")] + "file/bot" if base_url.endswith("/bot") else None


def split_html(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Messages of fewer than `limit` characters: cut at line ends where possible, never
    inside an entity (&amp;) or a tag. Telegram counts the text after parsing the HTML,
    which is never longer than the HTML itself."""
    limit -= 1  # "under 4096"
    parts: list[str] = []
    text = text.strip()
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = limit
            amp, semi = text.rfind("&", 0, cut), text.rfind(";", 0, cut)
            if amp > semi:  # an entity would be cut
                cut = amp
            lt, gt = text.rfind("<", 0, cut), text.rfind(">", 0, cut)
            if lt > gt:  # a tag would be cut
                cut = lt
            if cut <= 0:
                cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip("\n")
    if text:
        parts.append(text)
    return parts


class Picking(NamedTuple):
    """A multi-select keyboard's words (telegram/telegram_multi.j2)."""

    mark: str  # before a picked option
    done: str  # the button that sends the picks
    note: str  # the answer to "done" with nothing picked


@functools.cache
def picking() -> Picking:
    module = template_for(CHANNEL, "telegram_multi").make_module({"channel": CHANNEL})
    words = vars(module)  # the template's top-level {% set %} values
    return Picking(str(words["mark"]), str(words["done"]), str(module).strip())


def keyboard(reply: Reply, picked: Collection[int] = ()) -> InlineKeyboardMarkup:
    """One big button a row, its data the digit; in a multi-select, options that toggle
    (marked when in `picked`), the `alone` one a digit, and a last button to send them."""
    rows = []
    for n, label in enumerate(reply.choices, 1):
        text, data = f"{n} {label}", str(n)
        if reply.multi and n != reply.alone:
            text, data = f"{picking().mark} {text}" if n in picked else text, f"{PICK}{n}"
        rows.append([InlineKeyboardButton(text, callback_data=data)])
    if reply.multi:
        rows.append([InlineKeyboardButton(picking().done, callback_data=DONE)])
    return InlineKeyboardMarkup(rows)


class TelegramChannel:
    def __init__(
        self,
        config: Config,
        inbox: Inbox,
        store: Store,
        *,
        request: BaseRequest | None = None,
    ) -> None:
        """`request` replaces PTB's HTTP client (tests: an offline BaseRequest double)."""
        assert config.telegram_bot_token
        self.config = config
        self.inbox = inbox
        self.store = store
        self.polling = config.telegram_mode == "polling"
        self.secret = config.telegram_webhook_secret or ""
        self.ready = False
        self._unavailable: set[int] = set()  # update ids that met a store outage
        self._starting: asyncio.Task[None] | None = None

        limiter: AIORateLimiter = AIORateLimiter()
        builder = Application.builder().token(config.telegram_bot_token).rate_limiter(limiter)
        if config.telegram_api_base_url:
            builder = builder.base_url(config.telegram_api_base_url)
            files = file_base_url(config.telegram_api_base_url)
            if files:
                builder = builder.base_file_url(files)
        if not self.polling:
            builder = builder.updater(None)
        if request is not None:
            builder = builder.request(request).get_updates_request(request)
        self.application: Application[Any, Any, Any, Any, Any, Any] = builder.build()

        private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
        app = self.application
        app.add_handler(CommandHandler(list(commands()), self._on_command, filters=private))
        app.add_handler(MessageHandler(private & filters.TEXT, self._on_text))
        app.add_handler(MessageHandler(private & ~filters.StatusUpdate.ALL, self._on_other))
        app.add_handler(CallbackQueryHandler(self._on_choice))
        app.add_error_handler(self._on_error)

    # --- life cycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Start (with the server). A rejected token or webhook URL stops start-up with a
        message naming the setting; an unreachable Bot API is retried in the background."""
        try:
            await self._start()
        except InvalidToken:
            raise ConfigError(
                ["TELEGRAM_BOT_TOKEN: Telegram 不接受这个令牌 / rejected by the Bot API"]
            ) from None
        except BadRequest as exc:
            raise ConfigError(
                [f"TELEGRAM_WEBHOOK_URL: Telegram 拒绝了 / rejected by the Bot API: {exc}"]
            ) from None
        except NetworkError as exc:
            log.warning("Telegram Bot API unreachable at start-up (%s); retrying", exc)
            self._starting = asyncio.create_task(self._start_later())

    async def _start_later(self) -> None:
        while not self.ready:
            await asyncio.sleep(RETRY_START)
            try:
                await self._start()
            except TelegramError as exc:
                log.warning("Telegram still not started: %s", type(exc).__name__)

    async def _start(self) -> None:
        app = self.application
        await app.initialize()
        listed = [BotCommand(name, item["description"]) for name, item in commands().items()]
        await app.bot.set_my_commands(listed)
        if not self.polling and self.config.telegram_webhook_url:
            await app.bot.set_webhook(
                self.config.telegram_webhook_url,
                secret_token=self.secret,
                allowed_updates=list(ALLOWED_UPDATES),
            )
        await app.start()
        if self.polling:
            assert app.updater is not None
            await app.updater.start_polling(allowed_updates=list(ALLOWED_UPDATES))
        self.ready = True
        log.info("Telegram started (%s)", "polling" if self.polling else "webhook")

    async def stop(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        self.ready = False

    # --- the webhook route ---------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not self.secret or not hmac.compare_digest(given, self.secret.encode()):
            self.inbox.count(CHANNEL, "rejected")
            return web.Response(status=403, text="forbidden")
        update = None
        try:
            data = json.loads(await request.read())
            if isinstance(data, dict) and isinstance(data.get("update_id"), int):
                update = Update.de_json(data, self.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError):  # not the Bot API's shape
            update = None
        if not isinstance(update, Update):
            self.inbox.count(CHANNEL, "rejected")
            return web.Response(status=400, text="not a Telegram update")
        if not self.ready:
            self.inbox.count(CHANNEL, "unavailable")
            return web.Response(status=503, text="starting, retry later")
        # The handlers count and time each message (the same code serves polling).
        await self.application.process_update(update)
        if update.update_id in self._unavailable:
            self._unavailable.discard(update.update_id)
            return web.Response(status=503, text="store unavailable, retry later")
        return web.json_response({"ok": True})

    # --- handlers ------------------------------------------------------------------

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        assert message.text is not None
        name = message.text.split()[0].lstrip("/").split("@")[0].lower()
        item = commands().get(name)
        await self._converse(update, item["text"] if item else message.text)

    async def _on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        assert message.text is not None
        await self._converse(update, message.text)

    async def _on_choice(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        chat = update.effective_chat
        data = query.data or ""
        if chat is None or chat.type != ChatType.PRIVATE:
            await _quietly(query.answer())
        elif _PICK.fullmatch(data):
            await self._on_pick(update, query, str(chat.id))
        elif not _CHOICE.fullmatch(data):
            await _quietly(query.answer())
        elif query.message is None:
            await self._converse(update, data, query)
        else:
            try:
                newest = await self.store.get(KEYBOARD, str(chat.id))
            except StoreUnavailable:
                self._unavailable.add(update.update_id)
                return
            # Message ids grow within a chat: an older one is below the newest message's.
            if newest is not None and query.message.message_id < int(newest["message_id"]):
                await _expired(query)
            else:
                await self._converse(update, data, query)

    async def _on_pick(self, update: Update, query: CallbackQuery, chat: str) -> None:
        """A multi-select's button: toggle an option, or send the picks as if typed."""
        try:
            async with self.store.locked(
                Inbound(CHANNEL, chat, "").key, [(KEYBOARD, chat)]
            ) as unit:
                newest = await unit.get(KEYBOARD, chat) or {}
                shown = (
                    "choices" in newest  # a multi-select's keyboard…
                    and query.message is not None  # …the one pressed
                    and query.message.message_id == newest["message_id"]
                )
                # A redelivered update (its id not above the last one counted) counts once.
                if shown and query.data != DONE and update.update_id > newest.get("update", 0):
                    await self._toggle(unit, chat, newest, query, update.update_id)
        except StoreUnavailable:
            self._unavailable.add(update.update_id)
            return
        if not shown:
            await _expired(query)
        elif query.data != DONE:
            await _quietly(query.answer())
        elif newest["picked"]:
            await self._converse(update, " ".join(str(n) for n in newest["picked"]), query)
        else:
            await _quietly(query.answer(picking().note, show_alert=True))

    async def _toggle(
        self, unit: Unit, chat: str, newest: dict[str, Any], query: CallbackQuery, update_id: int
    ) -> None:
        """Pick or unpick the option pressed, and redraw the keyboard with its marks (under
        the resident's lock: quick presses add up, and the marks shown are those kept)."""
        reply = Reply("", tuple(newest["choices"]), True, int(newest["alone"]))
        pressed = int((query.data or "").removeprefix(PICK))
        if not 1 <= pressed <= len(reply.choices) or pressed == reply.alone:
            return  # not a button this keyboard has
        picked = set(newest["picked"]) ^ {pressed}
        record = {**newest, "picked": sorted(picked), "update": update_id}
        unit.put(KEYBOARD, chat, record, ttl=KEYBOARD_TTL)
        await _quietly(query.edit_message_reply_markup(keyboard(reply, picked)))

    async def _on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo, a voice note, a sticker: ask for text, once per update."""
        chat = update.effective_chat
        assert chat is not None
        try:
            with self.inbox.observe(CHANNEL) as seen:
                if not await self.store.add_once(OTHER, str(update.update_id), OTHER_TTL):
                    seen.outcome = "duplicate"
                    return
                await self.send(chat.id, [render_reply(CHANNEL, "telegram_not_text", {})])
        except StoreUnavailable:
            self._unavailable.add(update.update_id)

    async def _converse(
        self, update: Update, text: str, query: CallbackQuery | None = None
    ) -> None:
        chat = update.effective_chat
        assert chat is not None
        inbound = Inbound(CHANNEL, str(chat.id), text, str(update.update_id))
        try:
            with self.inbox.observe(CHANNEL) as seen:
                handled = await self.inbox.handle(inbound)
                if handled.duplicate:
                    seen.outcome = "duplicate"
                    return
                if query is not None:
                    await _quietly(query.answer())
                    await _quietly(query.edit_message_reply_markup(reply_markup=None))
                await self.send(chat.id, handled.replies)
        except StoreUnavailable:
            if self.polling:  # the update is gone: say so, the resident can send it again
                await _quietly(self.send(chat.id, [render_reply(CHANNEL, "error", {})]))
            else:  # the webhook answers 503 and Telegram delivers it again
                self._unavailable.add(update.update_id)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # The error only: an update holds the resident's chat id and words.
        error = context.error
        log.error("telegram handler failed: %s", type(error).__name__, exc_info=error)

    # --- sending -------------------------------------------------------------------

    async def send(self, chat_id: int, replies: Sequence[Reply]) -> None:
        """Send the replies, then record the last message sent as the chat's newest: the
        buttons above it are old now (recorded once all are out, so that a store outage
        loses no message)."""
        bot = self.application.bot
        newest: dict[str, Any] | None = None
        for reply in replies:
            parts = split_html(reply.text)
            for n, part in enumerate(parts, 1):
                markup = keyboard(reply) if reply.choices and n == len(parts) else None
                sent = await bot.send_message(
                    chat_id, part, parse_mode=ParseMode.HTML, reply_markup=markup
                )
                newest = {"message_id": sent.message_id}
                if markup is not None and reply.multi:  # what its presses need
                    newest.update(choices=list(reply.choices), alone=reply.alone, picked=[])
        if newest is not None:
            await self.store.put(KEYBOARD, str(chat_id), newest, ttl=KEYBOARD_TTL)

    def sender(self) -> TelegramSender:
        return TelegramSender(self)


async def _expired(query: CallbackQuery) -> None:
    """A press under an older message: a note, and its keyboard taken off."""
    note = render_reply(CHANNEL, "telegram_old_button", {}).text
    await _quietly(query.answer(note))
    await _quietly(query.edit_message_reply_markup(reply_markup=None))


async def _quietly(call: Any) -> None:
    """A courtesy call (answering a button press, removing an old keyboard) that may fail,
    e.g. when the press is too old; the conversation goes on regardless."""
    try:
        await call
    except TelegramError as exc:
        log.info("telegram courtesy call failed: %s", type(exc).__name__)


class TelegramSender:
    """`bot.delivery.Sender` for Telegram: the address is the private chat's id."""

    def __init__(self, channel: TelegramChannel) -> None:
        self.channel = channel

    async def send(self, address: str, replies: Sequence[Reply]) -> None:
        if not self.channel.ready:
            raise DeliveryError("failed")
        try:
            await self.channel.send(int(address), replies)
        except Forbidden as exc:
            raise DeliveryError("blocked") from exc
        except TelegramError as exc:
            raise DeliveryError("failed") from exc
