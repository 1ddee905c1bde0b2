"""The knowledge base loads, covers every topic, and rejects malformed entries clearly."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge.kb import (
    ANSWER_MAX,
    SMS_MAX,
    KBError,
    check_entries,
    fact_sections,
    load_entries,
    load_file,
    seed_titles,
    topic_ids,
)
from tests.conftest import SHARED

GOOD: dict[str, Any] = {
    "id": "dibao.example",
    "title": "低保是什么？",
    "answer": "低保是最低生活保障。",
    "sms": "低保是最低生活保障。",
    "sources": ["004_facdb4cf398febe9.txt 一(一)", "渝民规〔2025〕6号（policy_facts.md §1）"],
    "questions": [f"问法{i}" for i in range(8)],
    "related": [],
    "reviewed": "2026-11-22",
}


def write(tmp_path: Path, **changes: Any) -> Path:
    data = {**GOOD, **changes}
    for key in [k for k, v in changes.items() if v is None]:
        del data[key]
    path = tmp_path / "dibao.example.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_every_topic_has_an_entry() -> None:
    entries = {e.id for e in load_entries()}
    assert set(topic_ids()) <= entries


def test_topic_list_matches_the_design() -> None:
    design = yaml.safe_load((SHARED / "design" / "topics.yaml").read_text(encoding="utf-8"))
    assert list(topic_ids()) == list(design)


def test_cited_seed_files_exist() -> None:
    for name in seed_titles():
        assert (SHARED / "seeds" / name).is_file(), name
    cited = {s.document for e in load_entries() for s in e.sources if s.is_seed}
    assert cited <= set(seed_titles())
    assert len(cited) == 5, "every seed document is used somewhere"


def test_policy_facts_sections_match_the_reference() -> None:
    """The loader checks citations against knowledge/sources.yaml, kept in step here."""
    facts = (SHARED / "reference" / "policy_facts.md").read_text(encoding="utf-8")
    numbered = re.findall(r"^## (\d+)\. ", facts, flags=re.MULTILINE)
    assert list(fact_sections()) == [int(n) for n in numbered]


def test_entries_respect_their_limits() -> None:
    for entry in load_entries():
        assert len(entry.answer) <= ANSWER_MAX, entry.id
        assert len(entry.sms) <= SMS_MAX, entry.id
        assert entry.id not in entry.related


def test_no_question_is_claimed_by_two_entries() -> None:
    owner: dict[str, str] = {}
    for entry in load_entries():
        for q in (entry.title, *entry.questions):
            assert owner.setdefault(q, entry.id) == entry.id, f"{q!r} in {owner[q]} and {entry.id}"


def test_a_good_entry_loads(tmp_path: Path) -> None:
    entry = load_file(write(tmp_path))
    assert entry.sources[0].document == "004_facdb4cf398febe9.txt"
    assert entry.sources[0].section == "一(一)"
    assert entry.sources[1].section == "§1"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": None}, "title"),
        ({"answer": "长" * (ANSWER_MAX + 1)}, "answer"),
        ({"sms": "长" * (SMS_MAX + 1)}, "sms"),
        ({"questions": ["一", "二"]}, "questions"),
        ({"sources": []}, "sources"),
        ({"sources": ["某个文件"]}, "sources[0]"),
        ({"sources": ["999_0000000000000000.txt 一"]}, "sources[0]"),
        ({"sources": ["渝民规〔2025〕6号（policy_facts.md §99）"]}, "sources[0]"),
        (
            {"sources": [GOOD["sources"][0], "渝民规〔2025〕6号（policy_facts.md §0）"]},
            "sources[1]",
        ),
        ({"questions": [*GOOD["questions"], "问法 3？"]}, "questions"),
        ({"questions": [*GOOD["questions"], "低保是什么"]}, "questions"),  # the title again
        ({"reviewed": "昨天"}, "reviewed"),
        ({"id": "Dibao"}, "id"),
        ({"id": "dibao.other"}, "id"),  # not the file's name
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_malformed_entry_names_file_and_field(
    tmp_path: Path, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(KBError) as caught:
        load_file(write(tmp_path, **changes))
    message = str(caught.value)
    assert message.startswith("dibao.example.yaml: ")
    assert f" {field}:" in message or f": {field}" in message


def test_broken_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(KBError, match=r"^broken\.yaml: YAML"):
        load_file(path)


def test_dangling_related_and_duplicates_are_rejected(tmp_path: Path) -> None:
    write(tmp_path, related=["no.such_topic"])
    with pytest.raises(KBError, match=r"related: .*no\.such_topic"):
        load_entries(tmp_path, complete=False)
    entry = load_file(write(tmp_path))
    with pytest.raises(KBError, match="重复"):
        check_entries([entry, dataclasses.replace(entry, path="copy.yaml")])


def test_a_missing_topic_is_named(tmp_path: Path) -> None:
    write(tmp_path)
    with pytest.raises(KBError, match=r"dibao\.what"):
        load_entries(tmp_path)
