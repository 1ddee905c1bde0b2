"""Read what residents type into the questionnaire: amounts, counts, ages, yes/no,
numbered choices, mobile numbers, districts and townships.

Every parser takes the reply as typed and returns one of three things:

* the value: yuan per month as a `float`, an `int`, a `bool`, a mobile number as an
  11-digit `str`, a place from `knowledge.places`;
* `UNKNOWN`: the resident says they do not know (不知道, 不清楚, 说不准, 晓不得 …).
  Record it as unknown (a rule that needs it answers "possible", RULES.md "The
  household"); never replace it by a guess. Test it with `is UNKNOWN`;
* `None`: the reply could not be read (no figure, two figures, a bound such as 不到两千,
  vague words such as 几百, out of range, a question back, a message over `MAX_CHARS`).
  Ask again with an example.

No parser raises, whatever the text. The words residents use are data, in
dialogues/answers.yaml. Chinese numerals are read by cn2an ("smart" mode: 三千五, 1千2,
1.2万, 一万二); around it this module only decides which part of a reply is the figure.

Decisions (each is tested in tests/dialogues/test_answers.py):

* A range of amounts is its midpoint, never one of its ends: 两三千 → 2500, 2000-3000 →
  2500, 2到3千 → 2500. A range of counts or ages is not parsed (they must be exact, and an
  age range such as 六七十 can straddle a rule's threshold).
* Amounts are per month, as every money question asks. A yearly figure is divided by 12
  (一年一万二 → 1000), half-yearly by 6, quarterly by 3. Daily and weekly figures are not
  parsed: the days worked in a month vary, so converting would be a guess.
* About-figures are the resident's own estimate and count as said: 大概两千, 两千左右,
  3500多, 两千出头 → the figure. With 不清楚 next to a figure, the figure counts only if
  they also say it is an estimate (不清楚，大概两千 → 2000; 不知道有没有一千 → None).
* Ages are completed years. 快80了 / 马上八十 → 79; 虚岁80 → 79; 80多 / 八十几 / 八十出头
  → 80 (the lower end: the rules' thresholds 60 and 70 are "at least", so the lower end
  never claims a threshold the resident has not reached); 十几岁 → None (it straddles 18).
  A birth year without a month (1958年的, 58年生的) gives the age reached in `today`'s
  calendar year; with a month or a full date the age is exact (the day, when not given,
  is taken as passed). The township checks the ID card.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import cn2an
import yaml
from rapidfuzz import fuzz

from knowledge.places import District, Township, UnknownPlace, resolve_district, resolve_township
from knowledge.text import compact, fold

ANSWERS_FILE = Path(__file__).resolve().parent / "answers.yaml"

MAX_CHARS: Final = 200  # a longer message is not an answer to one question
MAX_AMOUNT: Final = 1_000_000_000.0  # yuan; larger figures are typing slips (or phone numbers)
MAX_COUNT: Final = 30
MAX_AGE: Final = 120


class Unknown(enum.Enum):
    """The resident does not know. The only member is `UNKNOWN`; compare with `is`."""

    UNKNOWN = "unknown"

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = Unknown.UNKNOWN


# --- normalisation -------------------------------------------------------------------

_TRAILING_NOISE = frozenset({"Mn", "Me", "Cf", "Cc", "Co", "Cn"})


def normalize(text: str) -> str:
    """NFKC (full-width digits, letters and punctuation to ASCII), lower case, single
    spaces, stripped, and trailing punctuation, symbols and emoji dropped:
    " １５００元！！😊 " → "1500元"."""
    folded = fold(text)
    end = len(folded)
    while end:
        category = unicodedata.category(folded[end - 1])
        if category[0] not in "PSZ" and category not in _TRAILING_NOISE:
            break
        end -= 1
    return folded[:end]


def _prepare(text: str) -> str | None:
    """The normalised reply with spoken numerals made plain (俩 → 两), or None when it is
    empty or too long to be an answer."""
    if not isinstance(text, str) or len(text) > 4 * MAX_CHARS:
        return None
    cleaned = normalize(text)
    if not cleaned or len(cleaned) > MAX_CHARS:
        return None
    return cleaned.translate(_words().numerals)


# --- word lists ----------------------------------------------------------------------


def _alternation(words: Sequence[str], before: str = "") -> re.Pattern[str]:
    """One regex matching any of the words, longest first ("(?!)" matches nothing)."""
    ordered = sorted({compact(w) for w in words if compact(w)}, key=len, reverse=True)
    body = "|".join(map(re.escape, ordered)) or "(?!)"
    return re.compile(f"{before}(?:{body})")


_DIGITS = "0-9零〇一二两三四五六七八九十百千万亿壹贰叁肆伍陆柒捌玖拾佰仟廿幺"
_NUMERAL = re.compile(f"[{_DIGITS}](?:[{_DIGITS}.点]*[{_DIGITS}])?")
_AFTER_NUMERAL = f"(?<![{_DIGITS}])"


@dataclass(frozen=True)
class _Words:
    unknown: re.Pattern[str]
    yes: frozenset[str]
    no: frozenset[str]
    prefixes: tuple[tuple[str, bool], ...]  # (prefix, says yes), longest first
    negations: frozenset[str]
    particles: frozenset[str]
    subjects: tuple[str, ...]
    interjections: frozenset[str]
    emoji: dict[str, str]
    zero: re.Pattern[str]
    nothing_else: re.Pattern[str]
    but: re.Pattern[str]
    vague: re.Pattern[str]
    bounds: re.Pattern[str]
    approximate: re.Pattern[str]
    periods: tuple[tuple[str, int | None], ...]
    not_periods: re.Pattern[str]
    not_numbers: re.Pattern[str]
    per_phrases: re.Pattern[str]
    count_masks: re.Pattern[str]
    alone: frozenset[str]
    persons: frozenset[str]
    joiners: re.Pattern[str]
    nearly: re.Pattern[str]
    numerals: dict[int, str]  # str.translate table
    people_unit: re.Pattern[str]  # 2口, 两个, 3位 (not 8个月)
    people_glued: re.Pattern[str]  # the same, right before an age: 2个70
    people_groups: re.Pattern[str]
    slip: re.Pattern[str]  # a Latin letter touching a figure, other than a unit


def _nothing_else(zero: Sequence[str], others: Sequence[str]) -> re.Pattern[str]:
    """没得其他, 其他都没有, 别的也莫得: a zero word within three characters of "other"."""
    z, o = _alternation(zero).pattern, _alternation(others).pattern
    return re.compile(f"{z}.{{0,3}}?{o}|{o}.{{0,3}}?{z}")


def _strings(data: dict[str, Any], key: str) -> list[str]:
    return [str(item) for item in data[key]]


@functools.cache
def _data() -> dict[str, Any]:
    with ANSWERS_FILE.open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh) or {}
    return data


@functools.cache
def _words() -> _Words:
    data = _data()
    prefixes = [(compact(p), True) for p in _strings(data, "yes_prefixes")]
    prefixes += [(compact(p), False) for p in _strings(data, "no_prefixes")]
    periods = {compact(str(k)): (None if v is None else int(v)) for k, v in data["periods"].items()}
    not_numbers = _strings(data, "not_numbers")
    units = _alternation(_strings(data, "people_units")).pattern
    people = f"[{_DIGITS}]\\s*{units}(?![多半]?月)"
    return _Words(
        unknown=_alternation(_strings(data, "unknown")),
        yes=frozenset(compact(w) for w in _strings(data, "yes")),
        no=frozenset(compact(w) for w in _strings(data, "no")),
        prefixes=tuple(sorted(prefixes, key=lambda p: len(p[0]), reverse=True)),
        negations=frozenset(str(data["negations"])),
        particles=frozenset(str(data["particles"])),
        subjects=tuple(sorted(map(compact, _strings(data, "subjects")), key=len, reverse=True)),
        interjections=frozenset(compact(w) for w in _strings(data, "interjections")),
        emoji={str(k): str(v) for k, v in data["emoji"].items()},
        zero=_alternation(_strings(data, "zero")),
        nothing_else=_nothing_else(_strings(data, "zero"), _strings(data, "nothing_else")),
        but=_alternation(_strings(data, "but")),
        vague=_alternation(_strings(data, "vague")),
        bounds=_alternation(_strings(data, "bounds")),
        approximate=_alternation(_strings(data, "approximate")),
        periods=tuple(sorted(periods.items(), key=lambda p: len(p[0]), reverse=True)),
        not_periods=_alternation(_strings(data, "not_periods")),
        not_numbers=_alternation(not_numbers, before=_AFTER_NUMERAL),
        per_phrases=_alternation(_strings(data, "per_phrases"), before="(?<!十)"),
        count_masks=_alternation([*not_numbers, "一家"], before=_AFTER_NUMERAL),
        alone=frozenset(compact(w) for w in _strings(data, "alone")),
        persons=frozenset(compact(w) for w in _strings(data, "persons")),
        joiners=_alternation(_strings(data, "joiners")),
        nearly=_alternation(_strings(data, "nearly")),
        numerals=str.maketrans({str(k): str(v) for k, v in data["numerals"].items()}),
        people_unit=re.compile(people),
        people_glued=re.compile(f"{people}(?=[0-9])"),
        people_groups=_alternation(_strings(data, "people_groups")),
        slip=_slip(_strings(data, "latin_units")),
    )


def _slip(units: Sequence[str]) -> re.Pattern[str]:
    """A Latin letter right before or after a figure, unless it starts a unit (1500rmb)."""
    unit = _alternation(units).pattern
    return re.compile(f"[a-z][{_DIGITS}]|[{_DIGITS}](?!{unit})[a-z]")


@functools.cache
def _word_set(name: str) -> frozenset[str]:
    return frozenset(compact(w) for w in _strings(_data(), name) if compact(w))


def says_word(text: str, name: str) -> bool:
    """The whole reply is one of the words listed under `name` in answers.yaml (跳过 in
    `skip`, 本机 in `own_number` …), compared after `knowledge.text.compact`."""
    return isinstance(text, str) and compact(text) in _word_set(name)


def mentions_word(text: str, name: str) -> bool:
    """A word listed under `name` in answers.yaml is in the reply (租 in `lodging`)."""
    key = compact(text) if isinstance(text, str) else ""
    return any(word in key for word in _word_set(name))


# --- numerals ------------------------------------------------------------------------

_BIG_UNITS = {"百": 100, "佰": 100, "千": 1000, "仟": 1000, "万": 10_000, "亿": 100_000_000}
_ONE_DIGIT = {
    **dict(zip("一二三四五六七八九", range(1, 10), strict=True)),
    "两": 2,
}
_DIGIT_OF = {
    **{str(d): str(d) for d in range(10)},
    **dict(zip("零〇一二三四五六七八九", "00123456789", strict=True)),
}


def _number(token: str) -> float | None:
    """The value of one numeral token (Arabic, Chinese or mixed), or None."""
    if not token or len(token) > 24 or token.count(".") + token.count("点") > 1:
        return None
    if re.search(r"[.点][^.点]{7,}", token):  # cn2an warns past 16 decimals; nobody types 7
        return None
    if token[0] in _BIG_UNITS:  # 千把块, 万五: an implied leading one
        token = "一" + token
    try:
        value = cn2an.cn2an(token, "smart")
    except Exception:  # cn2an raises ValueError, and others on odd input
        value = None
    if isinstance(value, int | float):
        return float(value)
    if len(token) > 1 and token[-1] in _BIG_UNITS:  # 一点五万: cn2an reads 一点五 only
        inner = _number(token[:-1])
        return None if inner is None else inner * _BIG_UNITS[token[-1]]
    return None


def _digit_string(token: str) -> str | None:
    """A token read digit by digit (1958, 一九五八, 五八, 〇五), or None if it has units."""
    digits = [_DIGIT_OF.get(ch) for ch in token]
    if not digits or any(d is None for d in digits):
        return None
    return "".join(d for d in digits if d is not None)


def _pair_range(token: str) -> tuple[float, float] | None:
    """两三千 → (2000, 3000), 一千七八 → (1700, 1800), 十五六 → (15, 16), 三五百 → (300, 500):
    two neighbouring digit words, each read in place of the pair. None if not a range."""
    pairs = [
        i
        for i in range(len(token) - 1)
        if token[i] in _ONE_DIGIT
        and token[i + 1] in _ONE_DIGIT
        and (_ONE_DIGIT[token[i + 1]] - _ONE_DIGIT[token[i]] == 1 or token[i : i + 2] == "三五")
    ]
    has_unit = any(ch in "十拾" or ch in _BIG_UNITS for ch in token)
    if len(pairs) != 1 or not (has_unit or len(token) == 2):
        return None
    i = pairs[0]
    low = _number(token[: i + 1] + token[i + 2 :])
    high = _number(token[:i] + token[i + 1 :])
    if low is None or high is None or not low < high:
        return None
    return low, high


@dataclass(frozen=True)
class _Figure:
    """What numerals a reply holds: none, one value, a range, or "many": too many to
    choose, or one that cannot be read (15oo)."""

    kind: Literal["none", "one", "range", "many"]
    low: float = 0.0
    high: float = 0.0
    start: int = 0  # where the figure starts and ends in the masked text
    end: int = 0


_RANGE_GAP = re.compile(r"^[多来块元钱左右把\s]*(?:到|至|-|~|—|–|〜|或者|或)[\s]*$")


_BEFORE_UNIT = "(?<=[0-9零〇一二两三四五六七八九十])"


def _digits_only(text: str) -> str:
    """Thousands separators and k / w units made plain: 1,500 → 1500, 2k → 2千, 两k → 两千,
    1.2w → 1.2万."""
    text = re.sub(r"(?<=\d)[, ](?=\d{3}(?!\d))", "", text)
    text = re.sub(_BEFORE_UNIT + r"\s*k(?![a-z])", "千", text)
    return re.sub(_BEFORE_UNIT + r"\s*w(?![a-z])", "万", text)


def _figure(text: str, masks: Sequence[re.Pattern[str]], drop_ones: bool) -> _Figure:
    """Find the figure in a normalised reply. Masked words (一共, 一个月 …) are not
    figures. With `drop_ones`, a lone 一/1 beside another figure is a measure word's
    "one" (1个月800, 一个人八百), not the answer."""
    for mask in masks:
        text = mask.sub(" ", text)
    if _words().slip.search(text):
        return _Figure("many")  # 15oo, l500: letters typed for digits
    matches = list(_NUMERAL.finditer(text))
    if not matches:
        return _Figure("none")
    pairs = [_pair_range(m.group(0)) for m in matches]
    if any(pairs):  # before cn2an, which reads 两三千 as 23000
        if len(matches) == 1 and pairs[0]:
            return _Figure("range", *pairs[0], matches[0].start(), matches[0].end())
        return _Figure("many")
    found = [(m, _number(m.group(0))) for m in matches]
    if any(value is None for _, value in found):
        return _Figure("many")
    if len(found) == 2 and _RANGE_GAP.match(text[found[0][0].end() : found[1][0].start()]):
        low, high = (float(v or 0.0) for _, v in found)
        if low < 10 and high >= 100:  # 2-3000, 两到三千, 1-1.5万: the low end shares the unit
            low *= 10 ** (len(str(int(high))) - 1)
        if low < high:
            return _Figure("range", low, high, found[0][0].start(), found[1][0].end())
        return _Figure("many")
    if drop_ones and len(found) > 1:
        found = [(m, v) for m, v in found if m.group(0) not in ("一", "1")] or found
    if len(found) != 1:
        return _Figure("many")
    match, value = found[0]
    start = match.start()
    if start and text[start - 1] in "-负":
        return _Figure("many")  # a negative figure is no answer
    return _Figure("one", float(value or 0.0), float(value or 0.0), start, match.end())


def _says_unknown(compacted: str) -> bool:
    return _words().unknown.search(compacted) is not None


def _vague(compacted: str) -> bool:
    """几百, 很多, 没多少 … but not 差不多 (an estimate, whose 不多 is no vagueness)."""
    words = _words()
    return words.vague.search(words.approximate.sub(" ", compacted)) is not None


# --- amounts -------------------------------------------------------------------------


def _month_divisor(compacted: str) -> int | None:
    """How many months the figure covers (1 when no period is named); None when that
    cannot be worked out: a day or a week, or two different periods."""
    words = _words()
    rest = words.not_periods.sub(" ", compacted)
    named: set[int | None] = set()
    for word, divisor in words.periods:
        if word in rest:
            named.add(divisor)
            rest = rest.replace(word, " ")
    if not named:
        return 1
    return named.pop() if len(named) == 1 else None


def parse_amount(text: str) -> float | Unknown | None:
    """Yuan per month, rounded to the fen.

    三千五 → 3500, 1千2 → 1200, 2k → 2000, 1,500元 → 1500, 1.2万 / 一万二 → 12000, 五百元整 → 500,
    大概两千 / 两千左右 / 2000多 → 2000, 每个月800 → 800, 一年一万二 → 1000 (a year is /12),
    两三千 → 2500 (a range is its midpoint), 没有 / 莫得 / 无 / 0 / 零 → 0, 不知道 → UNKNOWN.
    None: no figure (很多, 你好), vague (几百), a bound (不到两千), two figures, a daily or
    weekly figure, or more than `MAX_AMOUNT`.
    """
    cleaned = _prepare(text)
    if cleaned is None:
        return None
    words = _words()
    compacted = compact(cleaned)
    figure = _figure(_digits_only(cleaned), (words.not_numbers, words.per_phrases), True)
    if _says_unknown(compacted):
        if figure.kind == "none":
            return UNKNOWN
        if not words.approximate.search(compacted):
            return None  # 不知道有没有一千: not an estimate
    if _vague(compacted) or words.bounds.search(compacted):
        return None
    if figure.kind == "none":
        if words.zero.search(compacted) and not words.but.search(compacted):
            return 0.0
        return None
    said_zero = words.zero.search(words.nothing_else.sub(" ", words.unknown.sub(" ", compacted)))
    if figure.kind == "many" or said_zero:
        return None  # 没有两千 is a bound, 没有工资有两千 two answers
    amount = (figure.low + figure.high) / 2
    divisor = _month_divisor(compacted)
    if divisor is None or not 0 <= amount <= MAX_AMOUNT:
        return None
    return round(amount / divisor, 2)


# --- counts --------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[^\w]+")
_COUNTED_PERSON = re.compile(f"^([{_DIGITS}]+)[个口位名]?(.+)$")
_NONE_AT_ALL = re.compile(r"一[个套间处口位名]?[都也](?:没|莫|冇|无|木有)")


def _strip_particles(word: str) -> str:
    particles = _words().particles
    while len(word) > 1 and word[-1] in particles:
        word = word[:-1]
    return word


def _one_person(part: str) -> int | None:
    """How many people one listed part names: 老伴 → 1, 我老伴 → 1, 两个孙子 → 2."""
    persons = _words().persons
    part = _strip_particles(part)
    if part in persons:
        return 1
    for owner in ("我们家", "我家", "我的", "我"):
        if part.startswith(owner) and part[len(owner) :] in persons:
            return 1
    counted = _COUNTED_PERSON.match(part)
    if counted and counted.group(2) in persons:
        value = _number(counted.group(1))
        if value is not None and value == int(value) and value >= 1:
            return int(value)
    return None


def _listed_people(cleaned: str) -> int | None:
    """我和老伴 → 2, 我、老伴、儿子 → 3, 我带两个孙子 → 3; None unless every part is a person."""
    words = _words()
    parts = [compact(p) for chunk in _SEPARATORS.split(cleaned) for p in words.joiners.split(chunk)]
    parts = [p for p in parts if p]
    if len(parts) < 2:
        return None
    total = 0
    for part in parts:
        people = _one_person(part)
        if people is None:
            return None
        total += people
    return total if total <= MAX_COUNT else None


def parse_count(text: str) -> int | Unknown | None:
    """A number of people or things, 0..`MAX_COUNT`.

    两口人 → 2, 3个 → 3, 四口之家 / 一家四口 → 4, 就我一个 / 就我 / 独居 → 1,
    我和老伴 → 2, 我带两个孙子 → 3, 没有 / 一个都没有 → 0, 不清楚 → UNKNOWN.
    None: no figure, a range (三四个), a fraction, two figures, a bound, out of range.
    """
    cleaned = _prepare(text)
    if cleaned is None:
        return None
    words = _words()
    compacted = compact(cleaned)
    figure = _figure(_digits_only(cleaned), (words.count_masks,), False)
    if _says_unknown(compacted):
        return UNKNOWN if figure.kind == "none" else None
    if _NONE_AT_ALL.search(compacted):
        return 0
    listed = _listed_people(cleaned)
    if listed is not None:
        return listed
    if _vague(compacted) or words.bounds.search(compacted):
        return None
    if figure.kind == "none":
        core = _strip_particles(compacted)
        if core in words.alone:
            return 1
        if words.zero.search(compacted) and not words.but.search(compacted):
            return 0
        return None
    if figure.kind != "one" or words.zero.search(compacted):
        return None
    if figure.low != int(figure.low) or not 0 <= figure.low <= MAX_COUNT:
        return None
    return int(figure.low)


_PARTS = re.compile(r"[\s,，、;；]+")


def _people(part: str) -> int | None:
    """How many people one part of a reply counts, when it says it counts people."""
    words = _words()
    said = words.people_unit.search(part) or words.people_groups.search(compact(part))
    if not said and _listed_people(part) is None:
        return None
    count = parse_count(part)
    return count if isinstance(count, int) and count >= 1 else None


def people_and_rest(text: str) -> tuple[int, str] | None:
    """The number of people a reply gives as such, and the rest of the reply:
    "2个 70 68" → (2, "70 68"), "就我一个，68岁" → (1, "68岁"), "68 66 两个人" →
    (2, "68 66"), "我们俩" → (2, "").

    A part counts people when a figure is followed by one of `people_units` (2口人, 两个人;
    not 8个月) or it names a group (`people_groups`: 我们俩, 就我, 我和老伴). None when no
    part does, or two parts give different counts. A bare figure is no count: 68 may be
    an age."""
    cleaned = _prepare(text)
    if cleaned is None:
        return None
    glued = _words().people_glued.sub(lambda m: m.group(0) + " ", cleaned)
    parts = [p for p in _PARTS.split(glued) if p]
    counts = {n for n in map(_people, parts) if n is not None}
    if len(counts) != 1:
        return None
    rest = [p for p in parts if _people(p) is None]
    return counts.pop(), " ".join(rest)


# --- ages ----------------------------------------------------------------------------

_BIRTH_DATE = re.compile(
    r"((?:19|20)\d\d)\s*[-./年]\s*(\d{1,2})(?:\s*[-./月]\s*(\d{1,2}))?|((?:19|20)\d\d)(\d\d)(\d\d)"
)
_BIRTH_YEAR = re.compile(
    f"([{_DIGITS}]+)\\s*年(?:\\s*([{_DIGITS}]+)\\s*月)?(?:\\s*([{_DIGITS}]+)\\s*[日号])?"
)
_MONTHS_OLD = re.compile(f"([{_DIGITS}]+)\\s*个(?:多|半)?月")
_DECADE_ABOUT = re.compile(r"^\s*(?:多|几|来|出头)")


def _age_on(today: dt.date, year: int, month: int | None, day: int | None) -> int | None:
    """Completed years on `today`; an unknown month or day is taken as already passed."""
    try:
        born = dt.date(year, month or 1, day or 1)
    except ValueError:
        return None
    if born > today:
        return None
    age = today.year - year
    if month is not None and (today.month, today.day) < (month, day or 1):
        age -= 1
    return age if 0 <= age <= MAX_AGE else None


def _small_int(token: str | None) -> int | None:
    if not token:
        return None
    value = _number(token)
    return int(value) if value is not None and value == int(value) else None


def _birth_age(cleaned: str, today: dt.date) -> int | Literal["absent"] | None:
    """The age from a birth date or year in the reply; "absent" when there is none."""
    numeric = _BIRTH_DATE.search(cleaned)
    if numeric:
        if numeric.group(1):
            year, month, day = numeric.group(1), numeric.group(2), numeric.group(3)
        else:
            year, month, day = numeric.group(4), numeric.group(5), numeric.group(6)
        return _age_on(today, int(year), int(month), int(day) if day else None)
    spoken = _BIRTH_YEAR.search(cleaned)
    if spoken:
        digits = _digit_string(spoken.group(1))
        if digits is None or len(digits) not in (2, 4):
            return None  # 五十八年 is a span of years, not a birth year
        year = int(digits)
        if len(digits) == 2:
            year += 2000 if 2000 + year <= today.year else 1900
        return _age_on(today, year, _small_int(spoken.group(2)), _small_int(spoken.group(3)))
    bare = re.fullmatch(r"\D*((?:19|20)\d\d)\D*", cleaned)
    if bare and int(bare.group(1)) <= today.year:
        return _age_on(today, int(bare.group(1)), None, None)
    return "absent"


def parse_age(text: str, today: dt.date | None = None) -> int | Unknown | None:
    """Age in completed years, 0..`MAX_AGE`; `today` (default: the system date) is the
    date the age is reckoned on.

    78 / 七十八岁 / 78了 / 今年78 → 78, 快80了 → 79, 虚岁80 → 79, 80多 / 八十出头 → 80,
    1958年的 / 58年生的 → the age reached in today's year, 1958年3月 / 1958-03-12 → exact,
    8个月 → 0, 不晓得 → UNKNOWN. None: a range (七八十), 十几岁, a bound (不到60), two figures.
    """
    cleaned = _prepare(text)
    if cleaned is None:
        return None
    today = today or dt.date.today()
    words = _words()
    compacted = compact(cleaned)
    if _says_unknown(compacted):
        return UNKNOWN if _NUMERAL.search(compacted) is None else None
    if words.bounds.search(compacted):
        return None
    born = _birth_age(cleaned, today)
    if born != "absent":
        return born
    months = _MONTHS_OLD.search(cleaned)
    if months and len(_NUMERAL.findall(cleaned)) == 1:
        value = _small_int(months.group(1))
        return value // 12 if value is not None and value // 12 <= MAX_AGE else None
    masked = words.not_numbers.sub(" ", words.per_phrases.sub(" ", cleaned))
    figure = _figure(masked, (), False)
    if figure.kind != "one":
        return None
    age = int(figure.low)
    if _DECADE_ABOUT.match(masked[figure.end :]) and age % 10 == 0:
        if age < 20:
            return None  # 十几岁, 十多岁: under or over 18
    elif _vague(compacted):
        return None
    before = compact(masked[: figure.start])
    if words.nearly.search(before) or "虚岁" in compacted:
        age -= 1
    return age if 0 <= age <= MAX_AGE else None


# --- yes / no ------------------------------------------------------------------------

_QUESTION = re.compile(r"[吗么]|\?\s*$")


def _collapse(word: str) -> str:
    """嗯嗯嗯 → 嗯, 有的有的 → 有的: a word said again and again is said once."""
    for size in range(1, len(word) // 2 + 1):
        if len(word) % size == 0 and word == word[:size] * (len(word) // size):
            return word[:size]
    return word


def _clause_says(clause: str) -> Literal["yes", "no", "unknown", "sound", "other"]:
    words = _words()
    if _says_unknown(clause):
        return "unknown"
    core = _collapse(clause)
    if _strip_particles(core) in words.interjections:
        return "sound"
    stripped = True
    while stripped:
        stripped = False
        for subject in words.subjects:
            if core.startswith(subject) and len(core) > len(subject):
                core, stripped = core[len(subject) :], True
                break
    # Particles come off one at a time, checking each form: 算了吧 → 算了, not 算.
    while True:
        core = _collapse(core)
        if core in words.yes:
            return "yes"
        if core in words.no:
            return "no"
        if len(core) < 2 or core[-1] not in words.particles:
            break
        core = core[:-1]
    for prefix, yes in words.prefixes:
        if core.startswith(prefix):
            rest = core[len(prefix) :]
            if any(ch in words.negations for ch in rest):
                return "other"
            return "yes" if yes else "no"
    return "other"


def parse_yes_no(text: str) -> bool | Unknown | None:
    """是 / 对 / 有 / 嗯 / 要得 / 可以 / 好 / 行 / 有的 / 有哦 / yes / 👍 → True;
    不是 / 没有 / 莫得 / 没得 / 无 / 不要 / 否 / 没有啊 / no → False; 不晓得 → UNKNOWN.

    Each clause is read on its own ("有，两个" → True; "嗯，没有" → False, the 嗯 being a
    sound). A clause that starts with 有/是/没有/不是 … and goes on without a negation
    counts (有残疾证 → True). None when clauses disagree (有的，没有), when none says yes or
    no, for a question back (有吗, 要得不, 是不是), and for digits: numbered choices are
    `parse_choice`'s.
    """
    if not isinstance(text, str) or len(text) > 4 * MAX_CHARS:
        return None
    for emoji, word in _words().emoji.items():
        text = text.replace(emoji, f" {word} ")
    if _QUESTION.search(fold(text)):
        return None
    cleaned = _prepare(text)
    if cleaned is None:
        return None
    clauses = [c for c in map(compact, _SEPARATORS.split(cleaned)) if c]
    said = [_clause_says(c) for c in clauses]
    meant = {s for s in said if s not in ("sound", "other")}
    if not meant:  # only sounds: 嗯 and 嗯嗯 are a yes, 哦 is not
        only_yes_sounds = all(
            s == "sound" and _collapse(_strip_particles(c)) in _words().yes
            for s, c in zip(said, clauses, strict=True)
        )
        return True if said and only_yes_sounds else None
    if meant == {"yes"}:
        return True
    if meant == {"no"}:
        return False
    return UNKNOWN if meant == {"unknown"} else None


# --- numbered choices ----------------------------------------------------------------

_CHOICE_NUMBER = re.compile(
    r"(?:我选|就选|选择|选|要)?第?([0-9]{1,3}|[一二两三四五六七八九十]{1,3})"
    r"(?:个|号|项|条|种|类)?(?:吧|啊|的|嘛|哦)?"
)
_PARENTHESES = re.compile(r"[(（][^)）]*[)）]")


def parse_choice(text: str, options: Sequence[str]) -> int | None:
    """The index in `options` of the option chosen, or None.

    By number, as the options are shown (1-based): "2", "２", "二", "第二个", "选2" → 1.
    A number always means a position, even if an option's text holds digits. By text:
    the option's words ("农村" for "农村（有承包地）"; a parenthesised note is optional),
    an option named inside the reply ("是农村的"; the longest wins when one contains
    another, so "没有啊" picks 没有 over 有), then fuzzy likeness (rapidfuzz ratio ≥ 75
    and 10 points clear of the next). None when ambiguous or out of range.
    """
    cleaned = _prepare(text)
    if cleaned is None or not options:
        return None
    compacted = compact(cleaned)
    numbered = _CHOICE_NUMBER.fullmatch(compacted)
    if numbered:
        value = _small_int(numbered.group(1))
        return value - 1 if value is not None and 1 <= value <= len(options) else None
    full = [compact(o) for o in options]
    short = [compact(_PARENTHESES.sub("", o)) or f for o, f in zip(options, full, strict=True)]
    core = _strip_particles(compacted)
    exact = {i for i in range(len(options)) if core in (full[i], short[i])}
    if len(exact) == 1:
        return exact.pop()
    if exact:
        return None
    named = [i for i in range(len(options)) if short[i] and short[i] in compacted]
    widest = [i for i in named if all(short[j] in short[i] for j in named)]
    if named:
        return widest[0] if len(widest) == 1 else None
    if len(core) >= 2:
        within = [i for i in range(len(options)) if core in full[i]]
        if within:
            return within[0] if len(within) == 1 else None
    scores = sorted(((fuzz.ratio(core, short[i]), i) for i in range(len(options))), reverse=True)
    best, index = scores[0]
    runner_up = scores[1][0] if len(scores) > 1 else 0.0
    return index if best >= 75 and best - runner_up >= 10 else None


# --- mobile numbers ------------------------------------------------------------------

_PHONE_NOISE = re.compile(r"[\s\-–—.·_()（）]+")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86|0086)?(1[3-9]\d{9})(?!\d)")
_SPOKEN_DIGITS = str.maketrans("零〇一二三四五六七八九幺", "001234567891")


def parse_mobile(text: str) -> str | None:
    """A mainland mobile number as 11 digits ("13800138000"): 1[3-9] and nine more.

    Spaces, dashes, dots and brackets between digits are ignored, as are +86 / 0086 / 86,
    full-width digits and digits typed as 一三八…. None for no number, 10 or 12 digits, a
    landline, or two different numbers.
    """
    if not isinstance(text, str) or len(text) > 4 * MAX_CHARS:
        return None
    plain = _PHONE_NOISE.sub("", unicodedata.normalize("NFKC", text).translate(_SPOKEN_DIGITS))
    numbers = {m.group(1) for m in _MOBILE.finditer(plain)}
    return numbers.pop() if len(numbers) == 1 else None


# --- places --------------------------------------------------------------------------


def parse_district(text: str) -> District | None:
    """The Chongqing 区县 the reply names: its name, a short form or former name, a
    mention in a sentence (我是奉节的), a township of it, or a clear fuzzy match for a
    typo (奉杰县), by `knowledge.places.resolve_district`. None when there is no clear one
    (including 不知道: the question is asked again, and the engine offers to skip it)."""
    cleaned = _prepare(text)
    if cleaned is None or _says_unknown(compact(cleaned)):
        return None
    try:
        return resolve_district(cleaned)
    except UnknownPlace:
        return None


def parse_township(district: District, text: str) -> Township | Unknown | None:
    """The 乡镇/街道 of `district` the reply names (解放碑 → 解放碑街道, typos within reason),
    by `knowledge.places.resolve_township`. UNKNOWN when the resident does not know it:
    the referral then goes to the district's queue. None when no township is clear."""
    cleaned = _prepare(text)
    if cleaned is None:
        return None
    if _says_unknown(compact(cleaned)):
        return UNKNOWN
    return resolve_township(district, cleaned)
