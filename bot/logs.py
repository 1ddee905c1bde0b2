"""Logging for `residentbot serve` and `residentbot chat`: one format on stderr, and
personal data redacted from every record before any handler sees it (issue 7,
"Personal data … are redacted from logs").

The code logs no resident's words or numbers on purpose (bot/router.py, bot/store/,
integrations/sms/channel.py); this is the net under that rule, for an exception message
that quotes a value, a library's debug output, or a log line added later.

`setup_logging(level)` installs a LogRecord factory that redacts each record when it is
made (its message with the arguments filled in, its exception text and stack), so every
handler gets the redacted record, and one stderr handler whose formatter redacts the
finished line once more. The level is `level`, else `RESIDENTBOT_LOG_LEVEL`, else
`default`. Loggers whose chattier levels print whole messages or secrets are held back:
`telegram` (DEBUG prints every update and every sent text) at INFO at the least, `httpx`
and `httpcore` (INFO prints Bot API URLs, which hold the bot token) at WARNING.

What `redact(text)` replaces, after folding full-width characters and spoken digits
(一三八…, as residents type them on SMS: dialogues/answers.py `parse_mobile`):
- `[id-card]`: a resident ID number (GB 11643-1999): 17 digits and a check character,
  plain or grouped 6-8-4 / 6-4-4-4. A valid check character or not — a mistyped number is
  still somebody's — unless it is all digits, fails the ID check and passes Luhn: then
  `[bank-card]`.
- `[bank-card]`: 16–19 digits passing the Luhn check, plain, in groups of four or 6+rest.
- `[number]`: any other run of 15 or more digits (an old 15-digit ID number, a mistyped
  card) or card-shaped groups failing Luhn.
- `[mobile]`: a mainland mobile number, 1[3-9] and nine digits, with +86 / 0086 / 86 and
  spaces, dots or dashes between the 3-4-4 groups.
- `[phone]`: a landline with its area code written apart: 023-68881234, (023)68881234.
- `[chat-id]`: a Telegram user or chat id (5 digits or more, may be negative) after a key
  that names one: `chat_id=`, `user_id=`, `from_id=`, `sender_id=`, `id=`, `'id': `,
  `"chat_id":`, `telegram:` (a staff notification target).
- `[name]`: the value of `first_name`, `last_name`, `full_name` or `username`.
- `[bot-token]`: a Telegram bot token (`123456789:AA…`).
Shorter numbers stay: amounts, ages, dates, 8-digit referral references, 12345 and 110.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

LEVEL_VARIABLE = "RESIDENTBOT_LOG_LEVEL"
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
HELD_BACK = {"telegram": logging.INFO, "httpx": logging.WARNING, "httpcore": logging.WARNING}

# --- finding personal data -------------------------------------------------------------

# One character for one character, so that a match in the folded text is the same span
# of the original.
_FOLD = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},  # full-width digits
        **dict(zip("〇零一二三四五六七八九幺", "001234567891", strict=True)),
        "Ｘ": "X",
        "ｘ": "x",
        "＋": "+",
        "－": "-",
        "（": "(",
        "）": ")",
        "：": ":",
        "＝": "=",
        "\u3000": " ",
    }
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_card_valid(number: str) -> bool:
    """GB 11643-1999: the 18th character is `_ID_CHECK[sum(digit × weight) mod 11]`."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return number[17].upper() == _ID_CHECK[total % 11]


def luhn_valid(digits: str) -> bool:
    """ISO/IEC 7812: doubling every second digit from the right, the sum ends in 0."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _id_or_card(found: str) -> str:
    number = re.sub(r"[\s-]", "", found)
    if not id_card_valid(number) and number.isdigit() and luhn_valid(number):
        return "[bank-card]"
    return "[id-card]"


def _card(found: str) -> str:
    return "[bank-card]" if luhn_valid(re.sub(r"[\s-]", "", found)) else "[number]"


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    label: Callable[[str], str]  # the marker for the matched text (group `value` if any)


def _fixed(marker: str) -> Callable[[str], str]:
    return lambda _found: marker


_NO_DIGIT_BEFORE, _NO_DIGIT_AFTER = r"(?<!\d)", r"(?!\d)"
_KEY_VALUE = r"""['"]?\s*[:=]\s*['"]?"""

# Most specific first; a span one rule redacted is blank to the rules after it.
RULES = (
    Rule(re.compile(r"(?<!\d)(?P<value>\d{5,12}:[A-Za-z0-9_-]{30,})"), _fixed("[bot-token]")),
    Rule(
        re.compile(
            r"(?<![A-Za-z0-9_])(?:chat_id|user_id|from_id|sender_id|sender_chat_id|id|telegram)"
            + _KEY_VALUE
            + r"(?P<value>-?\d{5,})"
            + _NO_DIGIT_AFTER
        ),
        _fixed("[chat-id]"),
    ),
    Rule(
        re.compile(
            r"(?<![A-Za-z0-9_])(?:first_name|last_name|full_name|username)"
            + r"""(?:['"]?\s*[:=]\s*)(?P<value>'[^']*'|"[^"]*"|[^\s,;)}\]'"\x00]+)"""
        ),
        _fixed("[name]"),
    ),
    Rule(
        re.compile(
            _NO_DIGIT_BEFORE
            + r"\d{6}[ -]?(?:\d{8}|\d{4}[ -]?\d{4})[ -]?\d{3}[\dXx]"
            + _NO_DIGIT_AFTER
        ),
        _id_or_card,
    ),
    Rule(
        re.compile(
            _NO_DIGIT_BEFORE
            + r"(?:\d{16,19}|\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?|\d{6}[ -]\d{10,13})"
            + _NO_DIGIT_AFTER
        ),
        _card,
    ),
    Rule(re.compile(_NO_DIGIT_BEFORE + r"\d{15,}"), _fixed("[number]")),
    Rule(
        re.compile(
            _NO_DIGIT_BEFORE
            + r"(?:(?:\+|00)?86[\s-]?)?1[3-9]\d[\s.-]?\d{4}[\s.-]?\d{4}"
            + _NO_DIGIT_AFTER
        ),
        _fixed("[mobile]"),
    ),
    Rule(
        re.compile(_NO_DIGIT_BEFORE + r"(?:\(0\d{2,3}\)|0\d{2,3}-)\s?\d{7,8}" + _NO_DIGIT_AFTER),
        _fixed("[phone]"),
    ),
)
_WORTH_A_LOOK = re.compile(r"\d|name")
_BLANK = "\x00"  # what a redacted span reads as to the later rules: no digit, no letter


def redact(text: str) -> str:
    """`text` with every kind of personal data above replaced by its marker."""
    folded = text.translate(_FOLD)
    if not _WORTH_A_LOOK.search(folded):
        return text
    spans: list[tuple[int, int, str]] = []
    for rule in RULES:
        group = "value" if "value" in rule.pattern.groupindex else 0

        def mark(match: re.Match[str], rule: Rule = rule, group: int | str = group) -> str:
            """Note the span; blank it out so that no later rule finds digits in it."""
            start, end = match.span(group)
            spans.append((start, end, rule.label(match.group(group))))
            whole, offset = match.group(0), match.start()
            return whole[: start - offset] + _BLANK * (end - start) + whole[end - offset :]

        folded = rule.pattern.sub(mark, folded)
    if not spans:
        return text
    out, position = [], 0
    for start, end, marker in sorted(spans):
        if start < position:  # inside the previous marker's span (a quoted name, say)
            position = max(position, end)
            continue
        out += [text[position:start], marker]
        position = end
    out.append(text[position:])
    return "".join(out)


# --- records -------------------------------------------------------------------------


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its message (arguments filled in), exception text and stack
    redacted in place. Idempotent: markers hold no digits."""
    try:
        message = record.getMessage()
    except Exception:  # arguments that do not fit the format: keep what can be shown
        message = f"{record.msg!s} {record.args!r}"
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


class RedactingFormatter(logging.Formatter):
    """Redacts the finished line: whatever reached the record after it was made too."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _RedactingFactory:
    """A LogRecord factory around the previous one (logging.setLogRecordFactory)."""

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(self.inner(*args, **kwargs))


def install_redaction() -> None:
    """Redact every record made in this process from now on (once, however often called)."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(factory))


def uninstall_redaction() -> None:
    """Back to the factory before `install_redaction` (tests)."""
    factory = logging.getLogRecordFactory()
    if isinstance(factory, _RedactingFactory):
        logging.setLogRecordFactory(factory.inner)


def level_of(name: str | int | None, default: str = "INFO") -> tuple[int, str | None]:
    """The numeric level, and a problem to report when the name is not a level."""
    if isinstance(name, int):
        return name, None
    text = (name or "").strip().upper() or default.upper()
    value = logging.getLevelName(text)
    if isinstance(value, int):
        return value, None
    fallback = logging.getLevelName(default.upper())
    return int(fallback), f"{LEVEL_VARIABLE}={name!r} is not a log level; using {default}"


def setup_logging(
    level: str | int | None = None, *, default: str = "INFO", stream: TextIO | None = None
) -> None:
    """Redaction on, one handler on stderr (replacing the root's), and the level: `level`,
    else `RESIDENTBOT_LOG_LEVEL`, else `default`."""
    install_redaction()
    chosen, problem = level_of(
        level if level is not None else os.environ.get(LEVEL_VARIABLE), default
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(FORMAT))
    logging.basicConfig(level=chosen, handlers=[handler], force=True)
    for name, floor in HELD_BACK.items():
        logging.getLogger(name).setLevel(max(chosen, floor))
    if problem:
        logging.getLogger(__name__).warning("%s", problem)
