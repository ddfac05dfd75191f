from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clinic.demo import DEMO_LOGINS, DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Create demo data for development (idempotent). Refuses to run when DEBUG is off."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo only runs with DEBUG on: it creates accounts with a published "
                "password. Use it on a development machine, never in production."
            )
        seed_demo()
        self.stdout.write(self.style.SUCCESS("Demo data is ready. Log in with:"))
        for email, role in DEMO_LOGINS:
            self.stdout.write(f"  {email:<26} {DEMO_PASSWORD}   ({role})")
