"""Nurse screens: the day list and the session screen with its actions.

Every action is a POST that calls one service and redirects back to the session screen
(Post/Redirect/Get). When a service refuses, the session screen is drawn again with the
service's message: 409 when the session's status does not allow the action at all, 400
for anything else the service or a form refused, 403 for a role refusal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, cast

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.errors import DomainError, PermissionRefused
from clinic.models import StaffMember, User
from clinic.permissions import Action, action_required
from patients.audit import record_viewed

from .. import selectors, services
from ..forms.nurse import (
    AbandonForm,
    AdverseEventForm,
    ConsentSignForm,
    SessionRecordForm,
    StockingForm,
    zone_groups,
)
from ..models import Leg, SessionRecord, SignedConsent

Status = SessionRecord.Status
NOT_FINISHED = frozenset({Status.SCHEDULED, Status.CONSENT_CONFIRMED, Status.IN_PROGRESS})

# The statuses in which each action is offered on the screen. A refusal while the session
# is in another status is a state conflict (409); any other refusal is a bad request (400).
ACTION_STATUSES: dict[str, frozenset[str]] = {
    "confirm_consent": frozenset({Status.SCHEDULED}),
    "take_consent": frozenset({Status.SCHEDULED, Status.CONSENT_CONFIRMED}),
    "start": frozenset({Status.CONSENT_CONFIRMED}),
    "record": NOT_FINISHED,
    "stockings": frozenset({Status.IN_PROGRESS}),
    "adverse_event": frozenset({Status.IN_PROGRESS, Status.COMPLETED}),
    "complete": frozenset({Status.IN_PROGRESS}),
    "abandon": NOT_FINISHED,
}

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)

DAY_LIST_TEMPLATE = "treatments/nurse/day_list.html"
DAY_TABLE_TEMPLATE = "treatments/nurse/_day_table.html"
SESSION_TEMPLATE = "treatments/nurse/session_detail.html"
TAKE_CONSENT_TEMPLATE = "treatments/nurse/take_consent.html"


# --- the day list ----------------------------------------------------------------------


@require_GET
@action_required(Action.SEE_DAY_LIST)
def day_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    day = _parse_day(request.GET.get("day", ""), today)
    if day is None:
        response = render(
            request,
            DAY_LIST_TEMPLATE,
            {
                "day_error": "That is not a date we recognise. Use the form YYYY-MM-DD, "
                f"for example {today:%Y-%m-%d}, with a year from {FIRST_DAY.year} to "
                f"{LAST_DAY.year}.",
                "day": today,
                "today": today,
            },
            status=400,
        )
        patch_vary_headers(response, ["HX-Request"])
        return response
    entries = selectors.day_list(day=day)
    context = {
        "entries": entries,
        "day": day,
        "today": today,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
    }
    template = DAY_TABLE_TEMPLATE if getattr(request, "htmx", False) else DAY_LIST_TEMPLATE
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _parse_day(raw: str, today: date) -> date | None:
    """``?day=YYYY-MM-DD`` (today when absent); None when it is not such a date."""
    raw = raw.strip()
    if not raw:
        return today
    if not _ISO_DAY.fullmatch(raw):
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


# --- the session screen ------------------------------------------------------------------


def _load(pk: int) -> SessionRecord:
    try:
        return selectors.session_detail(pk=pk)
    except SessionRecord.DoesNotExist as exc:
        raise Http404("There is no such session.") from exc


def _screen_context(session: SessionRecord, **overrides: Any) -> dict[str, Any]:
    current_form = services.consent_current_form(session.course.treatment)
    standing: list[SignedConsent] = session.course.standing_consents  # type: ignore[attr-defined]
    state = services.consent_state(current_form=current_form, standing=standing)
    context: dict[str, Any] = {
        "session": session,
        "course": session.course,
        "appointment": session.appointment,
        "patient": session.appointment.patient,
        "current_form": current_form,
        "consent_state": state,
        "consent_label": services.ConsentState.LABELS[state],
        "standing_consents": standing,
        "is_finished": session.status not in NOT_FINISHED,
        "record_form": None,
        "stocking_form": None,
        "adverse_form": None,
        "abandon_form": AbandonForm() if session.status in NOT_FINISHED else None,
        "zone_groups": zone_groups(),
        "error": None,
    }
    if session.status == Status.IN_PROGRESS:
        context["record_form"] = SessionRecordForm.for_session(session)
        context["stocking_form"] = StockingForm.for_session(session)
    if session.status in ACTION_STATUSES["adverse_event"]:
        context["adverse_form"] = AdverseEventForm()
    context.update(overrides)
    return context


@require_GET
@action_required(Action.OPEN_SESSION)
def session_detail(request: HttpRequest, pk: int) -> HttpResponse:
    session = _load(pk)
    # The actions below post here and redirect back: the audit notes the first look only.
    record_viewed(
        request, patient=session.course.patient_id, what="session record", ref=f"session:{pk}"
    )
    return render(request, SESSION_TEMPLATE, _screen_context(session))


def _refused(
    request: HttpRequest, pk: int, action: str, error: DomainError | str, **overrides: Any
) -> HttpResponse:
    """Draw the session screen again with the refusal, keeping what was typed."""
    session = _load(pk)
    # Noted when a take-consent GET is refused outright; after a refused POST it is not
    # (the GET that drew the form was).
    record_viewed(
        request, patient=session.course.patient_id, what="session record", ref=f"session:{pk}"
    )
    message = error.message if isinstance(error, DomainError) else error
    if isinstance(error, PermissionRefused):
        status = 403
    elif session.status not in ACTION_STATUSES[action]:
        status = 409
        if not isinstance(error, DomainError) and message == _FIX_BELOW:
            # The form is not on the screen in this status: say why instead.
            message = (
                f"This session is {session.get_status_display().lower()}, "
                "so that cannot be done now."
            )
    else:
        status = 400
    context = _screen_context(session, error=message, **overrides)
    return render(request, SESSION_TEMPLATE, context, status=status)


def _done(request: HttpRequest, pk: int, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("treatments:session_detail", pk=pk)


def _act(
    request: HttpRequest,
    pk: int,
    action: str,
    call: Callable[[SessionRecord], Any],
    success: str,
    **overrides: Any,
) -> HttpResponse:
    """Run one service on the session; redirect on success, explain a refusal."""
    session = get_object_or_404(SessionRecord, pk=pk)
    try:
        call(session)
    except DomainError as error:
        return _refused(request, pk, action, error, **overrides)
    return _done(request, pk, success)


def _acting(request: HttpRequest) -> StaffMember:
    """The acting member of staff, from the login and never from the form."""
    staff = selectors.staff_member_for(cast(User, request.user))
    if staff is None:
        raise PermissionRefused(
            "Your account has no active staff record, so it cannot act on sessions. "
            "Please ask the clinic's administrator."
        )
    return staff


_FIX_BELOW = "Please check the form below: some answers need correcting."


@require_POST
@action_required(Action.CONFIRM_CONSENT)
def session_confirm_consent(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "confirm_consent",
        lambda s: services.session_confirm_consent(session=s, nurse=_acting(request)),
        "Consent confirmed. The session can start when you are ready.",
    )


@require_http_methods(["GET", "POST"])
@action_required(Action.TAKE_CONSENT)
def session_take_consent(request: HttpRequest, pk: int) -> HttpResponse:
    session = _load(pk)
    if session.status not in ACTION_STATUSES["take_consent"]:
        return _refused(
            request,
            pk,
            "take_consent",
            "Consent is taken before the session starts; this session has already "
            f"{'started' if session.status == Status.IN_PROGRESS else 'ended'}.",
        )
    current_form = services.consent_current_form(session.course.treatment)
    if current_form is None:
        return _refused(
            request,
            pk,
            "take_consent",
            "No consent form is published for this treatment, so consent cannot be taken. "
            "Ask the clinic's administrator to publish one.",
        )
    standing = session.course.standing_consents  # type: ignore[attr-defined]
    if any(c.form_id == current_form.pk for c in standing):
        messages.info(request, "The patient has already signed the current consent form.")
        return redirect("treatments:session_detail", pk=pk)
    record_viewed(
        request, patient=session.course.patient_id, what="consent signing", ref=f"session:{pk}"
    )

    form = ConsentSignForm(request.POST or None, consent_form=current_form)
    error = None
    status = 400 if request.method == "POST" else 200
    if request.method == "POST":
        if not form.is_valid():
            error = _FIX_BELOW
        elif form.cleaned_data["consent_form"] != current_form.pk:
            # A new version came into effect while the patient was reading the old one:
            # the ticks were given to other words, so they must read and tick again.
            error = (
                "The consent form was updated while it was open. Please read the new "
                f"version (version {current_form.version}) below and sign again."
            )
            form = ConsentSignForm(
                initial={"typed_name": form.cleaned_data["typed_name"]},
                consent_form=current_form,
            )
        else:
            try:
                services.consent_sign(
                    course=session.course,
                    form=current_form,
                    typed_name=form.cleaned_data["typed_name"],
                    statements_accepted=form.statements_accepted(),
                    method=SignedConsent.Method.IN_CLINIC,
                    witnessed_by=_acting(request),
                )
            except DomainError as refusal:
                error = refusal.message
                form.add_error(None, refusal.message)
                if isinstance(refusal, PermissionRefused):
                    status = 403
            else:
                return _done(
                    request,
                    pk,
                    f"Consent signed (version {current_form.version}). You can now confirm it.",
                )
    context = {
        "session": session,
        "patient": session.appointment.patient,
        "consent_form": current_form,
        "form": form,
        "witness": selectors.staff_member_for(cast(User, request.user)),
        "error": error,
    }
    return render(request, TAKE_CONSENT_TEMPLATE, context, status=status)


@require_POST
@action_required(Action.RUN_SESSION)
def session_start(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "start",
        lambda s: services.session_start(session=s, by=_acting(request)),
        "Session started. Record the treatment as you go.",
    )


@require_POST
@action_required(Action.RUN_SESSION)
def session_record(request: HttpRequest, pk: int) -> HttpResponse:
    form = SessionRecordForm(request.POST)
    if not form.is_valid():
        return _refused(request, pk, "record", _FIX_BELOW, record_form=form)
    return _act(
        request,
        pk,
        "record",
        lambda s: services.session_record(session=s, by=_acting(request), **form.cleaned_data),
        "Session record saved.",
        record_form=form,
    )


@require_POST
@action_required(Action.RUN_SESSION)
def session_stockings(request: HttpRequest, pk: int) -> HttpResponse:
    form = StockingForm(request.POST)
    if not form.is_valid():
        return _refused(request, pk, "stockings", _FIX_BELOW, stocking_form=form)
    data = form.cleaned_data
    return _act(
        request,
        pk,
        "stockings",
        lambda s: services.session_fit_stocking(session=s, by=_acting(request), **data),
        f"Stocking recorded on the {Leg(data['leg']).label.lower()}.",
        stocking_form=form,
    )


@require_POST
@action_required(Action.RUN_SESSION)
def session_adverse_event(request: HttpRequest, pk: int) -> HttpResponse:
    form = AdverseEventForm(request.POST)
    if not form.is_valid():
        return _refused(request, pk, "adverse_event", _FIX_BELOW, adverse_form=form)
    return _act(
        request,
        pk,
        "adverse_event",
        lambda s: services.session_add_adverse_event(
            session=s, by=_acting(request), **form.cleaned_data
        ),
        "Adverse event recorded.",
        adverse_form=form,
    )


@require_POST
@action_required(Action.RUN_SESSION)
def session_complete(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "complete",
        lambda s: services.session_complete(session=s, by=_acting(request)),
        "Session complete. The patient has been discharged.",
    )


@require_POST
@action_required(Action.RUN_SESSION)
def session_abandon(request: HttpRequest, pk: int) -> HttpResponse:
    form = AbandonForm(request.POST)
    if not form.is_valid():
        return _refused(request, pk, "abandon", _FIX_BELOW, abandon_form=form)
    return _act(
        request,
        pk,
        "abandon",
        lambda s: services.session_abandon(
            session=s, by=_acting(request), reason=form.cleaned_data["reason"]
        ),
        "The session has been marked as not going ahead.",
        abandon_form=form,
    )
