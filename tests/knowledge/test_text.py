"""Normalisation and the lexicon."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from knowledge.text import LEXICON_FILE, Lexicon, alternation, compact, default_lexicon, fold


def test_fold_makes_full_width_half_width() -> None:
    assert fold("  ＡＢＣ１２３　低保  ") == "abc123 低保"


def test_compact_drops_punctuation_spaces_and_emoji() -> None:
    assert compact("低保，咋个 申请？？😀!") == "低保咋个申请"


@pytest.mark.parametrize(
    ("said", "meant"),
    [
        ("吃低保要啥子条件", "低保要什么条件"),
        ("五保户一个月好多钱", "特困一个月多少"),
        ("屋头莫得钱了，咋个办", "家里没有钱了怎么办"),
        ("低宝咋个申清", "低保怎么申请"),
        ("请问一下残废补帖", "残疾补贴"),
    ],
)
def test_lexicon_rewrites_dialect_old_names_and_typos(said: str, meant: str) -> None:
    assert default_lexicon().normalize(said) == meant


def test_longest_variant_wins() -> None:
    lexicon = Lexicon({"特困": ["五保", "五保户"], "家庭": ["户"]})
    assert lexicon.normalize("五保户") == "特困"


def test_a_variant_inside_a_canonical_term_leaves_the_term_alone() -> None:
    lexicon = Lexicon({"渐退期": ["渐退", "缓退"]})
    assert lexicon.normalize("渐退期多久") == "渐退期多久"
    assert lexicon.normalize("渐退多久") == "渐退期多久"


@pytest.mark.parametrize(
    "table",
    [{"a": ["x"], "b": ["x"]}, {"低保": ["低保"]}, {"低保": ["，"]}],
)
def test_a_bad_lexicon_is_refused(table: dict[str, list[str]]) -> None:
    with pytest.raises(ValueError, match="lexicon"):
        Lexicon(table)


def test_the_lexicon_file_is_consistent() -> None:
    data = yaml.safe_load(LEXICON_FILE.read_text(encoding="utf-8"))
    Lexicon(data)  # raises on duplicates or self-mappings
    canonical = {compact(k) for k in data if k}
    variants = {compact(v) for vs in data.values() for v in vs}
    assert not canonical & variants, "a canonical term is also someone's variant"


@given(st.text())
def test_normalize_never_fails_and_is_idempotent(text: str) -> None:
    lexicon = default_lexicon()
    once = lexicon.normalize(text)
    assert lexicon.normalize(once) == once


def test_compact_keeps_exactly_the_letters_and_numbers_of_unicode() -> None:
    """`compact` filters with `str.isalnum`; that is unicode categories L* and N*, for
    every code point of this Python's unicode database."""
    differ = [
        hex(c)
        for c in range(sys.maxunicode + 1)
        if chr(c).isalnum() != (unicodedata.category(chr(c))[0] in "LN")
    ]
    assert differ == []
    assert compact("Ｄｉｂａｏ　低保①，２０２５！") == "dibao低保12025"


@given(
    st.lists(st.text(alphabet="低保户五特困", min_size=1, max_size=4), max_size=8),
    st.text(alphabet="低保户五特困x", max_size=30),
)
def test_alternation_matches_what_longest_first_alternatives_match(
    words: list[str], text: str
) -> None:
    plain = "|".join(map(re.escape, sorted(set(words), key=len, reverse=True))) or "(?!)"
    assert re.findall(alternation(words), text) == re.findall(plain, text)


def test_alternation_of_no_words_never_matches() -> None:
    assert re.search(alternation([]), "低保") is None
    assert re.search(alternation([""]), "低保") is None


def test_a_rewrite_that_makes_a_longer_variant_is_rewritten_again() -> None:
    """特捆 (a typo) becomes 特困, which with 供养 is the variant 特困供养 of 特困: the
    result is what the correctly typed words give."""
    lexicon = Lexicon({"特困": ["特捆", "特困供养"]})
    assert lexicon.apply(compact("特捆供养")) == "特困供养"  # one pass
    assert lexicon.normalize("特捆供养") == lexicon.normalize("特困供养") == "特困"
    assert default_lexicon().normalize("特捆供养是啥") == default_lexicon().normalize(
        "特困供养是啥"
    )
