"""HTTP layer: flask-smorest blueprints whose views parse, call one service, and answer."""
from backend.api.audit import blp as audit_blp
from backend.api.auth import blp as auth_blp
from backend.api.devices import blp as devices_blp
from backend.api.health import blp as health_blp
from backend.api.reminders import blp as reminders_blp
from backend.api.studies import blp as studies_blp
from backend.api.users import blp as users_blp

BLUEPRINTS = [health_blp, auth_blp, users_blp, studies_blp, audit_blp, devices_blp, reminders_blp]
