"""Sessions read from the shared cache, with their rows in the database (decision 0006).

``SessionStore`` is the session engine when the cache is Redis (``SESSION_ENGINE`` in
clinic/settings/base.py): qsessions' cached engine, which keeps each session both in the
cache and in its row (the row is what ``/accounts/sessions/`` lists). A signed-in request
trusts the cached copy without asking the database, which is the query saved. So when a
row is deleted its copy must go too, whatever the timing of other requests:

- deleting forgets the copy before the row (qsessions: if the cache cannot be reached,
  nothing is deleted and the error shows), after it, and once more when the transaction
  commits (inside a transaction the row is not gone for other requests until then);
- whenever this engine puts a copy in the cache (after reading the row, or after saving
  the session), it then checks that the row is still there, and forgets the copy if not.
  A request of the same session that read or saved it just before the row was deleted
  would otherwise write the copy back after it had been forgotten.

Code that ends sessions uses ``end_sessions`` (or the session's own ``flush``), never a
bare ``delete()`` of rows, which would only forget the copies before the rows.

``SessionCache`` is the Redis cache the engine uses (``SESSION_CACHE_ALIAS``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from django.db import connection, transaction
from qsessions.backends.cached_db import SessionStore as QCachedSessionStore
from redis.exceptions import RedisError

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from qsessions.models import Session

logger = logging.getLogger(__name__)


class SessionStore(QCachedSessionStore):
    _read_row = False

    def _row_exists(self, session_key: str) -> bool:
        return bool(self.model.objects.filter(session_key=session_key).exists())

    def _get_session_from_db(self) -> Any:
        # Only on a cache miss: ``load`` then puts what it read in the cache.
        row = super()._get_session_from_db()
        self._read_row = row is not None
        return row

    def load(self) -> dict[str, Any]:
        self._read_row = False
        data: dict[str, Any] = super().load()
        key = self.session_key
        if self._read_row and key and not self._row_exists(key):
            # Ended while this request was reading it: as if it had not been found.
            _forget([self.cache_key_prefix + key])
            self._session_key = None
            return {}
        return data

    def save(self, must_create: bool = False) -> None:
        super().save(must_create)
        key = self.session_key
        if key and not self._row_exists(key):
            _forget([self.cache_key_prefix + key])  # ended while this request was saving it

    def delete(self, session_key: str | None = None) -> None:
        key = self.session_key if session_key is None else session_key
        super().delete(session_key)  # the copy, the row, the copy
        if key:
            _forget([self.cache_key_prefix + key], now=False)


def forget_cached(keys: Iterable[str]) -> None:
    """Forget the cached copies of these sessions now, and again when the transaction
    commits if there is one. Nothing to do when sessions are not cached."""
    from qsessions.models import Session

    prefix = getattr(Session.get_session_store_class(), "cache_key_prefix", None)
    if prefix:
        _forget([prefix + key for key in keys])


def _forget(names: list[str], *, now: bool = True) -> None:
    if not names:
        return
    cache = caches[settings.SESSION_CACHE_ALIAS]
    if now:
        cache.delete_many(names)
    if connection.in_atomic_block:
        transaction.on_commit(lambda: cache.delete_many(names))


def end_sessions(sessions: QuerySet[Session]) -> int:
    """End these sessions at once, in every process: rows and cached copies. Returns how
    many there were."""
    from qsessions.models import Session

    keys = list(sessions.values_list("session_key", flat=True))
    if keys:
        # qsessions forgets the copies, then deletes the rows; a request of one of them
        # may have cached it again from its row in between.
        Session.objects.filter(session_key__in=keys).delete()
        forget_cached(keys)
    return len(keys)


class SessionCache(RedisCache):
    """Django's Redis cache, for sessions.

    - If Redis cannot be reached, a session is not cached and is read from its row instead,
      so pages are still served (Django's engine reads the row when reading the cache
      fails, but fails itself when it cannot cache what it read, and when it cannot check
      a new key). Deleting still fails: ending a session must not leave a copy behind to
      come back with Redis.
    - ``delete_many`` takes any iterable. qsessions deletes a queryset's sessions with a
      generator of their keys, which Django's check for "no keys" lets through even when it
      is empty, and Redis refuses a DEL of nothing: every delete of sessions that found
      none (``clearsessions`` with none expired) would fail.
    """

    def set(
        self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        try:
            super().set(key, value, timeout=timeout, version=version)
        except RedisError as error:
            logger.warning("Session not cached, Redis unreachable: %s", error)

    def has_key(self, key: str, version: int | None = None) -> bool:
        try:
            return bool(super().has_key(key, version=version))
        except RedisError as error:
            logger.warning("Session cache not checked, Redis unreachable: %s", error)
            return False  # the engine then asks the database

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        super().delete_many(list(keys), version=version)
