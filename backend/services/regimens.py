"""Treatment regimens: the built-in ones (schedules/regimens/*.yaml) and a study's variants of them."""
from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from backend.errors import InvalidInput
from backend.models import Study
from schedules.regimens import Regimen, RegimenError, builtin_regimens


def list_regimens() -> list[dict[str, Any]]:
    """Every built-in regimen, by code (CONTRACT.md "Set-up": `GET /regimens`)."""
    return [regimen.to_dict() for _, regimen in sorted(builtin_regimens().items())]


def regimen_for(study: Study, code: str) -> Regimen:
    """The regimen `code` as `study` gives it: the built-in one with the study's overrides applied.

    Overrides live in `Study.settings["regimen_overrides"][code]` and follow
    `Regimen.with_overrides` (e.g. `{"agents": {"paclitaxel": {"dose": 90}}}`).
    Unknown code: 422 on `regimen`; overrides the domain refuses: 422 naming the study settings.
    """
    if code not in builtin_regimens():
        raise InvalidInput("regimen", f"Unknown regimen {code!r}; see GET /regimens.")
    overrides = ((study.settings or {}).get("regimen_overrides") or {}).get(code)
    if not overrides:
        return builtin_regimens()[code]
    try:
        return _with_overrides(code, json.dumps(overrides, sort_keys=True))
    except (RegimenError, TypeError, ValueError) as error:
        raise InvalidInput("regimen", f"The study's overrides of {code} are invalid: {error}",
                           reason="invalid_study_settings") from None


@functools.lru_cache(maxsize=256)
def _with_overrides(code: str, overrides_json: str) -> Regimen:
    """Validated once per distinct override set: planning thousands of calendars re-uses it."""
    overrides: Mapping[str, Any] = json.loads(overrides_json)
    return builtin_regimens()[code].with_overrides(overrides)
