"""Text normalisation shared by search, places, triage and answer parsing.

`fold` makes what residents type comparable (full-width to half-width, case, spaces);
`compact` also drops punctuation, symbols and emoji; `Lexicon` rewrites colloquial,
dialect, old and misspelt terms to the knowledge base's own words (knowledge/lexicon.yaml).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

LEXICON_FILE = Path(__file__).resolve().parent / "lexicon.yaml"

_SPACES = re.compile(r"\s+")
REWRITE_PASSES = 3  # a rewrite can make a new variant ("特捆"+"供养" -> "特困供养")


def fold(text: str) -> str:
    """NFKC (full-width digits and letters to ASCII), lower case, single spaces."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def compact(text: str) -> str:
    """`fold`, then keep only letters and digits (Chinese characters are letters).

    `str.isalnum` is exactly "unicode category L* or N*" (tests/knowledge/test_text.py
    checks every code point), and spaces go anyway, so `fold`'s spacing is skipped."""
    return "".join(filter(str.isalnum, unicodedata.normalize("NFKC", text).lower()))


def alternation(words: Iterable[str]) -> str:
    """A regular expression matching any of `words`, the longest where several match, as
    `"|".join` sorted longest first would, but built as a trie behind a check of the first
    character: the engine then follows one branch per character instead of trying every
    word at every position. Empty words are ignored; no words give a pattern that never
    matches."""
    trie: dict[str, Any] = {}
    for word in words:
        if word:
            node = trie
            for char in word:
                node = node.setdefault(char, {})
            node[""] = {}
    if not trie:
        return "(?!)"

    def branch(node: dict[str, Any]) -> str:
        alternatives = [re.escape(ch) + branch(child) for ch, child in sorted(node.items()) if ch]
        if not alternatives:
            return ""
        ends = "" in node
        body = "|".join(alternatives)
        if len(alternatives) > 1 or ends:
            body = f"(?:{body})"
        return body + "?" if ends else body  # greedy: the longer word first

    first = "".join(sorted(map(re.escape, trie)))
    return f"(?=[{first}]){branch(trie)}"


class Lexicon:
    """Rewrites variants to canonical terms, longest variant first, in one pass."""

    def __init__(self, canonical_to_variants: Mapping[str, Iterable[str]]) -> None:
        table: dict[str, str] = {}
        for canonical, variants in canonical_to_variants.items():
            for variant in variants:
                key = compact(variant)
                if not key:
                    raise ValueError(f"lexicon: empty variant under {canonical!r}")
                if key in table:
                    raise ValueError(f"lexicon: {variant!r} listed twice")
                if key == compact(canonical):
                    raise ValueError(f"lexicon: {variant!r} maps to itself")
                table[key] = compact(canonical)
        self.table = table
        # Canonical terms match themselves first, so that a variant inside one ("渐退" in
        # "渐退期") does not rewrite it again: "渐退期" stays, "渐退" becomes "渐退期".
        for canonical in canonical_to_variants:
            key = compact(canonical)
            if key:
                table.setdefault(key, key)
        self._pattern = re.compile(alternation(table)) if table else None

    def forms(self) -> dict[str, str]:
        """Every form the lexicon knows (variants and canonical terms) -> its term."""
        return {form: term for form, term in self.table.items() if term}

    def apply(self, text: str) -> str:
        """Rewrite a `compact`ed text."""
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self.table[m.group(0)], text)

    def rewrite(self, text: str) -> str:
        """`apply` until nothing changes: a typo rewritten next to a word can form a longer
        variant ("特捆供养" -> "特困供养" -> "特困"), which must end where the correctly typed
        words end. Stops after REWRITE_PASSES passes at most."""
        for _ in range(REWRITE_PASSES):
            again = self.apply(text)
            if again == text:
                break
            text = again
        return text

    def normalize(self, text: str) -> str:
        """`compact` then rewrite: the form in which queries and entries are compared."""
        return self.rewrite(compact(text))


@functools.cache
def default_lexicon() -> Lexicon:
    with LEXICON_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    return Lexicon({str(k or ""): [str(v) for v in vs] for k, vs in data.items()})
