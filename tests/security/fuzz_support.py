"""Helpers of the hostile-input tests (``test_fuzz_forms.py``).

- ``post_endpoints()``: every URL of the site that accepts a POST (or any method other
  than GET/HEAD/OPTIONS), found by walking the URLconf and reading each view's
  ``require_http_methods`` decorator (or a class-based view's methods).
- ``HOSTILE``, ``form_data()``: what an attacker posts, built on a form's real field names.
- ``Snapshot``: every row of the project's tables, to prove that a refused request
  changed nothing and that an accepted one changed only what it should.
- ``check_saved_rows()`` and ``check_domain_rules()``: what saved data must always satisfy.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from hypothesis import strategies as st

# --- the URLconf ---------------------------------------------------------------------------

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# The admin is Django's own, behind staff login and two-factor authentication; it is left
# out as a group.
EXCLUDED_PREFIXES = ("admin/",)


@dataclass(frozen=True)
class Endpoint:
    name: str  # "namespace:name" as used with reverse()
    route: str  # the pattern, for messages
    methods: frozenset[str] | None  # None: the view does not say (so it takes anything)


def _methods_from_closure(function: Any) -> frozenset[str] | None:
    """The method list a ``require_http_methods`` wrapper closed over, if this is one."""
    for cell in getattr(function, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if (
            isinstance(value, list | tuple | set | frozenset)
            and value
            and all(isinstance(v, str) and v.isupper() for v in value)
        ):
            return frozenset(value)
    return None


def allowed_methods(callback: Any) -> frozenset[str] | None:
    """The HTTP methods a view accepts, or None when nothing in it says."""
    view_class = getattr(callback, "view_class", None)
    if view_class is not None:
        names = {m.upper() for m in view_class.http_method_names if hasattr(view_class, m)}
        if hasattr(view_class, "get"):
            names.add("HEAD")
        return frozenset(names | {"OPTIONS"})
    function = callback
    seen = 0
    while function is not None and seen < 20:
        methods = _methods_from_closure(function)
        if methods is not None:
            return methods
        function = getattr(function, "__wrapped__", None)
        seen += 1
    return None


def _walk(
    patterns: Iterable[Any], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str, Any]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern.url_patterns, route, inner)
        elif isinstance(pattern, URLPattern):
            name = pattern.name or f"<unnamed {route}>"
            yield (f"{namespace}:{name}" if namespace else name), route, pattern.callback


def all_endpoints() -> list[Endpoint]:
    return [
        Endpoint(name, route, allowed_methods(callback))
        for name, route, callback in _walk(get_resolver().url_patterns)
        if not route.startswith(EXCLUDED_PREFIXES)
    ]


def post_endpoints() -> dict[str, Endpoint]:
    """Every endpoint that takes a method that can change something (POST and the like)."""
    return {
        e.name: e for e in all_endpoints() if e.methods is None or not e.methods <= SAFE_METHODS
    }


# --- hostile values ------------------------------------------------------------------------

LONG = 10_000
SCRIPT = "<script>alert(1)</script>"
HOSTILE: list[Any] = [
    # long
    "a" * LONG,
    "é" * LONG,
    "9" * LONG,
    "<" * LONG,
    ("😀" * 50)[:LONG],
    # unicode that hides or turns text
    "\u202egnp.exe",
    "Ann\u202e",
    "zero\u200bwidth",
    "\ufeffbom",
    "😀👍🏽👩‍👩‍👧",
    "\x00",
    "a\x00b",
    "line\r\nbreak",
    "\t",
    "\x1b[31mred",
    "\x7f",
    " ",
    "",
    # markup and script
    SCRIPT,
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "{{ 7*7 }}{% debug %}",
    "${7*7}",
    # SQL and paths
    "' OR 1=1 --",
    '1"; DROP TABLE patients_patient; --',
    "%' AND 1=0 UNION SELECT password FROM clinic_user --",
    "../../etc/passwd",
    "%s%s%n%x",
    # numbers
    "-1",
    "0",
    "1",
    "-0",
    "1.5",
    "-99999999999999999999",
    "99999999999999999999",
    "9223372036854775808",
    "2147483648",
    "65536",
    "1e309",
    "-1e309",
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "0x10",
    "١٢",
    "²",
    "1_000",
    # dates and times
    "0001-01-01",
    "9999-12-31",
    "2026-02-30",
    "2026-13-01",
    "0000-00-00",
    "10000-01-01",
    "1899-12-31",
    "2026-03-29",
    "2026-06-10T25:00:00Z",
    "2026-06-10T10:00:00+99:00",
    "2026-06-10T10:00:00",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "01:30",
    "24:00",
    "23:59:60",
    "-1:00",
    # wrong types
    "true",
    "false",
    "None",
    "null",
    "[]",
    "{}",
    '{"a": 1}',
    "on",
    "off",
    "yes",
    "no",
]
# Field names an attacker adds to try to set what the form does not offer.
EXTRA_FIELD_NAMES = [
    "id",
    "pk",
    "patient",
    "patient_id",
    "user",
    "user_id",
    "status",
    "is_staff",
    "is_superuser",
    "by",
    "consultant",
    "nurse",
    "price",
    "price_amount",
    "reviewed_by",
    "next",
    "field[]",
    "__proto__",
    "a" * 300,
]


def values(extra: Iterable[Any] = ()) -> st.SearchStrategy[Any]:
    """One hostile value: from the list, ids of real objects, or any short text."""
    pool = [*HOSTILE, *(str(v) for v in extra)]
    return st.one_of(
        st.sampled_from(pool),
        st.sampled_from(pool),
        st.text(max_size=30),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
    )


# A few characters that hide, turn or break text, to slip into an otherwise valid value.
NASTY = st.one_of(
    st.sampled_from(
        ["\u202e", "\u200b", "\u2066", "\x00", "\x1b", "\x85", "\u2028", "<", '"', "'"]
    ),
    st.text(
        alphabet=st.characters(categories=("Cc", "Cf", "Zl", "Zp", "Co")), min_size=1, max_size=3
    ),
)


def _good_as_list(good: Any) -> list[Any]:
    return list(good) if isinstance(good, list | tuple) else [good]


@st.composite
def form_data(
    draw: st.DrawFn, baseline: dict[str, Any], extra_values: Iterable[Any] = ()
) -> dict[str, Any]:
    """A form's data: each field kept valid, dropped, made hostile, doubled up or typed as
    random text; plus a few fields the form does not have."""
    pool = values(extra_values)
    data: dict[str, Any] = {}
    # Half the time one field only is hostile and the rest valid, so that the value gets
    # past the form's other checks to the service behind it.
    only = draw(st.sampled_from(list(baseline))) if baseline and draw(st.booleans()) else None
    hostile = ["hostile", "hostile", "taint", "taint", "drop", "list", "text"]
    for name, good in baseline.items():
        if only is None:
            how = draw(st.sampled_from(["keep", "keep", "keep", *hostile]))
        else:
            how = draw(st.sampled_from(hostile)) if name == only else "keep"
        if how == "keep":
            data[name] = good
        elif how == "hostile":
            data[name] = draw(pool)
        elif how == "taint":  # the valid value with a hidden character slipped in
            text = str(_good_as_list(good)[0]) if good not in ([], "") else ""
            cut = draw(st.integers(min_value=0, max_value=len(text)))
            data[name] = text[:cut] + draw(NASTY) + text[cut:]
        elif how == "list":
            data[name] = [*_good_as_list(good), draw(pool)]
        elif how == "text":
            data[name] = draw(st.text(max_size=60))
    for name in draw(st.lists(st.sampled_from(EXTRA_FIELD_NAMES), max_size=3, unique=True)):
        data.setdefault(name, draw(pool))
    return data


# How the body travels: mostly an ordinary form, sometimes something a browser never sends.
BODY_KINDS = ["form", "form", "form", "form", "form", "urlencoded", "raw", "json", "many"]
RAW_BODIES = [
    b"%ff%fe=%c3%28&a=%e2%82",
    b"\xff\xfe\x00\x00",
    b"a=1&a=2&a[]=3&&&=&==",
    b"%",
    b"x=" + b"%00" * 100,
]


def encode_body(kind: str, data: dict[str, Any], raw: bytes) -> dict[str, Any]:
    """Keyword arguments for ``Client.post`` for one kind of body."""
    from urllib.parse import urlencode

    if kind == "urlencoded":
        return {
            "data": urlencode(data, doseq=True),
            "content_type": "application/x-www-form-urlencoded",
        }
    if kind == "raw":
        return {"data": raw, "content_type": "application/x-www-form-urlencoded"}
    if kind == "json":
        import json

        return {"data": json.dumps(data), "content_type": "application/json"}
    if kind == "many":
        # More fields than DATA_UPLOAD_MAX_NUMBER_FIELDS: Django answers 400.
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS or 1000
        return {
            "data": "&".join(f"f{i}=1" for i in range(limit + 1)),
            "content_type": "application/x-www-form-urlencoded",
        }
    return {"data": data}


# --- snapshots of the database -------------------------------------------------------------

PROJECT_APPS = (
    "clinic",
    "patients",
    "treatments",
    "bookings",
    "aftercare",
    "otp_totp",
    "otp_static",
)
# Rows that a request may add whatever its answer: the audit of who viewed a record.
ALWAYS_ALLOWED = frozenset({"patients.RecordAccess"})

Row = dict[str, Any]
Tables = dict[str, dict[Any, Row]]


def label(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{model.__name__}"


def base_label(model: type[models.Model]) -> str:
    """A history table counts as the table it keeps the history of."""
    instance_type = getattr(model, "instance_type", None)
    return label(instance_type) if instance_type is not None else label(model)


def snapshot_models() -> list[type[models.Model]]:
    return [
        m
        for m in apps.get_models()
        if m._meta.app_label in PROJECT_APPS and not m._meta.proxy and m._meta.managed
    ]


def take_snapshot() -> Tables:
    """Every row of every snapshot table, keyed by primary key (plain SQL: this runs
    after every example, so it must be quick)."""
    from django.db import connection

    quote = connection.ops.quote_name
    tables: Tables = {}
    with connection.cursor() as cursor:
        for model in snapshot_models():
            fields = model._meta.concrete_fields
            names = [f.attname for f in fields]
            columns = ", ".join(quote(f.column) for f in fields)
            cursor.execute(f"SELECT {columns} FROM {quote(model._meta.db_table)}")  # noqa: S608
            pk_index = names.index(model._meta.pk.attname)  # type: ignore[union-attr]
            tables[label(model)] = {
                row[pk_index]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()
            }
    return tables


@dataclass
class Change:
    model: str
    pk: Any
    kind: str  # "added", "removed", "changed"
    before: Row | None
    after: Row | None

    def __str__(self) -> str:
        if self.kind == "changed" and self.before and self.after:
            fields = {
                k: (self.before[k], self.after[k])
                for k in self.after
                if self.before.get(k) != self.after[k]
            }
            shown = {k: (_short(a), _short(b)) for k, (a, b) in fields.items()}
            return f"{self.model} #{self.pk} changed: {shown}"
        return f"{self.model} #{self.pk} {self.kind}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def diff(before: Tables, after: Tables) -> list[Change]:
    changes: list[Change] = []
    for name, rows in after.items():
        old = before.get(name, {})
        for pk, row in rows.items():
            if pk not in old:
                changes.append(Change(name, pk, "added", None, row))
            elif old[pk] != row:
                changes.append(Change(name, pk, "changed", old[pk], row))
        for pk in old.keys() - rows.keys():
            changes.append(Change(name, pk, "removed", old[pk], None))
    return changes


def model_by_label() -> dict[str, type[models.Model]]:
    return {label(m): m for m in snapshot_models()}


# --- what saved data must satisfy ----------------------------------------------------------

# Invisible characters that turn text around (right-to-left overrides and isolates).
DIRECTION_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
LAYOUT = frozenset("\n\r\t")


def text_problem(value: str) -> str:
    """Why a saved text breaks the rule for typed text, or "" when it is fine."""
    for char in value:
        if char in LAYOUT:
            continue
        if unicodedata.category(char) == "Cc":
            return f"control character {char!r}"
        if char in DIRECTION_CONTROLS:
            return f"direction control {char!r}"
    return ""


# Columns the software writes itself (hashes, tokens, generated text): not typed by anyone.
GENERATED_COLUMNS = frozenset(
    {
        "clinic.User.password",
        "treatments.SignedConsent.signed_text",
        "treatments.SignedConsent.text_hash",
    }
)


def check_saved_rows(changes: list[Change]) -> list[str]:
    """Problems with rows a request added or changed: each passes its model's own
    validation (lengths, choices, validators, constraints) and holds no control
    characters in its text."""
    problems: list[str] = []
    models_ = model_by_label()
    for change in changes:
        if change.after is None:
            continue
        model = models_[change.model]
        if getattr(model, "instance_type", None) is not None:
            continue  # a history row copies its table's row, which is checked itself
        for column in model._meta.concrete_fields:
            value = change.after.get(column.attname)
            where = f"{change.model}.{column.name}"
            if isinstance(value, str) and where not in GENERATED_COLUMNS:
                problem = text_problem(value)
                if problem:
                    problems.append(f"{where} #{change.pk} holds a {problem}: {_short(value)}")
        instance = model._default_manager.get(pk=change.pk)
        try:
            instance.full_clean(validate_unique=True)
        except ValidationError as error:
            messages = _real_errors(instance, error)
            if messages:
                problems.append(f"{change.model} #{change.pk} fails validation: {messages}")
    return problems


def _real_errors(instance: models.Model, error: ValidationError) -> list[str]:
    """The validation errors that matter: a nullable column left empty (NULL) is what the
    database allows, even where the model forgot ``blank=True``."""
    if not hasattr(error, "error_dict"):
        return list(error.messages)
    messages: list[str] = []
    for name, errors in error.error_dict.items():
        try:
            column = instance._meta.get_field(name)
        except Exception:
            column = None
        for item in errors:
            nullable_empty = (
                item.code == "blank"
                and column is not None
                and getattr(column, "null", False)
                and getattr(instance, getattr(column, "attname", name), None) is None
            )
            if not nullable_empty:
                messages += [f"{name}: {m}" for m in item.messages]
    return messages


def check_domain_rules() -> list[str]:
    """The clinic's rules over all saved data (DOMAIN.md): nobody in two places at once,
    the gap between sessions of a course, no session beyond the plan, a course's numbers
    within its treatment's range, waiting-list dates a booking could meet, a signed
    consent with every statement accepted."""
    from bookings.models import Appointment, WaitingListEntry
    from bookings.services import HOLDS_TIME
    from treatments.models import Course, SessionRecord, SignedConsent

    problems: list[str] = []
    held = list(Appointment.objects.filter(status__in=HOLDS_TIME).order_by("start", "pk").values())
    for i, a in enumerate(held):
        if a["end"] <= a["start"]:
            problems.append(f"appointment #{a['id']} ends before it starts")
        for b in held[i + 1 :]:
            if b["start"] >= a["end"]:
                break
            people_a = {a["consultant_id"], a["nurse_id"]} - {None}
            people_b = {b["consultant_id"], b["nurse_id"]} - {None}
            shared = []
            if people_a & people_b:
                shared.append("a member of staff")
            if a["room_id"] == b["room_id"]:
                shared.append("the room")
            if a["patient_id"] == b["patient_id"]:
                shared.append("the patient")
            if shared:
                problems.append(
                    f"appointments #{a['id']} and #{b['id']} overlap and share " + ", ".join(shared)
                )
    for course in Course.objects.select_related("treatment").prefetch_related("extensions"):
        treatment = course.treatment
        extended = bool(course.extensions.all())
        if not extended and not (
            treatment.min_planned_sessions
            <= course.planned_sessions
            <= treatment.max_planned_sessions
        ):
            problems.append(f"course #{course.pk} plans {course.planned_sessions} sessions")
        if not (
            treatment.min_gap_days_lowest <= course.min_gap_days <= treatment.min_gap_days_highest
        ):
            problems.append(f"course #{course.pk} has a gap of {course.min_gap_days} days")
        live = list(
            SessionRecord.objects.filter(course=course)
            .exclude(status=SessionRecord.Status.ABANDONED)
            .select_related("appointment")
            .order_by("number")
        )
        if len(live) > course.planned_sessions:
            problems.append(f"course #{course.pk} has {len(live)} sessions, more than planned")
        for earlier, later in zip(live, live[1:], strict=False):
            first = timezone.localtime(earlier.appointment.start).date()
            second = timezone.localtime(later.appointment.start).date()
            if second - first < timedelta(days=course.min_gap_days):
                problems.append(
                    f"sessions {earlier.number} and {later.number} of course #{course.pk} are "
                    f"{(second - first).days} days apart (at least {course.min_gap_days})"
                )
    today = timezone.localdate()
    horizon = today + timedelta(days=settings.BOOKING_HORIZON_DAYS)
    for entry in WaitingListEntry.objects.filter(status=WaitingListEntry.Status.WAITING):
        if entry.latest_date < entry.earliest_date or not (today <= entry.earliest_date <= horizon):
            problems.append(
                f"waiting-list entry #{entry.pk} runs from {entry.earliest_date} to "
                f"{entry.latest_date}"
            )
    for consent in SignedConsent.objects.select_related("form"):
        if consent.withdrawn_at is None and sorted(consent.statements_accepted) != sorted(
            consent.form.statements
        ):
            problems.append(f"signed consent #{consent.pk} lacks some statements")
    return problems


# --- one target of the fuzz ----------------------------------------------------------------


@dataclass
class Case:
    """One endpoint made ready to post to: its address, a valid form to start from, who
    posts, and which tables a successful post may change."""

    url: str
    baseline: dict[str, Any]
    user: Any | None  # a User to log in as, or None for a visitor
    writes: frozenset[str] = frozenset()
    # Other addresses with hostile path parts (a huge id, a forged token).
    hostile_urls: list[str] = field(default_factory=list)
    # Ids of real objects someone else owns, offered as values of every field.
    foreign_ids: list[Any] = field(default_factory=list)
    # Runs before each post with the fresh client (e.g. to open a password-reset link).
    prepare: Callable[[Any], str | None] | None = None
    # Tables a refused post may still change (failed two-factor codes are counted).
    refusal_may_change: frozenset[str] = frozenset()
