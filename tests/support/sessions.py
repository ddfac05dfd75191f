"""The session engine of the test settings.

qsessions stores each session's address and browser and saves the session again when they
change. The test client's ``force_login`` makes a session without a request, so without
this the first request after it would always save the session once more, and query
counts would depend on whether a page is the first one opened. Sessions made here carry
the test client's own address and (empty) browser name, as a real log-in would.
"""

from qsessions.backends.db import SessionStore as QSessionStore


class SessionStore(QSessionStore):
    def __init__(self, session_key=None, user_agent=None, ip=None):  # type: ignore[no-untyped-def]
        super().__init__(
            session_key=session_key,
            user_agent="" if user_agent is None else user_agent,
            ip="127.0.0.1" if ip is None else ip,
        )
