"""Normalisation and the lexicon."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from knowledge.text import LEXICON_FILE, Lexicon, compact, default_lexicon, fold


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
