"""Sentences the API answers in English and the console shows in the reader's language: each is kept as
message ids and values (`Phrase`), marked for extraction with `N_`/`Np_` (`make translations`), and
translated only when shown (`backend/console/i18n.py` `say`). The worklist's rows and the
reconciliation's findings are written this way."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def N_(msgid: str) -> str:
    """Marks a message id for extraction (`make translations`); the console translates it when shown."""
    return msgid


def Np_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a singular/plural pair for extraction; ``%(num)s`` is the count."""
    return singular, plural


@dataclass(frozen=True)
class Phrase:
    """A piece of a sentence kept as its message id and values: the API answers its English
    (:meth:`english`), the console translates the message id (Flask-Babel) and fills in the values."""

    message: str | tuple[str, str]
    params: dict[str, Any] = field(default_factory=dict)

    def english(self) -> str:
        text = self.message
        if isinstance(text, tuple):
            text = text[0] if self.params["num"] == 1 else text[1]
        return text % self.params  # %s shows a date as YYYY-MM-DD, as the contract writes dates


Text = Phrase | str | tuple[Phrase | str, ...]  # a plain str is shown as it is, untranslated


def english(parts: tuple[Phrase | str, ...]) -> str:
    """The sentence the parts make, in English (what the API answers)."""
    if len(parts) == 1:
        part = parts[0]
        return part if isinstance(part, str) else part.english()
    return "".join(part if isinstance(part, str) else part.english() for part in parts)
