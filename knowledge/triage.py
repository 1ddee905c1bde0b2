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
little. Everything is compiled once; a message takes well under a tenth of a millisecond.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from knowledge.text import Lexicon

DATA_FILE = Path(__file__).resolve().parent / "triage.yaml"

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
_SPACED_CLAUSE = re.compile(rf"(?<=[^\W\d_]{{{SPACED_RUN}}})\s+(?=[^\W\d_]{{{SPACED_RUN}}})")
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
    """The compiled rules of one triage.yaml."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.lexicon = Lexicon(
            {str(k): [str(v) for v in vs] for k, vs in (data.get("rewrites") or {}).items()}
        )
        self.breakers = _compile(data["breakers"], "breakers")
        self.cues = {name: self._cue(name, spec) for name, spec in data["cues"].items()}
        self.signals = {name: self._signal(name, spec) for name, spec in data["signals"].items()}
        self.advice = data["advice"]
        self._check(data)

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

    # --- reading a message --------------------------------------------------------------

    def triage(self, text: str) -> Triage:
        norm = normalise(text, self.lexicon)
        seen: dict[str, bool] = {}  # message-wide cues, looked up once per message
        found = [s for s in self.signals.values() if self._present(s, norm, seen)]
        covered = {c for s in found for c in s.covers}
        found = [s for s in found if s.name not in covered]
        if not found:
            return Triage("none", (), str(self.advice.get("none") or ""))
        level = min((s.level for s in found), key=LEVELS.index)
        found.sort(key=lambda s: LEVELS.index(s.level))  # stable: file order within a level
        names = tuple(s.name for s in found)
        return Triage(level, names, self._advice(level, names))

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


def load(path: Path = DATA_FILE) -> Triager:
    with path.open(encoding="utf-8") as fh:
        return Triager(yaml.safe_load(fh))


@functools.cache
def default_triager() -> Triager:
    return load()


def triage(text: str) -> Triage:
    """Triage one message with knowledge/triage.yaml (RULES.md "Urgency (triage)")."""
    return default_triager().triage(text)
