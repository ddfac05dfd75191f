"""The catalogue the clinic starts with, and version 1 of each treatment's consent form.

Rows are fetched or created by slug (and by treatment + version), so running this again
changes nothing; admins edit the numbers afterwards.
"""

from django.db import migrations
from django.utils import timezone

CATALOGUE = [
    {
        "slug": "initial-consultation",
        "name": "Initial consultation",
        "kind": "consultation",
        "summary": "Meet a consultant, talk through the options and plan your treatment.",
        "requires_consultation": False,
        "session_lengths": [30],
        "bookable_online": True,
    },
    {
        "slug": "microsclerotherapy",
        "name": "Microsclerotherapy",
        "kind": "treatment",
        "summary": "Fine injections that close thread veins on the legs.",
        "min_planned_sessions": 2,
        "max_planned_sessions": 4,
        "session_lengths": [30, 45],
        "bookable_online": True,
    },
    {
        "slug": "foam-sclerotherapy",
        "name": "Foam sclerotherapy",
        "kind": "treatment",
        "summary": "The same medicine made into a foam, for larger varicose veins.",
        "min_planned_sessions": 1,
        "max_planned_sessions": 3,
        "session_lengths": [30, 45],
        "bookable_online": False,
    },
    {
        "slug": "reassessment",
        "name": "Reassessment",
        "kind": "reassessment",
        "summary": "An optional review of your result with the consultant.",
        "session_lengths": [15, 20],
        "bookable_online": True,
    },
]

CONSENT = {
    "microsclerotherapy": {
        "title": "Consent to microsclerotherapy of thread veins",
        "body": (
            "Microsclerotherapy treats thread veins by injecting a diluted medicine, sodium "
            "tetradecyl sulphate, through very fine needles into the veins you can see. The "
            "treated veins close and fade over the following weeks. Most people need two to "
            "four sessions, at least four weeks apart. The treatment is cosmetic: results vary, "
            "and new thread veins can appear later.\n\n"
            "After each session you wear a compression stocking on each treated leg for seven "
            "days, walk for at least ten minutes before going home, and walk for at least "
            "twenty minutes every day. You should not swim while wearing the stockings."
        ),
        "risks": [
            "Stinging or discomfort during the injections.",
            "Bruising, redness and swelling, which can look worse before it settles.",
            "Brown staining of the skin along treated veins, usually fading over months.",
            "New very fine veins near the treated area (matting).",
            "A tender, hard vein (superficial thrombophlebitis).",
            "Rarely: an allergic reaction, a small skin ulcer, or a clot in a deep vein.",
        ],
        "statements": [
            "I have read this information and had the chance to ask questions.",
            "I understand the risks listed above and that results cannot be guaranteed.",
            "I will follow the aftercare advice, including the stockings and daily walks.",
        ],
    },
    "foam-sclerotherapy": {
        "title": "Consent to foam sclerotherapy",
        "body": (
            "Foam sclerotherapy treats larger varicose veins by injecting sodium tetradecyl "
            "sulphate mixed with air into a foam, usually guided by ultrasound. The vein closes "
            "and the body absorbs it over time. Compression stockings and daily walking are "
            "part of the treatment."
        ),
        "risks": [
            "Bruising, tenderness and lumpiness along the treated vein.",
            "Brown staining of the skin.",
            "Brief visual disturbance, headache or chest tightness shortly after injection.",
            "Rarely: a clot in a deep vein, an allergic reaction, or a skin ulcer.",
        ],
        "statements": [
            "I have read this information and had the chance to ask questions.",
            "I understand the risks listed above and that results cannot be guaranteed.",
            "I will follow the aftercare advice, including the stockings and daily walks.",
        ],
    },
}


def seed(apps, schema_editor):
    Treatment = apps.get_model("treatments", "Treatment")
    ConsentForm = apps.get_model("treatments", "ConsentForm")
    now = timezone.now()
    for row in CATALOGUE:
        row = dict(row)
        slug = row.pop("slug")
        Treatment.objects.get_or_create(slug=slug, defaults=row)
    for slug, content in CONSENT.items():
        treatment = Treatment.objects.get(slug=slug)
        ConsentForm.objects.get_or_create(
            treatment=treatment,
            version=1,
            defaults={**content, "effective_from": now, "published_at": now},
        )


class Migration(migrations.Migration):
    dependencies = [("treatments", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
