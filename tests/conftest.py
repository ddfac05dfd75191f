"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest
from django.test import Client

from clinic.models import StaffMember
from patients.models import Patient

from .factories import (
    PASSWORD,
    ClinicAdminFactory,
    ConsultantFactory,
    NurseFactory,
    PatientFactory,
)


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def patient(db) -> Patient:
    return PatientFactory()


@pytest.fixture
def nurse(db) -> StaffMember:
    return NurseFactory()


@pytest.fixture
def consultant(db) -> StaffMember:
    return ConsultantFactory()


@pytest.fixture
def clinic_admin(db) -> StaffMember:
    return ClinicAdminFactory()


@pytest.fixture
def patient_client(client: Client, patient: Patient) -> Client:
    client.force_login(patient.user)
    return client


@pytest.fixture
def nurse_client(client: Client, nurse: StaffMember) -> Client:
    client.force_login(nurse.user)
    return client


@pytest.fixture
def consultant_client(client: Client, consultant: StaffMember) -> Client:
    client.force_login(consultant.user)
    return client
