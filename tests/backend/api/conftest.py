"""Fixtures most API specifications share: a site, its nurse, and an enrolled patient with an app account.
A module that needs another site (another code, zone or study) defines its own `site`."""
from __future__ import annotations

import pytest

from backend.extensions import db as _db
from tests.factories import SiteFactory, UserFactory, staff_for
from tests.factories_patients import enrol


@pytest.fixture()
def site(db):
    return SiteFactory(code="SH01")


@pytest.fixture()
def nurse(site):
    return staff_for(site)["nurse"]


@pytest.fixture()
def patient_and_user(site):
    """A patient enrolled at the site, signed up in the app."""
    user = UserFactory(role="patient")
    patient = enrol(site)
    patient.user_id = user.id
    _db.session.commit()
    return patient, user
