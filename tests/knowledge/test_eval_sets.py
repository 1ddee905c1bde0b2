"""The search's evaluation sets are well formed, large enough, and kept apart.

knowledge/eval/kb_dev.yaml (tuning), knowledge/eval/kb_holdout.yaml (final figure only)
and knowledge/eval/kb_fresh.yaml (written later, its first figure taken before any change
it prompted) were written from ../shared/design/topics.yaml without reading the entries.
knowledge/eval/kb_use.yaml holds what went wrong in use (statements answered as
questions, dialect questions declined), written before the search was changed for it.
Rules:

- format: `in_scope` is a list of `{q: text, ids: [topic id, ...]}`, best id first, one
  or two ids (a second only when a careful person would accept either); `out_of_scope`
  is a list of texts;
- every id is an entry of the knowledge base (a topic id, or an extra entry such as
  dibao.payment that answers a question more precisely than its topic);
- sizes: dev >= 190 in scope and >= 40 out of scope, every topic the best id of >= 3
  questions and the common topics of >= 6; holdout >= 90 and >= 25, every topic >= 1;
  fresh >= 120 and >= 30, every topic >= 2; use >= 15 and >= 25;
- no question twice (after `compact`: case, width, spaces and punctuation ignored),
  within a file or across files, and no question that is a near copy of one in an
  earlier file (holdout after dev, fresh after both, use after the three);
- no question that the search reads as one of an entry's own phrasings (its title or a
  question, both as `Index.normalize` makes them): such a question measures only that
  the entry was written with it, not how residents' own words are understood.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from rapidfuzz import fuzz

from knowledge.evaluation import DEFAULT_SETS
from knowledge.kb import load_entries, topic_ids
from knowledge.search import default_index
from knowledge.text import compact


def entry_ids() -> tuple[str, ...]:
    return tuple(e.id for e in load_entries())


EVAL_DIR = Path(__file__).resolve().parents[2] / "knowledge" / "eval"
DEV = "kb_dev.yaml"
HOLDOUT = "kb_holdout.yaml"
FRESH = "kb_fresh.yaml"
USE = "kb_use.yaml"
MAX_IDS = 2
NEAR_COPY = 80  # rapidfuzz ratio of compacted texts at or above which two questions are copies


@dataclass(frozen=True)
class Spec:
    in_scope: int
    out_of_scope: int
    per_topic: int


SPECS = {
    DEV: Spec(190, 40, 3),
    HOLDOUT: Spec(90, 25, 1),
    FRESH: Spec(120, 30, 2),
    USE: Spec(15, 25, 0),
}
EARLIER_LATER = [
    (DEV, HOLDOUT),
    (DEV, FRESH),
    (HOLDOUT, FRESH),
    (DEV, USE),
    (HOLDOUT, USE),
    (FRESH, USE),
]

# The topics residents ask about most; the dev set carries more of them.
COMMON = (
    "dibao.conditions",
    "dibao.standard",
    "dibao.amount",
    "dibao.how_to_apply",
    "dibao.documents",
    "dibao.timeline",
    "tekun.what",
    "linshi.what",
    "medical_aid.what",
    "disability.living_subsidy",
    "disability.care_subsidy",
)
COMMON_MIN = 6


def format_problems(data: Any, known_ids: Iterable[str]) -> list[str]:
    """Every way `data` (one parsed eval file) breaks the format, or [] when it is fine."""
    if not isinstance(data, Mapping):
        return ["the file must be a mapping"]
    problems = []
    extra = sorted(set(data) - {"in_scope", "out_of_scope"})
    if extra:
        problems.append(f"unknown keys: {extra}")
    known = set(known_ids)
    in_scope = data.get("in_scope")
    if not isinstance(in_scope, list) or not in_scope:
        problems.append("in_scope must be a non-empty list")
        in_scope = []
    for i, item in enumerate(in_scope):
        where = f"in_scope[{i}]"
        if not isinstance(item, Mapping) or set(item) != {"q", "ids"}:
            problems.append(f"{where}: must have exactly the keys q and ids")
            continue
        if not isinstance(item["q"], str) or not compact(item["q"]):
            problems.append(f"{where}: q must be text")
        ids = item["ids"]
        if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_IDS:
            problems.append(f"{where}: ids must list 1 to {MAX_IDS} topic ids")
            continue
        if len(set(map(str, ids))) != len(ids):
            problems.append(f"{where}: ids repeat")
        problems += [f"{where}: unknown topic id {t!r}" for t in ids if t not in known]
    out = data.get("out_of_scope")
    if not isinstance(out, list) or not out:
        problems.append("out_of_scope must be a non-empty list")
        out = []
    problems += [
        f"out_of_scope[{i}]: must be text"
        for i, text in enumerate(out)
        if not isinstance(text, str) or not compact(text)
    ]
    return problems


def questions(data: Mapping[str, Any]) -> list[str]:
    """All texts of one set: in-scope questions, then out-of-scope ones."""
    return [str(item["q"]) for item in data["in_scope"]] + [str(t) for t in data["out_of_scope"]]


def best_id_counts(data: Mapping[str, Any]) -> Counter[str]:
    """How many questions have each topic as their best (first) id."""
    return Counter(str(item["ids"][0]) for item in data["in_scope"])


def repeats(texts: Sequence[str]) -> list[str]:
    """Texts that occur more than once once compacted."""
    counts = Counter(compact(t) for t in texts)
    return [t for t in texts if counts[compact(t)] > 1]


def near_copies(texts: Iterable[str], others: Sequence[str]) -> list[tuple[str, str, float]]:
    """Pairs (text, other, ratio) whose compacted forms are at least NEAR_COPY alike."""
    found = []
    keys = [compact(o) for o in others]
    for text in texts:
        key = compact(text)
        for other, other_key in zip(others, keys, strict=True):
            ratio = fuzz.ratio(key, other_key)
            if ratio >= NEAR_COPY:
                found.append((text, other, ratio))
    return found


def load(name: str) -> Any:
    with (EVAL_DIR / name).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def sets() -> dict[str, Any]:
    return {name: load(name) for name in SPECS}


# ---- the checks themselves catch what they should ----


def test_format_problems_reports_each_defect() -> None:
    bad = {
        "in_scope": [
            {"q": "低保咋个申请", "ids": ["dibao.how_to_apply"]},
            {"q": "  ", "ids": ["dibao.what"]},
            {"q": "低保标准", "ids": []},
            {"q": "五保", "ids": ["tekun.what", "tekun.what"]},
            {"q": "低宝", "ids": ["dibao.nonsense"]},
            {"q": "低保", "ids": ["dibao.what", "dibao.standard", "dibao.amount"]},
            {"question": "没得 q"},
        ],
        "out_of_scope": ["护照", 12345, ""],
        "notes": "x",
    }
    found = format_problems(bad, topic_ids())
    assert found == [
        "unknown keys: ['notes']",
        "in_scope[1]: q must be text",
        "in_scope[2]: ids must list 1 to 2 topic ids",
        "in_scope[3]: ids repeat",
        "in_scope[4]: unknown topic id 'dibao.nonsense'",
        "in_scope[5]: ids must list 1 to 2 topic ids",
        "in_scope[6]: must have exactly the keys q and ids",
        "out_of_scope[1]: must be text",
        "out_of_scope[2]: must be text",
    ]
    assert format_problems([], topic_ids()) == ["the file must be a mapping"]
    assert format_problems({"in_scope": [], "out_of_scope": []}, topic_ids()) == [
        "in_scope must be a non-empty list",
        "out_of_scope must be a non-empty list",
    ]


def test_repeats_and_near_copies_ignore_spacing_and_punctuation() -> None:
    twice = ["低保 咋个申请？", "低保咋个申请"]
    assert repeats([*twice, "五保"]) == twice
    assert repeats(["低保咋个申请", "五保"]) == []
    copies = near_copies(["我屋头三个人收入1200能吃低保不"], ["我屋头三个人收入1300能吃低保不吗"])
    assert [(a, b) for a, b, _ in copies] == [
        ("我屋头三个人收入1200能吃低保不", "我屋头三个人收入1300能吃低保不吗")
    ]
    assert near_copies(["特困供养标准"], ["低保在哪里申请"]) == []


# ---- the files ----


@pytest.mark.parametrize("name", list(SPECS))
def test_format_and_ids(sets: dict[str, Any], name: str) -> None:
    assert format_problems(sets[name], entry_ids()) == []


@pytest.mark.parametrize("name", list(SPECS))
def test_sizes(sets: dict[str, Any], name: str) -> None:
    spec = SPECS[name]
    assert len(sets[name]["in_scope"]) >= spec.in_scope
    assert len(sets[name]["out_of_scope"]) >= spec.out_of_scope


@pytest.mark.parametrize("name", list(SPECS))
def test_every_topic_is_the_best_answer_often_enough(sets: dict[str, Any], name: str) -> None:
    counts = best_id_counts(sets[name])
    thin = {t: counts[t] for t in topic_ids() if counts[t] < SPECS[name].per_topic}
    assert thin == {}


def test_dev_has_more_of_the_common_topics(sets: dict[str, Any]) -> None:
    counts = best_id_counts(sets[DEV])
    thin = {t: counts[t] for t in COMMON if counts[t] < COMMON_MIN}
    assert thin == {}
    assert set(COMMON) <= set(topic_ids())


@pytest.mark.parametrize("name", list(SPECS))
def test_no_question_twice_in_a_file(sets: dict[str, Any], name: str) -> None:
    assert repeats(questions(sets[name])) == []


@pytest.mark.parametrize(("earlier", "later"), EARLIER_LATER)
def test_no_question_in_two_files(sets: dict[str, Any], earlier: str, later: str) -> None:
    seen = {compact(t) for t in questions(sets[earlier])}
    assert [t for t in questions(sets[later]) if compact(t) in seen] == []


@pytest.mark.parametrize(("earlier", "later"), EARLIER_LATER)
def test_a_later_set_is_not_a_paraphrase_of_an_earlier_one(
    sets: dict[str, Any], earlier: str, later: str
) -> None:
    assert near_copies(questions(sets[later]), questions(sets[earlier])) == []


@pytest.mark.parametrize("name", list(SPECS))
def test_no_question_is_an_entrys_own_phrasing(sets: dict[str, Any], name: str) -> None:
    index = default_index()
    own = {
        index.normalize(p): entry.id
        for entry in index.entries
        for p in (entry.title, *entry.questions)
    }
    copied = {t: own[key] for t in questions(sets[name]) if (key := index.normalize(t)) in own}
    assert copied == {}


def test_the_bundled_evaluation_runs_every_set() -> None:
    assert DEFAULT_SETS == (DEV, HOLDOUT, FRESH, USE)
