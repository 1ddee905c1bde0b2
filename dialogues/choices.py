"""Numbered choices: the options of a question (dialogues/choices.yaml) and reading the
resident's pick, by number (1, ２, 二, 第二个) or by the words of an option.

`pick_one` and `pick_many` answer like the parsers of `dialogues.answers`: the value(s),
`UNKNOWN` when the resident does not know, or None when the reply cannot be read (the
question is asked again with an example). Templates show the same options: a question's
values carry `options`, and its template sets `choices` from their labels.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dialogues.answers import MAX_CHARS, UNKNOWN, Unknown, normalize, parse_choice, parse_yes_no
from knowledge.text import compact

CHOICES_FILE = Path(__file__).resolve().parent / "choices.yaml"
NEGATIONS = ("没有", "没得", "莫得", "不是", "没", "不", "无", "莫", "非", "未")
NONE = "none"  # the value of "都没有" in a multi-select
_SEPARATORS = re.compile(r"[\s,，、;；/和与及跟]+")
_CHINESE_DIGITS = {c: i for i, c in enumerate("一二三四五六七八九", start=1)}


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    words: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "label": self.label}


@functools.cache
def _all() -> dict[str, tuple[Option, ...]]:
    with CHOICES_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    table: dict[str, tuple[Option, ...]] = {}
    for name, items in data.items():
        table[str(name)] = tuple(
            Option(
                str(item["value"]),
                str(item["label"]),
                tuple(compact(str(w)) for w in item.get("words") or () if compact(str(w))),
            )
            for item in items
        )
    return table


def options(name: str) -> tuple[Option, ...]:
    """The options of question `name`, in the order they are numbered."""
    return _all()[name]


def shown(name: str) -> list[dict[str, Any]]:
    """The options as template values: [{"value", "label"}, …]."""
    return [o.to_dict() for o in options(name)]


def _named(key: str, items: tuple[Option, ...]) -> list[int]:
    """Options whose label or words the reply names, longest word first (没有 beats 有).
    A word right after a negation is consumed without counting (没有残疾 is no 残疾)."""
    found: list[int] = []
    taken = key
    words = sorted(
        ((w, i) for i, o in enumerate(items) for w in (compact(o.label), *o.words) if w),
        key=lambda item: len(item[0]),
        reverse=True,
    )
    for word, index in words:
        if len(word) < 2 and word != key:
            continue  # one character (是, 无, 聋) counts only as the whole reply
        start = taken.find(word)
        while start != -1:
            negation = next((n for n in NEGATIONS if taken[:start].endswith(n)), "")
            if negation:
                cut = start - len(negation)
                taken = taken[:cut] + " " * (len(word) + len(negation)) + taken[start + len(word) :]
            else:
                taken = taken[:start] + " " * len(word) + taken[start + len(word) :]
                if index not in found:
                    found.append(index)
            start = taken.find(word)
    return found


def pick_one(text: str, name: str) -> str | Unknown | None:
    """The value of the one option picked; UNKNOWN for 不知道; None when unclear.

    By number ("2", "２", "二", "第二个"), by the option's label or words ("农村",
    "是农村的"), and for options valued "yes"/"no" by a yes or no (是 / 没有 / 莫得)."""
    items = options(name)
    if len(text) > MAX_CHARS:
        return None  # a long message is not a pick
    said = parse_yes_no(text)
    if said is UNKNOWN:
        return UNKNOWN
    index = parse_choice(text, [o.label for o in items])
    if index is not None:
        return items[index].value
    key = compact(normalize(text))
    named = _named(key, items) if key else []
    if len(named) == 1:
        return items[named[0]].value
    values = {o.value for o in items}
    if isinstance(said, bool) and {"yes", "no"} <= values:
        return "yes" if said else "no"  # 是 / 没有 / 👍
    return None


def _digits(key: str, count: int) -> list[int] | None:
    """1 3 / 1、3 / 13 / 一三 → [1, 3] when every digit is an option's number."""
    plain = "".join(str(_CHINESE_DIGITS.get(ch, ch)) for ch in key)
    if not plain.isdigit() or not plain.isascii():
        return None
    picked = [int(d) for d in plain]
    if not picked or any(not 1 <= d <= count for d in picked):
        return None
    return picked


def pick_many(text: str, name: str) -> list[str] | Unknown | None:
    """The values picked in a multi-select, in option order ("1 3", "13", "残疾，有工作");
    [] when the resident picks the "none" option or says no; UNKNOWN for 不知道; None
    when unclear, or "none" together with another option."""
    items = options(name)
    if len(text) > MAX_CHARS:
        return None
    cleaned = normalize(text)
    if parse_yes_no(text) is UNKNOWN:
        return UNKNOWN
    parts = [p for p in _SEPARATORS.split(cleaned) if p]
    if not parts:
        return None
    picked: set[int] = set()
    numbered = [_digits(compact(p), len(items)) for p in parts]
    if all(n is not None for n in numbered):
        picked = {d - 1 for n in numbered for d in n or ()}
    else:
        key = compact(cleaned)
        named = _named(key, items)
        if named:
            picked = set(named)
        elif parse_yes_no(text) is False:
            return []
        else:
            return None
    values = [items[i].value for i in sorted(picked)]
    if NONE in values:
        return [] if values == [NONE] else None
    return values
