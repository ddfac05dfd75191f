"""Patient pages under /my/. (Being written.)"""

from django.http import Http404


def _todo(request, *args, **kwargs):
    raise Http404("Not built yet")


dashboard = screening = consent_sign = consent_detail = _todo
