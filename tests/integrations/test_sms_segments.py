"""SMS segments: 70 characters in one SMS, 67 per numbered part, at most 3 parts
(integrations/sms/segments.py; ../shared/reference/channels.md "SMS")."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.sms.segments import (
    MAX_PARTS,
    PAGE,
    PART,
    SINGLE,
    sms_length,
    split,
    split_turn,
)

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


# The screening result the audit found cut inside words (可|能, 需|要) to fit 3×67 exactly.
CROWDED = (
    "预筛查结果（不是审批决定）：\n临时救助：很可能符合\n医疗救助：很可能符合\n"
    + "".join(
        f"{name}：可能符合，需要核实\n"
        for name in ("低保", "单人户低保", "低保边缘家庭", "特困供养", "残疾人生活补贴")
    )
    + "重残护理补贴：可能符合，需要核实\n低保渐退期：可能符合，需要核实\n"
    + "回复“详细”看理由和办法。情况紧急，建议转交：回复1转交乡镇窗口，2不用。"
)
BOUNDARY = set("\n。！？；，、：!?;,: ）)”")


def cut_points(text: str, parts: list[str], more: str = "") -> list[int]:
    """Where in `text` each part but the last ended (spacing at the cuts skipped)."""
    points, at = [], 0
    for part in parts[:-1]:
        piece = LABEL.sub("", part).removesuffix(more)
        at = text.index(piece, at) + len(piece)
        points.append(at)
        while at < len(text) and text[at].isspace():
            at += 1
    return points


def test_parts_break_at_a_line_or_punctuation_never_inside_a_word() -> None:
    assert sum(map(sms_length, CROWDED.splitlines())) + CROWDED.count("\n") == 3 * 62
    result = split(CROWDED, more=MORE)
    assert all(sms_length(p) <= PART for p in result.parts)
    for point in cut_points(CROWDED, result.parts, MORE):
        around = CROWDED[point - 3 : point + 3]
        assert CROWDED[point - 1] in BOUNDARY or CROWDED[point].isspace(), around
    if result.truncated:
        assert CROWDED.rstrip().endswith(result.rest)
        assert result.rest[0] not in BOUNDARY


def test_without_punctuation_a_part_breaks_between_words() -> None:
    words = " ".join(["dibao"] * 20) + " ok!"  # 123: two parts only if cut inside a word
    for point in cut_points(words, split(words).parts):
        assert words[point - 1] == " " or words[point] == " "


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


def test_a_page_break_ends_the_first_sms_when_the_whole_does_not_fit() -> None:
    first, then = SENTENCE * 2, SENTENCE * 8
    result = split(first + "\n" + PAGE + then, more=MORE)
    assert result.parts == [f"(1/2){SENTENCE}", f"(2/2){SENTENCE}{MORE}"]  # not 3 parts
    assert result.rest == then
    short = SENTENCE + PAGE + SENTENCE  # the whole fits: the break is a line end
    assert split(short, more=MORE) == split(SENTENCE + "\n" + SENTENCE, more=MORE)
    long = SENTENCE * 6 + PAGE + then  # the first page alone does not fit: as if no break
    assert split(long, more=MORE) == split(SENTENCE * 6 + "\n" + then, more=MORE)


def test_an_empty_text_is_no_sms() -> None:
    assert split("  \n").parts == []


def test_a_suffix_that_cannot_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        split("字" * 300, more="字" * 40)


texts = st.text(
    alphabet=st.one_of(
        st.sampled_from("低保申请条件收入财产。，！？；、\n\f 123abc😀（）"),
        st.characters(codec="utf-8"),
    ),
    max_size=600,
)


@pytest.mark.parametrize("sentences", [False, True])
@settings(max_examples=400, deadline=None)
@given(text=texts)
def test_every_split_is_one_sms_of_70_or_at_most_3_parts_of_67(sentences: bool, text: str) -> None:
    result = split(text, more=MORE, sentences=sentences)
    parts = result.parts
    assert not any(PAGE in part for part in parts)  # a page break never goes out
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
    assert not any(PAGE in part for part in parts)
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
