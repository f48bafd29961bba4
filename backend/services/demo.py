"""The demo data set: the two seed trials of shared/seeds, three sites, staff and a few patients."""
from __future__ import annotations

import sqlalchemy as sa

from backend.extensions import db
from backend.models import Site, Study, User
from backend.services.studies import create_site, create_study
from backend.services.users import create_user

DEMO_PASSWORD = "cadence-demo-2026"

STUDIES = [
    {"code": "INET-PAC-RWS", "title": "Inetetamab combined with paclitaxel with/without pertuzumab for previously "
                                     "treated HER2-positive advanced breast cancer (real-world study)"},
    {"code": "INET-1L", "title": "Efficacy and safety of different combination regimens of inetetamab in "
                                "first-line treatment of HER2-positive metastatic breast cancer"},
]
# The care team as the app shows it (GET /me/care-team); numbers from the reserved fictional ranges.
CN_CARE_TEAM = {
    "hours": {"en": "Mon–Fri 08:00–17:00", "zh-CN": "周一至周五 08:00–17:00"},
    "out_of_hours": {"en": "Out of hours, go to the hospital's emergency department and say you are on a "
                           "cancer trial.",
                     "zh-CN": "非工作时间请前往医院急诊科，并告知您正在参加肿瘤临床试验。"},
}
SITES = [
    {"code": "SH01", "name": "Shanghai site 1", "study": "INET-PAC-RWS", "timezone": "Asia/Shanghai", "country": "CN",
     "phone": "+86 21 5555 0101", **CN_CARE_TEAM},
    {"code": "BJ01", "name": "Beijing site 1", "study": "INET-1L", "timezone": "Asia/Shanghai", "country": "CN",
     "phone": "+86 10 5555 0102", **CN_CARE_TEAM},
    {"code": "LDN01", "name": "London site 1", "study": "INET-1L", "timezone": "Europe/London", "country": "GB",
     "phone": "+44 20 7946 0103", "hours": {"en": "Mon–Fri 09:00–17:00"},
     "out_of_hours": {"en": "Out of hours, call the acute oncology line on +44 20 7946 0199 (24 hours)."}},
]
STAFF = [
    {"username": "admin", "role": "admin"},
    {"username": "coordinator", "role": "coordinator", "studies": ["INET-PAC-RWS", "INET-1L"]},
    {"username": "nurse", "role": "nurse", "sites": ["SH01", "BJ01"]},
]


def load_demo() -> list[str]:
    """Create what is missing and leave what exists: running it twice changes nothing."""
    lines: list[str] = []
    for data in STUDIES:
        if not db.session.scalar(sa.select(Study.id).where(Study.code == data["code"])):
            create_study(None, {**data, "assessment_schedule": {"interval_days": 42, "window_days": 7},
                                "pfs_missed_rule": "visits"})
            lines.append(f"study {data['code']} created")
    for data in SITES:
        if not db.session.scalar(sa.select(Site.id).where(Site.code == data["code"])):
            create_site(None, data)
            lines.append(f"site {data['code']} created")
    for data in STAFF:
        if not db.session.scalar(sa.select(User.id).where(User.username == data["username"])):
            create_user(None, {**data, "password": DEMO_PASSWORD})
            lines.append(f"user {data['username']} created")
    lines.extend(_load_demo_patients())
    lines.append("credentials (all demo accounts): password " + DEMO_PASSWORD)
    lines.append("  staff: admin, coordinator, nurse; patients: see above")
    return lines


def _load_demo_patients() -> list[str]:
    """Patients arrive with the calendar service; until then there are none to load."""
    try:
        from backend.services.patients import load_demo_patients
    except ImportError:
        return []
    return load_demo_patients(DEMO_PASSWORD)
