"""CSV exports of a study's results: ADRS (best overall response) and the ADAE summary (the safety table).

ADRS follows the ADaM Basic Data Structure (ADaM IG v1.1): one ``PARAMCD = "BOR"`` row per dosed
subject, ``AVALC`` the confirmed best overall response (RECIST 1.1), ``ADT`` the confirmation date
of a confirmed response, ``RSPSTDT`` and ``CNFRMDT`` the two assessments of the confirming pair,
``CNFRMFL``, ``CBRFL`` (clinical benefit) and ``EVALFL`` (response-evaluable). Rows come from
`services.results.derive_results`, behind GET /patients/{id}/response.

The ADAE summary has one row per regimen (and ``ALL``) and CTCAE term, with the counts of the
safety table (`services.safety.safety_tables`, behind GET /studies/{code}/safety).
"""
from __future__ import annotations

from datetime import date
from typing import Any

from backend.auth import Principal
from backend.services.exports import _csv, _patients, usubjid
from backend.services.results import derive_results
from backend.services.safety import safety_tables
from backend.services.studies import study_by_code

ADRS_COLUMNS = ("STUDYID", "USUBJID", "SUBJID", "SITEID", "TRT01P", "TRTSDT", "PARAMCD", "PARAM", "AVALC", "ADT",
                "RSPSTDT", "CNFRMDT", "CNFRMFL", "CBRFL", "EVALFL", "DATACUTDT")
ADAE_SUMMARY_COLUMNS = ("STUDYID", "TRT01P", "AEBODSYS", "AEDECOD", "POPN", "N_ANY", "N_GR1", "N_GR2", "N_GR3", "N_GR4",
                        "N_GR5", "N_GR3PL", "N_SER", "N_DOSRED", "N_DRGINT", "N_DRGWD", "DATACUTDT")
_COUNTS = (("N_ANY", "any_grade"), ("N_GR1", "grade_1"), ("N_GR2", "grade_2"), ("N_GR3", "grade_3"),
           ("N_GR4", "grade_4"), ("N_GR5", "grade_5"), ("N_GR3PL", "grade_3_plus"), ("N_SER", "serious"),
           ("N_DOSRED", "dose_reduced"), ("N_DRGINT", "drug_interrupted"), ("N_DRGWD", "drug_withdrawn"))


def _flag(value: bool) -> str:
    return "Y" if value else "N"


def adrs_rows(principal: Principal, code: str, cutoff: date | None) -> list[dict[str, Any]]:
    study = study_by_code(principal, code)
    patients = _patients(study)
    results = derive_results(patients, cutoff)
    rows = []
    for patient in patients:
        result = results.get(patient.id)
        if result is None:
            continue
        best = result.best
        first, second = best.confirmed_by if best.confirmed_by else (None, None)
        rows.append({
            "STUDYID": study.code, "USUBJID": usubjid(study, patient), "SUBJID": patient.subject_id,
            "SITEID": patient.site.code, "TRT01P": patient.regimen, "TRTSDT": patient.first_dose_date,
            "PARAMCD": "BOR", "PARAM": "Best Overall Response (RECIST 1.1, confirmed)",
            "AVALC": best.best_overall_response, "ADT": best.confirmation_date, "RSPSTDT": first, "CNFRMDT": second,
            "CNFRMFL": _flag(best.confirmed), "CBRFL": _flag(best.clinical_benefit), "EVALFL": _flag(result.evaluable),
            "DATACUTDT": result.cutoff,
        })
    return rows


def adrs_csv(principal: Principal, code: str, cutoff: date | None) -> str:
    return _csv(ADRS_COLUMNS, adrs_rows(principal, code, cutoff))


def adae_summary_rows(principal: Principal, code: str, cutoff: date | None) -> list[dict[str, Any]]:
    study = study_by_code(principal, code)
    tables = safety_tables(_patients(study), cutoff)
    rows = []
    for regimen, table in (("ALL", tables), *((t["regimen"], t) for t in tables["by_regimen"])):
        for line in table["teae"]:
            rows.append({"STUDYID": study.code, "TRT01P": regimen, "AEBODSYS": line["soc"], "AEDECOD": line["term"],
                         "POPN": table["population"], "DATACUTDT": tables["cutoff"],
                         **{column: line[key]["n"] for column, key in _COUNTS}})
    return rows


def adae_summary_csv(principal: Principal, code: str, cutoff: date | None) -> str:
    return _csv(ADAE_SUMMARY_COLUMNS, adae_summary_rows(principal, code, cutoff))
