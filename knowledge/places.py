"""Chongqing's districts (区县) and townships (乡镇/街道), and resolving what residents type.

The data is `knowledge/places.yaml`, which a policy officer edits; its header cites the
sources. The district list is the current one (市民政局, cq.gov.cn 2026-01-25): 25 区
(两江新区 included since 江北区 and 渝北区 were merged into it, 2025-11-06), 8 县,
4 自治县, plus the two 管理区 that the assistance notices address alongside the 区县
(重庆高新区, 万盛经开区: 002_dbf974436b87d268.txt and 004_facdb4cf398febe9.txt, 抬头).

Matching works on `knowledge.text.compact` text and follows these rules:

- `resolve_district`: the official name, an alias or a former name, exactly; else a
  district mentioned in the text (`find_district`); else a slip (`slip`) of one name's
  stem (奉结, 凤节 → 奉节; 万洲区 → 万州区): a homophone, or, when a kind is typed
  (区/县), one wrong character in a two-character stem; only when one district fits;
  else a clear fuzzy match (rapidfuzz ratio >= 60 and 10 points ahead of any other
  district); else `UnknownPlace`. Without the kind, a two-character word one character
  off a stem is an everyday answer (城里, 北边), not a district.
- `find_district`: scans the message for names, longest key first at each position.
  Current names and aliases count first, then a township named in full (or by a short
  name of three characters or more), then a former name ("渝北区统景镇" is 北碚区, since
  统景镇 moved there). Two different districts at the same level: None.
- `resolve_township`: within one district, by full name, by the name without its
  suffix ("解放碑" → 解放碑街道), by mention, or by a slip of the name without its
  suffix: a homophone (解放杯), or one wrong character in a name of three or more
  (解放牌), unless what was typed is a township's name elsewhere; only when one
  township fits. A name one character off a two-character name is another place, not
  a typo (新华镇 is not 新民镇, 人民 not 人和), and a name of another length is too
  (火星 is not 七星岗). None routes the case to the district.
- `find_township`: a township named anywhere, only when no other township shares the
  name (a district named in the same message narrows the search).
- `find_place`: the district, and the township when only one fits, that a free-text
  message names ("老人摔倒了 在渝中区解放碑"), for routing a referral: as
  `find_district`, but names that are also everyday words (`everyday_words` in
  places.yaml: 长寿, 南岸, "离开县城") count only with their kind (长寿区), and a
  township only by its full name or a short name of three characters or more.

The tables are built once, on first use.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz

from knowledge.homophones import is_slip, reading, word_key
from knowledge.text import compact

PLACES_FILE = Path(__file__).resolve().parent / "places.yaml"

DISTRICT_KINDS = ("区", "县", "自治县", "管理区")
TOWNSHIP_KINDS = ("街道", "镇", "乡")
CLEAR_SCORE = 60.0  # rapidfuzz ratio a fuzzy match needs …
CLEAR_MARGIN = 10.0  # … and its lead over the best match of another place
MENTION_SHORT_MIN = 3  # shortest township short name that counts as a mention anywhere
WRONG_TOWNSHIP_MIN = 3  # shortest township name in which one wrong character is a typo
WRONG_DISTRICT_STEM = 2  # the district stems in which one wrong character is a typo
HOMOPHONE, WRONG = "homophone", "wrong"  # the kinds of `slip`

_CITY_PREFIXES = ("重庆市", "重庆")
_OFFICE_SUFFIXES = (("街道办事处", "街道"), ("街道办", "街道"), ("人民政府", ""), ("政府", ""))
# an ethnic township: 石桥苗族土家族乡 → short name 石桥
_ETHNIC_SUFFIX = re.compile(r"^(.{2,}?)(?:[^族]{1,2}族)+$")


class PlacesError(ValueError):
    """places.yaml is malformed; the message names the entry."""


@dataclass(frozen=True)
class Township:
    name: str  # official, e.g. "解放碑街道"
    district: str  # official district name
    kind: str  # "街道" | "镇" | "乡"


@dataclass(frozen=True)
class District:
    name: str  # official, e.g. "奉节县"
    kind: str  # "区" | "县" | "自治县" | "管理区"
    aliases: tuple[str, ...]  # short forms first, then former names
    townships: tuple[Township, ...]  # empty when no sourced list
    source: str | None  # where the township list comes from
    code: str | None = None  # GB/T 2260 code, e.g. "500103"; None when not known


@dataclass(frozen=True)
class Place:
    """Where a message says the resident is: a district, and its township when known."""

    district: District
    township: Township | None


class UnknownPlace(LookupError):
    """A district name we cannot resolve; `suggestions` are official names, best first."""

    def __init__(self, text: str, suggestions: Iterable[str]) -> None:
        self.text = text
        self.suggestions = list(suggestions)
        shown = " ".join(text.split())
        messages = _load()["messages"]
        if self.suggestions:
            message = messages["unknown_district"].format(
                text=shown, zh="、".join(self.suggestions), en=", ".join(self.suggestions)
            )
        else:
            message = messages["unknown_district_bare"].format(text=shown)
        super().__init__(message)


# ---------------------------------------------------------------- loading


@functools.cache
def _load() -> Mapping[str, Any]:
    with PLACES_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, Mapping):
        raise PlacesError(f"{PLACES_FILE.name}: 应为映射 / must be a mapping")
    return data


def _names(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise PlacesError(f"{where}: 应为名称列表 / must be a list of names")
    return tuple(v.strip() for v in value)


def parse_district(item: Any, sources: Mapping[str, str]) -> tuple[District, tuple[str, ...]]:
    """One district entry of places.yaml, checked; also returns its former names."""
    if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
        raise PlacesError(f"districts: 每项需要 name / every entry needs a name: {item!r}")
    name = item["name"].strip()
    kind = item.get("kind")
    if kind not in DISTRICT_KINDS:
        raise PlacesError(f"{name}: kind 应为 {'/'.join(DISTRICT_KINDS)} / bad kind {kind!r}")
    code = item.get("code")
    if code is not None and not re.fullmatch(r"50\d{4}", str(code)):
        raise PlacesError(f"{name}: code 应为6位区划代码 / bad code {code!r}")
    source_key = item.get("source")
    if source_key is not None and source_key not in sources:
        raise PlacesError(f"{name}: source 未在 sources 中定义 / unknown source {source_key!r}")
    groups = item.get("townships") or {}
    if not isinstance(groups, Mapping):
        raise PlacesError(f"{name}: townships 应按 街道/镇/乡 分组 / must map kind to names")
    townships: list[Township] = []
    for tkind, tnames in groups.items():
        if tkind not in TOWNSHIP_KINDS:
            raise PlacesError(f"{name}: 乡镇类别 {tkind!r} 不对 / township kind must be 街道/镇/乡")
        for tname in _names(tnames, f"{name}: {tkind}"):
            if not tname.endswith(tkind) or len(tname) <= len(tkind):
                raise PlacesError(f"{name}: {tname} 不是{tkind} / {tname!r} is not a {tkind}")
            townships.append(Township(tname, name, tkind))
    seen = [t.name for t in townships]
    duplicates = sorted({n for n in seen if seen.count(n) > 1})
    if duplicates:
        raise PlacesError(f"{name}: 乡镇重复 {duplicates[0]} / duplicate township")
    if townships and source_key is None:
        raise PlacesError(f"{name}: 有乡镇名单但没有 source / township list without a source")
    former = _names(item.get("former_names"), f"{name}: former_names")
    aliases = _names(item.get("aliases"), f"{name}: aliases") + former
    district = District(
        name=name,
        kind=kind,
        aliases=aliases,
        townships=tuple(townships),
        source=sources[source_key] if source_key is not None else None,
        code=str(code) if code is not None else None,
    )
    return district, former


@functools.cache
def _parsed() -> tuple[tuple[District, ...], Mapping[str, frozenset[str]]]:
    data = _load()
    sources = data.get("sources") or {}
    if not isinstance(sources, Mapping):
        raise PlacesError("sources: 应为映射 / must be a mapping")
    sources = {str(k): " ".join(str(v).split()) for k, v in sources.items()}
    out: list[District] = []
    former: dict[str, frozenset[str]] = {}
    for item in data.get("districts") or []:
        district, old = parse_district(item, sources)
        if any(d.name == district.name for d in out):
            raise PlacesError(f"{district.name}: 区县重复 / duplicate district")
        out.append(district)
        former[district.name] = frozenset(old)
    return tuple(out), former


def districts() -> tuple[District, ...]:
    """Every district and management zone of places.yaml, in file order (loaded once)."""
    return _parsed()[0]


# ---------------------------------------------------------------- lookup tables


def township_short(name: str) -> str:
    """A township's name without its kind: 解放碑街道 → 解放碑, 地宝土家族乡 → 地宝."""
    for kind in TOWNSHIP_KINDS:
        if name.endswith(kind):
            base = name[: -len(kind)]
            break
    else:
        return name
    ethnic = _ETHNIC_SUFFIX.match(base) if base.endswith("族") else None
    return ethnic.group(1) if ethnic else base


@dataclass(frozen=True)
class _Hit:
    key: str
    level: int  # 0 current name or alias, 1 township, 2 former name
    districts: frozenset[str]
    townships: frozenset[Township]


class _Index:
    """All lookup tables, built once from `districts()`."""

    def __init__(
        self,
        items: tuple[District, ...],
        former: Mapping[str, frozenset[str]],
        everyday: Iterable[str] = (),
    ) -> None:
        self.by_name = {d.name: d for d in items}
        # exact keys for resolve_district
        self.district_keys: dict[str, str] = {}
        for d in items:
            for key in (d.name, *d.aliases):
                k = compact(key)
                other = self.district_keys.get(k)
                if other is not None and other != d.name:
                    raise PlacesError(f"{key}: 同时指向 {other} 和 {d.name} / alias used twice")
                self.district_keys[k] = d.name
        self.fuzzy_keys = list(self.district_keys)
        # stems for slips: 奉节县 → 奉节, 石柱县 → 石柱; not 万县 → 万: one character
        # is too short to tell a slip from another word
        self.district_stems: dict[str, str] = {}
        for k, name in self.district_keys.items():
            stem = district_stem(k)
            if len(stem) > 1 and self.district_stems.setdefault(stem, name) != name:
                raise PlacesError(f"{stem}: 同时指向两个区县 / stem of two districts")
        # mention keys for find_district / find_township: key -> hit (lowest level wins)
        mention: dict[str, _Hit] = {}

        def add(key: str, level: int, district: str, township: Township | None) -> None:
            hit = mention.get(key)
            if hit is None or level < hit.level:
                mention[key] = _Hit(
                    key, level, frozenset({district}), frozenset({township} if township else ())
                )
            elif level == hit.level:
                mention[key] = _Hit(
                    key,
                    level,
                    hit.districts | {district},
                    hit.townships | ({township} if township else set()),
                )

        for d in items:
            for key in (d.name, *d.aliases):
                add(compact(key), 2 if key in former[d.name] else 0, d.name, None)
            for t in d.townships:
                add(compact(t.name), 1, d.name, t)
                short = compact(township_short(t.name))
                if len(short) >= MENTION_SHORT_MIN:
                    add(short, 1, d.name, t)
        self.mention = mention
        self.mention_lengths = sorted({len(k) for k in mention}, reverse=True)
        # mentions in free text: names that are also everyday words are left out
        words = {compact(w) for w in everyday}
        stray = sorted(words - set(mention))
        if stray:
            raise PlacesError(f"everyday_words: {stray[0]} 不是地名 / not a place name here")
        self.free_mention = {k: hit for k, hit in mention.items() if k not in words}
        # every township's name and short name, in any district: never a typo of another
        self.township_names = frozenset(
            key
            for d in items
            for t in d.townships
            for key in (compact(t.name), compact(township_short(t.name)))
        )
        # per-district township keys: key -> townships sharing it
        self.township_keys: dict[str, dict[str, set[Township]]] = {}
        for d in items:
            table: dict[str, set[Township]] = {}
            for t in d.townships:
                for key in {compact(t.name), compact(township_short(t.name))}:
                    if len(key) >= 2:
                        table.setdefault(key, set()).add(t)
            self.township_keys[d.name] = table
        self.township_lengths = {
            name: sorted({len(k) for k in table}, reverse=True)
            for name, table in self.township_keys.items()
        }

    def scan(self, text: str, keys: Mapping[str, Any], lengths: Iterable[int]) -> list[str]:
        """Keys found in `text`, longest first at each position, not overlapping."""
        sizes = list(lengths)
        found: list[str] = []
        i = 0
        while i < len(text):
            for size in sizes:
                piece = text[i : i + size]
                if len(piece) == size and piece in keys:
                    found.append(piece)
                    i += size
                    break
            else:
                i += 1
        return found


@functools.cache
def _index() -> _Index:
    items, former = _parsed()
    return _Index(items, former, _names(_load().get("everyday_words"), "everyday_words"))


def district_stem(text: str) -> str:
    """A district name without its kind: 奉节县 → 奉节, 万洲区 → 万洲 (compact text)."""
    for kind in sorted(DISTRICT_KINDS, key=len, reverse=True):
        if text.endswith(kind) and len(text) > len(kind):
            return text[: -len(kind)]
    return text


@functools.cache
def _sounds(name: str) -> tuple[str, ...] | None:
    return word_key(name)


def slip(typed: str, name: str) -> str | None:
    """How `typed` differs from `name`, both the distinctive part of a place name (no
    suffix): HOMOPHONE when the one character that differs sounds like the one it
    replaces (奉结 / 奉节, 万洲 / 万州; sounds folded as `knowledge.homophones` folds
    Chongqing speech), WRONG when one character differs and does not (解放牌 / 解放碑),
    None when they are the same, of different lengths, or differ more (a typed numeral
    is never a slip: a figure is meant)."""
    if len(typed) != len(name) or not is_slip(typed, name):
        return None
    differing = [i for i, (a, b) in enumerate(zip(typed, name, strict=True)) if a != b]
    if len(differing) != 1:
        return None
    (i,) = differing
    sounds = _sounds(name)
    return HOMOPHONE if sounds is not None and reading(typed[i]) == sounds[i] else WRONG


def _nearest(slips: Iterable[tuple[Any, str | None]]) -> set[Any]:
    """Of (place, `slip`) pairs, the places a homophone away if any, else those one wrong
    character away (a homophone is the likelier typo: 万洲 is 万州, not 万盛)."""
    pairs = list(slips)
    for kind in (HOMOPHONE, WRONG):
        found = {place for place, how in pairs if how == kind}
        if found:
            return found
    return set()


# ---------------------------------------------------------------- districts


def _strip_city(text: str) -> str:
    for prefix in _CITY_PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix):
            return text[len(prefix) :]
    return text


def _district_scores(text: str) -> dict[str, float]:
    """Best rapidfuzz ratio of `text` against each district's name and aliases."""
    index = _index()
    scores: dict[str, float] = {}
    for key in index.fuzzy_keys:
        name = index.district_keys[key]
        score = float(fuzz.ratio(text, key))
        if score > scores.get(name, -1.0):
            scores[name] = score
    return scores


def _ranked(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    order = {name: i for i, name in enumerate(_index().by_name)}
    return sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))


def suggest_districts(text: str, limit: int = 3) -> list[str]:
    """Official names closest to `text`, best first; none that share nothing with it."""
    key = _strip_city(compact(text))
    if not key or limit <= 0:
        return []
    return [name for name, score in _ranked(_district_scores(key)) if score > 0][:limit]


def resolve_district(text: str) -> District:
    """The district `text` names: exact name, alias or former name; a district mentioned
    in it; a slip of one district's name (奉结, 万洲区); or a clear fuzzy match.
    Otherwise `UnknownPlace` with the closest names (those a slip away, if several)."""
    index = _index()
    key = _strip_city(compact(text))
    if key in index.district_keys:
        return index.by_name[index.district_keys[key]]
    if key:
        found = find_district(key)
        if found is not None:
            return found
        slipped = _slipped_districts(key)
        if len(slipped) == 1:
            return index.by_name[slipped[0]]
        if slipped:  # 南山区: 南川区 or 南岸区? ask, naming them
            raise UnknownPlace(text, slipped[:3])
        ranked = _ranked(_district_scores(key))
        if ranked:
            best, score = ranked[0]
            runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
            if score >= CLEAR_SCORE and score - runner_up >= CLEAR_MARGIN:
                return index.by_name[best]
    raise UnknownPlace(text, suggest_districts(text))


def _slipped_districts(key: str) -> list[str]:
    """The districts whose stem `key` is a slip of, closest first: a homophone (奉结),
    or, when a kind is typed, one wrong character in a two-character stem (万洲区)."""
    index = _index()
    stem = district_stem(key)
    typed_kind = stem != key
    pairs = []
    for name_stem, name in index.district_stems.items():
        how = slip(stem, name_stem)
        if how == WRONG and not (typed_kind and len(name_stem) == WRONG_DISTRICT_STEM):
            continue
        pairs.append((name, how))
    found = _nearest(pairs)
    return [name for name, _ in _ranked(_district_scores(key)) if name in found]


def find_district(text: str) -> District | None:
    """The one district a free-text message mentions ("我是奉节的", "渝中区解放碑");
    None when there is none or more than one."""
    index = _index()
    return _one_district(index.scan(compact(text), index.mention, index.mention_lengths))


def _one_district(keys: Iterable[str]) -> District | None:
    """The one district that the mention keys found point to, the clearest kind first
    (names and aliases, then townships, then former names); None when several."""
    index = _index()
    hits = [index.mention[k] for k in keys]
    for level in (0, 1, 2):
        sets = [h.districts for h in hits if h.level == level]
        if not sets:
            continue
        if level == 1:
            # townships: every mention must agree; a shared name narrows by intersection
            common = frozenset.intersection(*sets)
            candidates = common if len(common) == 1 else frozenset()
        else:
            candidates = frozenset().union(*sets)
        if len(candidates) == 1:
            return index.by_name[next(iter(candidates))]
        return None
    return None


# ---------------------------------------------------------------- townships


def _township_texts(district: District, text: str) -> tuple[str, str]:
    """`text` as a township key: as typed (less 重庆市 and office words such as 办事处),
    and also without a leading district name ("渝中区解放碑" → 解放碑). Both are needed:
    沙坪坝街道 starts with the alias 沙坪坝."""
    key = _strip_city(compact(text))
    for suffix, replacement in _OFFICE_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)] + replacement
            break
    for name in sorted((district.name, *district.aliases), key=len, reverse=True):
        prefix = compact(name)
        if key.startswith(prefix) and len(key) > len(prefix):
            return key, key[len(prefix) :]
    return key, key


def resolve_township(district: District | str, text: str) -> Township | None:
    """The township of `district` that `text` names ("解放碑" → 解放碑街道); None when
    unsure, which routes the case to the district. A district name we cannot resolve
    raises `UnknownPlace`."""
    if isinstance(district, str):
        district = resolve_district(district)
    index = _index()
    table = index.township_keys.get(district.name, {})
    if not table:
        return None
    whole, key = _township_texts(district, text)
    if not key:
        return None
    for candidate in (whole, key):
        if candidate in table:
            exact = table[candidate]
            return next(iter(exact)) if len(exact) == 1 else None
    lengths = index.township_lengths[district.name]
    mentioned = {t for k in index.scan(key, table, lengths) for t in table[k]}
    if mentioned:
        return next(iter(mentioned)) if len(mentioned) == 1 else None
    # A typo of the name without its suffix (火星街道 → 火星): a homophone, or one wrong
    # character in a longer name, unless it is a real township's name somewhere.
    stem = township_short(key)
    real = stem in index.township_names
    pairs = []
    for t in district.townships:
        short = compact(township_short(t.name))
        how = slip(stem, short)
        if how == WRONG and (real or len(short) < WRONG_TOWNSHIP_MIN):
            continue
        pairs.append((t, how))
    found = _nearest(pairs)
    return next(iter(found)) if len(found) == 1 else None


def find_township(text: str) -> Township | None:
    """The township a message names anywhere, when only one township fits; a district
    named in the same message restricts the search to it."""
    district = find_district(text)
    if district is not None and district.townships:
        return resolve_township(district, text)
    index = _index()
    found: set[Township] = set()
    for key in index.scan(compact(text), index.mention, index.mention_lengths):
        hit = index.mention[key]
        if hit.level == 1:
            found |= hit.townships
    return next(iter(found)) if len(found) == 1 else None


def find_place(text: str) -> Place | None:
    """The place a free-text message names ("我家老人摔倒了 在渝中区解放碑": 渝中区,
    解放碑街道), to route a referral: the one district, as `find_district` finds it but
    without names that are also everyday words (长寿 counts as 长寿区 only), and the
    township when one township of it is named in full or by a short name of three or
    more characters. None when no district, or more than one, is named."""
    index = _index()
    keys = index.scan(compact(text), index.free_mention, index.mention_lengths)
    district = _one_district(keys)
    if district is None:
        return None
    townships = {
        t
        for k in keys
        if index.mention[k].level == 1
        for t in index.mention[k].townships
        if t.district == district.name
    }
    return Place(district, next(iter(townships)) if len(townships) == 1 else None)
