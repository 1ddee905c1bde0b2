"""bot/logs.py: personal data never reaches a log line, whatever its format; the rest
of a line is left as it was."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import logs
from bot.logs import id_card_valid, luhn_valid, redact, setup_logging

# The example of GB 11643-1999 itself, and another widely published valid number.
VALID_IDS = ["11010519491231002X", "440524188001010014"]
# Card numbers published as test cards (Stripe's UnionPay ones; Visa; Mastercard).
VALID_CARDS = [
    "6200000000000005",
    "6200000000000047",
    "6205500000000000004",
    "4111111111111111",
    "5500000000000004",
]

# Text that cannot run into a number: no digit, no numeral character a fold turns into one.
NUMERALS = set("〇零一二三四五六七八九幺") | {chr(0xFF10 + i) for i in range(10)}
SURROUNDINGS = st.text(
    alphabet=st.characters(
        blacklist_categories=("Nd", "Cs"), blacklist_characters="".join(NUMERALS)
    ),
    max_size=12,
)


def id_check(first17: str) -> str:
    """GB 11643-1999 written as the standard states it, independently of bot/logs.py:
    weight W_i = 2^(i-1) mod 11 counted from the right (i = 2..18), check
    a_1 = (12 - sum mod 11) mod 11, 10 written X."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


def digits_left(text: str) -> str:
    return "".join(re.findall(r"\d", text))


@pytest.mark.parametrize(
    ("text", "marker"),
    [
        # ID cards: plain, lower-case x, grouped, full-width, inside Chinese text
        ("身份证号11010519491231002X，请核实", "[id-card]"),
        ("身份证号11010519491231002x", "[id-card]"),
        ("440524188001010014", "[id-card]"),
        ("110105 19491231 002X", "[id-card]"),
        ("110105-1949-1231-002X", "[id-card]"),
        ("１１０１０５１９４９１２３１００２Ｘ", "[id-card]"),
        ("ID11010519491231002Xend", "[id-card]"),
        ("110105194912310021", "[id-card]"),  # a wrong check digit: still redacted
        # mobiles: plain, +86/86/0086, spaces, dashes, dots, full-width, spoken digits
        ("我的电话13812345678", "[mobile]"),
        ("+8613812345678", "[mobile]"),
        ("+86 138 1234 5678", "[mobile]"),
        ("86-138-1234-5678", "[mobile]"),
        ("008613812345678", "[number]"),  # 15 digits in a row: redacted all the same
        ("138.1234.5678", "[mobile]"),
        ("电话：１３９１２３４５６７８", "[mobile]"),
        ("一三八一二三四五六七八", "[mobile]"),
        ("幺五九零零零零一二三四", "[mobile]"),
        ("tel:19912345678;", "[mobile]"),
        # landlines with their area code
        ("座机023-68881234", "[phone]"),
        ("(023)68881234", "[phone]"),
        ("（023）68881234", "[phone]"),
        # bank cards: plain, grouped by four, 6+13
        ("卡号6200000000000005", "[bank-card]"),
        ("6205 5000 0000 0000 004", "[bank-card]"),
        ("4111-1111-1111-1111", "[bank-card]"),
        ("620550 0000000000004", "[bank-card]"),
        ("5500000000000004.", "[bank-card]"),
        # long runs that are not valid cards
        ("1234567890123456", "[number]"),
        ("1234 5678 9012 3456", "[number]"),
        ("110105490101002", "[number]"),  # a first-generation 15-digit ID
        # Telegram identities where a key names them
        ("chat_id=123456789", "[chat-id]"),
        ("{'chat_id': -1001234567890, 'text': 'x'}", "[chat-id]"),
        ('{"chat": {"id": 987654321, "type": "private"}}', "[chat-id]"),
        ("Chat(id=987654321, type=<ChatType.PRIVATE>)", "[chat-id]"),
        ("notification to telegram:-1001234567890 failed", "[chat-id]"),
        ("user_id = 55512345", "[chat-id]"),
        ("from_id:12345", "[chat-id]"),
        # a bot token, inside a Bot API URL
        (
            "https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe",
            "[bot-token]",
        ),
    ],
)
def test_each_format_is_redacted(text: str, marker: str) -> None:
    out = redact(text)
    assert marker in out, out
    # nothing of the number is left: at most a digit or two of the words around it
    assert len(digits_left(out)) <= 2, out


@pytest.mark.parametrize(
    "text",
    [
        "用户名 username='张三' first_name=李四, last_name: \"王\"",
        "User(first_name='张三', id=987654321, is_bot=False, username='zhang_san')",
    ],
)
def test_names_under_telegram_keys_are_redacted(text: str) -> None:
    out = redact(text)
    for name in ("张三", "李四", "王", "zhang_san"):
        assert name not in out.replace("用户名", ""), out
    assert "[name]" in out


@pytest.mark.parametrize(
    "text",
    [
        "referral 12345678 queued in 奉节县/永安街道 (urgent)",  # 8-digit references
        "请拨打12345或110、120、12356",
        "月收入3000元，存款50000元，67岁，2025-08-01 10:30:00",
        "update_id=123456789 message_id=42",  # not a person's id
        "port 8080, pid 123456, took 0.0123 s",
        "12345678901",  # 11 digits but not a mobile (no 1[3-9])
        "138123456789",  # 12 digits: not a mobile
        "1381234567",  # 10 digits: not a mobile
        "stream entry 1718000000123-0",
        "没有数字的一句话：低保、特困、临时救助",
        "一二三四五",
    ],
)
def test_other_numbers_and_text_are_left_alone(text: str) -> None:
    assert redact(text) == text


def test_the_rest_of_the_line_is_kept_exactly() -> None:
    line = "居民 13812345678 留了身份证 11010519491231002X 和卡 6200000000000005，编号 12345678"
    assert redact(line) == "居民 [mobile] 留了身份证 [id-card] 和卡 [bank-card]，编号 12345678"


def test_the_check_character_and_luhn() -> None:
    for number in VALID_IDS:
        assert id_card_valid(number)
        assert id_check(number[:17]) == number[17].upper()
    assert not id_card_valid("11010519491231002Y")
    assert not id_card_valid("110105194912310021")
    assert not id_card_valid("1101051949123100")
    for card in VALID_CARDS:
        assert luhn_valid(card), card
        assert not luhn_valid(card[:-1] + str((int(card[-1]) + 1) % 10))
    # an all-digit 18-character number that fails the ID check but passes Luhn is a card
    card18 = "620000000000000005"  # Luhn by hand: 5 + 2 + (6×2 → 1+2) = 10
    assert luhn_valid(card18)
    assert not id_card_valid(card18)
    assert redact(card18) == "[bank-card]"


@given(
    st.text(alphabet="0123456789", min_size=17, max_size=17),
    SURROUNDINGS,
    SURROUNDINGS,
)
def test_a_valid_id_number_never_survives(first17: str, before: str, after: str) -> None:
    number = first17 + id_check(first17)
    assert id_card_valid(number)
    out = redact(before + number + after)
    assert number[:17] not in out
    assert digits_left(out) == digits_left(before + after)


@given(
    st.sampled_from("3456789"),
    st.text(alphabet="0123456789", min_size=9, max_size=9),
    st.sampled_from(["", "+86", "86", "0086", "+86 ", "86-"]),
    st.sampled_from(["", " ", "-", "."]),
    SURROUNDINGS,
    SURROUNDINGS,
)
def test_a_mobile_number_never_survives(
    second: str, rest: str, prefix: str, sep: str, before: str, after: str
) -> None:
    number = "1" + second + rest
    written = prefix + number[:3] + sep + number[3:7] + sep + number[7:]
    out = redact(before + written + after)
    assert number not in out
    assert number[3:] not in out.replace(sep, "")
    assert digits_left(out) == digits_left(before + after)


@given(st.text(alphabet="0123456789", min_size=15, max_size=40), SURROUNDINGS, SURROUNDINGS)
def test_no_run_of_fifteen_digits_survives(run: str, before: str, after: str) -> None:
    out = redact(before + run + after)
    assert digits_left(out) == digits_left(before + after)


@pytest.mark.parametrize("card", VALID_CARDS)
def test_cards_grouped_by_four_never_survive(card: str) -> None:
    grouped = " ".join(card[i : i + 4] for i in range(0, len(card), 4))
    out = redact(f"卡号：{grouped}。")
    assert out == "卡号：[bank-card]。"


# --- records and the logging set-up ------------------------------------------------------


@pytest.fixture
def clean_logging() -> Iterator[None]:
    """The process's logging as it was (pytest's handlers, levels, the record factory)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    factory = logging.getLogRecordFactory()
    held = {name: logging.getLogger(name).level for name in logs.HELD_BACK}
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)
        logging.setLogRecordFactory(factory)
        for name, value in held.items():
            logging.getLogger(name).setLevel(value)


class Keep(logging.Handler):
    """Keeps the records it is given, formatted plainly and as records."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(message)s"))
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def kept(clean_logging: None) -> Iterator[tuple[logging.Logger, Keep]]:
    logger = logging.getLogger("tests.logs.redaction")
    logger.setLevel(logging.DEBUG)
    handler = Keep()
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield logger, handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_every_handler_gets_the_record_redacted(kept: tuple[logging.Logger, Keep]) -> None:
    logger, handler = kept
    logs.install_redaction()
    logger.info("resident %s wrote from %s", "11010519491231002X", "+86 138 1234 5678")
    logger.warning("%(who)s: card %(card)s", {"who": "居民", "card": "6200000000000005"})
    logger.debug("chat_id=%d", 987654321)
    assert handler.lines == [
        "resident [id-card] wrote from [mobile]",
        "居民: card [bank-card]",
        "chat_id=[chat-id]",
    ]
    first = handler.records[0]
    assert first.args is None
    assert first.getMessage() == handler.lines[0]


def test_exception_text_is_redacted(kept: tuple[logging.Logger, Keep]) -> None:
    logger, handler = kept
    logs.install_redaction()
    try:
        raise ValueError("cannot parse 13912345678 or 6205500000000000004")
    except ValueError:
        logger.exception("step failed")
    text = "\n".join(handler.lines)
    assert "Traceback" in text
    assert "ValueError: cannot parse [mobile] or [bank-card]" in text
    assert "13912345678" not in text
    assert "6205500000000000004" not in text


def test_the_stack_is_redacted(kept: tuple[logging.Logger, Keep]) -> None:
    logger, handler = kept
    logs.install_redaction()
    logger.info("here", stack_info=True)  # card 6200000000000047: this line is in the stack
    assert "Stack (most recent call last)" in handler.lines[0]
    assert "6200000000000047" not in handler.lines[0]
    assert "# card [bank-card]: this line is in the stack" in handler.lines[0]


def test_installing_twice_wraps_once_and_uninstalling_restores(clean_logging: None) -> None:
    before = logging.getLogRecordFactory()
    logs.install_redaction()
    once = logging.getLogRecordFactory()
    logs.install_redaction()
    assert logging.getLogRecordFactory() is once
    logs.uninstall_redaction()
    assert logging.getLogRecordFactory() is before


def test_setup_logging_writes_redacted_lines_at_the_level_asked(clean_logging: None) -> None:
    out = io.StringIO()
    setup_logging("DEBUG", stream=out)
    logging.getLogger("residentbot.test").debug("contact %s", "13800138000")
    logging.getLogger("residentbot.test").info("a line with an extra", extra={"x": 1})
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"\S+ \S+ DEBUG residentbot\.test contact \[mobile\]", lines[0])
    assert lines[1].endswith("INFO residentbot.test a line with an extra")


def test_the_formatter_redacts_what_the_factory_could_not_see(clean_logging: None) -> None:
    out = io.StringIO()
    setup_logging("INFO", stream=out)
    root_handler = logging.getLogger().handlers[0]
    assert isinstance(root_handler.formatter, logs.RedactingFormatter)
    root_handler.setFormatter(logs.RedactingFormatter("%(message)s %(phone)s"))
    logging.getLogger("residentbot.test").info("extra", extra={"phone": "13800138000"})
    assert out.getvalue() == "extra [mobile]\n"


def test_the_level_comes_from_the_environment_then_the_default(
    clean_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = logging.getLogger()
    monkeypatch.setenv("RESIDENTBOT_LOG_LEVEL", "warning")
    setup_logging(stream=io.StringIO())
    assert root.level == logging.WARNING
    monkeypatch.delenv("RESIDENTBOT_LOG_LEVEL")
    setup_logging(default="ERROR", stream=io.StringIO())
    assert root.level == logging.ERROR
    assert len(root.handlers) == 1  # each call replaces the handler, never adds one


def test_a_bad_level_falls_back_and_says_so(
    clean_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    monkeypatch.setenv("RESIDENTBOT_LOG_LEVEL", "LOUD")
    setup_logging(stream=out)
    assert logging.getLogger().level == logging.INFO
    assert "RESIDENTBOT_LOG_LEVEL='LOUD' is not a log level; using INFO" in out.getvalue()


def test_debug_does_not_open_telegram_and_httpx_debug_output(clean_logging: None) -> None:
    out = io.StringIO()
    setup_logging("DEBUG", stream=out)
    assert logging.getLogger("telegram").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("telegram.ext.Application").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    logging.getLogger("telegram.ext.Application").debug("Processing update %s", "whole update")
    assert "whole update" not in out.getvalue()
    setup_logging("ERROR", stream=out)
    assert logging.getLogger("telegram").getEffectiveLevel() == logging.ERROR
