"""Validators for what people type, shared by every app's forms."""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError

# Characters that change how text is displayed without being visible (right-to-left
# overrides and isolates): a name or an address never needs them.
DIRECTION_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Allowed in a text of several lines (an address, a reason) and nowhere else.
LAYOUT_CHARACTERS = frozenset("\n\r\t")


def check_plain_text(value: str, *, multiline: bool = False, markup_ok: bool = False) -> str:
    """Refuse markup and invisible control characters in what a person types.

    Everything is escaped when shown anyway; refusing these characters keeps the record
    readable and tells someone who pasted something odd what went wrong.
    """
    for char in value:
        if multiline and char in LAYOUT_CHARACTERS:
            continue
        if unicodedata.category(char) == "Cc" or char in DIRECTION_CONTROLS:
            raise ValidationError(
                "This contains a hidden control character. Please type it again by hand.",
                code="control",
            )
    if not markup_ok and ("<" in value or ">" in value):
        raise ValidationError("Please leave out the characters < and >.", code="markup")
    return value


class PlainText:
    """A form field validator for what a person types: ``check_plain_text`` as a validator,
    so that every form refuses hidden control characters the same way."""

    def __init__(self, *, multiline: bool = False, markup_ok: bool = False) -> None:
        self.multiline = multiline
        self.markup_ok = markup_ok

    def __call__(self, value: object) -> None:
        check_plain_text(str(value), multiline=self.multiline, markup_ok=self.markup_ok)


# A line of free text (a music request), several lines of it (notes, reasons), and a line
# that is a name or a code, where < and > have no place.
ONE_LINE = PlainText(markup_ok=True)
FREE_TEXT = PlainText(multiline=True, markup_ok=True)
NAME_OR_CODE = PlainText()
