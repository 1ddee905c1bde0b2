"""Outbound SMS: one small contract (`Gateway.send(to, text)`) and two clients.

- `TwilioGateway`: Twilio's REST API, `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`
  with basic auth (account SID, auth token) and a form body `To`, `From`, `Body`
  (twilio.com/docs/messaging/api/message-resource#create-a-message-resource). The base
  URL is configurable (`TWILIO_API_BASE_URL`) for Twilio-compatible providers and tests.
- `HttpGateway`: a generic JSON HTTP gateway (`SMS_GATEWAY_URL`), e.g. a relay in front
  of Aliyun or Tencent Cloud SMS, whose own APIs only send pre-approved templates with
  short variables (../shared/reference/channels.md). Body `{"to", "text", "provider"}`,
  `Authorization: Bearer SMS_GATEWAY_TOKEN` when set, and an `Idempotency-Key` that
  stays the same across retries of one message so the relay can drop repeats.

Each attempt has a timeout; a timeout, a connection error, 429 or 5xx is retried with
exponential backoff; any other answer is final. Nothing logs numbers or text.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from bot.config import Config

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class GatewayError(Exception):
    """The gateway did not accept the message (after retries when retrying made sense)."""


class Gateway(Protocol):
    async def send(self, to: str, text: str) -> None:
        """Send one SMS (one part); raise GatewayError if it was not accepted."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Retry:
    attempts: int = 3
    backoff: float = 0.5  # seconds before the 2nd attempt; doubles each time
    timeout: float = 10.0  # seconds per attempt


class _HttpClient:
    """The shared part: one aiohttp session, made on first use, and the retry loop."""

    name = "sms"

    def __init__(self, retry: Retry) -> None:
        self.retry = retry
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.retry.timeout)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _post(self, url: str, **kwargs: Any) -> None:
        delay = self.retry.backoff
        problem = ""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                async with self.session().post(url, **kwargs) as response:
                    await response.read()
                    if response.status < 300:
                        return
                    problem = f"HTTP {response.status}"
                    if response.status not in RETRY_STATUSES:
                        break
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = type(exc).__name__
            log.warning("%s gateway attempt %d failed: %s", self.name, attempt, problem)
            if attempt < self.retry.attempts:
                await asyncio.sleep(delay)
                delay *= 2
        raise GatewayError(f"{self.name} gateway: {problem}")


class TwilioGateway(_HttpClient):
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_: str,
        base_url: str = "https://api.twilio.com",
        retry: Retry | None = None,
    ) -> None:
        super().__init__(retry or Retry())
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.headers = {"Authorization": aiohttp.encode_basic_auth(account_sid, auth_token)}
        self.from_ = from_

    async def send(self, to: str, text: str) -> None:
        form = {"To": to, "From": self.from_, "Body": text}
        await self._post(self.url, data=form, headers=self.headers)


class HttpGateway(_HttpClient):
    name = "http"

    def __init__(
        self,
        url: str,
        token: str | None = None,
        provider: str = "http",
        retry: Retry | None = None,
    ) -> None:
        super().__init__(retry or Retry())
        self.url = url
        self.token = token
        self.provider = provider

    async def send(self, to: str, text: str) -> None:
        headers: Mapping[str, str] = {"Idempotency-Key": uuid.uuid4().hex}
        if self.token:
            headers = {**headers, "Authorization": f"Bearer {self.token}"}
        body = {"to": to, "text": text, "provider": self.provider}
        await self._post(self.url, json=body, headers=headers)


def open_gateway(config: Config) -> Gateway | None:
    """The gateway `SMS_PROVIDER` names, or None (then SMS can only be answered in-band,
    on /sms/twilio). Config has already checked that what it needs is set."""
    retry = Retry(timeout=config.sms_gateway_timeout)
    if config.sms_provider == "twilio":
        assert config.twilio_account_sid
        assert config.twilio_auth_token
        assert config.twilio_from
        return TwilioGateway(
            config.twilio_account_sid,
            config.twilio_auth_token,
            config.twilio_from,
            base_url=config.twilio_api_base_url,
            retry=retry,
        )
    if config.sms_provider in ("http", "aliyun", "tencent"):
        assert config.sms_gateway_url
        return HttpGateway(
            config.sms_gateway_url, config.sms_gateway_token, config.sms_provider, retry=retry
        )
    return None
