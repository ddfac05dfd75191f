"""Staff diary pages. (Being written.)"""

from django.http import Http404


def _todo(request, *args, **kwargs):
    raise Http404("Not built yet")


diary = consultation_new = session_new = appointment_status = _todo
