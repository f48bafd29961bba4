"""HTTP layer: flask-smorest blueprints whose views parse, call one service, and answer."""
from backend.api.audit import blp as audit_blp
from backend.api.auth import blp as auth_blp
from backend.api.calendars import blp as calendars_blp
from backend.api.health import blp as health_blp
from backend.api.patients import blp as patients_blp
from backend.api.regimens import blp as regimens_blp
from backend.api.studies import blp as studies_blp
from backend.api.users import blp as users_blp

BLUEPRINTS = [health_blp, auth_blp, users_blp, studies_blp, audit_blp, regimens_blp, patients_blp, calendars_blp]
