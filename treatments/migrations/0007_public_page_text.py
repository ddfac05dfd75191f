"""The public page text for the two sclerotherapy treatments.

Written for this project from the clinic's facts (DOMAIN.md); admins edit it afterwards.
Only empty fields are filled, so running this again, or after an admin's edit, changes
nothing.
"""

from django.db import migrations

PAGES = {
    "microsclerotherapy": {
        "page_what_it_is": (
            "Microsclerotherapy is a treatment for thread veins (sometimes called spider "
            "veins): the fine red, blue or purple lines that show through the skin of the legs."
            "\n\n"
            "A weak solution of a medicine called sodium tetradecyl sulphate (STS) is put "
            "straight into the small veins through a very fine needle. The medicine irritates "
            "the lining of the vein so that it seals shut, and the body then clears it away "
            "over the following weeks. The liquid is used as it is, not whipped into a foam."
            "\n\n"
            "Laser and intense pulsed light are offered for legs elsewhere; we do not use "
            "them on legs, because there they hurt more and work less well."
        ),
        "page_before": (
            "Everyone starts with a consultation. The consultant looks at your legs, explains "
            "what can be done, what can go wrong and how often it works, and plans a course "
            "with you. Please fill in the health questions before that visit."
            "\n\n"
            "On the day of each session a member of staff goes through the information with "
            "you again and you sign the consent form before anything starts. Bring loose "
            "trousers or a skirt so the stocking is easy to fit afterwards. You are welcome to "
            "ask for your own music."
        ),
        "page_during": (
            "The session takes place in a treatment room with the consultant and a nurse, and "
            "the nurse stays with you the whole time. It lasts 30 to 45 minutes, depending on "
            "how many veins are treated."
            "\n\n"
            "You will feel a series of tiny pricks. Most people find it uncomfortable rather "
            "than painful, though the medicine can sting for a moment. The veins usually "
            "disappear as they are injected."
        ),
        "page_after": (
            "A nurse fits a compression stocking on each treated leg and shows you how to wear "
            "it and how to wash with it on. You will be told what is normal afterwards and "
            "which symptoms mean you should contact us."
            "\n\n"
            "Before you go home you walk for at least ten minutes; moving straight away lowers "
            "the risk of a clot. You can drive yourself home."
        ),
        "page_recovery": (
            "Wear the stockings day and night for one full week. Do not swim while you are "
            "wearing them. You can move about normally, drive and go back to your usual "
            "activities straight away, and a walk of at least twenty minutes every day is "
            "strongly advised. Your consultant may ask you to avoid other things as well."
            "\n\n"
            "The treated veins often look red, raised and worse than before for a while; this "
            "settles over days to weeks. Most people need two to four sessions, at least four "
            "to six weeks apart, so that each one has time to work before the next."
        ),
        "page_risks": (
            "Bruising is common, and more likely when a larger area or more veins are treated. "
            "Other possible effects are brown marks along the treated veins that fade slowly, "
            "a crop of very fine new veins near the treated area, and a tender, firm vein "
            "under the skin."
            "\n\n"
            "Allergic reactions, small skin ulcers and clots in the deep veins are rare. Your "
            "consultant will talk these through with you at the consultation."
        ),
    },
    "foam-sclerotherapy": {
        "page_what_it_is": (
            "Foam sclerotherapy is used for larger varicose veins. It uses the same medicine "
            "as microsclerotherapy, sodium tetradecyl sulphate, mixed with air into a fine "
            "foam. The foam pushes the blood aside and stays in contact with the vein wall, "
            "which helps a wider vein to close."
        ),
        "page_before": (
            "You will see a consultant first, who checks whether foam treatment suits the "
            "veins you have and plans the number of sessions with you. Because this treatment "
            "is planned case by case, sessions are booked by the clinic rather than online. "
            "You sign the consent form on the day before anything starts."
        ),
        "page_during": (
            "The consultant injects the foam into the vein, with a nurse beside you "
            "throughout. A session takes about 30 to 45 minutes."
        ),
        "page_after": (
            "A nurse fits compression stockings on the treated leg or legs and explains how to "
            "look after them. You walk for at least ten minutes before leaving."
        ),
        "page_recovery": (
            "Keep the stockings on for a week and do not swim while wearing them. Stay active "
            "and walk for at least twenty minutes a day. The treated vein may feel firm and "
            "tender for a few weeks as it settles."
        ),
        "page_risks": (
            "Bruising, tenderness and brown marks along the vein can happen. A brief "
            "disturbance of vision or a headache on the day is an uncommon effect of foam. "
            "Clots in the deep veins and allergic reactions are rare; your consultant will "
            "explain them with you before you decide."
        ),
    },
}


def fill(apps, schema_editor):
    Treatment = apps.get_model("treatments", "Treatment")
    for slug, fields in PAGES.items():
        treatment = Treatment.objects.filter(slug=slug).first()
        if treatment is None:
            continue
        changed = []
        for name, text in fields.items():
            if not getattr(treatment, name):
                setattr(treatment, name, text)
                changed.append(name)
        if not treatment.has_public_page:
            treatment.has_public_page = True
            changed.append("has_public_page")
        if changed:
            treatment.save(update_fields=changed)


class Migration(migrations.Migration):
    dependencies = [("treatments", "0006_price_no_overlap_on_postgresql")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
