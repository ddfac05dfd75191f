"""``manage.py seed_scale``: a large, busy clinic for performance work.

The builder is ``clinic.scale``; its docstring says what is made and how. Logins (all with
the development password ``demo-pass-2026``):

- ``scale-consultant-01@scale.example.com`` …, ``scale-nurse-01@scale.example.com`` …
- ``scale-admin@scale.example.com`` (clinic admin)
- ``scale-patient-0001@scale.example.com`` … in blocks: registered without a consultation
  first, then courses whose next session is bookable now, other courses, and patients
  consulted without a course. The command prints each block's first and last address.

Examples::

    manage.py seed_scale                      # the issue's sizes (50,000 appointments …)
    manage.py seed_scale --scale 0.1 --seed 7
    manage.py seed_scale --reset              # delete the earlier scale data, then build
    manage.py seed_scale --force              # also where DEBUG is off (a benchmark database)
"""

from __future__ import annotations

from argparse import ArgumentParser
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clinic.scale import (
    DEFAULT_SEED,
    SCALE_EMAIL_DOMAIN,
    SCALE_PASSWORD,
    ScaleError,
    Sizes,
    seed_scale,
)

OVERRIDES = ("patients", "courses", "appointments", "reminders")


class Command(BaseCommand):
    help = (
        "Create a large clinic for performance work with bulk inserts: at --scale 1, "
        "3 locations, 12 rooms, 20 staff, 5,000 patients, 2,000 courses, 50,000 "
        "appointments over two years and 100,000 reminders. Logins (password "
        f"{SCALE_PASSWORD}): scale-consultant-01@{SCALE_EMAIL_DOMAIN}, "
        f"scale-nurse-01@{SCALE_EMAIL_DOMAIN}, scale-admin@{SCALE_EMAIL_DOMAIN}, "
        f"scale-patient-0001@{SCALE_EMAIL_DOMAIN} … (the blocks of patients are printed). "
        "Refuses a database that already holds scale data unless --reset, and refuses to "
        "run with DEBUG off unless --force."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="Multiply every count by this (default 1: the issue's sizes).",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=DEFAULT_SEED,
            help=f"Random seed; the same seed on the same day makes the same data "
            f"(default {DEFAULT_SEED}).",
        )
        for name in OVERRIDES:
            parser.add_argument(
                f"--{name}", type=int, help=f"Exact number of {name} (overrides --scale)."
            )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the scale data made earlier (and only that) before building.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off, e.g. on a benchmark database served with the "
            "production settings. Never on a real clinic's database: the accounts have a "
            "published password.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_scale only runs with DEBUG on: it creates thousands of accounts with a "
                "published password. For a benchmark database served with other settings, "
                "add --force; never use it on a real clinic's database."
            )
        try:
            sizes = Sizes.scaled(options["scale"])
            given = {name: options[name] for name in OVERRIDES if options[name] is not None}
            sizes = replace(sizes, **given)
            self.stdout.write(
                f"Building scale data (seed {options['seed']}): {sizes.patients:,} patients, "
                f"{sizes.courses:,} courses, {sizes.appointments:,} appointments, "
                f"{sizes.reminders:,} reminders, {sizes.consultants + sizes.nurses} staff, "
                f"{sizes.rooms} rooms in {sizes.locations} locations."
            )
            report = seed_scale(
                sizes=sizes,
                seed=options["seed"],
                reset=options["reset"],
                log=self.stdout.write,
            )
        except ScaleError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(f"Scale data is ready. Password: {SCALE_PASSWORD}"))
        self.stdout.write(f"  scale-consultant-01 … -{sizes.consultants:02d}@{SCALE_EMAIL_DOMAIN}")
        self.stdout.write(f"  scale-nurse-01 … -{sizes.nurses:02d}@{SCALE_EMAIL_DOMAIN}")
        self.stdout.write(f"  scale-admin@{SCALE_EMAIL_DOMAIN} (clinic admin)")
        for label, first, last in report.patient_blocks:
            self.stdout.write(f"  {first} … {last}: {label}")
