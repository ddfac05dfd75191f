"""Nurse screens: the day list and the session screen. (Being written.)"""

from django.http import Http404


def _todo(request, *args, **kwargs):
    raise Http404("Not built yet")


day_list = session_detail = session_confirm_consent = session_take_consent = _todo
session_start = session_record = session_stockings = session_adverse_event = _todo
session_complete = session_abandon = _todo
