"""factory_boy factories: a study with sites, staff of every role, patients."""
from __future__ import annotations

from datetime import date

import factory
from argon2 import PasswordHasher

from backend.extensions import db
from backend.models import Patient, Site, Study, User

PASSWORD = "correct horse battery"
_HASH = PasswordHasher(time_cost=1, memory_cost=1024).hash(PASSWORD)


class _Base(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class StudyFactory(_Base):
    class Meta:
        model = Study

    code = factory.Sequence(lambda n: f"STUDY-{n}")
    title = factory.LazyAttribute(lambda o: f"Study {o.code}")
    assessment_interval_days = 42
    assessment_window_days = 7
    pfs_missed_rule = "visits"
    settings = factory.LazyFunction(dict)


class SiteFactory(_Base):
    class Meta:
        model = Site

    code = factory.Sequence(lambda n: f"S{n:02d}")
    name = factory.LazyAttribute(lambda o: f"Site {o.code}")
    study = factory.SubFactory(StudyFactory)
    timezone = "Asia/Shanghai"
    country = "CN"
    closures = factory.LazyFunction(list)


class UserFactory(_Base):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    password_hash = _HASH
    role = "nurse"
    is_active = True


class PatientFactory(_Base):
    """A bare patient row (no calendar): for tests of scope and auth, not of planning."""

    class Meta:
        model = Patient

    site = factory.SubFactory(SiteFactory)
    study = factory.LazyAttribute(lambda o: o.site.study)
    subject_id = factory.Sequence(lambda n: f"SUBJ-{n:04d}")
    regimen = "INET-PAC"
    first_dose_date = date(2026, 1, 5)
    locale = "en"
    status = "on_treatment"


def staff_for(site: Site) -> dict[str, User]:
    """One user of each role, scoped to `site` (and its study)."""
    return {
        "admin": UserFactory(role="admin"),
        "coordinator": UserFactory(role="coordinator", studies=[site.study]),
        "nurse": UserFactory(role="nurse", sites=[site]),
    }
