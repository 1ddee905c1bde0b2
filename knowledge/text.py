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

import yaml

LEXICON_FILE = Path(__file__).resolve().parent / "lexicon.yaml"

_SPACES = re.compile(r"\s+")
_KEEP = frozenset("LN")  # unicode categories kept by `compact`: letters and numbers


def fold(text: str) -> str:
    """NFKC (full-width digits and letters to ASCII), lower case, single spaces."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def compact(text: str) -> str:
    """`fold`, then keep only letters and digits (Chinese characters are letters)."""
    return "".join(ch for ch in fold(text) if unicodedata.category(ch)[0] in _KEEP)


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
        alternatives = sorted(table, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, alternatives))) if table else None

    def forms(self) -> dict[str, str]:
        """Every form the lexicon knows (variants and canonical terms) -> its term."""
        return {form: term for form, term in self.table.items() if term}

    def apply(self, text: str) -> str:
        """Rewrite a `compact`ed text."""
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self.table[m.group(0)], text)

    def normalize(self, text: str) -> str:
        """`compact` then rewrite: the form in which queries and entries are compared."""
        return self.apply(compact(text))


@functools.cache
def default_lexicon() -> Lexicon:
    with LEXICON_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    return Lexicon({str(k or ""): [str(v) for v in vs] for k, vs in data.items()})
