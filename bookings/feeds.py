"""Private calendar addresses: a secret token per person, made on first use and replaced
on request (the old address then stops working at once)."""

from __future__ import annotations

import re
import secrets

from django.db import IntegrityError, transaction

from clinic.models import User

from .models import CalendarFeed

# As long as CalendarFeed.token may be; anything longer is not a token of ours.
TOKEN_MAX_LENGTH = 64
# What _new_token makes (URL-safe base64); anything else names no feed.
TOKEN_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{1,{TOKEN_MAX_LENGTH}}}", re.ASCII)


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def calendar_feed_for(*, user: User) -> CalendarFeed:
    """The user's calendar feed, made with a fresh secret token the first time."""
    feed = CalendarFeed.objects.filter(user=user).first()
    if feed is not None:
        return feed
    try:
        with transaction.atomic():
            return CalendarFeed.objects.create(user=user, token=_new_token())
    except IntegrityError:  # two first visits at once: the other one made it
        return CalendarFeed.objects.get(user=user)


@transaction.atomic
def calendar_feed_reset(*, user: User) -> CalendarFeed:
    """Give the user a new secret address; the old one is forgotten (a leaked address
    stops working)."""
    feed = CalendarFeed.objects.select_for_update().filter(user=user).first()
    if feed is None:
        return CalendarFeed.objects.create(user=user, token=_new_token())
    feed.token = _new_token()
    feed.save(update_fields=["token", "created_at"])
    return feed


def calendar_feed_by_token(*, token: str) -> CalendarFeed | None:
    """The feed behind a secret address, or None for an unknown (or reset) token."""
    if not TOKEN_PATTERN.fullmatch(token or ""):
        return None  # PostgreSQL would refuse a NUL byte in the query: a 404, not a 500
    # A switched-off account's address stops working at once.
    return (
        CalendarFeed.objects.select_related("user")
        .filter(token=token, user__is_active=True)
        .first()
    )
