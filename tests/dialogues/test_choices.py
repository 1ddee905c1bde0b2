"""Numbered choices: by number in every form residents type, by words, with negations."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialogues.answers import UNKNOWN
from dialogues.choices import CHOICES_FILE, options, pick_many, pick_one, shown


def test_every_question_has_distinct_short_labels() -> None:
    import yaml

    with CHOICES_FILE.open(encoding="utf-8") as fh:
        names = list(yaml.safe_load(fh))
    assert "situation" in names
    for name in names:
        labels = [o.label for o in options(name)]
        assert len(labels) == len(set(labels)) >= 2, name
        assert all(len(label) <= 10 for label in labels), name
        assert shown(name) == [{"value": o.value, "label": o.label} for o in options(name)]


@pytest.mark.parametrize(
    ("text", "name", "value"),
    [
        ("1", "area", "urban"),
        ("２", "area", "rural"),
        ("二", "area", "rural"),
        ("第二个", "area", "rural"),
        ("农村", "area", "rural"),
        ("我们是乡下的", "area", "rural"),
        ("城里", "area", "urban"),
        ("3", "area", None),
        ("随便", "area", None),
        ("不知道", "area", UNKNOWN),
        ("是", "receiving", "yes"),
        ("有的", "receiving", "yes"),
        ("莫得", "receiving", "no"),
        ("没领", "receiving", "no"),
        ("在领", "receiving", "yes"),
        ("👍", "receiving", "yes"),
        ("❌", "receiving", "no"),
        ("2", "receiving", "no"),
        ("养不起", "supporter", "unable"),
        ("3", "supporter", "none"),
        ("孤寡老人", "supporter", "none"),
        ("智力", "disability_kind", "intellectual"),
        ("7", "disability_kind", "multiple"),
        ("8", "disability_kind", None),
        ("同意", "consent", "yes"),
        ("不同意", "consent", "no"),
        ("好的", "consent", "yes"),
        ("重新填写", "confirm", "no"),
        ("确认", "confirm", "yes"),
        # Chongqing speech
        ("乡坝头", "area", "rural"),
        ("我们在乡坝里", "area", "rural"),
        ("住城头", "area", "urban"),
        ("领起的", "receiving", "yes"),
        ("吃起低保的", "receiving", "yes"),
        ("腿杆不方便", "disability_kind", "physical"),
        ("不消", "consent", "no"),
        ("不消", "after_screening", "no"),
    ],
)
def test_pick_one(text: str, name: str, value: object) -> None:
    assert pick_one(text, name) == value


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("1 4", ["disabled", "working"]),
        ("1、4", ["disabled", "working"]),
        ("14", ["disabled", "working"]),
        ("１ ４", ["disabled", "working"]),
        ("一 四", ["disabled", "working"]),
        ("5", []),
        ("都没有", []),
        ("没有", []),
        ("残疾，在打工", ["disabled", "working"]),
        ("瘫痪在床", ["disabled"]),
        ("没有残疾", []),
        ("没有残疾，在读书", ["student"]),
        ("1 5", None),  # none together with something
        ("16", None),  # 6 is no option
        ("随便说说", None),
        ("", None),
        ("😊😊", None),
        ("不知道", UNKNOWN),
        ("在打零工", ["working"]),
        ("半边瘫", ["disabled"]),
    ],
)
def test_pick_many_situation(text: str, values: object) -> None:
    assert pick_many(text, "situation") == values


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("1 3", ["sudden_event", "basic_needs_unmet"]),
        ("4", ["no_income"]),
        ("房子塌了，看病花了好多钱", ["sudden_event", "major_medical_expense"]),
        ("都还好", []),
        ("5", []),
        ("屋头遭火烧了", ["sudden_event"]),
        ("没得钱吃饭", ["basic_needs_unmet"]),
    ],
)
def test_pick_many_hardship(text: str, values: object) -> None:
    assert pick_many(text, "hardship") == values


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.sampled_from(["area", "situation", "hardship", "supporter"]))
def test_picking_never_raises(text: str, name: str) -> None:
    one = pick_one(text, name)
    many = pick_many(text, name)
    values = {o.value for o in options(name)}
    assert one is None or one is UNKNOWN or one in values
    assert many is None or many is UNKNOWN or set(many) <= values
