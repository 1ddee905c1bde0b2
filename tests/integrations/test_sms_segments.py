"""SMS segments: 70 characters in one SMS, 67 per numbered part, at most 3 parts
(integrations/sms/segments.py; ../shared/reference/channels.md "SMS")."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.sms.segments import MAX_PARTS, PART, SINGLE, sms_length, split, split_turn

MORE = "…回复“全文”看后面"
SENTENCE = "申请低保要向户籍所在地的乡镇人民政府（街道办事处）提出书面申请。"  # 32 characters
LABEL = re.compile(r"^\((\d)/(\d)\)")


def strip_labels(parts: list[str]) -> str:
    return "".join(LABEL.sub("", p) for p in parts)


def test_seventy_characters_are_one_sms_without_a_number() -> None:
    text = "字" * SINGLE
    assert split(text).parts == [text]


def test_seventy_one_characters_become_two_numbered_parts() -> None:
    parts = split("字" * (SINGLE + 1)).parts
    assert [LABEL.match(p).groups() for p in parts] == [("1", "2"), ("2", "2")]  # type: ignore[union-attr]
    assert all(sms_length(p) <= PART for p in parts)
    assert strip_labels(parts) == "字" * (SINGLE + 1)


def test_parts_end_after_a_sentence_when_that_costs_no_extra_sms() -> None:
    text = SENTENCE * 2 + "带上身份证和户口簿。"  # 74 characters: two parts either way
    parts = split(text).parts
    assert parts == [f"(1/2){SENTENCE}", f"(2/2){SENTENCE}带上身份证和户口簿。"]


def test_cutting_at_sentences_never_costs_an_extra_sms() -> None:
    text = SENTENCE * 3  # 96 characters: 2 parts of 62, but 3 if cut at each sentence
    parts = split(text).parts
    assert len(parts) == 2
    assert all(sms_length(p) <= PART for p in parts)
    assert strip_labels(parts) == text


def test_an_emoji_counts_as_two_characters() -> None:
    assert sms_length("好😀") == 3
    assert split("😀" * 35).parts == ["😀" * 35]
    assert len(split("😀" * 36).parts) == 2


def test_a_text_longer_than_three_parts_is_cut_at_a_sentence_with_the_offer() -> None:
    text = SENTENCE * 8  # 256 characters
    result = split(text, more=MORE)
    assert len(result.parts) == MAX_PARTS
    assert result.parts[-1].endswith("。" + MORE)
    assert all(sms_length(p) <= PART for p in result.parts)
    sent = strip_labels(result.parts).removesuffix(MORE)
    assert sent + result.rest == text
    assert result.rest.startswith(SENTENCE[:5])


def test_an_empty_text_is_no_sms() -> None:
    assert split("  \n").parts == []


def test_a_suffix_that_cannot_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        split("字" * 300, more="字" * 40)


texts = st.text(
    alphabet=st.one_of(
        st.sampled_from("低保申请条件收入财产。，！？；、\n 123abc😀（）"),
        st.characters(codec="utf-8"),
    ),
    max_size=600,
)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_every_split_is_one_sms_of_70_or_at_most_3_parts_of_67(text: str) -> None:
    result = split(text, more=MORE)
    parts = result.parts
    if len(parts) == 1 and not LABEL.match(parts[0]):
        assert sms_length(parts[0]) <= SINGLE
        return
    assert len(parts) <= MAX_PARTS
    for n, part in enumerate(parts, 1):
        assert sms_length(part) <= PART
        match = LABEL.match(part)
        assert match is not None
        assert match.groups() == (str(n), str(len(parts)))
    # Nothing is lost but spacing at the cuts: what was sent plus the rest is the text.
    sent = strip_labels(parts)
    if result.truncated:
        assert sent.endswith(MORE)
        sent = sent.removesuffix(MORE)
    squeeze = re.compile(r"\s+")
    assert squeeze.sub("", sent + result.rest) == squeeze.sub("", text)


QUESTION = "家里一起生活的有几口人？请从您本人说起说每人的年龄，比如：68 66"


def test_a_turn_too_long_keeps_its_last_reply_whole_and_cuts_what_comes_before() -> None:
    answer = SENTENCE * 6  # an answer given in the middle of the questionnaire
    result = split_turn([answer, "我们接着刚才的问题：", QUESTION], more=MORE)
    assert len(result.parts) == MAX_PARTS
    assert all(sms_length(p) <= PART for p in result.parts)
    sent = strip_labels(result.parts)
    assert sent.endswith("我们接着刚才的问题：\n" + QUESTION)  # asked now, with its lead-in
    assert f"。{MORE}" in sent  # the answer is cut after a sentence and offers the rest
    head = sent[: sent.index(MORE)]
    assert head + result.rest == answer
    assert any(LABEL.sub("", p).startswith("我们接着") for p in result.parts)  # its own part


def test_a_turn_that_fits_is_split_as_one_text() -> None:
    texts = [SENTENCE, QUESTION]
    assert split_turn(texts, more=MORE) == split("\n".join(texts), more=MORE)


def test_a_turn_whose_last_reply_cannot_fit_is_split_as_one_text() -> None:
    texts = [SENTENCE, SENTENCE * 8]
    assert split_turn(texts, more=MORE) == split("\n".join(texts), more=MORE)


@settings(max_examples=200, deadline=None)
@given(st.lists(texts, min_size=1, max_size=4))
def test_every_turn_is_well_formed_and_loses_nothing(replies: list[str]) -> None:
    result = split_turn(replies, more=MORE)
    parts = result.parts
    if len(parts) == 1 and not LABEL.match(parts[0]):
        assert sms_length(parts[0]) <= SINGLE
        sent = parts[0]
    else:
        assert len(parts) <= MAX_PARTS
        assert all(sms_length(p) <= PART for p in parts)
        sent = strip_labels(parts)
    # What was sent around the offer, with the rest where the offer is, is the turn.
    squeeze = re.compile(r"\s+")
    before, _, after = squeeze.sub("", sent).partition(MORE)
    rest = squeeze.sub("", result.rest)
    assert before + rest + after == squeeze.sub("", "".join(replies))
