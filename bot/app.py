"""The composition root: the one place that wires integrations into the core.

`Services.open(config)` builds the store, the referral queue, the dialogues, the router
and the channels; `make_app(services)` builds the one aiohttp application with every
route of CONTRACTS.md; `serve()` runs it. Nothing else in the project constructs these.

Routes, by configuration:
- always: `GET /healthz` (503 when the store does not answer), `GET /metrics`, the web
  chat (`GET|POST /chat`, `POST /api/chat`, `GET /api/chat/poll`, `/chat/static/…`);
- `TELEGRAM_BOT_TOKEN` (webhook mode): `POST /telegram/webhook`; in polling mode no route;
- `TWILIO_AUTH_TOKEN`: `POST /sms/twilio`;
- `SMS_WEBHOOK_TOKEN`: `POST /sms/aliyun`, `POST /sms/tencent` (and `…/{token}`).

`services.delivery.send(channel, address, replies)` reaches a resident later through
the channel they wrote from (bot/delivery.py): web always, telegram with a token, sms
with `SMS_PROVIDER`. Staff notifications go out the same way (`ChannelNotifier`):
`telegram:` targets of RESIDENTBOT_NOTIFY_FILE through the bot, `sms:` targets through
the gateway, other kinds to the file's relay; a target with no way out stops start-up.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import gc
import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml
from aiohttp import web
from aiohttp.typedefs import Handler
from telegram.request import BaseRequest

from bot.config import Config, ConfigError
from bot.console import setup as setup_console
from bot.delivery import Delivery
from bot.inbox import Inbox
from bot.metrics import Metrics
from bot.ratelimit import RateLimit
from bot.referrals import ReferralQueue
from bot.router import REFERRAL, SCREENING, Router
from bot.sessions import Sessions
from bot.store import Store, StoreUnavailable, open_store
from bot.store.embedded import DirectoryInUse, EmbeddedStore
from bot.web import WebChat
from dialogues import referral, screening
from integrations.sms.channel import SmsChannel, e164
from integrations.sms.gateway import Gateway, open_gateway
from integrations.sms.routes import routes as sms_routes
from integrations.telegram.channel import TelegramChannel
from integrations.window import open_queue
from integrations.window.notify import ChannelNotifier, HttpNotifier, Targets, load_targets
from knowledge.triage import triage

log = logging.getLogger("residentbot")

MAX_BODY = 64 * 1024  # bytes; a webhook or a chat message is far smaller (413 beyond)
FORMS = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
STATIC_DIR = Path(__file__).resolve().parent / "static"
NOTIFY_SETTINGS = {"telegram": "TELEGRAM_BOT_TOKEN", "sms": "SMS_PROVIDER"}  # what sends each


def notify_targets(config: Config) -> Targets:
    """The staff notification targets, checked against what can send them: a target kind
    with no sender (and no relay) stops start-up naming the setting to fix."""
    path = config.notify_path
    setting = "RESIDENTBOT_NOTIFY_FILE"
    if config.notify_file is not None and not path.is_file():
        raise ConfigError([f"{setting}: 文件不存在 / no such file: {path}"])
    try:
        targets = load_targets(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError([f"{setting}: {path} 无法读取 / cannot be read: {exc}"]) from None
    wired = {"telegram": bool(config.telegram_bot_token), "sms": bool(config.sms_provider)}
    problems = []
    for kind in sorted({t.kind for t in targets.all()}):
        if wired.get(kind) or targets.relay:
            continue
        if kind in NOTIFY_SETTINGS:
            problems.append(
                f"{NOTIFY_SETTINGS[kind]}: {path} 里的 {kind}: 通知对象需要它（或在文件里设 relay）"
                f" / required by the {kind}: targets in it (or give it a relay)"
            )
        else:
            problems.append(
                f"{setting}: {path} 里的 {kind}: 通知对象只能经 relay 发送 / "
                f"{kind}: targets need a relay"
            )
    for target in sorted(targets.all(), key=lambda t: (t.kind, t.address)):
        if not wired.get(target.kind):
            continue  # the relay's business
        if target.kind == "telegram" and not target.address.lstrip("-").isdigit():
            problems.append(
                f"{setting}: telegram:{target.address} 应为群组的数字 chat id / "
                "must be a numeric chat id"
            )
        if target.kind == "sms":
            try:
                e164(target.address)
            except ValueError:
                problems.append(f"{setting}: {target.label} 不是电话号码 / not a phone number")
    if problems:
        raise ConfigError(problems)
    if not targets.by_queue:
        log.warning(
            "no staff notification targets in %s: urgent referrals are queued and shown "
            "as not notified",
            path,
        )
    return targets


@dataclass
class Services:
    config: Config
    store: Store
    referrals: ReferralQueue
    router: Router
    metrics: Metrics
    inbox: Inbox
    delivery: Delivery
    web: WebChat
    sms: SmsChannel
    gateway: Gateway | None = None
    telegram: TelegramChannel | None = None

    @classmethod
    async def open(cls, config: Config, *, telegram_request: BaseRequest | None = None) -> Services:
        """Everything the configuration asks for; nothing connects or starts yet.
        `telegram_request` replaces PTB's HTTP client (tests: an offline double)."""
        targets = notify_targets(config)
        metrics = Metrics()
        store = open_store(config.redis_url or config.data_dir)
        if isinstance(store, EmbeddedStore):  # one process per data directory
            try:
                store.hold()
            except DirectoryInUse as exc:
                await store.close()
                raise ConfigError(
                    [
                        f"RESIDENTBOT_DATA_DIR: {exc.directory} 正由另一个进程"
                        f"（pid {exc.holder or '?'}）使用，一个数据目录只能运行一个 serve 或 "
                        "chat / in use by another process: one serve or chat per data "
                        "directory (several workers need REDIS_URL)"
                    ]
                ) from None
        delivery = Delivery()
        relay = HttpNotifier(targets.relay, token=config.notify_token) if targets.relay else None
        notifier = ChannelNotifier(delivery, relay)
        referrals = open_queue(config, store, metrics=metrics, targets=targets, notifier=notifier)
        sessions = Sessions(store, idle_timeout=config.idle_timeout)
        router = Router(
            store,
            referrals,
            {SCREENING: screening.FLOW, REFERRAL: referral.FLOW},
            sessions=sessions,
            rate_limit=RateLimit(config.rate_limit),
        )
        inbox = Inbox(router, metrics)
        https = bool(config.public_url and config.public_url.startswith("https://"))
        webchat = WebChat(inbox, store, https=https)
        gateway = open_gateway(config)
        if gateway is None:
            log.warning(
                "SMS_PROVIDER is not set: staff replies cannot reach residents on SMS, nor the "
                "callers of referrals that operators create; the console tells staff to phone"
            )
        sms_channel = SmsChannel(inbox, store, gateway)
        delivery.register("web", webchat.sender())
        if gateway is not None:
            delivery.register("sms", sms_channel.sender())
        telegram = None
        if config.telegram_bot_token:
            telegram = TelegramChannel(config, inbox, store, request=telegram_request)
            delivery.register("telegram", telegram.sender())
        return cls(
            config,
            store,
            referrals,
            router,
            metrics,
            inbox,
            delivery,
            webchat,
            sms_channel,
            gateway,
            telegram,
        )

    async def start(self) -> None:
        """Background work that needs the running server: queue workers, Telegram."""
        start = getattr(self.referrals, "start", None)
        if start is not None:
            await start()
        if self.telegram is not None:
            await self.telegram.start()

    async def close(self) -> None:
        if self.telegram is not None:
            await self.telegram.stop()
        if self.gateway is not None:
            await self.gateway.close()
        close = getattr(self.referrals, "close", None)
        if close is not None:
            await close()
        await self.store.close()


SERVICES = web.AppKey("services", Services)


async def healthz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    reachable = await services.store.ping()
    body = {"status": "ok" if reachable else "degraded", "store": reachable}
    return web.json_response(body, status=200 if reachable else 503)


async def metrics(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    body, content_type = services.metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": content_type})


@web.middleware
async def undecodable_bodies(request: web.Request, handler: Handler) -> web.StreamResponse:
    """400 for a body that cannot be read as it says: an unknown charset, a form that is
    not valid in its charset, a multipart body without its boundary. aiohttp raises
    UnicodeDecodeError, LookupError or ValueError from `post()` and `text()` on these,
    which would be a 500 in every route. The parsed form is kept for the route."""
    if request.match_info.http_exception is None:  # a route matched
        try:
            if request.charset:
                codecs.lookup(request.charset)
            if request.content_type in FORMS:
                await request.post()
        except (UnicodeDecodeError, LookupError, ValueError):
            return web.Response(status=400, text="malformed body")
    return await handler(request)


def make_app(services: Services) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[undecodable_bodies])
    app[SERVICES] = services
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_routes(services.web.routes())
    app.router.add_static("/chat/static/", STATIC_DIR)
    app.router.add_routes(sms_routes(services.sms, services.config))
    if services.telegram is not None and not services.telegram.polling:
        app.router.add_post("/telegram/webhook", services.telegram.webhook)
    setup_console(app, services)  # /console/ for township staff, /lookup for operators

    async def start_services(app: web.Application) -> None:
        await services.start()

    async def close_services(app: web.Application) -> None:
        await services.close()

    app.on_startup.append(start_services)
    app.on_cleanup.append(close_services)
    return app


def warm_up() -> None:
    """Build what the first message would otherwise wait for (the triage model trains in
    about a second), then exclude everything built so far from garbage collection: a
    full collection over the knowledge base, the models and the templates took 60-130 ms,
    which showed as the p99 of a loaded server (bench/load_bench.py)."""
    triage("你好")
    gc.freeze()


async def _serve(config: Config) -> None:
    services = await Services.open(config)
    app = make_app(services)
    warm_up()
    runner = web.AppRunner(app, access_log=None)  # an access log would hold chat ids
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
        log.info(
            "listening on http://%s:%s (store: %s; telegram: %s; sms out: %s)",
            config.host,
            config.port,
            "redis" if config.redis_url else f"embedded in {config.data_dir}",
            config.telegram_mode if config.telegram_bot_token else "off",
            config.sms_provider or "off",
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):  # stop cleanly: workers, Telegram, store
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("stopping")
    finally:
        await runner.cleanup()


def serve() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx (PTB's client) logs each request URL at INFO, and a Bot API URL holds the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    __import__("bot.logs").logs.setup_logging()  # personal data redacted; RESIDENTBOT_LOG_LEVEL
    try:
        config = Config.from_env()
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(config))
    except ConfigError as exc:
        sys.stderr.write(f"residentbot: {exc}\n")
        raise SystemExit(2) from None
    except OSError as exc:  # e.g. the port is taken
        sys.stderr.write(f"residentbot: 无法启动 / cannot start: {exc}\n")
        raise SystemExit(2) from None
    except StoreUnavailable as exc:  # Redis down or refusing us at start-up
        cause = type(exc.__cause__).__name__ if exc.__cause__ else ""
        sys.stderr.write(f"residentbot: 存储连不上 / the store is unavailable: {exc} {cause}\n")
        raise SystemExit(1) from None  # not 2: systemd starts it again until Redis is back
