"""Sessions read from the cache (``clinic.sessions``, production's engine when the cache is
Redis; decision 0006): one query less on every signed-in page, and a session that has
ended is refused at once, however it ended and whatever other requests of it were doing.

Most tests sign one person in with two browsers, end a session one way, and check that the
ended session's cookie no longer opens a signed-in page and that its cached copy is gone
(where something else would refuse the cookie anyway, the copy is what shows the engine
did its part), while the other browser stays signed in where it should.
"""

from __future__ import annotations

import importlib
import re
import time

import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import caches
from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from qsessions.models import Session
from redis.exceptions import RedisError

from clinic.middleware import SEEN_KEY
from clinic.sessions import SessionCache, SessionStore, end_sessions
from patients.models import Patient
from patients.services import account_closure_complete, account_closure_request

from ..factories import PASSWORD, NurseFactory, PatientFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("cached_sessions"),
]

PAGE = "/accounts/sessions/"
NEW_PASSWORD = "a-new-pass-for-2027"


@pytest.fixture
def cached_sessions():
    with override_settings(SESSION_ENGINE="clinic.sessions"):
        yield


@pytest.fixture
def person():
    return PatientFactory().user


def browser(user) -> Client:
    """A browser signed in as ``user``, its session saved with the browser's address and
    agent (qsessions) and so in the cache."""
    client = Client()
    client.force_login(user)
    assert signed_in(client)
    assert cached(client)
    return client


def signed_in(client: Client) -> bool:
    return client.get(PAGE).status_code == 200


def key_of(client: Client) -> str:
    return str(client.cookies["sessionid"].value)


def session_cache():
    return caches[settings.SESSION_CACHE_ALIAS]


def cache_name(key: str) -> str:
    return SessionStore.cache_key_prefix + key


def cached(client: Client) -> bool:
    return session_cache().get(cache_name(key_of(client))) is not None


def test_a_signed_in_page_reads_the_session_from_the_cache(person) -> None:
    client = browser(person)
    with CaptureQueriesContext(connection) as queries:
        assert signed_in(client)
    # The page lists the person's sessions (by user); the session itself is not read.
    reads = [
        q for q in queries.captured_queries if '"qsessions_session"."session_key" =' in q["sql"]
    ]
    assert queries.captured_queries and not reads


# --- each way of ending a session --------------------------------------------------------------


def test_signing_out_ends_the_session_at_once(person) -> None:
    first, second = browser(person), browser(person)
    ended = key_of(first)
    first.post("/accounts/logout/")
    assert session_cache().get(cache_name(ended)) is None
    first.cookies["sessionid"] = ended  # the old cookie, kept
    assert not signed_in(first)
    assert signed_in(second)


def test_ending_my_other_sessions_ends_them_at_once(person) -> None:
    first, second, third = browser(person), browser(person), browser(person)
    first.post("/accounts/sessions/end/", {"key": "others"})
    assert not cached(second) and not cached(third)
    assert not signed_in(second)
    assert not signed_in(third)
    assert signed_in(first)


def test_ending_one_session_ends_it_at_once(person) -> None:
    first, second, third = browser(person), browser(person), browser(person)
    first.post("/accounts/sessions/end/", {"key": key_of(second)})
    assert not cached(second)
    assert not signed_in(second)
    assert signed_in(first) and signed_in(third)


def test_a_new_password_ends_the_other_sessions_at_once(person) -> None:
    first, second = browser(person), browser(person)
    response = first.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert not cached(second)
    assert not signed_in(second)
    assert signed_in(first)  # a new key for this one, the old one forgotten


def test_a_password_reset_ends_every_session_at_once(person) -> None:
    """The reset link's page does not end sessions itself: the new password no longer
    matches the one each session was signed in with, which is checked against the
    user's row on every request. The first request with an old cookie then ends it."""
    first = browser(person)
    Client().post("/accounts/password_reset/", {"email": person.email})
    (message,) = mail.outbox
    link = re.search(r"/accounts/reset/\S+/", str(message.body))
    assert link is not None
    visitor = Client()
    form_page = visitor.get(link.group(0), follow=True)
    response = visitor.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    ended = key_of(first)
    assert not signed_in(first)
    assert session_cache().get(cache_name(ended)) is None
    assert not Session.objects.filter(session_key=ended).exists()


def test_a_closed_account_is_signed_out_everywhere_at_once(person, admin_user) -> None:
    first, second = browser(person), browser(person)
    closure = account_closure_request(patient=person.patient)
    account_closure_complete(request=closure, by=admin_user)
    assert not cached(first) and not cached(second)
    assert not Session.objects.filter(user=person).exists()
    assert not signed_in(first)
    assert not signed_in(second)


def test_a_deactivated_account_is_signed_out_at_once(person) -> None:
    """As the admin's user page does: the user's row is read on every request, and an
    inactive user is nobody, whatever the cached session says."""
    first = browser(person)
    person.is_active = False
    person.save(update_fields=["is_active"])
    assert not signed_in(first)


def test_staff_signed_out_for_being_idle_are_signed_out_at_once() -> None:
    client = browser(NurseFactory().user)
    key = key_of(client)
    stale = SessionStore(session_key=key)
    stale[SEEN_KEY] = time.time() - 31 * 60
    stale.save()
    assert client.get("/staff/today/").status_code == 302  # to the log-in page
    assert session_cache().get(cache_name(key)) is None
    assert not Session.objects.filter(session_key=key).exists()


def test_sessions_deleted_in_the_admin_end_at_once(person, admin_client) -> None:
    first, second = browser(person), browser(person)
    response = admin_client.post(
        "/admin/qsessions/session/",
        {"action": "delete_selected", "_selected_action": [key_of(first)], "post": "yes"},
    )
    assert response.status_code == 302
    assert not cached(first)
    assert not signed_in(first)
    assert signed_in(second)


def test_sessions_deleted_in_bulk_end_at_once(person) -> None:
    """As a clean-up would: a delete of Session rows through their queryset."""
    first = browser(person)
    Session.objects.filter(user=person).delete()
    assert not cached(first)
    assert not signed_in(first)


def test_scale_data_deleted_ends_its_peoples_sessions_at_once() -> None:
    """``seed_scale --reset`` deletes the scale clinic's users in bulk: their sessions go
    with their cached copies, not only their rows."""
    from io import StringIO

    from django.core.management import call_command

    from clinic.scale import SCALE_EMAIL_DOMAIN

    def seed(*args: str) -> None:
        call_command("seed_scale", "--scale", "0.01", "--force", *args, stdout=StringIO())

    seed()
    scale_patient = Patient.objects.filter(user__email__iendswith=f"@{SCALE_EMAIL_DOMAIN}")
    first = browser(scale_patient.first().user)
    seed("--reset")
    assert not cached(first)
    assert not Session.objects.filter(session_key=key_of(first)).exists()
    assert not signed_in(first)


# --- requests of a session running while it ends ---------------------------------------------


def test_a_session_cached_again_while_its_row_is_deleted_is_still_ended(
    person, monkeypatch
) -> None:
    """Another request of the session finds no cached copy just after it was forgotten,
    reads the row (not yet deleted) and caches it again: the copy must still go."""
    first, second = browser(person), browser(person)
    cache = session_cache()

    def then_reload(forget):
        def forget_then_reload(*args, **kwargs):
            forget(*args, **kwargs)
            SessionStore(session_key=key_of(second)).load()  # the other request

        return forget_then_reload

    monkeypatch.setattr(cache, "delete", then_reload(cache.delete))
    monkeypatch.setattr(cache, "delete_many", then_reload(cache.delete_many))
    first.post("/accounts/sessions/end/", {"key": key_of(second)})
    monkeypatch.undo()
    assert not cached(second)
    assert not signed_in(second)


def test_a_copy_written_from_a_row_read_before_it_was_deleted_is_forgotten(
    person, monkeypatch
) -> None:
    """A request reads the row, the session is ended, then the request caches what it
    read: it sees the row has gone and forgets the copy."""
    first = browser(person)
    key = key_of(first)
    session_cache().delete(cache_name(key))  # not cached: the request reads the row
    cache = session_cache()
    put = cache.set

    def end_then_put(name, *args, **kwargs):
        if name == cache_name(key):
            end_sessions(Session.objects.filter(session_key=key))
        put(name, *args, **kwargs)

    monkeypatch.setattr(cache, "set", end_then_put)
    store = SessionStore(session_key=key)
    assert store.load() == {}
    monkeypatch.undo()
    assert not cached(first)
    assert not signed_in(first)


def test_a_copy_written_by_a_save_after_the_session_ended_is_forgotten(person, monkeypatch) -> None:
    """A request saves the session (row, then cache) and the session is ended between the
    two: the save sees the row has gone and forgets the copy."""
    first = browser(person)
    key = key_of(first)
    cache = session_cache()
    put = cache.set

    def end_then_put(name, *args, **kwargs):
        if name == cache_name(key):
            end_sessions(Session.objects.filter(session_key=key))
        put(name, *args, **kwargs)

    store = SessionStore(session_key=key)
    store["note"] = "saved"
    monkeypatch.setattr(cache, "set", end_then_put)
    store.save()
    monkeypatch.undo()
    assert not cached(first)
    assert not signed_in(first)


def test_sessions_ended_in_a_transaction_are_forgotten_again_when_it_commits(
    person, django_capture_on_commit_callbacks
) -> None:
    """Until the transaction commits, other requests still see the rows and may cache
    them again."""
    first, second = browser(person), browser(person)
    ended = [key_of(first), key_of(second)]
    copies = {cache_name(key): session_cache().get(cache_name(key)) for key in ended}
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        end_sessions(Session.objects.filter(user=person))
        session_cache().set_many(copies)  # other requests, before the commit
    assert not cached(first) and not cached(second)
    assert not signed_in(first) and not signed_in(second)


def test_a_sign_out_in_a_transaction_is_forgotten_again_when_it_commits(
    person, django_capture_on_commit_callbacks
) -> None:
    first = browser(person)
    key = key_of(first)
    copy = session_cache().get(cache_name(key))
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        SessionStore(session_key=key).flush()
        session_cache().set(cache_name(key), copy)  # another request, before the commit
    assert not cached(first)
    assert not signed_in(first)


def test_nothing_is_deleted_when_the_cache_cannot_be_reached(person, monkeypatch) -> None:
    """Deleting the row first would leave a copy to come back with the cache."""
    first = browser(person)
    key = key_of(first)

    def unreachable(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(session_cache(), "delete", unreachable)
    monkeypatch.setattr(session_cache(), "delete_many", unreachable)
    with pytest.raises(ConnectionError):
        SessionStore(session_key=key).flush()
    with pytest.raises(ConnectionError):
        end_sessions(Session.objects.filter(session_key=key))
    monkeypatch.undo()
    assert Session.objects.filter(session_key=key).exists()


def test_pages_are_served_from_the_database_while_redis_cannot_be_reached(person) -> None:
    """Sessions are then neither read from nor written to the cache; ending one fails
    instead of leaving a copy behind for when Redis is back."""
    unreachable = {"BACKEND": "clinic.sessions.SessionCache", "LOCATION": "redis://127.0.0.1:1/0"}
    with override_settings(
        CACHES={**settings.CACHES, "sessions": unreachable}, SESSION_CACHE_ALIAS="sessions"
    ):
        client = Client()
        response = client.post("/accounts/login/", {"username": person.email, "password": PASSWORD})
        assert response.status_code == 302
        assert signed_in(client)
        assert signed_in(client)
        with pytest.raises(RedisError):
            client.post("/accounts/logout/")
        assert Session.objects.filter(session_key=key_of(client)).exists()


def test_deleting_sessions_that_are_not_there_is_no_error() -> None:
    """qsessions hands the cache a generator of keys; with Redis an empty one used to
    fail (the Redis run of this file checks that end to end)."""
    Session.objects.filter(session_key="none-such").delete()
    assert end_sessions(Session.objects.filter(session_key="none-such")) == 0


def test_the_session_cache_deletes_nothing_for_no_keys(monkeypatch) -> None:
    cache = SessionCache("redis://127.0.0.1:6379/15", {})
    asked: list[list[str]] = []
    monkeypatch.setattr(cache._cache, "delete_many", asked.append)
    none: list[str] = []
    cache.delete_many(key for key in none)
    cache.delete_many(key for key in ["a", "b"])
    assert asked == [[":1:a", ":1:b"]]


# --- settings ----------------------------------------------------------------------------------


def test_the_settings_cache_sessions_only_with_a_shared_cache(monkeypatch) -> None:
    import clinic.settings.base as base

    try:
        monkeypatch.setenv("CACHE_URL", "redis://127.0.0.1:6379/15")
        monkeypatch.delenv("SESSIONS_IN_CACHE", raising=False)
        shared = importlib.reload(base)
        assert shared.SESSION_ENGINE == "clinic.sessions"
        assert shared.SESSION_CACHE_ALIAS == "sessions"
        assert shared.CACHES["sessions"]["BACKEND"] == "clinic.sessions.SessionCache"
        assert shared.CACHES["sessions"]["LOCATION"] == shared.CACHES["default"]["LOCATION"]
        monkeypatch.setenv("SESSIONS_IN_CACHE", "false")
        assert importlib.reload(base).SESSION_ENGINE == "qsessions.backends.db"
        monkeypatch.setenv("SESSIONS_IN_CACHE", "true")
        monkeypatch.setenv("CACHE_URL", "")
        assert importlib.reload(base).SESSION_ENGINE == "qsessions.backends.db"
    finally:
        monkeypatch.undo()
        importlib.reload(base)


def test_expired_sessions_are_cleared_every_day_with_their_copies(person) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from clinic.tasks import clear_expired_sessions

    expired, live = browser(person), browser(person)
    Session.objects.filter(session_key=key_of(expired)).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    assert clear_expired_sessions() == 1
    assert not Session.objects.filter(session_key=key_of(expired)).exists()
    assert not cached(expired)
    assert Session.objects.filter(session_key=key_of(live)).exists() and cached(live)
    assert signed_in(live)
    schedule = settings.CELERY_BEAT_SCHEDULE["clear-expired-sessions"]
    assert schedule["task"] == clear_expired_sessions.name
    assert schedule["schedule"] <= 24 * 60 * 60
