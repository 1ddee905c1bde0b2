"""The console's messages by code (bot/console/messages.yaml), and the error that carries one.

Pages show `zh`; `residentbot users` prints "zh / en" like every CLI error.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

MESSAGES_FILE = Path(__file__).resolve().parent / "messages.yaml"


@functools.cache
def messages() -> Mapping[str, Mapping[str, str]]:
    with MESSAGES_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return {str(code): {"zh": str(m["zh"]), "en": str(m["en"])} for code, m in data.items()}


def text(code: str, lang: str = "zh", **values: Any) -> str:
    return messages()[code][lang].format(**values)


class ConsoleError(ValueError):
    """A refusal with a message code; `str()` is one line, zh / en."""

    def __init__(self, code: str, **values: Any) -> None:
        self.code = code
        self.values = values
        super().__init__(f"{text(code, 'zh', **values)} / {text(code, 'en', **values)}")

    @property
    def zh(self) -> str:
        return text(self.code, "zh", **self.values)

    def as_dict(self) -> Mapping[str, Any]:
        return {"code": self.code, **self.values}
