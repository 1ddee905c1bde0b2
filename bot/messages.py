"""Channel-neutral messages: what comes in from any channel and what goes back.

An `Inbound` remembers its channel and sender so the reply finds its way back
(the opsdroid habit); a `Reply` is rendered text plus the numbered choices a channel
may show as buttons (typing the digit always works too). In a multi-select the buttons
pick several choices, sent together as typed ("1 4"); its `alone` choice (都没有) is an
answer on its own.
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
    multi: bool = False  # the choices combine: "1 4"
    alone: int = 0  # in a multi-select, the number of the choice that does not combine

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text, "choices": list(self.choices)}
        if self.multi:  # only then: most replies are stored as they always were
            data.update(multi=True, alone=self.alone)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        return cls(
            str(data["text"]),
            tuple(str(c) for c in data.get("choices", ())),
            bool(data.get("multi", False)),
            int(data.get("alone", 0)),
        )


@dataclass(frozen=True)
class Handled:
    """What the router did with one delivery."""

    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False  # already handled: `replies` are the first time's, re-sent as is
    limited: bool = False  # over the sender's rate limit: only the polite reply
