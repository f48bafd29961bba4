"""NCI's official PRO-CTCAE® translations, checked against the item library and applied to it.

The PRO-CTCAE terms of use (NCI; see ``reference/README.md``) forbid us to translate the items:
other languages must come from NCI's official translations, which a study supplies as a JSON file.
This module checks such a file against the v1.0 item library (``schedules.proctcae``) and gives the
items in a locale, falling back to the English library item by item. It ships no translations.

Pure code: stdlib only; reads a translation file only from a path the caller gives.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from schedules.proctcae import UnknownItem, items, lookup_item

__all__ = [
    "ENGLISH",
    "ItemTranslation",
    "LocalisedItem",
    "LocalisedLibrary",
    "TranslationError",
    "load_translations",
    "localised_items",
    "parse_translations",
]


class TranslationError(ValueError):
    """A translation file does not fit the item library."""


@dataclass(frozen=True)
class ItemTranslation:
    """NCI's official translation of one item: the question and one label per option, in the
    English option order. ``term`` (the symptom heading) is optional."""

    question: str
    options: tuple[str, ...]
    term: str | None = None


@dataclass(frozen=True)
class LocalisedItem:
    """An item's texts in one locale; ``locale`` is the locale the texts are actually in."""

    code: str
    term_number: int
    attribute: str
    term: str
    question: str
    options: tuple[tuple[int | None, str], ...]
    allows_null: bool
    locale: str


@dataclass(frozen=True)
class LocalisedLibrary:
    """Items for a locale. ``locale_fallback`` is true when any item had to be shown in English;
    ``fallback_codes`` names those items."""

    locale: str
    items: tuple[LocalisedItem, ...]
    locale_fallback: bool
    fallback_codes: tuple[str, ...]


ENGLISH = "en"


def _is_english(locale: str) -> bool:
    folded = locale.strip().casefold().replace("_", "-")
    return folded == ENGLISH or folded.startswith(ENGLISH + "-")


def parse_translations(data: Mapping[str, Any]) -> dict[str, ItemTranslation]:
    """Check translation data shaped ``{"PROCTCAE_17A_SCL": {"question": str, "options": [str, ...],
    "term": str (optional)}}`` against the item library.

    Each code must be a known item and ``options`` must give one label per English option, in the
    same order. Raises ``TranslationError``. The texts must be NCI's official translation (PRO-CTCAE
    terms of use); this module ships none.
    """
    if not isinstance(data, Mapping):
        raise TranslationError("translations must be an object keyed by item code")
    parsed: dict[str, ItemTranslation] = {}
    for code, entry in data.items():
        if isinstance(entry, ItemTranslation):
            translation = entry
        else:
            if not isinstance(entry, Mapping):
                raise TranslationError(f"{code}: entry must be an object")
            question, options, term = entry.get("question"), entry.get("options"), entry.get("term")
            if not isinstance(question, str) or not question.strip():
                raise TranslationError(f"{code}: question must be a non-empty string")
            if not isinstance(options, list) or not all(isinstance(o, str) and o.strip() for o in options):
                raise TranslationError(f"{code}: options must be a list of non-empty strings")
            if term is not None and not isinstance(term, str):
                raise TranslationError(f"{code}: term must be a string")
            translation = ItemTranslation(question=question, options=tuple(options), term=term)
        try:
            item = lookup_item(code)
        except UnknownItem:
            raise TranslationError(f"{code}: not a PRO-CTCAE item") from None
        if len(translation.options) != len(item.options):
            raise TranslationError(
                f"{code}: {len(translation.options)} option labels given, the item has {len(item.options)}"
            )
        parsed[code] = translation
    return parsed


def load_translations(path: str | os.PathLike[str]) -> dict[str, ItemTranslation]:
    """Read an official PRO-CTCAE translation from a UTF-8 JSON file (see ``parse_translations``)."""
    with open(path, encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as exc:
            raise TranslationError(f"{os.fspath(path)}: not valid JSON ({exc.msg})") from None
    return parse_translations(data)


def localised_items(
    locale: str,
    translations: Mapping[str, Any] | None = None,
    codes: Iterable[str] | None = None,
) -> LocalisedLibrary:
    """The item library (or just ``codes``) with texts for ``locale``.

    English ships with the library. For any other locale the texts come from ``translations`` (NCI's
    official translation, e.g. from ``load_translations``); an item missing from them is shown in
    English and ``locale_fallback`` is set. The symptom heading (``term``) stays in English unless
    the translation gives one; it is a heading, not text the patient answers, so it does not set
    the flag. Option values never change with the locale.
    """
    wanted = items() if codes is None else tuple(lookup_item(code) for code in codes)
    english = _is_english(locale)
    parsed = {} if english or translations is None else parse_translations(translations)
    localised: list[LocalisedItem] = []
    fallbacks: list[str] = []
    for item in wanted:
        translation = parsed.get(item.code)
        if english or translation is None:
            if not english:
                fallbacks.append(item.code)
            localised.append(
                LocalisedItem(
                    code=item.code,
                    term_number=item.term_number,
                    attribute=item.attribute,
                    term=item.term,
                    question=item.question,
                    options=item.options,
                    allows_null=item.allows_null,
                    locale=ENGLISH,
                )
            )
            continue
        localised.append(
            LocalisedItem(
                code=item.code,
                term_number=item.term_number,
                attribute=item.attribute,
                term=translation.term or item.term,
                question=translation.question,
                options=tuple(
                    (value, label) for (value, _), label in zip(item.options, translation.options, strict=True)
                ),
                allows_null=item.allows_null,
                locale=locale,
            )
        )
    return LocalisedLibrary(
        locale=locale,
        items=tuple(localised),
        locale_fallback=bool(fallbacks),
        fallback_codes=tuple(fallbacks),
    )
