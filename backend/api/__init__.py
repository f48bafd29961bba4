"""HTTP layer: flask-smorest blueprints whose views parse, call one service, and answer."""
from backend.api.activation import blp as activation_blp
from backend.api.adverse_events import blp as adverse_events_blp
from backend.api.alerts import blp as alerts_blp
from backend.api.assessments import blp as assessments_blp
from backend.api.audit import blp as audit_blp
from backend.api.auth import blp as auth_blp
from backend.api.calendars import blp as calendars_blp
from backend.api.care_team import blp as care_team_blp
from backend.api.compliance import blp as compliance_blp
from backend.api.ctcae import blp as ctcae_blp
from backend.api.devices import blp as devices_blp
from backend.api.exports import blp as exports_blp
from backend.api.health import blp as health_blp
from backend.api.patients import blp as patients_blp
from backend.api.pfs import blp as pfs_blp
from backend.api.reconciliation import blp as reconciliation_blp
from backend.api.regimens import blp as regimens_blp
from backend.api.reminders import blp as reminders_blp
from backend.api.results import blp as results_blp
from backend.api.studies import blp as studies_blp
from backend.api.symptoms import blp as symptoms_blp
from backend.api.users import blp as users_blp
from backend.api.worklists import blp as worklists_blp

BLUEPRINTS = [
    health_blp, auth_blp, activation_blp, users_blp, studies_blp, audit_blp,
    regimens_blp, patients_blp, calendars_blp, care_team_blp, devices_blp, reminders_blp,
    symptoms_blp, adverse_events_blp, alerts_blp, ctcae_blp,
    assessments_blp, pfs_blp, worklists_blp, compliance_blp, reconciliation_blp, exports_blp,
    results_blp,
]
