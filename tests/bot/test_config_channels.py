"""Configuration for the channels (bot/config.py): missing or contradictory settings stop
start-up with a message naming every variable to fix."""

from __future__ import annotations

import pytest

from bot.config import Config, ConfigError

SECRET = "s3cret-token-of-24-chars"


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        Config.from_env(env)
    return caught.value.problems


def named(env: dict[str, str]) -> set[str]:
    return {p.split(":")[0] for p in problems(env)}


def test_no_configuration_is_a_valid_one() -> None:
    config = Config.from_env({})
    assert (config.host, config.port, config.redis_url) == ("127.0.0.1", 8080, None)
    assert config.telegram_bot_token is None
    assert config.sms_provider is None


def test_telegram_webhook_needs_its_secret() -> None:
    assert named({"TELEGRAM_BOT_TOKEN": "1:abc"}) == {"TELEGRAM_WEBHOOK_SECRET"}
    ok = Config.from_env({"TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_MODE": "polling"})
    assert ok.telegram_mode == "polling"


def test_telegram_settings_without_a_token_are_named() -> None:
    found = problems(
        {"TELEGRAM_MODE": "polling", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot"}
    )
    assert len(found) == 1
    assert found[0].startswith("TELEGRAM_BOT_TOKEN:")
    assert "TELEGRAM_API_BASE_URL" in found[0]
    assert "TELEGRAM_MODE" in found[0]


def test_polling_contradicts_a_webhook_url() -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": "1:abc",
        "TELEGRAM_MODE": "polling",
        "TELEGRAM_WEBHOOK_URL": "https://bot.example.gov.cn/telegram/webhook",
    }
    assert named(env) == {"TELEGRAM_WEBHOOK_URL"}


def test_a_telegram_secret_must_be_one_telegram_accepts() -> None:
    env = {"TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_WEBHOOK_SECRET": "has spaces!"}
    assert named(env) == {"TELEGRAM_WEBHOOK_SECRET"}


def test_twilio_outbound_names_each_missing_setting() -> None:
    assert named({"SMS_PROVIDER": "twilio"}) == {
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_FROM",
    }


def test_relay_providers_need_the_gateway_url() -> None:
    for provider in ("http", "aliyun", "tencent"):
        assert named({"SMS_PROVIDER": provider}) == {"SMS_GATEWAY_URL"}


def test_aliyun_and_tencent_webhooks_need_an_outbound_gateway_and_a_long_token() -> None:
    assert named({"SMS_WEBHOOK_TOKEN": SECRET}) == {"SMS_PROVIDER"}
    env = {
        "SMS_WEBHOOK_TOKEN": "short",
        "SMS_PROVIDER": "http",
        "SMS_GATEWAY_URL": "http://127.0.0.1:9/sms",
    }
    assert named(env) == {"SMS_WEBHOOK_TOKEN"}


def test_urls_must_be_http() -> None:
    env = {
        "RESIDENTBOT_PUBLIC_URL": "bot.example.gov.cn",
        "SMS_PROVIDER": "http",
        "SMS_GATEWAY_URL": "ftp://relay",
        "TWILIO_API_BASE_URL": "api.twilio.com",
    }
    assert named(env) == {"RESIDENTBOT_PUBLIC_URL", "SMS_GATEWAY_URL", "TWILIO_API_BASE_URL"}


def test_all_problems_are_reported_at_once_in_both_languages() -> None:
    env = {
        "RESIDENTBOT_PORT": "eighty",
        "SMS_PROVIDER": "pigeon",
        "REDIS_URL": "localhost:6379",
        "SMS_GATEWAY_TIMEOUT": "0",
    }
    with pytest.raises(ConfigError) as caught:
        Config.from_env(env)
    message = str(caught.value)
    for name in ("RESIDENTBOT_PORT", "SMS_PROVIDER", "REDIS_URL", "SMS_GATEWAY_TIMEOUT"):
        assert name in message
    assert message.startswith("配置有误 / configuration problems:")


def test_a_full_channel_configuration() -> None:
    config = Config.from_env(
        {
            "TELEGRAM_BOT_TOKEN": "1:abc",
            "TELEGRAM_WEBHOOK_SECRET": "abc_DEF-123",
            "TELEGRAM_WEBHOOK_URL": "https://bot.example.gov.cn/telegram/webhook",
            "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9000/bot",
            "SMS_PROVIDER": "twilio",
            "TWILIO_ACCOUNT_SID": "AC1",
            "TWILIO_AUTH_TOKEN": "tok",
            "TWILIO_FROM": "+15005550006",
            "TWILIO_API_BASE_URL": "http://127.0.0.1:9001",
            "SMS_WEBHOOK_TOKEN": SECRET,
            "SMS_GATEWAY_TIMEOUT": "3",
            "RESIDENTBOT_PUBLIC_URL": "https://bot.example.gov.cn",
        }
    )
    assert config.twilio_api_base_url == "http://127.0.0.1:9001"
    assert config.sms_gateway_timeout == 3.0
    hidden = config.describe()
    assert hidden["sms_webhook_token"] == "(set)"
    assert hidden["telegram_bot_token"] == "(set)"
    assert SECRET not in str(hidden)


def test_staff_notifications_are_read_from_the_named_file_with_the_relay_token_hidden() -> None:
    default = Config.from_env({"RESIDENTBOT_DATA_DIR": "/srv/bot"})
    assert str(default.notify_path) == "/srv/bot/notify.yaml"
    config = Config.from_env(
        {
            "RESIDENTBOT_NOTIFY_FILE": "/etc/residentbot/notify.yaml",
            "RESIDENTBOT_NOTIFY_TOKEN": SECRET,
        }
    )
    assert str(config.notify_path) == "/etc/residentbot/notify.yaml"
    assert config.notify_token == SECRET
    assert config.describe()["notify_token"] == "(set)"
    assert SECRET not in str(config.describe())
