"""Consultant screens. (Being written.)"""

from django.http import Http404


def _todo(request, *args, **kwargs):
    raise Http404("Not built yet")


consultant_home = course_review = course_extend = course_close = course_plan = _todo
screening_review = _todo
