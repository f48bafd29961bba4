"""Every model, imported so Alembic and the app see the whole schema."""
from backend.models.audit import AuditRecord
from backend.models.base import Base
from backend.models.patients import Patient
from backend.models.studies import Site, Study
from backend.models.users import RevokedToken, User

__all__ = ["AuditRecord", "Base", "Patient", "RevokedToken", "Site", "Study", "User"]
