"""The admin's availability tools: opening hours (also inline on a location), closures,
working patterns and staff exceptions. Bad input is a form error, never a 500."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from clinic.models import Closure, OpeningHours, StaffException, WorkingPattern
from clinic.roles import Role

from ..factories import (
    LONDON,
    ClinicAdminFactory,
    ConsultantFactory,
    LocationFactory,
    NurseFactory,
    PatientFactory,
)

pytestmark = pytest.mark.django_db

MODELS = ["openinghours", "closure", "workingpattern", "staffexception"]
# What the clinic admins' group holds (migration clinic/0005 gives add, change and view;
# delete lets a mistaken closure or an inline row of opening hours be removed).
CLINIC_ADMIN_PERMISSIONS = [
    f"{action}_{model}" for model in MODELS for action in ("add", "change", "delete", "view")
]


def _permissions(codenames: list[str]) -> list[Permission]:
    return list(Permission.objects.filter(content_type__app_label="clinic", codename__in=codenames))


@pytest.fixture
def granted(db) -> None:
    group = Group.objects.get(name=Role.CLINIC_ADMIN)
    group.permissions.add(*_permissions(CLINIC_ADMIN_PERMISSIONS))


@pytest.fixture
def admin_client(client, granted, clinic_admin):
    client.force_login(clinic_admin.user)
    return client


@pytest.fixture
def location(db):
    return LocationFactory()


def url(model: str, view: str = "changelist", *args) -> str:
    return reverse(f"admin:clinic_{model}_{view}", args=args)


def form_errors(response) -> dict:
    return response.context["adminform"].form.errors


# --- who may use these pages ---------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("view", ["changelist", "add"])
def test_clinic_admins_may_add_and_change(admin_client, model, view):
    assert admin_client.get(url(model, view)).status_code == 200


def test_the_migrations_give_clinic_admins_add_change_and_view(db):
    group = Group.objects.get(name=Role.CLINIC_ADMIN)
    held = set(group.permissions.values_list("codename", flat=True))
    for model in MODELS:
        assert {f"add_{model}", f"change_{model}", f"view_{model}"} <= held, model


@pytest.mark.parametrize("model", MODELS)
def test_a_clinic_admin_needs_the_permissions(client, clinic_admin, model):
    group = Group.objects.get(name=Role.CLINIC_ADMIN)
    group.permissions.remove(*_permissions(CLINIC_ADMIN_PERMISSIONS))
    client.force_login(clinic_admin.user)
    assert client.get(url(model)).status_code == 403
    assert client.get(url(model, "add")).status_code == 403


@pytest.mark.parametrize("factory", [NurseFactory, ConsultantFactory, PatientFactory])
def test_nurses_consultants_and_patients_are_kept_out(client, granted, factory):
    client.force_login(factory().user)
    for model in MODELS:
        for view in ("changelist", "add"):
            response = client.get(url(model, view))
            assert response.status_code == 302, (model, view)
            assert response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize("factory", [NurseFactory, ConsultantFactory])
def test_nurses_and_consultants_cannot_add_or_change_even_with_site_access(
    client, granted, location, factory
):
    staff = factory()
    staff.user.is_staff = True
    staff.user.save()
    client.force_login(staff.user)
    row = OpeningHours.objects.create(location=location, weekday=0, opens=time(9), closes=time(17))
    data = {"location": location.pk, "weekday": 0, "opens": "08:00", "closes": "17:00"}
    for model in MODELS:
        assert client.get(url(model, "add")).status_code == 403, model
    assert client.post(url("openinghours", "add"), data).status_code == 403
    assert client.post(url("openinghours", "change", row.pk), data).status_code == 403
    assert client.post(url("openinghours", "delete", row.pk), {"post": "yes"}).status_code == 403
    row.refresh_from_db()
    assert row.opens == time(9)
    assert OpeningHours.objects.count() == 1


def test_anonymous_visitors_go_to_the_admin_login(client):
    for model in MODELS:
        response = client.get(url(model))
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))


# --- opening hours --------------------------------------------------------------------


def test_opening_hours_are_added(admin_client, location):
    data = {"location": location.pk, "weekday": 2, "opens": "09:00", "closes": "13:00"}
    response = admin_client.post(url("openinghours", "add"), data)
    assert response.status_code == 302
    row = OpeningHours.objects.get()
    assert (row.weekday, row.opens, row.closes) == (2, time(9), time(13))


@pytest.mark.parametrize(
    "opens, closes, field, message",
    [
        ("17:00", "09:00", "closes", "The closing time must be after the opening time."),
        ("09:00", "09:00", "closes", "The closing time must be after the opening time."),
        ("25:00", "26:00", "opens", "Enter a valid time."),
    ],
)
def test_bad_opening_hours_are_a_form_error(admin_client, location, opens, closes, field, message):
    data = {"location": location.pk, "weekday": 0, "opens": opens, "closes": closes}
    response = admin_client.post(url("openinghours", "add"), data)
    assert response.status_code == 200
    assert message in form_errors(response)[field]
    assert not OpeningHours.objects.exists()


@pytest.mark.parametrize("weekday", ["7", "-1", "Monday", "99999999999999999999"])
def test_a_weekday_out_of_range_is_a_form_error(admin_client, location, weekday):
    data = {"location": location.pk, "weekday": weekday, "opens": "09:00", "closes": "17:00"}
    response = admin_client.post(url("openinghours", "add"), data)
    assert response.status_code == 200
    assert "weekday" in form_errors(response)
    assert not OpeningHours.objects.exists()


@pytest.mark.parametrize(
    "form_name, model, data",
    [
        (
            "OpeningHoursForm",
            "openinghours",
            {"weekday": 0, "opens": "17:00", "closes": "09:00"},
        ),
        (
            "WorkingPatternForm",
            "workingpattern",
            {"weekday": 0, "starts": "17:00", "ends": "09:00", "valid_from": "2026-01-01"},
        ),
        (
            "WorkingPatternForm",
            "workingpattern",
            {
                "weekday": 0,
                "starts": "09:00",
                "ends": "17:00",
                "valid_from": "2026-01-01",
                "valid_until": "2025-01-01",
            },
        ),
        (
            "StaffExceptionForm",
            "staffexception",
            {
                "kind": "extra",
                "starts_at_0": "2026-07-06",
                "starts_at_1": "09:00",
                "ends_at_0": "2026-07-06",
                "ends_at_1": "17:00",
            },
        ),
        (
            "StaffExceptionForm",
            "staffexception",
            {
                "kind": "leave",
                "starts_at_0": "2026-07-06",
                "starts_at_1": "09:00",
                "ends_at_0": "2026-07-05",
                "ends_at_1": "17:00",
            },
        ),
    ],
)
def test_the_model_constraints_alone_also_give_form_errors(
    admin_client, location, nurse, monkeypatch, form_name, model, data
):
    # Without the forms' own checks, the models' constraints still end as form errors.
    from clinic import admin as clinic_admin_module

    monkeypatch.setattr(
        getattr(clinic_admin_module, form_name), "clean", lambda self: self.cleaned_data
    )
    posted = {"location": location.pk, "staff": nurse.pk, "reason": "", **data}
    if model == "staffexception" and data["kind"] == "extra":
        posted["location"] = ""
    response = admin_client.post(url(model, "add"), posted)
    assert response.status_code == 200
    assert form_errors(response)
    assert not OpeningHours.objects.exists()
    assert not WorkingPattern.objects.exists()
    assert not StaffException.objects.exists()


def test_opening_hours_are_changed(admin_client, location):
    row = OpeningHours.objects.create(location=location, weekday=0, opens=time(9), closes=time(17))
    data = {"location": location.pk, "weekday": 0, "opens": "10:00", "closes": "09:30"}
    response = admin_client.post(url("openinghours", "change", row.pk), data)
    assert response.status_code == 200
    row.refresh_from_db()
    assert row.opens == time(9)
    data["closes"] = "16:00"
    assert admin_client.post(url("openinghours", "change", row.pk), data).status_code == 302
    row.refresh_from_db()
    assert (row.opens, row.closes) == (time(10), time(16))


def _location_data(admin_client, location) -> dict:
    """The location's change form as the browser would post it back, unchanged."""
    response = admin_client.get(reverse("admin:clinic_location_change", args=[location.pk]))
    data = {
        "name": location.name,
        "slug": location.slug,
        "address": location.address,
        "phone": "",
        "email": "",
        "is_active": "on",
    }
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
            data[f"{formset.prefix}-{name}"] = management[name].value()
    return data


def test_opening_hours_inline_on_the_location(admin_client, location):
    response = admin_client.get(reverse("admin:clinic_location_change", args=[location.pk]))
    prefixes = [i.formset.prefix for i in response.context["inline_admin_formsets"]]
    assert "opening_hours" in prefixes

    data = _location_data(admin_client, location)
    data.update(
        {
            "opening_hours-TOTAL_FORMS": "2",
            "opening_hours-0-weekday": "0",
            "opening_hours-0-opens": "09:00",
            "opening_hours-0-closes": "12:30",
            "opening_hours-1-weekday": "0",
            "opening_hours-1-opens": "13:30",
            "opening_hours-1-closes": "17:00",
        }
    )
    response = admin_client.post(reverse("admin:clinic_location_change", args=[location.pk]), data)
    assert response.status_code == 302
    assert sorted(r.opens for r in location.opening_hours.all()) == [time(9), time(13, 30)]


def test_bad_opening_hours_inline_are_a_form_error(admin_client, location):
    data = _location_data(admin_client, location)
    data.update(
        {
            "opening_hours-TOTAL_FORMS": "1",
            "opening_hours-0-weekday": "3",
            "opening_hours-0-opens": "18:00",
            "opening_hours-0-closes": "08:00",
        }
    )
    response = admin_client.post(reverse("admin:clinic_location_change", args=[location.pk]), data)
    assert response.status_code == 200
    assert "The closing time must be after the opening time." in response.content.decode()
    assert not OpeningHours.objects.exists()


# --- closures -------------------------------------------------------------------------


def test_a_closure_is_added(admin_client, location):
    data = {"location": location.pk, "date": "2026-12-25", "reason": "Christmas Day"}
    assert admin_client.post(url("closure", "add"), data).status_code == 302
    assert Closure.objects.get().date == date(2026, 12, 25)


def test_the_same_closure_twice_is_a_form_error(admin_client, location):
    Closure.objects.create(location=location, date=date(2026, 12, 25), reason="Christmas")
    data = {"location": location.pk, "date": "2026-12-25", "reason": "Again"}
    response = admin_client.post(url("closure", "add"), data)
    assert response.status_code == 200
    assert form_errors(response)
    assert Closure.objects.count() == 1


def test_an_every_location_closure_twice_is_a_form_error(admin_client):
    Closure.objects.create(location=None, date=date(2026, 12, 25), reason="Christmas")
    data = {"location": "", "date": "2026-12-25", "reason": "Again"}
    response = admin_client.post(url("closure", "add"), data)
    assert response.status_code == 200
    assert "Every location is already closed on that day." in str(form_errors(response))
    assert Closure.objects.count() == 1
    # changing the one that exists is fine
    closure = Closure.objects.get()
    data["reason"] = "Christmas Day"
    assert admin_client.post(url("closure", "change", closure.pk), data).status_code == 302


@pytest.mark.parametrize("day", ["2026-02-30", "25/12", "", "<b>x</b>"])
def test_a_bad_closure_date_is_a_form_error(admin_client, location, day):
    data = {"location": location.pk, "date": day, "reason": "x"}
    response = admin_client.post(url("closure", "add"), data)
    assert response.status_code == 200
    assert "date" in form_errors(response)
    assert not Closure.objects.exists()


# --- working patterns -----------------------------------------------------------------


def pattern_data(staff, location, **extra) -> dict:
    data = {
        "staff": staff.pk,
        "location": location.pk,
        "weekday": 1,
        "starts": "09:00",
        "ends": "17:00",
        "valid_from": "2026-01-01",
        "valid_until": "",
    }
    data.update(extra)
    return data


def test_a_working_pattern_is_added(admin_client, location, consultant):
    response = admin_client.post(url("workingpattern", "add"), pattern_data(consultant, location))
    assert response.status_code == 302
    pattern = WorkingPattern.objects.get()
    assert (pattern.staff, pattern.weekday, pattern.valid_until) == (consultant, 1, None)


@pytest.mark.parametrize(
    "extra, field, message",
    [
        ({"ends": "08:00"}, "ends", "The end time must be after the start time."),
        (
            {"valid_until": "2025-12-31"},
            "valid_until",
            "The last day must not be before the first day.",
        ),
        ({"weekday": "8"}, "weekday", None),
        ({"valid_from": "2026-02-30"}, "valid_from", None),
    ],
)
def test_bad_working_patterns_are_a_form_error(
    admin_client, location, nurse, extra, field, message
):
    response = admin_client.post(
        url("workingpattern", "add"), pattern_data(nurse, location, **extra)
    )
    assert response.status_code == 200
    errors = form_errors(response)
    assert field in errors
    if message:
        assert message in errors[field]
    assert not WorkingPattern.objects.exists()


def test_a_pattern_is_for_a_nurse_or_a_consultant(admin_client, location, nurse, consultant):
    admin_member = ClinicAdminFactory()
    response = admin_client.get(url("workingpattern", "add"))
    choices = {pk for pk, _ in response.context["adminform"].form.fields["staff"].choices if pk}
    assert {int(str(pk)) for pk in choices} == {nurse.pk, consultant.pk}
    response = admin_client.post(url("workingpattern", "add"), pattern_data(admin_member, location))
    assert response.status_code == 200
    assert "staff" in form_errors(response)


def test_working_patterns_list_by_staff_and_filter(admin_client, location, nurse, consultant):
    york = LocationFactory(name="York", slug="york")
    for staff, weekday, where in [(nurse, 0, location), (nurse, 2, york), (consultant, 0, york)]:
        WorkingPattern.objects.create(
            staff=staff,
            location=where,
            weekday=weekday,
            starts=time(9),
            ends=time(17),
            valid_from=date(2026, 1, 1),
        )
    WorkingPattern.objects.create(
        staff=consultant,
        location=york,
        weekday=4,
        starts=time(9),
        ends=time(12),
        valid_from=date(2020, 1, 1),
        valid_until=date(2020, 12, 31),
    )

    def listed(query: dict) -> list[tuple[int, int]]:
        response = admin_client.get(url("workingpattern"), query)
        assert response.status_code == 200
        return [(p.staff_id, p.weekday) for p in response.context["cl"].result_list]

    assert len(listed({})) == 4
    assert sorted(listed({"staff": nurse.pk})) == [(nurse.pk, 0), (nurse.pk, 2)]
    assert listed({"staff": "abc"}) == []
    assert sorted(listed({"weekday__exact": 0})) == sorted([(consultant.pk, 0), (nurse.pk, 0)])
    assert len(listed({"location__id__exact": york.pk})) == 3
    assert (consultant.pk, 4) not in listed({"in_force": "now"})
    assert listed({"in_force": "ended"}) == [(consultant.pk, 4)]
    html = admin_client.get(url("workingpattern")).content.decode()
    assert nurse.display_name in html
    assert "Tuesday" in html or "Monday" in html


# --- staff exceptions -----------------------------------------------------------------


def exception_data(staff, **extra) -> dict:
    data = {
        "staff": staff.pk,
        "kind": StaffException.Kind.LEAVE,
        "location": "",
        "starts_at_0": "2026-07-06",
        "starts_at_1": "09:00",
        "ends_at_0": "2026-07-10",
        "ends_at_1": "17:00",
        "reason": "Summer holiday",
    }
    data.update(extra)
    return data


def test_leave_is_added_in_clinic_time(admin_client, nurse):
    response = admin_client.post(url("staffexception", "add"), exception_data(nurse))
    assert response.status_code == 302
    leave = StaffException.objects.get()
    assert leave.starts_at == datetime(2026, 7, 6, 9, tzinfo=LONDON)
    assert leave.starts_at.utcoffset() == timedelta(0)  # stored in UTC
    assert leave.starts_at.hour == 8


def test_an_extra_clinic_is_added(admin_client, nurse, location):
    data = exception_data(nurse, kind=StaffException.Kind.EXTRA, location=location.pk)
    assert admin_client.post(url("staffexception", "add"), data).status_code == 302
    assert StaffException.objects.get().location == location


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"ends_at_0": "2026-07-01"}, "ends_at"),
        ({"ends_at_0": "2026-07-06", "ends_at_1": "09:00"}, "ends_at"),
        ({"kind": "extra"}, "location"),
        ({"kind": "holiday"}, "kind"),
        ({"starts_at_0": "2026-03-29", "starts_at_1": "01:30"}, "starts_at"),  # no such time
        ({"starts_at_0": "2026-10-25", "starts_at_1": "01:30"}, "starts_at"),  # happens twice
        ({"starts_at_0": "2026-02-30"}, "starts_at"),
    ],
)
def test_bad_exceptions_are_a_form_error(admin_client, nurse, extra, field):
    response = admin_client.post(url("staffexception", "add"), exception_data(nurse, **extra))
    assert response.status_code == 200
    assert field in form_errors(response)
    assert not StaffException.objects.exists()


def test_an_exception_is_changed(admin_client, nurse):
    leave = StaffException.objects.create(
        staff=nurse,
        kind=StaffException.Kind.LEAVE,
        starts_at=datetime(2026, 7, 6, 9, tzinfo=LONDON),
        ends_at=datetime(2026, 7, 10, 17, tzinfo=LONDON),
    )
    data = exception_data(nurse, ends_at_0="2026-07-05")
    response = admin_client.post(url("staffexception", "change", leave.pk), data)
    assert response.status_code == 200
    assert "ends_at" in form_errors(response)
    data["ends_at_0"] = "2026-07-08"
    assert admin_client.post(url("staffexception", "change", leave.pk), data).status_code == 302
    leave.refresh_from_db()
    assert leave.ends_at == datetime(2026, 7, 8, 17, tzinfo=LONDON)


# --- query counts -----------------------------------------------------------------------


def _rows(model: str, count: int, location, first: int = 0) -> None:
    for n in range(first, first + count):
        staff = NurseFactory() if n % 2 else ConsultantFactory()
        day = date(2026, 1, 1) + timedelta(days=n)
        if model == "openinghours":
            OpeningHours.objects.create(
                location=LocationFactory(name=f"Site {n}", slug=f"site-{n}"),
                weekday=n % 7,
                opens=time(9),
                closes=time(17),
            )
        elif model == "closure":
            Closure.objects.create(location=location, date=day, reason=f"Closed {n}")
        elif model == "workingpattern":
            WorkingPattern.objects.create(
                staff=staff,
                location=location,
                weekday=n % 7,
                starts=time(9),
                ends=time(17),
                valid_from=day,
            )
        else:
            StaffException.objects.create(
                staff=staff,
                kind=StaffException.Kind.EXTRA,
                location=location,
                starts_at=datetime(2026, 1, 1, 9, tzinfo=LONDON) + timedelta(days=n),
                ends_at=datetime(2026, 1, 1, 17, tzinfo=LONDON) + timedelta(days=n),
            )


@pytest.mark.parametrize("model", MODELS)
def test_the_lists_query_count_does_not_grow(
    admin_client, location, model, django_assert_max_num_queries
):
    _rows(model, 1, location)
    with django_assert_max_num_queries(20) as one:
        assert admin_client.get(url(model)).status_code == 200
    _rows(model, 30, location, first=1)
    with django_assert_max_num_queries(20) as many:
        response = admin_client.get(url(model))
    assert response.context["cl"].result_count == 31
    assert len(many.captured_queries) == len(one.captured_queries)


@pytest.mark.parametrize("model", ["workingpattern", "staffexception"])
def test_the_add_forms_query_count_does_not_grow(
    admin_client, location, model, django_assert_max_num_queries
):
    with django_assert_max_num_queries(20) as few:
        admin_client.get(url(model, "add"))
    NurseFactory.create_batch(10)
    ConsultantFactory.create_batch(10)
    with django_assert_max_num_queries(20) as many:
        admin_client.get(url(model, "add"))
    assert len(many.captured_queries) == len(few.captured_queries)
