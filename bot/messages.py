"""Channel-neutral messages: what comes in from any channel and what goes back.

An `Inbound` remembers its channel and sender so the reply finds its way back
(the opsdroid habit); a `Reply` is rendered text plus the numbered choices a channel
may show as buttons (typing the digit always works too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CHANNELS = ("sms", "telegram", "web", "terminal")
MAX_TEXT = 2000  # longer messages are cut before processing (a resident never needs more)


@dataclass(frozen=True)
class Inbound:
    channel: str  # one of CHANNELS
    sender: str  # the channel's address: a mobile number, a chat id, a browser session
    text: str
    delivery_id: str | None = None  # the gateway's id of this delivery, for de-duplication

    @property
    def key(self) -> str:
        """The resident's identity across the service: `<channel>:<sender>`."""
        return f"{self.channel}:{self.sender}"

    @property
    def body(self) -> str:
        return self.text[:MAX_TEXT]


@dataclass(frozen=True)
class Reply:
    text: str
    choices: tuple[str, ...] = ()  # labels, in the order of their numbers 1, 2, 3…

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "choices": list(self.choices)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        return cls(str(data["text"]), tuple(str(c) for c in data.get("choices", ())))


@dataclass(frozen=True)
class Handled:
    """What the router did with one delivery."""

    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False  # already handled: `replies` are the first time's, re-sent as is
    limited: bool = False  # over the sender's rate limit: only the polite reply
