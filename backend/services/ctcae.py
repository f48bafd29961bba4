"""The CTCAE v5.0 term list for clinicians' pick-lists (NCI CTCAE v5.0, 27 November 2017)."""
from __future__ import annotations

from schedules.ctcae import CtcaeTerm, search_terms


def find_terms(q: str, limit: int) -> list[CtcaeTerm]:
    """Terms matching words of their name or SOC, a MedDRA code prefix, or a SOC name
    (`schedules.ctcae.search_terms` describes the matching and ranking)."""
    return search_terms(q, limit=limit)
