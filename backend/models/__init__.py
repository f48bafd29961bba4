"""Every model, imported so Alembic and the app see the whole schema."""
from backend.models.activation import ActivationCode
from backend.models.adverse_events import AdverseEvent
from backend.models.alerts import SymptomAlert
from backend.models.assessments import PatientOutcome, TumourAssessment
from backend.models.audit import AuditRecord
from backend.models.base import Base
from backend.models.devices import Device
from backend.models.events import CalendarVersion, Event
from backend.models.notifications import StaffNotification
from backend.models.patients import Patient, WorklistVersion
from backend.models.reminders import DeliveryAttempt, PatientTimezoneChange, Reminder
from backend.models.sessions import SecurityEvent, SignIn
from backend.models.studies import Site, Study
from backend.models.symptoms import SymptomReport
from backend.models.users import User

__all__ = [
    "ActivationCode", "AdverseEvent", "AuditRecord", "Base", "CalendarVersion", "DeliveryAttempt", "Device", "Event",
    "Patient", "PatientOutcome", "PatientTimezoneChange", "Reminder", "SecurityEvent", "SignIn", "Site",
    "StaffNotification", "Study", "SymptomAlert",
    "SymptomReport", "TumourAssessment", "User", "WorklistVersion",
]
