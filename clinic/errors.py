"""The one base class of every rule broken in a service.

Services raise a DomainError (or a subclass) with a message a patient or a member of
staff can read; forms and views turn it into a form error or a 4xx, never a 500.
"""


class DomainError(Exception):
    """A clinic rule refused the action. ``str(error)`` is shown to the person."""

    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class PermissionRefused(DomainError):
    """The acting person's role does not allow the action."""

    def __init__(self, message: str = "You are not allowed to do that.") -> None:
        super().__init__(message, code="permission")
