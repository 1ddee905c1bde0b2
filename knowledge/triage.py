"""Urgency triage of every inbound message (RULES.md "Urgency (triage)").

The rule:
- `emergency`: life or safety in danger now: self-harm or suicide intent, violence, a
  medical emergency, a fire or flood happening now, a cry for help. The advice gives
  110 / 120 / 119 and the psychological-assistance line 12356 first
  (policy_facts.md §7), then says the case goes to the township window.
- `urgent`: 急难 (003_8311b5a252618438.txt (六); 004_facdb4cf398febe9.txt 一(五)(六)):
  no food, no shelter, a home destroyed, an accident or sudden serious illness with no
  money, a child without a carer, an elderly or disabled person alone who cannot cope,
  a disaster. The advice offers the referral and explains that 临时救助 can be applied
  for where the emergency happened, with 小金额先行救助 (MCA-2021 (六); CQ-2022 三(三)).
- `none`: everything else, including questions *about* emergencies, hypotheticals,
  negations and past, resolved events.

Everything a person reads and every pattern lives in `knowledge/triage.yaml`; this
module only reads it: normalise the text, find each signal's patterns, and drop a match
that a cue (negation, hypothetical, hearsay, a general question, the past) clears.
Missing an emergency is the worst error, so self-harm and violence are cleared by very
little.

On top of the rules, a statistical layer (`model` in triage.yaml; knowledge/triage_model.py)
learns at load time from labelled messages (knowledge/triage_examples.yaml and the
evaluation sets it lists), over the character n-grams of the normalised text and the
danger `concepts` it mentions. It catches wordings no pattern was written for: when a
Naive Bayes is confident that a message tells of a danger, a logistic regression agrees,
and no cue of its `cleared_by` (for an urgent call, of `urgent_cleared_by` too) is in
the message, the message is an emergency (or urgent) even if no rule fired, and it names
the kind of danger a third model finds likeliest. It only ever raises the level the rules
give, never lowers it. Everything is compiled and trained once (under a second); a
message takes a few tenths of a millisecond at most.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from knowledge.text import Lexicon
from knowledge.triage_model import Linear, logistic_regression, naive_bayes, ngrams

HERE = Path(__file__).resolve().parent
DATA_FILE = HERE / "triage.yaml"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

LEVELS = ("emergency", "urgent", "none")  # most serious first
CUE_PLACES = ("adjacent", "before", "after", "message")
LOOKBACK = 40  # how far before a match a `before` cue may stand (characters)
ADJACENT = 8  # how much of the clause before a match an `adjacent` cue may span
REACH = 80  # how far a sentence or clause extends around a match, at most
SENTENCE, CLAUSE = "。", "，"
EMERGENCY_NUMBERS = ("110", "120", "119", "12356")

_NEWLINES = re.compile(r"[\r\n\u2028\u2029]+")
_SPACES = re.compile(r"\s+")
SPACED_RUN = 3  # a space between two runs at least this long ends a clause
# Letters, not Latin ones: pinyin typed in syllables ("mei fan chi") is one word.
_SPACED_CLAUSE = re.compile(rf"(?<=[^\W\d_a-z]{{{SPACED_RUN}}})\s+(?=[^\W\d_a-z]{{{SPACED_RUN}}})")
_SEPARATORS = re.compile(r"[\W_]+")
_SENTENCE_ENDS = frozenset(".!?;。")  # after NFKC: ！？； are ASCII, … is "..."


@dataclass(frozen=True)
class Triage:
    """The urgency of one message, the signals found and what to tell the resident."""

    level: str  # "emergency" | "urgent" | "none"
    signals: tuple[str, ...]  # most serious first, e.g. ("no_food", "child_unattended")
    advice: str  # Chinese; empty for "none"

    def to_dict(self) -> dict[str, object]:
        return {"level": self.level, "signals": list(self.signals), "advice": self.advice}


@dataclass(frozen=True)
class Cue:
    """Words that show a match does not describe a present danger (see triage.yaml)."""

    name: str
    where: str  # one of CUE_PLACES
    pattern: re.Pattern[str]
    unless: re.Pattern[str] | None  # the cue does not apply when this is in the sentence
    only_with: re.Pattern[str] | None  # the cue applies only when this is in the sentence


@dataclass(frozen=True)
class Rule:
    """One way a signal shows: a pattern, with companions that must match near it."""

    pattern: re.Pattern[str]
    companions: tuple[re.Pattern[str], ...]  # each must also match near the pattern
    window: int
    apart: bool  # a companion must not overlap the pattern's match: two signs, not one


@dataclass(frozen=True)
class Signal:
    name: str
    level: str
    rules: tuple[Rule, ...]  # the signal's own patterns first, then its `also` rules
    cleared_by: tuple[Cue, ...]
    covers: tuple[str, ...]  # less specific signals dropped when this one is present


@dataclass(frozen=True)
class Example:
    """A labelled message: what the statistical layer learns from, what the bench measures."""

    text: str
    level: str
    signals: tuple[str, ...]  # when given, the first is the kind of danger


@dataclass(frozen=True)
class Features:
    """What the statistical layer sees of a normalised message: its character n-grams of
    `low` to `high` characters, and `weight` tokens for each danger concept it mentions."""

    low: int
    high: int
    concepts: tuple[tuple[str, re.Pattern[str]], ...]  # (token, pattern)
    weight: int

    def __call__(self, text: str) -> set[str]:
        found = ngrams(text, self.low, self.high)
        for token, pattern in self.concepts:
            if pattern.search(text):
                found.update(f"{token}{n}" for n in range(self.weight))
        return found


@dataclass(frozen=True)
class Model:
    """The statistical layer: the trained models and when their call counts (triage.yaml)."""

    levels: Linear  # Naive Bayes over LEVELS
    check: Linear  # logistic regression over LEVELS, which must agree
    kinds: dict[str, Linear]  # per level, Naive Bayes over its signals given in the examples
    features: Features
    danger: float  # log-odds of emergency-or-urgent over none above which it is a danger
    agree: float  # the log-odds the logistic regression must exceed too
    emergency_share: float  # P(emergency) / P(emergency or urgent) that makes it an emergency
    escalate: float  # the share needed to raise a message the rules found urgent
    cleared_by: tuple[Cue, ...]  # cues anywhere in the message that silence the model
    urgent_cleared_by: tuple[Cue, ...]  # cues that silence it only when it calls urgent
    min_chars: int  # shorter messages (not counting separators) it leaves to the rules alone


def normalise(text: str, lexicon: Lexicon) -> str:
    """NFKC and lower case; a space between two runs of SPACED_RUN or more characters
    becomes ，(people who type no punctuation separate clauses with spaces: "米缸空了 娃儿
    饿得哭"), other spaces are removed ("没 饭 吃"); sentence ends become 。 and every other
    punctuation mark, symbol or emoji becomes ，; then dialect and typos rewritten."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _SPACED_CLAUSE.sub(CLAUSE, _NEWLINES.sub(SENTENCE, text))
    text = _SPACES.sub("", text)
    text = _SEPARATORS.sub(_separator, text)
    return lexicon.apply(text)


def _separator(match: re.Match[str]) -> str:
    return SENTENCE if any(ch in _SENTENCE_ENDS for ch in match.group()) else CLAUSE


class TriageError(ValueError):
    """A malformed triage.yaml: the message names the entry."""


def _compile(parts: Sequence[str] | str, where: str) -> re.Pattern[str]:
    items = [parts] if isinstance(parts, str) else list(parts)
    if not items or not all(isinstance(p, str) and p for p in items):
        raise TriageError(f"triage.yaml: {where}: needs one or more patterns")
    try:
        return re.compile("|".join(f"(?:{p})" for p in items))
    except re.error as exc:
        raise TriageError(f"triage.yaml: {where}: bad pattern: {exc}") from exc


class Triager:
    """The compiled rules of one triage.yaml, and its statistical layer once trained."""

    def __init__(self, data: Mapping[str, Any], examples: Sequence[Example] = ()) -> None:
        """The rules of `data` (a parsed triage.yaml); with `examples`, the statistical
        layer too, trained on them (without, the rules alone)."""
        self.lexicon = Lexicon(
            {str(k): [str(v) for v in vs] for k, vs in (data.get("rewrites") or {}).items()}
        )
        self.breakers = _compile(data["breakers"], "breakers")
        self.cues = {name: self._cue(name, spec) for name, spec in data["cues"].items()}
        self.signals = {name: self._signal(name, spec) for name, spec in data["signals"].items()}
        self.advice = data["advice"]
        self._check(data)
        self.model = self._model(data.get("model") or {}, data.get("concepts") or {}, examples)

    def _cue(self, name: str, spec: Mapping[str, Any]) -> Cue:
        where = spec.get("where")
        if where not in CUE_PLACES:
            raise TriageError(f"triage.yaml: cues.{name}.where must be one of {CUE_PLACES}")
        unless, only_with = spec.get("unless"), spec.get("only_with")
        return Cue(
            name,
            where,
            _compile(spec.get("patterns") or [], f"cues.{name}"),
            _compile(unless, f"cues.{name}.unless") if unless else None,
            _compile(only_with, f"cues.{name}.only_with") if only_with else None,
        )

    def _signal(self, name: str, spec: Mapping[str, Any]) -> Signal:
        where = f"signals.{name}"
        level = spec.get("level")
        if level not in LEVELS[:2]:
            raise TriageError(f"triage.yaml: {where}.level must be emergency or urgent")
        unknown = [c for c in spec.get("cleared_by") or [] if c not in self.cues]
        if unknown:
            raise TriageError(f"triage.yaml: {where}.cleared_by: unknown cues {unknown}")
        also = spec.get("also") or []
        return Signal(
            name=name,
            level=level,
            rules=tuple(
                self._rule(rule, f"{where}.also[{n - 1}]" if n else where)
                for n, rule in enumerate([spec, *also])
            ),
            cleared_by=tuple(self.cues[c] for c in spec.get("cleared_by") or []),
            covers=tuple(spec.get("covers") or ()),
        )

    @staticmethod
    def _rule(spec: Mapping[str, Any], where: str) -> Rule:
        return Rule(
            pattern=_compile(spec.get("patterns") or [], where),
            companions=tuple(_compile(group, f"{where}.with") for group in spec.get("with") or []),
            window=int(spec.get("window", 30)),
            apart=bool(spec.get("apart", False)),
        )

    def _check(self, data: Mapping[str, Any]) -> None:
        """Patterns use the rewritten forms only; every signal has its advice line."""
        for name, spec in data["signals"].items():
            rules = [spec, *(spec.get("also") or [])]
            groups = [g for r in rules for g in [r.get("patterns") or [], *(r.get("with") or [])]]
            for pattern in [p for g in groups for p in ([g] if isinstance(g, str) else g)]:
                if self.lexicon.apply(pattern) != pattern:
                    raise TriageError(
                        f"triage.yaml: signals.{name}: {pattern!r} contains a word that "
                        f"`rewrites` changes; write the rewritten form"
                    )
            for covered in spec.get("covers") or []:
                if covered not in data["signals"]:
                    raise TriageError(f"triage.yaml: signals.{name}.covers: no {covered!r}")
        for signal in self.signals.values():
            if signal.name not in (self.advice[signal.level].get("signals") or {}):
                raise TriageError(f"triage.yaml: advice.{signal.level}.signals.{signal.name}")
        numbers = str(self.advice["emergency"]["numbers"])
        missing = [n for n in EMERGENCY_NUMBERS if n not in numbers]
        if missing:
            raise TriageError(f"triage.yaml: advice.emergency.numbers lacks {missing}")

    def _model(
        self, spec: Mapping[str, Any], concepts: Mapping[str, Any], examples: Sequence[Example]
    ) -> Model | None:
        compiled = []
        for name, patterns in concepts.items():
            for pattern in [patterns] if isinstance(patterns, str) else patterns:
                if self.lexicon.apply(pattern) != pattern:
                    raise TriageError(
                        f"triage.yaml: concepts.{name}: {pattern!r} contains a word that "
                        f"`rewrites` changes; write the rewritten form"
                    )
            compiled.append((f"#{name}", _compile(patterns, f"concepts.{name}")))
        for key in ("cleared_by", "urgent_cleared_by"):
            unknown = [c for c in spec.get(key) or [] if c not in self.cues]
            if unknown:
                raise TriageError(f"triage.yaml: model.{key}: unknown cues {unknown}")
        if not examples:
            return None
        signals = set(self.signals)
        bad = [e for e in examples if e.level not in LEVELS or not set(e.signals) <= signals]
        if bad:
            raise TriageError(f"triage.yaml: model: a malformed training message: {bad[0]}")
        low, high = (int(n) for n in spec.get("ngrams", (1, 3)))
        features = Features(low, high, tuple(compiled), int(spec.get("concept_weight", 1)))
        alpha = float(spec.get("alpha", 0.5))
        featured = [(features(normalise(e.text, self.lexicon)), e) for e in examples]
        levels = [(f, e.level) for f, e in featured]
        kinds = [(f, e.signals[0]) for f, e in featured if e.signals]
        given = {kind for _, kind in kinds}
        named = {  # per level, its signals some example gives
            level: [s.name for s in self.signals.values() if s.level == level and s.name in given]
            for level in LEVELS[:2]
        }
        return Model(
            levels=naive_bayes(levels, LEVELS, alpha),
            check=logistic_regression(levels, LEVELS, int(spec.get("epochs", 5))),
            kinds={
                level: naive_bayes(kinds, names, alpha) for level, names in named.items() if names
            },
            features=features,
            danger=float(spec["danger"]),
            agree=float(spec.get("agree", 0.0)),
            emergency_share=float(spec["emergency_share"]),
            escalate=float(spec["escalate"]),
            cleared_by=tuple(self.cues[c] for c in spec.get("cleared_by") or []),
            urgent_cleared_by=tuple(self.cues[c] for c in spec.get("urgent_cleared_by") or []),
            min_chars=int(spec.get("min_chars", 0)),
        )

    # --- reading a message --------------------------------------------------------------

    def triage(self, text: str) -> Triage:
        norm = normalise(text, self.lexicon)
        seen: dict[str, bool] = {}  # message-wide cues, looked up once per message
        found = [s for s in self.signals.values() if self._present(s, norm, seen)]
        if self.model is not None and not any(s.level == "emergency" for s in found):
            named = self._model_signal(self.model, norm, "urgent" if found else "none")
            if named is not None and named not in {s.name for s in found}:
                found.append(self.signals[named])
        covered = {c for s in found for c in s.covers}
        found = [s for s in found if s.name not in covered]
        if not found:
            return Triage("none", (), str(self.advice.get("none") or ""))
        level = min((s.level for s in found), key=LEVELS.index)
        found.sort(key=lambda s: LEVELS.index(s.level))  # stable: file order within a level
        names = tuple(s.name for s in found)
        return Triage(level, names, self._advice(level, names))

    def _model_signal(self, model: Model, text: str, level: str) -> str | None:
        """The signal the statistical layer adds to a message the rules found at `level`
        ("urgent" or "none"): the likeliest kind of the level it calls, or None."""
        if len(text) - text.count(CLAUSE) - text.count(SENTENCE) < model.min_chars:
            return None
        features = model.features(text)
        emergency, urgent, none = model.levels.log_scores(features)  # in LEVELS order
        if _danger(emergency, urgent, none) <= model.danger:
            return None
        if _danger(*model.check.log_scores(features)) <= model.agree:
            return None
        share = 1.0 / (1.0 + math.exp(urgent - emergency))  # P(emergency | a danger)
        if share >= (model.escalate if level == "urgent" else model.emergency_share):
            called = "emergency"
        elif level == "none":
            called = "urgent"
        else:
            return None
        cues = model.cleared_by + (model.urgent_cleared_by if called == "urgent" else ())
        if any(self._cleared_anywhere(cue, text) for cue in cues):
            return None
        return self._likeliest_kind(model, features, called)

    def _likeliest_kind(self, model: Model, features: set[str], level: str) -> str:
        """The signal of `level` the examples make likeliest (the first of the level in
        triage.yaml when no example names one)."""
        kinds = model.kinds.get(level)
        if kinds is None:
            return next(s.name for s in self.signals.values() if s.level == level)
        scores = kinds.log_scores(features)
        return kinds.labels[scores.index(max(scores))]

    @staticmethod
    def _cleared_anywhere(cue: Cue, text: str) -> bool:
        """Is the cue in the message, its `unless` and `only_with` read in the message?"""
        if cue.unless is not None and cue.unless.search(text):
            return False
        if cue.only_with is not None and not cue.only_with.search(text):
            return False
        return cue.pattern.search(text) is not None

    def _present(self, signal: Signal, text: str, seen: dict[str, bool]) -> bool:
        for rule in signal.rules:
            for match in rule.pattern.finditer(text):
                span = self._with_companions(rule, text, match.start(), match.end())
                if span is None:
                    continue
                cues = signal.cleared_by
                if not any(self._applies(c, text, span, match.span(), seen) for c in cues):
                    return True
        return False

    @staticmethod
    def _with_companions(rule: Rule, text: str, start: int, end: int) -> tuple[int, int] | None:
        """The span of the match and its companions, or None if one is missing."""
        lo, hi = max(0, start - rule.window), end + rule.window
        for companion in rule.companions:
            near = companion.search(text, lo, hi)
            if rule.apart:
                while near is not None and near.start() < end and near.end() > start:
                    near = companion.search(text, near.start() + 1, hi)
            if near is None:
                return None
            start, end = min(start, near.start()), max(end, near.end())
        return start, end

    def _applies(
        self,
        cue: Cue,
        text: str,
        span: tuple[int, int],
        match: tuple[int, int],
        seen: dict[str, bool],
    ) -> bool:
        """Does `cue` stand where it must, next to the span of the match and its
        companions or next to the pattern's own match (没人照顾的老人 / 娃算不算无人抚养)?"""
        start, end = span
        if cue.unless is not None or cue.only_with is not None:
            sentence = text[_back(text, start, SENTENCE) : _ahead(text, end, SENTENCE)]
            if cue.unless is not None and cue.unless.search(sentence):
                return False
            if cue.only_with is not None and not cue.only_with.search(sentence):
                return False
        if cue.where == "message":
            if cue.name not in seen:
                seen[cue.name] = cue.pattern.search(text) is not None
            return seen[cue.name]
        if cue.where == "after":
            return any(self._follows(cue, text, at) for at in {match[1], end})
        return any(self._precedes(cue, text, at) for at in {match[0], start})

    @staticmethod
    def _follows(cue: Cue, text: str, at: int) -> bool:
        """An `after` cue starts the clause text at `at`."""
        return cue.pattern.match(text, at, _ahead(text, at, SENTENCE + CLAUSE)) is not None

    def _precedes(self, cue: Cue, text: str, at: int) -> bool:
        """An `adjacent` cue ends the clause text before `at`; a `before` cue stands in the
        sentence at most LOOKBACK characters before `at`, with no breaker after it."""
        if cue.where == "adjacent":
            clause_start = max(_back(text, at, SENTENCE + CLAUSE), at - ADJACENT)
            return cue.pattern.search(text[clause_start:at]) is not None
        cue_end = -1  # the nearest cue counts
        for found in cue.pattern.finditer(text, max(_back(text, at, SENTENCE), at - LOOKBACK), at):
            cue_end = found.end()
        return cue_end >= 0 and self.breakers.search(text, cue_end, at) is None

    def _advice(self, level: str, signals: Sequence[str]) -> str:
        spec = self.advice[level]
        lead = str(spec["signals"].get(signals[0]) or "")
        if level == "emergency":
            return f"{spec['numbers']}{lead}{spec['handover']}"
        return f"{lead}{spec['body']}"


def _danger(emergency: float, urgent: float, none: float) -> float:
    """log P(emergency or urgent) - log P(none), from unnormalised log-probabilities."""
    top = max(emergency, urgent)
    return top + math.log(math.exp(emergency - top) + math.exp(urgent - top)) - none


def _back(text: str, at: int, stops: str) -> int:
    """Where the sentence (stops "。") or clause (stops "。，") holding `at` starts,
    looking back at most REACH characters (a long message may have no punctuation)."""
    lo = max(0, at - REACH)
    return max([lo] + [text.rfind(stop, lo, at) + 1 for stop in stops])


def _ahead(text: str, at: int, stops: str) -> int:
    """Where the sentence or clause holding `at` ends, at most REACH characters on."""
    hi = min(len(text), at + REACH)
    ends = [text.find(stop, at, hi) for stop in stops]
    return min([hi] + [e for e in ends if e >= 0])


def read_examples(path: Path) -> list[Example]:
    """Labelled messages: a YAML list of {text, level, signals (optional)}."""
    with path.open(encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_YAML_LOADER) or []
    examples = []
    for n, raw in enumerate(data, 1):
        if (
            not isinstance(raw, Mapping)
            or not isinstance(raw.get("text"), str)
            or (raw.get("level") not in LEVELS)
        ):
            raise TriageError(f"{path.name} item {n}: needs text and a level in {LEVELS}")
        signals = tuple(str(s) for s in raw.get("signals") or ())
        examples.append(Example(raw["text"], str(raw["level"]), signals))
    return examples


def training_files(data: Mapping[str, Any], base: Path = HERE) -> list[Path]:
    """The labelled files `model.train` of a parsed triage.yaml names."""
    return [base / str(name) for name in (data.get("model") or {}).get("train") or []]


def load(path: Path = DATA_FILE, exclude: Collection[str] = ()) -> Triager:
    """The triager of a triage.yaml, its statistical layer trained on the files of
    `model.train` except those whose name is in `exclude` (to measure a set unseen)."""
    with path.open(encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_YAML_LOADER)
    files = [f for f in training_files(data, path.parent) if f.name not in exclude]
    return Triager(data, [e for f in files for e in read_examples(f)])


@functools.cache
def default_triager() -> Triager:
    return load()


def triage(text: str) -> Triage:
    """Triage one message with knowledge/triage.yaml (RULES.md "Urgency (triage)")."""
    return _remembered(default_triager(), text)


@functools.lru_cache(maxsize=256)
def _remembered(triager: Triager, text: str) -> Triage:
    """One message is triaged by the router and again by its channel (and the rate
    limit): the same text gives the same frozen result, so it is worked out once."""
    return triager.triage(text)
