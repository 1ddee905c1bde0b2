"""Splitting a reply into SMS: 70 characters in one message, 67 per part, at most 3 parts.

Chinese text travels as UCS-2: one SMS holds 70 characters; a concatenated message
loses 3 characters per part to its header, leaving 67 (../shared/reference/channels.md,
"SMS"). A character outside the basic plane (an emoji) takes two. Every reply is measured
that way, whatever its script, which is never too long for plain ASCII either.

- A text of at most 70 is sent as one SMS.
- A longer one is cut into parts numbered "(1/2)", "(2/2)" — the number is counted in the
  67 — at a natural boundary: a line end, else after a sentence (。！？；), else after a
  clause (，、：), else between words (a space, a bracket), preferring one near the end of
  the part. A part is cut inside a word only when it holds no boundary at all: when the
  text fits 3 parts only by cutting inside words, it is cut at boundaries and what does
  not fit waits for 全文. The nearest boundaries are used when the preferred ones would
  cost an extra SMS, except with `sentences` (an emergency): then every part ends at the
  best boundary it holds, a line or a sentence end, whatever the cost, so that each
  instruction arrives whole; and if that does not fit, what comes last waits for 全文.
- More than 3 parts are never sent: the text is cut at a sentence boundary inside the
  third part, which ends with `more` (e.g. 回复“全文”…), and the rest is returned so the
  channel can send it when the resident asks. (Knowledge-base answers already come in
  their short `sms` form on this channel: bot/templates/sms/kb_answer.j2.)
- A template may end its first page with a page break (PAGE, "\\f"): when the whole text
  is too long and what comes before the break fits with `more`, the SMS end there
  instead of filling the third part; otherwise the break is a line end.
- A turn of several replies ends with what the resident is asked: `split_turn` keeps
  that last reply whole and cuts what comes before it instead.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

SINGLE = 70  # characters in one SMS (UCS-2)
PART = 67  # characters in each part of a concatenated SMS
MAX_PARTS = 3
# Where a part may end, best first (0–3): after a line end, a sentence, a clause, or
# between words (a space, a bracket); never where punctuation would begin the next part.
CUT_AFTER = {"\n": 0} | dict.fromkeys("。！？；!?;", 1) | dict.fromkeys("，、：,:", 2)
CUT_AFTER |= dict.fromkeys("）)”’》】〕]", 3)
CUT_BEFORE = {"\n": 0} | dict.fromkeys("（(“‘《【〔[", 3)
LEAD_INS = frozenset("：:")
NEVER_FIRST = frozenset("，、：,:。！？；!?;）)”’》】〕]")
MARKS = re.compile(r"[\s。！？；!?;，、：,:）)”’》】〕\]（(“‘《【〔\[]")
PAGE = "\f"  # a template's page break (see the module docstring)
# How a piece is cut (see `_cut`).
NICE, TIGHT, BEST = "nice", "tight", "best"


def sms_length(text: str) -> int:
    """Characters as the network counts them: UTF-16 code units (UCS-2)."""
    return len(text.encode("utf-16-le")) // 2


def label(index: int, total: int) -> str:
    return f"({index}/{total})"


@dataclass(frozen=True)
class Split:
    parts: list[str]  # the SMS to send, numbered when more than one
    rest: str = ""  # what did not fit in MAX_PARTS, to send on request

    @property
    def truncated(self) -> bool:
        return bool(self.rest)


def _fit(text: str, start: int, room: int) -> int:
    """The furthest end such that text[start:end] costs at most `room`."""
    end = min(len(text), start + room)
    if sms_length(text[start:end]) == end - start:  # one unit each: no emoji in the window
        return end
    end, used = start, 0
    while end < len(text):
        cost = sms_length(text[end])
        if used + cost > room:
            break
        used += cost
        end += 1
    return end


@functools.lru_cache(maxsize=16)  # the few texts one split cuts, again and again
def _boundaries(text: str) -> tuple[list[int], list[int]]:
    """The places a part may end (i: between text[i-1] and text[i]), ascending, and how
    natural each is (0 best, see CUT_AFTER)."""
    ranks: dict[int, int] = {}
    last = len(text) - 1
    for mark in MARKS.finditer(text):
        at = mark.start()
        char = text[at]
        space = 3 if char.isspace() else 4
        before, after = CUT_BEFORE.get(char, space), CUT_AFTER.get(char, space)
        if char == "\n" and at > 0 and text[at - 1] in LEAD_INS:
            before = after = CUT_AFTER[text[at - 1]]  # 问题：⏎ leads in to what follows
        if before < ranks.get(at, 4) and at > 0 and char not in NEVER_FIRST:
            ranks[at] = before
        if after < 4 and at < last and text[at + 1] not in NEVER_FIRST:
            ranks[at + 1] = after
    places = sorted(ranks)
    return places, [ranks[i] for i in places]


def _cut(text: str, start: int, room: int, mode: str = NICE) -> int:
    """Where to end a piece that starts at `start` and may cost `room`. NICE: the best
    kind of boundary in the second half of the window (a line end, else a sentence end,
    else a clause, else between words); TIGHT: the last boundary in the window;
    BEST: the best kind of boundary anywhere in the window. With no boundary in
    the window (NICE: none in its second half, then the last one), its end."""
    end = _fit(text, start, room)
    if end >= len(text):
        return end
    places, ranks = _boundaries(text)
    first, stop = bisect.bisect_right(places, start), bisect.bisect_right(places, end)
    if first == stop:
        return end
    if mode != TIGHT:
        floor = start + (end - start) // 2 if mode == NICE else start
        near = range(bisect.bisect_right(places, floor, first, stop), stop)
        if near:
            return places[min(near, key=lambda n: (ranks[n], -n))]
    return places[stop - 1]


def _pieces(text: str, room: int, limit: int) -> tuple[list[tuple[int, int]], int]:
    """Up to `limit` (start, end) pieces of at most `room`, and where what is left starts.
    Cutting at the preferred boundaries never costs an extra SMS: if it would, the cuts
    are at the nearest boundaries."""
    tight, left = _greedy(text, room, limit, TIGHT)
    if left < len(text):
        return _greedy(text, room, limit, NICE)
    nicer, rest = _greedy(text, room, len(tight), NICE)
    return (nicer, rest) if rest >= len(text) else (tight, left)


def _greedy(text: str, room: int, limit: int, mode: str) -> tuple[list[tuple[int, int]], int]:
    pieces: list[tuple[int, int]] = []
    start = 0
    while start < len(text) and len(pieces) < limit:
        end = _cut(text, start, room, mode)
        pieces.append((start, end))
        start = _skip_space(text, end)
    return pieces, start


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def split(
    text: str, more: str = "", max_parts: int = MAX_PARTS, *, sentences: bool = False
) -> Split:
    """The SMS for one reply (see the module docstring). `more` ends a truncated text;
    `sentences`: every part ends at the best boundary it holds."""
    first, page_break, after = text.strip().partition(PAGE)
    if page_break:
        whole = split(text.replace(PAGE, "\n"), more, max_parts, sentences=sentences)
        page = split(first.rstrip() + more, "", max_parts, sentences=sentences)
        if whole.truncated and not page.truncated and page.parts[-1].endswith(more):
            return Split(page.parts, rest=after.strip())
        return whole
    text = text.strip()
    if sms_length(text) <= SINGLE:
        return Split([text] if text else [])
    room = PART - len(label(max_parts, max_parts))
    if sms_length(more) >= room // 2:
        raise ValueError("the `more` suffix is too long for an SMS part")
    pieces, left = (
        _greedy(text, room, max_parts, BEST) if sentences else _pieces(text, room, max_parts)
    )
    if left >= len(text):
        total = len(pieces)
        parts = [label(n, total) + text[a:b].strip() for n, (a, b) in enumerate(pieces, 1)]
        return Split(parts)
    # Too long: max_parts - 1 full pieces, then a last one that ends with `more`.
    if sentences:
        pieces, start = _greedy(text, room, max_parts - 1, BEST)
    else:
        pieces, start = _pieces(text, room, max_parts - 1)
    kept = [text[a:b].strip() for a, b in pieces]
    end = _cut(text, start, room - sms_length(more), BEST)
    kept.append(text[start:end].strip() + more)
    parts = [label(n, max_parts) + piece for n, piece in enumerate(kept, 1)]
    return Split(parts, rest=text[end:].strip())


def split_turn(texts: Sequence[str], more: str = "", max_parts: int = MAX_PARTS) -> Split:
    """The SMS for one turn's replies. A turn ends with what the resident is asked (the
    question an answer interrupted, a consent to give): when the whole turn is too long,
    that last reply is kept whole, beginning an SMS part of its own, and what comes
    before it is cut after a sentence, with `more` there (the rest waits for 全文). A
    reply ending with a colon (我们接着刚才的问题：) leads in to the next and stays with
    it. A turn that fits, or whose last reply needs every part, is split as one text."""
    texts = [t.strip() for t in texts if t.strip()]
    whole = split("\n".join(texts), more=more, max_parts=max_parts)
    if not whole.truncated or len(texts) < 2:
        return whole
    texts = [t.replace(PAGE, "\n") for t in texts]
    last = len(texts) - 1
    while last > 1 and texts[last - 1].endswith(("：", ":")):
        last -= 1
    head, tail = "\n".join(texts[:last]), "\n".join(texts[last:])
    room = PART - len(label(max_parts, max_parts))
    asked, left = _pieces(tail, room, max_parts - 1)
    if left < len(tail):
        return whole  # what is asked needs every part: the turn goes as one text
    free = max_parts - len(asked)  # what is asked begins a part of its own
    pieces, start = _pieces(head, room, free)
    if start >= len(head):
        kept, rest = [head[a:b].strip() for a, b in pieces], ""
    else:
        pieces, start = _pieces(head, room, free - 1)
        kept = [head[a:b].strip() for a, b in pieces]
        end = _cut(head, start, room - sms_length(more), BEST)
        kept.append(head[start:end].strip() + more)
        rest = head[end:].strip()
    kept += [tail[a:b].strip() for a, b in asked]
    return Split([label(n, len(kept)) + piece for n, piece in enumerate(kept, 1)], rest=rest)
