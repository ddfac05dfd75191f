"""Veinline: the project package and the clinic itself (locations, rooms, staff)."""

from .celery import app as celery_app

__all__ = ("celery_app",)
