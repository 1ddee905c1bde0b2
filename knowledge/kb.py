"""Knowledge-base entries: one YAML file per topic in `knowledge/faq/`, loaded and checked.

A policy officer edits these files. A malformed entry is rejected with a message that
names the file and the field, so the fix is obvious. The format:

    id: dibao.conditions                 # a topic id, and the file's name (.yaml)
    title: 申请低保需要什么条件？          # the canonical question
    answer: |                            # plain Chinese for chat, <= 320 characters
      …
    sms: …                               # the same in <= 134 characters (two SMS parts)
    sources:                             # each: a seed file and its section, or a notice
      - 004_facdb4cf398febe9.txt 一(一)   #   with its policy_facts.md section
      - 渝民规〔2025〕6号（policy_facts.md §1）   #   (§N: one listed in sources.yaml)
    questions: [...]                     # >= 8 other ways residents ask, none twice
    related: [dibao.property]            # other topic ids
    reviewed: 2026-11-22
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from knowledge.text import compact

DATA_DIR = Path(__file__).resolve().parent
FAQ_DIR = DATA_DIR / "faq"
SOURCES_FILE = DATA_DIR / "sources.yaml"

ANSWER_MAX = 320
SMS_MAX = 134
MIN_QUESTIONS = 8
ID_PATTERN = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")
SEED_SOURCE = re.compile(r"^(?P<file>\d{3}_[0-9a-f]{16}\.txt)\s+(?P<section>\S.*)$")
NOTICE_SOURCE = re.compile(r"^(?P<notice>\S.*?)\s*[（(]policy_facts\.md\s*§(?P<section>\d+)[)）]$")
FIELDS = ("id", "title", "answer", "sms", "sources", "questions", "related", "reviewed")


class KBError(ValueError):
    """A malformed entry: the message names the file and the field."""


@dataclass(frozen=True)
class Source:
    """Where a fact comes from: a seed file and section, or a dated public notice."""

    text: str  # as written in the entry
    document: str  # seed file name, or the notice's number
    section: str  # seed section such as 一(一), or policy_facts.md section number
    title: str  # the document's title (seeds) or the notice itself
    cite: str  # short form for residents: the document number, e.g. 渝民〔2022〕239号

    @property
    def is_seed(self) -> bool:
        return self.document.endswith(".txt")


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    answer: str
    sms: str
    sources: tuple[Source, ...]
    questions: tuple[str, ...]
    related: tuple[str, ...]
    reviewed: dt.date
    path: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "answer": self.answer,
            "sms": self.sms,
            "sources": [s.text for s in self.sources],
            "questions": list(self.questions),
            "related": list(self.related),
            "reviewed": self.reviewed.isoformat(),
        }


@functools.cache
def _sources() -> Mapping[str, Any]:
    with SOURCES_FILE.open(encoding="utf-8") as fh:
        data: Mapping[str, Any] = yaml.safe_load(fh)
    return data


@functools.cache
def _seeds() -> Mapping[str, Mapping[str, str]]:
    return {str(item["file"]): item for item in _sources()["seeds"]}


def fact_sections() -> Mapping[int, str]:
    """The sections of policy_facts.md a notice may be cited with: number -> heading."""
    return {int(n): str(title) for n, title in _sources()["policy_facts"].items()}


def seed_titles() -> Mapping[str, str]:
    """The five seed documents we may cite: file name -> title (knowledge/sources.yaml)."""
    return {file: str(item["title"]) for file, item in _seeds().items()}


def seed_cite(file: str) -> str:
    """How a resident is shown a seed document: its number, e.g. 渝民〔2022〕239号."""
    return str(_seeds()[file]["cite"])


def topic_ids() -> tuple[str, ...]:
    """Topic ids the KB must cover (copied from ../shared/design/topics.yaml)."""
    return tuple(str(t) for t in _sources()["topics"])


def parse_source(text: str, where: str) -> Source:
    text = " ".join(str(text).split())
    seed = SEED_SOURCE.match(text)
    if seed:
        file = seed["file"]
        titles = seed_titles()
        if file not in titles:
            raise KBError(f"{where}: 不认识的文件 {file} / unknown seed file {file}")
        return Source(text, file, seed["section"], titles[file], seed_cite(file))
    notice = NOTICE_SOURCE.match(text)
    if notice:
        notice_text, section = notice["notice"], int(notice["section"])
        if section not in fact_sections():
            raise KBError(
                f"{where}: policy_facts.md 没有第{section}节 / "
                f"policy_facts.md has no section §{section}: {text!r}"
            )
        return Source(text, notice_text, f"§{section}", notice_text, notice_text)
    raise KBError(
        f"{where}: 出处应写成“文件名 条款”或“文号（policy_facts.md §N）” / "
        f"source must be 'SEEDFILE SECTION' or 'NOTICE (policy_facts.md §N)': {text!r}"
    )


def _text(data: Mapping[str, Any], name: str, where: str, limit: int | None = None) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise KBError(f"{where}: {name}: 必填文字 / required text")
    value = value.strip()
    if limit is not None and len(value) > limit:
        raise KBError(
            f"{where}: {name}: {len(value)}字，超过{limit}字 / {len(value)} characters > {limit}"
        )
    return value


def _texts(data: Mapping[str, Any], name: str, where: str) -> tuple[str, ...]:
    value = data.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise KBError(f"{where}: {name}: 应为文字列表 / must be a list of texts")
    return tuple(v.strip() for v in value)


def parse_entry(data: Any, path: str) -> Entry:
    """Check one entry's fields; the ids it refers to are checked by `load_entries`."""
    if not isinstance(data, Mapping):
        raise KBError(f"{path}: 应为一个条目 / must be a mapping")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise KBError(f"{path}: {unknown[0]}: 多余的字段 / unknown field")
    entry_id = _text(data, "id", path)
    if not ID_PATTERN.match(entry_id):
        raise KBError(f"{path}: id: 格式应如 dibao.conditions / malformed id {entry_id!r}")
    sources = _texts(data, "sources", path)
    if not sources:
        raise KBError(f"{path}: sources: 至少一个出处 / at least one source")
    questions = _texts(data, "questions", path)
    title = _text(data, "title", path)
    seen = {compact(title): title}
    for question in questions:
        if compact(question) in seen:
            raise KBError(
                f"{path}: questions: “{question}”与“{seen[compact(question)]}”重复 / "
                f"repeats {seen[compact(question)]!r} (the title or another question)"
            )
        seen[compact(question)] = question
    if len(questions) < MIN_QUESTIONS:
        raise KBError(
            f"{path}: questions: 至少{MIN_QUESTIONS}种问法，现有{len(questions)} / "
            f"at least {MIN_QUESTIONS} questions, found {len(questions)}"
        )
    reviewed = data.get("reviewed")
    if isinstance(reviewed, str):
        try:
            reviewed = dt.date.fromisoformat(reviewed)
        except ValueError:
            reviewed = None
    if not isinstance(reviewed, dt.date):
        raise KBError(f"{path}: reviewed: 审核日期 YYYY-MM-DD / review date YYYY-MM-DD")
    return Entry(
        id=entry_id,
        title=title,
        answer=_text(data, "answer", path, ANSWER_MAX),
        sms=_text(data, "sms", path, SMS_MAX),
        sources=tuple(parse_source(s, f"{path}: sources[{i}]") for i, s in enumerate(sources)),
        questions=questions,
        related=_texts(data, "related", path),
        reviewed=reviewed,
        path=path,
    )


def check_entries(entries: Iterable[Entry], required: Iterable[str] = ()) -> list[Entry]:
    """Ids are unique, `related` points at entries that exist, required topics are there."""
    by_id: dict[str, Entry] = {}
    for entry in entries:
        if entry.id in by_id:
            raise KBError(f"{entry.path}: id: {entry.id} 重复（{by_id[entry.id].path}）/ duplicate")
        by_id[entry.id] = entry
    for entry in by_id.values():
        for rel in entry.related:
            if rel not in by_id:
                raise KBError(f"{entry.path}: related: 没有条目 {rel} / no entry {rel}")
    missing = [t for t in required if t not in by_id]
    if missing:
        raise KBError(f"{FAQ_DIR}: 缺少主题 {', '.join(missing)} / missing topics")
    return sorted(by_id.values(), key=lambda e: e.id)


def load_file(path: Path) -> Entry:
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise KBError(f"{path.name}: YAML 格式错误 / invalid YAML: {exc}") from exc
    entry = parse_entry(data, path.name)
    if entry.id != path.stem:
        raise KBError(
            f"{path.name}: id: {entry.id} 与文件名不符 / must be the file's name, {path.stem}"
        )
    return entry


def load_entries(directory: Path = FAQ_DIR, *, complete: bool = True) -> list[Entry]:
    """Every entry in `directory`, checked; with `complete`, every topic id must be there."""
    entries = [load_file(p) for p in sorted(directory.glob("*.yaml"))]
    return check_entries(entries, topic_ids() if complete else ())
