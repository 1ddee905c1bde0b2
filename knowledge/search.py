"""Fuzzy search over the knowledge base: which entry answers this question, and how sure.

Two stages, both on lexicon-normalised text (knowledge/text.py):

1. Recall: BM25 over character unigrams and bigrams of each entry's title and questions
   (its "document"), through an inverted index, so the cost grows with the query, not
   with the knowledge base.
2. Precision: the best candidates are re-ranked by rapidfuzz similarity between the
   query and each of their titles and questions.

`answered` is false when the best entry is not close enough, so out-of-scope questions
("护照怎么办理") are declined rather than answered wrongly; the bot then offers choices
or a person. How close is close enough depends on whether the question names something
of social assistance at all (knowledge/search.yaml). `residentbot kb eval` measures both.
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from knowledge.homophones import Homophones
from knowledge.kb import Entry, load_entries
from knowledge.text import Lexicon, compact, default_lexicon

SETTINGS_FILE = Path(__file__).resolve().parent / "search.yaml"
SELECTIVE_MIN = 200  # on a KB this small every gram picks candidates (exact BM25)
SELECTIVE_SHARE = 0.02  # on a large KB, grams in more than 2 % of entries do not
POOL = 100  # entries scored exactly when candidates come from selective grams only


@dataclass(frozen=True)
class Tuning:
    """Scoring parameters, tuned with `residentbot kb eval` on knowledge/eval/kb_dev.yaml."""

    k1: float = 1.2  # BM25 term-frequency saturation
    b: float = 0.5  # BM25 length normalisation
    answer_weight: float = 0.5  # an answer's words count half as much as a question's
    candidates: int = 12  # entries re-ranked by rapidfuzz
    weight_bm25: float = 0.8  # share of the final score from BM25 (the rest: rapidfuzz)
    bm25_scale: float = 1.6  # BM25 as a share of the query's ceiling, scaled to 0..100


@dataclass(frozen=True)
class Confidence:
    """The score from which we answer: low when the question names a domain term."""

    domain_bar: float
    other_bar: float
    domain: re.Pattern[str] | None
    terms: tuple[str, ...] = ()  # the domain terms, normalised
    words: tuple[str, ...] = ()  # other words a homophone typo may be corrected to

    @classmethod
    def load(cls, lexicon: Lexicon, path: Path = SETTINGS_FILE) -> Confidence:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        forms = sorted({lexicon.normalize(str(t)) for t in data["domain"]} - {""}, key=len)
        pattern = re.compile("|".join(map(re.escape, reversed(forms)))) if forms else None
        bars = data["bars"]
        words = tuple(lexicon.normalize(str(w)) for w in data.get("words", []))
        return cls(float(bars["domain"]), float(bars["other"]), pattern, tuple(forms), words)

    def in_domain(self, query: str) -> bool:
        """Whether a normalised query names something of social assistance."""
        return self.domain is not None and self.domain.search(query) is not None

    def bar(self, query: str) -> float:
        return self.domain_bar if self.in_domain(query) else self.other_bar


@dataclass(frozen=True)
class Hit:
    id: str
    title: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "score": self.score}


@dataclass(frozen=True)
class SearchResult:
    query: str
    answered: bool
    results: tuple[Hit, ...]

    @property
    def best(self) -> Hit | None:
        return self.results[0] if self.results else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "answered": self.answered,
            "results": [hit.to_dict() for hit in self.results],
        }


def grams(text: str) -> list[str]:
    """Character unigrams and bigrams: Chinese needs no word segmentation for this."""
    return list(text) + [text[i : i + 2] for i in range(len(text) - 1)]


class Index:
    """An immutable search index over entries; build once, query from any task."""

    def __init__(
        self,
        entries: Sequence[Entry],
        lexicon: Lexicon | None = None,
        confidence: Confidence | None = None,
        tuning: Tuning | None = None,
    ) -> None:
        self.tuning = t = tuning or Tuning()
        self.lexicon = lexicon or default_lexicon()
        self.confidence = confidence or Confidence.load(self.lexicon)
        self.entries = tuple(entries)
        self.by_id = {e.id: e for e in self.entries}
        norm = self.lexicon.normalize

        # Every phrasing of every entry, normalised; `owner[i]` is its entry's position.
        self.texts: list[str] = []
        self.owner: list[int] = []
        self.texts_of: list[list[int]] = []
        postings: dict[str, dict[int, float]] = defaultdict(dict)
        lengths: list[float] = []
        for position, entry in enumerate(self.entries):
            phrasings = list(dict.fromkeys(norm(t) for t in (entry.title, *entry.questions)))
            phrasings = [p for p in phrasings if p]
            self.texts_of.append(list(range(len(self.texts), len(self.texts) + len(phrasings))))
            self.texts.extend(phrasings)
            self.owner.extend([position] * len(phrasings))
            counts: dict[str, float] = defaultdict(float)
            for phrasing in phrasings:
                for gram in set(grams(phrasing)):  # a gram counts once per phrasing
                    counts[gram] += 1.0
            for gram in set(grams(norm(entry.answer))):  # the entry's own words help too
                counts[gram] += t.answer_weight
            for gram, count in counts.items():
                postings[gram][position] = count
            lengths.append(sum(counts.values()))

        n = max(len(self.entries), 1)
        average = (sum(lengths) / n) or 1.0
        self.idf = {
            gram: math.log(1 + (n - len(docs) + 0.5) / (len(docs) + 0.5))
            for gram, docs in postings.items()
        }
        # BM25 weight of each gram in each entry, precomputed: a query only sums them.
        self.weights: dict[str, dict[int, float]] = {
            gram: {
                doc: self.idf[gram]
                * tf
                * (t.k1 + 1)
                / (tf + t.k1 * (1 - t.b + t.b * lengths[doc] / average))
                for doc, tf in docs.items()
            }
            for gram, docs in postings.items()
        }
        # Grams in more entries than this do not pick candidates (their postings are
        # long and say little); they still count in the candidates' exact scores.
        self.selective = max(SELECTIVE_MIN, int(n * SELECTIVE_SHARE))
        self.unseen_idf = math.log(1 + (n + 0.5) / 0.5)
        self.homophones = Homophones(self._vocabulary())

    def _bm25(self, query_grams: list[str]) -> dict[int, float]:
        """Exact BM25 scores of the entries worth scoring. Candidates come from the
        selective grams (all of them on a small KB), so the cost follows the query's
        rare words, not the size of the knowledge base."""
        postings = [self.weights[g] for g in query_grams if g in self.weights]
        picking = [p for p in postings if len(p) <= self.selective] or postings
        rough: dict[int, float] = defaultdict(float)
        for weights in picking:
            for doc, weight in weights.items():
                rough[doc] += weight
        if len(picking) == len(postings):
            return rough
        pool = sorted(rough, key=rough.__getitem__, reverse=True)[:POOL]
        return {doc: sum(w.get(doc, 0.0) for w in postings) for doc in pool}

    def _vocabulary(self) -> dict[str, str]:
        """Words a homophone typo may be corrected to: every lexicon form, the domain
        terms and the other words of knowledge/search.yaml."""
        words = self.lexicon.forms()
        for term in self.confidence.terms + self.confidence.words:
            words.setdefault(term, term)
        return words

    def normalize(self, text: str) -> str:
        """A query as the index compares it: compacted, homophones corrected, rewritten."""
        return self.lexicon.apply(self.homophones.correct(compact(text)))

    # --- lookup ----------------------------------------------------------------------

    def get(self, entry_id: str) -> Entry | None:
        return self.by_id.get(entry_id)

    def close_ids(self, entry_id: str, limit: int = 3) -> list[str]:
        found = process.extract(entry_id, list(self.by_id), scorer=fuzz.ratio, limit=limit)
        return [str(match[0]) for match in found if match[1] >= 50]

    # --- search ----------------------------------------------------------------------

    def search(self, text: str, top: int = 3) -> SearchResult:
        query = self.normalize(text)
        if not query:
            return SearchResult(text, False, ())
        query_grams = list(dict.fromkeys(grams(query)))

        scores = self._bm25(query_grams)
        if not scores:
            return SearchResult(text, False, ())
        t = self.tuning
        # The most an entry could score: every query gram present at its best weight. In a
        # question of our domain, words the KB has never seen are personal details (names,
        # crops, amounts) and do not count against the match; in any other question they
        # are what it is about ("护照") and do.
        in_domain = self.confidence.in_domain(query)
        unseen = 0.0 if in_domain else self.unseen_idf
        ceiling = sum(self.idf.get(g, unseen) for g in query_grams) * (t.k1 + 1)

        candidates = sorted(scores, key=scores.__getitem__, reverse=True)[: t.candidates]
        ranked: list[tuple[float, float, int]] = []
        for doc in candidates:
            phrasings = [self.texts[i] for i in self.texts_of[doc]]
            similarity = max(
                (fuzz.ratio(query, p) + fuzz.partial_ratio(query, p)) / 2 for p in phrasings
            )
            bm25 = min(100.0, 100.0 * scores[doc] / ceiling * t.bm25_scale)
            final = t.weight_bm25 * bm25 + (1 - t.weight_bm25) * similarity
            ranked.append((final, bm25, doc))
        ranked.sort(reverse=True)

        bar = self.confidence.domain_bar if in_domain else self.confidence.other_bar
        answered = ranked[0][0] >= bar
        hits = tuple(
            Hit(self.entries[doc].id, self.entries[doc].title, round(final, 1))
            for final, _, doc in ranked[:top]
        )
        return SearchResult(text, answered, hits)


@functools.cache
def default_index() -> Index:
    """The index over the bundled knowledge base, built once per process."""
    return Index(load_entries())
