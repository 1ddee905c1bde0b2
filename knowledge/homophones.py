"""Correct words typed with the wrong homophone: 地保 → 低保, 申晴 → 申请, 特昆 → 特困.

Residents type with pinyin input methods, and the commonest slip is the right sound
with the wrong character. A window of the query that is not a known word, sounds like
one, and differs from it in at most one character in three, is replaced by the term
that word stands for. Sounds are compared without tones and with the sounds Chongqing
speech merges folded together (n/l, zh/z, ch/c, sh/s, in/ing, en/eng).

What keeps it from "correcting" ordinary words: only the project's own vocabulary is a
target (lexicon forms, domain terms, a list of KB words — never words mined from text);
a typed numeral is never a slip (七十了 is seventy, not 七死了);
a known word always wins over a guess, at its position and when it starts inside the
guessed window (in 去年申请, 年申 is no slip for 年审: 申请 starts in it); a typed
character counts with its common reading only (的 can be read "di", but nobody types 的
meaning 低); and a sound shared by words that mean different things is never corrected to.

Pinyin typed in Latin letters (when the input method is off) is read the same way: a run
of letters that splits into the spellings of known words and other syllables of the
vocabulary has its words written as their terms (dibao biaozhun → 低保标准); anything
else (English, initials) is left as typed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from itertools import chain

from pypinyin import Style, lazy_pinyin

from knowledge.text import alternation

MIN_LEN, MAX_LEN = 2, 4
LATIN = re.compile(r"[a-z]+")  # pinyin, as `compact` leaves it


def fold(syllable: str) -> str:
    """One toneless syllable as a Chongqing ear hears it."""
    s = syllable.replace("zh", "z").replace("ch", "c").replace("sh", "s")
    if s.startswith("n") and not s.startswith("ng"):
        s = "l" + s[1:]
    if s.endswith(("ing", "eng")):
        s = s[:-1]
    return s


@functools.lru_cache(maxsize=20_000)
def reading(char: str) -> str | None:
    """The common reading of one typed character, folded; None if it is not Chinese."""
    if not "\u3400" <= char <= "\u9fff":
        return None
    found = lazy_pinyin(char, style=Style.NORMAL, errors="ignore")
    return fold(found[0]) if found else None


def readings(word: str) -> list[str] | None:
    """The toneless syllables of a known word, read in context (重残 → zhong can)."""
    syllables = lazy_pinyin(word, style=Style.NORMAL, errors="ignore")
    return syllables if len(syllables) == len(word) else None


def word_key(word: str) -> tuple[str, ...] | None:
    """The sound of a known word, read in context, as a Chongqing ear hears it."""
    syllables = readings(word)
    return None if syllables is None else tuple(map(fold, syllables))


NUMERALS = frozenset("一二两三四五六七八九十百千万")  # 零 is typed for 临 (零时救助)


def is_slip(window: str, form: str) -> bool:
    """A slip, not another word: at most one character in three differs (地保 / 低保),
    and not a numeral typed: a figure is meant (七十了 is no slip for 七死了)."""
    differing = [a for a, b in zip(window, form, strict=True) if a != b]
    return 0 < len(differing) <= max(1, len(form) // 3) and NUMERALS.isdisjoint(differing)


class Homophones:
    """`words` maps every known form to the term it stands for (itself if canonical)."""

    def __init__(self, words: Mapping[str, str]) -> None:
        self.words = {w: t for w, t in words.items() if MIN_LEN <= len(w) <= MAX_LEN}
        by_sound: dict[tuple[str, ...], set[str]] = {}
        spelt: dict[str, set[str]] = {}
        for word in self.words:
            syllables = readings(word)
            if syllables is not None:
                by_sound.setdefault(tuple(map(fold, syllables)), set()).add(word)
                spelt.setdefault("".join(syllables), set()).add(self.words[word])
        self.by_sound = {
            key: tuple(sorted(forms))
            for key, forms in by_sound.items()
            if len({self.words[f] for f in forms}) == 1
        }
        # Pinyin typed in Latin letters: a word's spelling -> its term (one term only), and
        # every syllable of the vocabulary, for the syllables between words.
        self.spelt = {spelling: terms.pop() for spelling, terms in spelt.items() if len(terms) == 1}
        self.syllables = frozenset(chain.from_iterable(filter(None, map(readings, self.words))))
        self._longest = max(map(len, chain(self.spelt, self.syllables)), default=0)
        # The first two sounds of every word a slip may stand for: most windows start
        # with no such pair and need no further look.
        self._starts = {key[:2] for key in self.by_sound}
        # Where each known word starts, overlapping ones included, longest first: one scan.
        self._known = re.compile(f"(?=({alternation(self.words)}))") if self.words else None

    def _guess(self, window: str, sounds: Sequence[str | None]) -> str | None:
        key = tuple(s for s in sounds if s is not None)
        if len(key) != len(window):
            return None
        for form in self.by_sound.get(key, ()):
            if is_slip(window, form):
                return self.words[form]
        return None

    def spell(self, run: str) -> str | None:
        """A run of Latin letters that is pinyin of known words and other syllables, with
        the words written as their terms ("dibaobiaozhunshiduoshao" → "低保标准shi多少");
        None when it is not pinyin or spells no known word. The longest pieces first."""

        @functools.cache
        def parse(start: int) -> tuple[str, ...] | None:
            if start == len(run):
                return ()
            for end in range(min(len(run), start + self._longest), start, -1):
                piece = run[start:end]
                term = self.spelt.get(piece)
                if term is None and piece not in self.syllables:
                    continue
                rest = parse(end)
                if rest is not None:
                    return (term or piece, *rest)
            return None

        pieces = parse(0)
        if pieces is None or all(piece.isascii() for piece in pieces):
            return None
        return "".join(pieces)

    def correct(self, text: str) -> str:
        """Keep known words; replace the longest window that is a slip for one. A window
        that a known word starts inside is no slip: in 去年申请 the 年申 of 年审 is not a
        typo, since 申请 begins in it. Pinyin typed in Latin letters is read as the words
        it spells."""
        text = LATIN.sub(lambda m: self.spell(m.group()) or m.group(), text)
        size = len(text)
        if size < MIN_LEN or self._known is None:
            return text
        known = [0] * (size + 1)  # length of the longest known word starting at each position
        for match in self._known.finditer(text):
            known[match.start()] = len(match.group(1))
        sounds = [reading(char) for char in text]
        out: list[str] = []
        i = 0
        while i < size:
            step, replacement = 1, text[i]
            if known[i]:
                step, replacement = known[i], text[i : i + known[i]]
            elif i + 1 < size and (sounds[i], sounds[i + 1]) in self._starts:
                for n in range(min(MAX_LEN, size - i), MIN_LEN - 1, -1):
                    if any(known[i + 1 : i + n]):
                        continue
                    term = self._guess(text[i : i + n], sounds[i : i + n])
                    if term is not None:
                        step, replacement = n, term
                        break
            out.append(replacement)
            i += step
        return "".join(out)
