"""How well the search answers residents' questions, against a plain baseline.

An evaluation set (knowledge/eval/kb_*.yaml) lists in-scope questions with the topic ids
a careful person would accept, and out-of-scope questions the bot must decline.

- top-1: the search answers (`answered`) and its first result is acceptable;
- top-3: an acceptable id is among the first three results (what the bot offers as
  choices when unsure);
- rejection: out-of-scope questions with `answered: false`;
- wrong: in-scope questions answered with an entry that is not acceptable (worse for a
  resident than being offered choices).

The baseline is rapidfuzz's WRatio of the raw question against the entries' titles
only, answering from the threshold that suits it best on the same set, measured in the
same run, so the figures compare like with like.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from knowledge.search import Hit, Index, SearchResult, default_index

EVAL_DIR = Path(__file__).resolve().parent / "eval"
DEFAULT_SETS = ("kb_dev.yaml", "kb_holdout.yaml", "kb_fresh.yaml", "kb_use.yaml")


@dataclass(frozen=True)
class Question:
    text: str
    ids: tuple[str, ...]


@dataclass(frozen=True)
class EvalSet:
    name: str
    in_scope: tuple[Question, ...]
    out_of_scope: tuple[str, ...]


@dataclass
class Score:
    top1: float
    top3: float
    rejection: float
    wrong: float
    misses: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "top1": self.top1,
            "top3": self.top3,
            "rejection": self.rejection,
            "wrong": self.wrong,
        }


@dataclass
class SetReport:
    name: str
    in_scope: int
    out_of_scope: int
    search: Score
    baseline: Score

    def to_dict(self) -> dict[str, Any]:
        return {
            "set": self.name,
            "in_scope": self.in_scope,
            "out_of_scope": self.out_of_scope,
            "search": self.search.to_dict(),
            "baseline": self.baseline.to_dict(),
        }


@dataclass
class Report:
    sets: list[SetReport]

    def to_dict(self) -> dict[str, Any]:
        return {"sets": [s.to_dict() for s in self.sets]}


def load_eval_set(path: str | Path | None = None) -> list[EvalSet]:
    """One named set from `path`, or the bundled sets."""
    paths = [Path(path)] if path else [EVAL_DIR / name for name in DEFAULT_SETS]
    sets = []
    for p in paths:
        with p.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        sets.append(
            EvalSet(
                name=p.stem,
                in_scope=tuple(
                    Question(str(item["q"]), tuple(item["ids"])) for item in data["in_scope"]
                ),
                out_of_scope=tuple(str(q) for q in data["out_of_scope"]),
            )
        )
    return sets


def _score(
    questions: Sequence[Question],
    out_of_scope: Sequence[str],
    search: Callable[[str], SearchResult],
) -> Score:
    top1 = top3 = rejected = wrong = 0
    misses: list[dict[str, Any]] = []
    for q in questions:
        result = search(q.text)
        ids = [hit.id for hit in result.results]
        if result.answered and ids[:1] and ids[0] in q.ids:
            top1 += 1
        else:
            wrong += result.answered
            misses.append({"q": q.text, "want": list(q.ids), "got": ids[:3], **_flag(result)})
        if set(ids[:3]) & set(q.ids):
            top3 += 1
    for text in out_of_scope:
        result = search(text)
        if not result.answered:
            rejected += 1
        else:
            misses.append({"q": text, "want": [], "got": [h.id for h in result.results[:1]]})
    return Score(
        top1=_ratio(top1, len(questions)),
        top3=_ratio(top3, len(questions)),
        rejection=_ratio(rejected, len(out_of_scope)),
        wrong=_ratio(wrong, len(questions)),
        misses=misses,
    )


def _flag(result: SearchResult) -> dict[str, Any]:
    return {} if result.answered else {"declined": True}


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


class Baseline:
    """rapidfuzz WRatio of the raw question against titles only."""

    def __init__(self, index: Index) -> None:
        self.titles = [e.title for e in index.entries]
        self.entries = index.entries
        self.threshold = 0.0

    def raw(self, text: str) -> list[tuple[str, float]]:
        found = process.extract(text, self.titles, scorer=fuzz.WRatio, limit=3)
        return [(self.entries[i].id, float(score)) for _, score, i in found]

    def search(self, text: str) -> SearchResult:
        found = self.raw(text)
        answered = bool(found) and found[0][1] >= self.threshold
        return SearchResult(text, answered, tuple(Hit(i, "", s) for i, s in found))

    def fit(self, questions: Sequence[Question], out_of_scope: Sequence[str]) -> None:
        """Pick the threshold that maximises the mean of top-1 and rejection."""
        right = [
            (found[0][1], found[0][0] in q.ids) for q in questions if (found := self.raw(q.text))
        ]
        wrong = [found[0][1] for t in out_of_scope if (found := self.raw(t))]
        best, best_value = 0.0, -1.0
        for threshold in sorted({0.0, *(s for s, _ in right), *wrong}):
            top1 = sum(ok and s >= threshold for s, ok in right) / max(len(questions), 1)
            rejection = (sum(s < threshold for s in wrong) + len(out_of_scope) - len(wrong)) / max(
                len(out_of_scope), 1
            )
            if (top1 + rejection) / 2 > best_value:
                best, best_value = threshold, (top1 + rejection) / 2
        self.threshold = best


def evaluate(sets: Sequence[EvalSet], index: Index | None = None) -> Report:
    index = index or default_index()
    reports = []
    for s in sets:
        baseline = Baseline(index)
        baseline.fit(s.in_scope, s.out_of_scope)
        reports.append(
            SetReport(
                name=s.name,
                in_scope=len(s.in_scope),
                out_of_scope=len(s.out_of_scope),
                search=_score(s.in_scope, s.out_of_scope, index.search),
                baseline=_score(s.in_scope, s.out_of_scope, baseline.search),
            )
        )
    return Report(reports)
