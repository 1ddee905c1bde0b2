"""Typed configuration from the environment, checked once at start-up (the starlette habit).

Every problem is collected, so one start names all the settings to fix. Secrets come
only from the environment; `describe()` shows the configuration with secrets hidden.
The variables are listed in `.env.example` and CONTRACTS.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

SECRETS = frozenset(
    {
        "telegram_bot_token",
        "telegram_webhook_secret",
        "twilio_auth_token",
        "sms_webhook_token",
        "sms_gateway_token",
        "twilio_account_sid",
        "notify_token",
    }
)
SMS_PROVIDERS = ("twilio", "aliyun", "tencent", "http")
TELEGRAM_MODES = ("webhook", "polling")
TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as secret_token
HTTP_URL = re.compile(r"https?://[^\s/]+")
MIN_SECRET = 16  # a shorter SMS_WEBHOOK_TOKEN is too easy to guess


class ConfigError(Exception):
    """One line per problem, each naming the variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("配置有误 / configuration problems:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("var")
    redis_url: str | None = None
    public_url: str | None = None  # the service's public base URL (behind a reverse proxy)
    # Telegram
    telegram_bot_token: str | None = None
    telegram_api_base_url: str | None = None
    telegram_mode: str = "webhook"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    # SMS
    sms_provider: str | None = None  # the outbound gateway for replies not sent in-band
    twilio_auth_token: str | None = None
    twilio_account_sid: str | None = None
    twilio_from: str | None = None
    sms_webhook_token: str | None = None
    sms_gateway_url: str | None = None  # the generic JSON HTTP gateway (SMS_PROVIDER=http)
    sms_gateway_token: str | None = None
    twilio_api_base_url: str = "https://api.twilio.com"  # another Twilio-compatible API
    sms_gateway_timeout: float = 10.0  # seconds per attempt of an outbound SMS
    # Conversations and referrals
    idle_timeout: float = 24 * 3600.0
    deadlines: Mapping[str, float] = field(
        default_factory=lambda: {"emergency": 30 * 60.0, "urgent": 4 * 3600.0, "normal": 0.0}
    )  # normal: 0 = two working days, counted by the queue
    purge_days: int = 180  # referral personal data is removed after this many days
    rate_limit: int = 30  # messages per sender per minute
    # Staff notifications: who is told of urgent referrals (integrations/window/notify.py)
    notify_file: Path | None = None  # default: <data dir>/notify.yaml
    notify_token: str | None = None  # Bearer token for the file's `relay:`, when it asks one

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        problems: list[str] = []

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def number(name: str, default: float, minimum: float = 0) -> float:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                problems.append(f"{name}: 应为数字 / must be a number (got {raw!r})")
                return default
            if value < minimum:
                problems.append(f"{name}: 不能小于{minimum:g} / must be >= {minimum:g}")
            return value

        def choice(name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
            raw = text(name)
            if raw is None:
                return default
            if raw.lower() not in allowed:
                problems.append(f"{name}: 应为 {' / '.join(allowed)} / must be one of them")
                return default
            return raw.lower()

        port = number("RESIDENTBOT_PORT", 8080, 1)
        if not float(port).is_integer() or port > 65535:
            problems.append("RESIDENTBOT_PORT: 端口应为1到65535的整数 / must be a port number")
        notify_file = text("RESIDENTBOT_NOTIFY_FILE")
        config = cls(
            host=text("RESIDENTBOT_HOST") or "127.0.0.1",
            port=int(port),
            data_dir=Path(text("RESIDENTBOT_DATA_DIR") or "var"),
            redis_url=text("REDIS_URL"),
            public_url=text("RESIDENTBOT_PUBLIC_URL"),
            telegram_bot_token=text("TELEGRAM_BOT_TOKEN"),
            telegram_api_base_url=text("TELEGRAM_API_BASE_URL"),
            telegram_mode=choice("TELEGRAM_MODE", TELEGRAM_MODES, "webhook") or "webhook",
            telegram_webhook_url=text("TELEGRAM_WEBHOOK_URL"),
            telegram_webhook_secret=text("TELEGRAM_WEBHOOK_SECRET"),
            sms_provider=choice("SMS_PROVIDER", SMS_PROVIDERS, None),
            twilio_auth_token=text("TWILIO_AUTH_TOKEN"),
            twilio_account_sid=text("TWILIO_ACCOUNT_SID"),
            twilio_from=text("TWILIO_FROM"),
            sms_webhook_token=text("SMS_WEBHOOK_TOKEN"),
            sms_gateway_url=text("SMS_GATEWAY_URL"),
            sms_gateway_token=text("SMS_GATEWAY_TOKEN"),
            twilio_api_base_url=text("TWILIO_API_BASE_URL") or "https://api.twilio.com",
            sms_gateway_timeout=number("SMS_GATEWAY_TIMEOUT", 10.0, 1),
            idle_timeout=number("RESIDENTBOT_IDLE_TIMEOUT", 24 * 3600.0, 60),
            deadlines={
                "emergency": number("RESIDENTBOT_DEADLINE_EMERGENCY", 30 * 60.0, 60),
                "urgent": number("RESIDENTBOT_DEADLINE_URGENT", 4 * 3600.0, 60),
                "normal": number("RESIDENTBOT_DEADLINE_NORMAL", 0.0, 0),
            },
            purge_days=int(number("RESIDENTBOT_PURGE_DAYS", 180, 1)),
            rate_limit=int(number("RESIDENTBOT_RATE_LIMIT", 30, 1)),
            notify_file=Path(notify_file) if notify_file else None,
            notify_token=text("RESIDENTBOT_NOTIFY_TOKEN"),
        )
        problems += config.contradictions(env)
        if problems:
            raise ConfigError(problems)
        return config

    def contradictions(self, env: Mapping[str, str]) -> list[str]:
        """Settings that are needed by another one, or that cannot go together."""
        problems = []
        telegram_set = [n for n in env if n.startswith("TELEGRAM_") and env[n].strip()]
        if telegram_set and not self.telegram_bot_token:
            problems.append(
                f"TELEGRAM_BOT_TOKEN: {', '.join(sorted(telegram_set))} 已设置但缺少令牌 / "
                "missing while other TELEGRAM_ settings are set"
            )
        webhook = self.telegram_bot_token and self.telegram_mode == "webhook"
        if webhook and not self.telegram_webhook_secret:
            problems.append(
                "TELEGRAM_WEBHOOK_SECRET: webhook 模式必须设置 / required in webhook mode"
            )
        if self.telegram_mode == "polling" and self.telegram_webhook_url:
            problems.append(
                "TELEGRAM_WEBHOOK_URL: 与 TELEGRAM_MODE=polling 矛盾 / contradicts polling mode"
            )
        if self.sms_provider == "twilio":
            for name, value in (
                ("TWILIO_ACCOUNT_SID", self.twilio_account_sid),
                ("TWILIO_AUTH_TOKEN", self.twilio_auth_token),
                ("TWILIO_FROM", self.twilio_from),
            ):
                if not value:
                    problems.append(f"{name}: SMS_PROVIDER=twilio 需要它 / required by twilio")
        if self.sms_provider in ("http", "aliyun", "tencent") and not self.sms_gateway_url:
            problems.append(
                f"SMS_GATEWAY_URL: SMS_PROVIDER={self.sms_provider} 需要网关地址 / required"
            )
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            problems.append("REDIS_URL: 应以 redis:// 开头 / must start with redis://")
        if self.sms_webhook_token and not self.sms_provider:
            problems.append(
                "SMS_PROVIDER: SMS_WEBHOOK_TOKEN 开启了阿里云/腾讯云上行短信，回复需要发送网关 / "
                "required to send the replies to /sms/aliyun and /sms/tencent"
            )
        if self.sms_webhook_token and len(self.sms_webhook_token) < MIN_SECRET:
            problems.append(
                f"SMS_WEBHOOK_TOKEN: 至少{MIN_SECRET}个字符 / at least {MIN_SECRET} characters"
            )
        secret = self.telegram_webhook_secret
        if secret and not TELEGRAM_SECRET.fullmatch(secret):
            problems.append(
                "TELEGRAM_WEBHOOK_SECRET: 只能用字母、数字、_ 和 -，1到256个字符 / "
                "1-256 characters A-Z a-z 0-9 _ -"
            )
        for name, value in (
            ("RESIDENTBOT_PUBLIC_URL", self.public_url),
            ("TELEGRAM_API_BASE_URL", self.telegram_api_base_url),
            ("TELEGRAM_WEBHOOK_URL", self.telegram_webhook_url),
            ("SMS_GATEWAY_URL", self.sms_gateway_url),
            ("TWILIO_API_BASE_URL", self.twilio_api_base_url),
        ):
            if value and not HTTP_URL.match(value):
                problems.append(f"{name}: 应以 http:// 或 https:// 开头 / must be an http(s) URL")
        return problems

    @property
    def notify_path(self) -> Path:
        """The staff notification targets: RESIDENTBOT_NOTIFY_FILE, else in the data dir."""
        return self.notify_file or Path(self.data_dir) / "notify.yaml"

    def describe(self) -> dict[str, Any]:
        """The configuration for logs: secrets shown only as set or not."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRETS:
                value = "(set)" if value else None
            elif f.name == "redis_url" and value:
                value = value.split("@")[-1]  # drop a password
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out
