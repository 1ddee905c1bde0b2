"""Homophone typo correction."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knowledge.homophones import Homophones, fold, is_slip
from knowledge.search import default_index

WORDS = {"低保": "低保", "申请": "申请", "五保": "特困", "特困": "特困", "乡镇": "乡镇"}


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("地保", "低保"), ("低报", "低保"), ("申晴", "申请"), ("五宝", "特困"), ("特昆", "特困")],
)
def test_a_slip_becomes_the_term_it_sounds_like(typed: str, meant: str) -> None:
    assert Homophones(WORDS).correct(typed) == meant


def test_known_words_and_ordinary_words_are_left_alone() -> None:
    homophones = Homophones(WORDS)
    assert homophones.correct("低保申请") == "低保申请"
    assert homophones.correct("今天天气好") == "今天天气好"


def test_a_whole_other_word_with_the_same_sound_is_not_a_slip() -> None:
    assert is_slip("地保", "低保")
    assert not is_slip("敌报", "低保")  # two characters differ: another word
    assert Homophones(WORDS).correct("敌报") != "低保"


def test_a_typed_numeral_is_never_a_slip() -> None:
    """十了 sounds like 死了 to a Chongqing ear, but 七十了 is an age."""
    assert not is_slip("十了", "死了")
    assert is_slip("五宝", "五保")  # a numeral typed as it is meant still counts
    assert is_slip("零时", "临时")  # 零 is rarely a figure in words
    assert default_index().normalize("老伴今年七十了") == "老伴今年七十了"


def test_a_sound_shared_by_two_meanings_is_never_guessed() -> None:
    homophones = Homophones({"公示": "公示", "公式": "公式"})
    assert homophones.correct("工示") == "工示"


def test_chongqing_merged_sounds_fold_together() -> None:
    assert fold("nan") == fold("lan")
    assert fold("zhang") == fold("zang")
    assert fold("qing") == fold("qin")
    assert fold("sheng") == fold("sen")


def test_the_common_reading_only() -> None:
    """的 can be read di, but 的保 is not a typo of 低保."""
    homophones = Homophones(WORDS)
    assert homophones.correct("制度的保障") == "制度的保障"


def test_the_index_corrects_queries_but_keeps_what_it_knows() -> None:
    index = default_index()
    assert index.normalize("地保咋个申晴") == "低保怎么申请"
    assert index.normalize("低保公式期") == "低保公示期"


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("dibao", "低保"),
        ("dibaoshenqing", "低保申请"),
        ("wubaoshiduoshao", "特困shi多少"),  # a syllable of no known word stays
        ("howtoapplyfor", "howtoapplyfor"),  # not pinyin
        ("shi", "shi"),  # pinyin, but of no known word
        ("abc", "abc"),
    ],
)
def test_pinyin_typed_in_latin_letters_is_read_as_the_words_it_spells(
    typed: str, meant: str
) -> None:
    assert Homophones(WORDS | {"多少": "多少", "事实": "事实"}).correct(typed) == meant


@given(st.text(st.characters(blacklist_characters=string.ascii_lowercase), max_size=200))
def test_correct_never_fails_and_keeps_non_chinese_text(text: str) -> None:
    out = Homophones(WORDS).correct(text)
    assert [c for c in out if not "\u3400" <= c <= "\u9fff"] == [
        c for c in text if not "\u3400" <= c <= "\u9fff"
    ]


def test_a_known_word_starting_inside_the_window_is_no_slip() -> None:
    """年申 sounds like 年审 (a review), but in 去年申请 the word is 申请."""
    homophones = Homophones({"年审": "复核", "申请": "申请"})
    assert homophones.correct("年申") == "复核"
    assert homophones.correct("去年申请过") == "去年申请过"
    index = default_index()
    assert index.normalize("企业职工养老保险") == "企业职工养老保险"  # not 职供养
    assert index.normalize("在江北租房子住") == "在江北租房子住"  # not 住房
