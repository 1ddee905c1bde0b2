"""Every YAML file a policy officer edits loads without a key given twice: PyYAML keeps
the last of two equal keys silently, so a second `没饭吃:` in triage.yaml's rewrites would
drop the first one's variants with no error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    p.relative_to(ROOT).as_posix()
    for folder in ("knowledge", "bench", "tests")
    for p in (ROOT / folder).rglob("*.yaml")
)


class UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def test_the_files_are_found() -> None:
    assert "knowledge/triage.yaml" in FILES
    assert any(f.startswith("knowledge/faq/") for f in FILES)


@pytest.mark.parametrize("name", FILES)
def test_no_key_is_given_twice(name: str) -> None:
    with (ROOT / name).open(encoding="utf-8") as fh:
        yaml.load(fh, Loader=UniqueKeyLoader)


def test_a_key_given_twice_is_caught() -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match="given twice"):
        yaml.load("a: 1\nb: 2\na: 3\n", Loader=UniqueKeyLoader)
