"""Fuzzy search over the knowledge base: which entry answers this question, and how sure.

Two stages, both on normalised text (knowledge/text.py, knowledge/homophones.py):

1. Recall: BM25 over character unigrams and bigrams of each entry's title and questions
   (plus, at half weight, its answer), through an inverted index; a word in Latin letters
   is one unit. On a large knowledge
   base the candidates come from the query's rarest grams, within a fixed reading
   budget, so the cost grows with the query, not with the knowledge base.
2. Precision: the few best candidates are re-ranked by how close the query is to their
   closest phrasing (`similarity`, one rapidfuzz call per candidate).

`answered` is false when the best entry is not close enough, so out-of-scope questions
("护照怎么办理") are declined rather than answered wrongly; the bot then offers choices
or a person. How close is close enough depends on whether the question names something
of social assistance, or another department's service (knowledge/search.yaml). A text
that names nothing of ours and says little ("我一个人", "不是") is scored as if it said
a least amount, more when it asks nothing: a match of common words says little.
`residentbot kb eval` measures both; bench/search_bench.py the latency.
"""

from __future__ import annotations

import functools
import heapq
import math
import operator
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process
from rapidfuzz.distance import LCSseq

from knowledge.homophones import Homophones
from knowledge.kb import Entry, load_entries
from knowledge.text import Lexicon, alternation, compact, default_lexicon

SETTINGS_FILE = Path(__file__).resolve().parent / "search.yaml"
POOL = 100  # entries scored exactly; a knowledge base this small is scored exactly whole
READ_BUDGET = 3000  # postings read to pick those entries on a larger knowledge base


@dataclass(frozen=True)
class Tuning:
    """Scoring parameters, tuned with `residentbot kb eval` on knowledge/eval/kb_dev.yaml."""

    k1: float = 1.2  # BM25 term-frequency saturation
    b: float = 0.5  # BM25 length normalisation
    answer_weight: float = 0.5  # an answer's words count half as much as a question's
    candidates: int = 5  # entries re-ranked by rapidfuzz
    weight_bm25: float = 0.7  # share of the final score from BM25 (the rest: rapidfuzz)
    bm25_scale: float = 1.6  # BM25 as a share of the query's ceiling, scaled to 0..100


def _pattern(forms: set[str]) -> re.Pattern[str] | None:
    return re.compile(alternation(forms)) if forms else None


@dataclass(frozen=True)
class Confidence:
    """The score from which we answer (knowledge/search.yaml): low when the question names
    a domain term; high when it names none; higher still when it names another
    department's service and no domain term."""

    domain_bar: float
    other_bar: float
    domain: re.Pattern[str] | None
    terms: tuple[str, ...] = ()  # the domain terms, normalised
    words: tuple[str, ...] = ()  # other words a homophone typo may be corrected to
    foreign_bar: float = 100.0
    foreign: re.Pattern[str] | None = None
    foreign_terms: tuple[str, ...] = ()  # other departments' services, normalised
    # Those services whose names hold a domain term ("残疾" of "办残疾证")
    shadowing: re.Pattern[str] | None = None
    asking: re.Pattern[str] | None = None  # words that make a typed text a question
    # The least information (in grams no entry has) a text naming nothing of ours is
    # scored with: a question, and a text that asks nothing.
    question_information: float = 0.0
    statement_information: float = 0.0

    @classmethod
    def load(cls, lexicon: Lexicon, path: Path = SETTINGS_FILE) -> Confidence:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        forms = {lexicon.normalize(str(t)) for t in data["domain"]} - {""}
        foreign = {lexicon.normalize(str(t)) for t in data.get("foreign", [])} - {""}
        bars = data["bars"]
        words = tuple(lexicon.normalize(str(w)) for w in data.get("words", []))
        asking = {compact(str(w)) for w in data.get("asking", [])} - {""}
        information = data.get("information", {})
        domain = _pattern(forms)
        return cls(
            domain_bar=float(bars["domain"]),
            other_bar=float(bars["other"]),
            domain=domain,
            terms=tuple(sorted(forms, key=len)),
            words=words,
            foreign_bar=float(bars.get("foreign", 100.0)),
            foreign=_pattern(foreign),
            foreign_terms=tuple(sorted(foreign, key=len)),
            shadowing=_pattern({t for t in foreign if domain and domain.search(t)}),
            asking=_pattern(asking),
            question_information=float(information.get("question", 0.0)),
            statement_information=float(information.get("statement", 0.0)),
        )

    def in_domain(self, query: str) -> bool:
        """Whether a normalised query names something of social assistance."""
        return self.domain is not None and self.domain.search(query) is not None

    def names_foreign(self, query: str) -> bool:
        """Whether a normalised query names another department's service."""
        return self.foreign is not None and self.foreign.search(query) is not None

    def asks(self, text: str) -> bool:
        """Whether a compacted text asks something (什么, 咋个, 吗, 不, 多少, 申请...)."""
        return self.asking is not None and self.asking.search(text) is not None

    def unshadow(self, query: str) -> str:
        """A normalised query with the names of other services that hold a domain term
        blanked out: their characters are no match for our entries ("残疾证在哪里办" is
        not asking about the disability subsidies)."""
        return query if self.shadowing is None else self.shadowing.sub(" ", query)

    def judge(self, query: str) -> tuple[bool, float]:
        """Whether a normalised query is ours (names a domain term and no other
        department's service), and the score from which it is answered. A domain term
        next to another service's name ("残疾人考驾照") counts for no more than none, and
        one inside it ("残疾" of "办残疾证") for nothing."""
        if self.foreign is None:
            ours = self.in_domain(query)
            return ours, self.domain_bar if ours else self.other_bar
        rest = self.foreign.sub("\n", query)
        ours = self.in_domain(rest)
        if rest != query:
            return False, self.other_bar if ours else self.foreign_bar
        return ours, self.domain_bar if ours else self.other_bar


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


def similarity(query: str, phrasings: Sequence[str]) -> float:
    """How close the query is to the closest phrasing, 0..100: the mean of rapidfuzz's
    ratio (both texts alike) and of how much of the shorter text the longer one holds in
    order (a long message about a family contains the short question it asks). Both come
    from the longest common subsequence, found in one rapidfuzz call over all phrasings."""
    n = len(query)
    best = 0.0
    for phrasing, common, _ in process.extract(
        query, phrasings, scorer=LCSseq.similarity, limit=None
    ):
        # Longest common subsequences come longest first, and no phrasing with `common`
        # characters in common can score more than this: the rest cannot win.
        if common * 100.0 / (n + common) + 50.0 <= best:
            break
        m = len(phrasing)
        score = common * (100.0 / (n + m) + 50.0 / (m if m < n else n))
        if score > best:
            best = score
    return best


LATIN = re.compile(r"[a-z]+")  # after `compact`, Latin letters are lower case
_UNITS = re.compile(r"[a-z]+|.")


def grams(text: str) -> list[str]:
    """Unigrams and bigrams of characters: Chinese needs no word segmentation for this. A
    word in Latin letters is one unit ("abc" in "ABC类"), not letters that would match
    any English or pinyin word."""
    units: Sequence[str] = _UNITS.findall(text) if LATIN.search(text) else text
    return [*units, *map(operator.add, units, units[1:])]


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

        # Every phrasing of every entry, normalised; each gram counts once per phrasing it
        # occurs in, plus `answer_weight` if the entry's answer has it.
        self.phrasings: list[tuple[str, ...]] = []
        counted: list[tuple[Counter[str], set[str]]] = []
        lengths: list[float] = []
        for entry in self.entries:
            texts = (entry.title, *entry.questions)
            phrasings = tuple(dict.fromkeys(p for p in map(norm, texts) if p))
            self.phrasings.append(phrasings)
            counts = Counter(chain.from_iterable(set(grams(p)) for p in phrasings))
            answer = set(grams(norm(entry.answer)))
            counted.append((counts, answer))
            lengths.append(counts.total() + t.answer_weight * len(answer))

        # The BM25 weight of each gram in each entry, precomputed so that a query only sums
        # them: first its term-frequency part, written once per posting; then, when the
        # postings tell how many entries have the gram, times its idf.
        n = max(len(self.entries), 1)
        average = (sum(lengths) / n) or 1.0
        weights: dict[str, dict[int, float]] = defaultdict(dict)
        saturate, extra = t.k1 + 1, t.answer_weight
        for doc, ((counts, answer), length) in enumerate(zip(counted, lengths, strict=True)):
            norm_doc = t.k1 * (1 - t.b + t.b * length / average)
            for gram, count in counts.items():
                tf = count + extra if gram in answer else float(count)
                weights[gram][doc] = saturate * tf / (tf + norm_doc)
            answer_only = saturate * extra / (extra + norm_doc)
            for gram in answer - counts.keys():
                weights[gram][doc] = answer_only
        # How many entries have each gram, an entry that has it only in its answer counting
        # `answer_weight`: a word every answer uses ("发放", "窗口") is common there, yet
        # it still tells the questions apart ("低保多久发一次" from "多久复核一次").
        df: dict[str, float] = dict.fromkeys(weights, 0.0)
        for counts, answer in counted:
            for gram in counts:
                df[gram] += 1
            for gram in answer - counts.keys():
                df[gram] += extra
        del counted
        self.idf = {gram: math.log(1 + (n - d + 0.5) / (d + 0.5)) for gram, d in df.items()}
        for gram, docs in weights.items():
            idf = self.idf[gram]
            weights[gram] = {doc: idf * part for doc, part in docs.items()}
        self.weights = dict(weights)
        # On a knowledge base of at most POOL entries every score is exact, and summing
        # each gram's weights as a row of one number per entry is done by C code.
        self.rows: dict[str, tuple[float, ...]] | None = None
        if len(self.entries) <= POOL:
            span = range(len(self.entries))
            self.rows = {g: tuple(map(w.get, span, [0.0] * n)) for g, w in self.weights.items()}
        self.unseen_idf = math.log(1 + (n + 0.5) / 0.5)
        self.homophones = Homophones(self._vocabulary())

    def _bm25(self, query_grams: list[str]) -> dict[int, float]:
        """BM25 scores of the entries worth scoring. Up to POOL entries, every entry's
        exact score (the grams' rows summed). Beyond, candidates come from the query's
        rarest grams, up to READ_BUDGET postings, and the POOL best of them are then
        scored exactly: the cost follows the query, not the size of the knowledge base."""
        if self.rows is not None:
            rows = [self.rows[g] for g in query_grams if g in self.rows]
            summed = enumerate(map(sum, zip(*rows, strict=True)))
            return {doc: total for doc, total in summed if total}
        postings = sorted((self.weights[g] for g in query_grams if g in self.weights), key=len)
        picking, read = 0, 0
        while picking < len(postings) and (
            not picking or read + len(postings[picking]) <= READ_BUDGET
        ):
            read += len(postings[picking])
            picking += 1
        if len(self.entries) <= POOL:  # POOL raised after the build: score exactly
            picking = len(postings)
        rough: dict[int, float] = defaultdict(float)
        for weights in postings[:picking]:
            for doc, weight in weights.items():
                rough[doc] += weight
        if picking == len(postings):
            return rough
        pool = heapq.nlargest(POOL, rough, key=rough.__getitem__)
        totals = [rough[doc] for doc in pool]
        zeros = [0.0] * len(pool)
        for weights in postings[picking:]:  # one C-level pass over the pool per gram
            totals = list(map(operator.add, totals, map(weights.get, pool, zeros)))
        return dict(zip(pool, totals, strict=True))

    def _vocabulary(self) -> dict[str, str]:
        """Words a homophone typo may be corrected to: every lexicon form, the domain
        terms and the other words of knowledge/search.yaml."""
        words = self.lexicon.forms()
        c = self.confidence
        for term in c.terms + c.words + c.foreign_terms:
            words.setdefault(term, term)
        return words

    def normalize(self, text: str) -> str:
        """A query as the index compares it: compacted, homophones corrected, rewritten."""
        return self.lexicon.rewrite(self.homophones.correct(compact(text)))

    # --- lookup ----------------------------------------------------------------------

    def get(self, entry_id: str) -> Entry | None:
        return self.by_id.get(entry_id)

    def close_ids(self, entry_id: str, limit: int = 3) -> list[str]:
        found = process.extract(entry_id, list(self.by_id), scorer=fuzz.ratio, limit=limit)
        return [str(match[0]) for match in found if match[1] >= 50]

    # --- search ----------------------------------------------------------------------

    def search(self, text: str, top: int = 3) -> SearchResult:
        typed = compact(text)
        query = self.lexicon.rewrite(self.homophones.correct(typed))
        if not query:
            return SearchResult(text, False, ())
        ours, bar = self.confidence.judge(query)
        query = self.confidence.unshadow(query)
        query_grams = list(dict.fromkeys(grams(query)))

        scores = self._bm25(query_grams)
        if not scores:
            return SearchResult(text, False, ())
        t = self.tuning
        # The most an entry could score: every query gram present at its best weight. In a
        # question of our domain, words the KB has never seen are personal details (names,
        # crops, amounts) and do not count against the match; in any other question they
        # are what it is about ("护照") and do. So do Latin words the KB lacks, always: we
        # cannot read them, and they may be all that is asked ("how to apply for 低保").
        unseen = 0.0 if ours else self.unseen_idf
        # A text that names nothing of ours and says little ("我一个人", "不是") has every
        # gram in some phrasing without being that phrasing: it is scored as if it said
        # at least a question's, or a statement's, worth.
        information = sum(
            self.idf[g] if g in self.idf else self.unseen_idf if LATIN.search(g) else unseen
            for g in query_grams
        )
        if not ours:
            c = self.confidence
            least = c.question_information if c.asks(typed) else c.statement_information
            information = max(information, least * self.unseen_idf)
        ceiling = information * (t.k1 + 1)

        candidates = heapq.nlargest(max(t.candidates, top), scores, key=scores.__getitem__)
        ranked: list[tuple[float, int]] = []
        for doc in candidates:
            close = similarity(query, self.phrasings[doc])
            bm25 = min(100.0, 100.0 * scores[doc] / ceiling * t.bm25_scale)
            ranked.append((t.weight_bm25 * bm25 + (1 - t.weight_bm25) * close, doc))
        ranked.sort(reverse=True)

        answered = ranked[0][0] >= bar
        hits = tuple(
            Hit(self.entries[doc].id, self.entries[doc].title, round(final, 1))
            for final, doc in ranked[:top]
        )
        return SearchResult(text, answered, hits)


@functools.cache
def default_index() -> Index:
    """The index over the bundled knowledge base, built once per process."""
    return Index(load_entries())
