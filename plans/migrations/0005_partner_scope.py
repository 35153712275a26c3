"""PlanTask.partner_units_named: the partner units a plan row names one by one.

Data-safe: only adds a table; every existing task gets the subset of its partner units that its
own partner text names (the collective phrases left out), read with the units as they are now.
Reversing drops the table and leaves the partner units as they were."""

from django.db import migrations, models


def fill_named(apps, schema_editor):
    from plans.parsing import UnitDirectory, UnitRef

    Unit = apps.get_model("plans", "Unit")
    PlanTask = apps.get_model("plans", "PlanTask")
    directory = UnitDirectory(
        units=tuple(
            UnitRef(
                name=u.name,
                short_name=u.short_name,
                kind=u.kind,
                aliases=tuple(str(a) for a in (u.aliases or [])),
            )
            for u in Unit.objects.order_by("order", "name")
        )
    )
    Named = PlanTask.partner_units_named.through
    Partner = PlanTask.partner_units.through
    partners: dict[int, list[tuple[int, str]]] = {}
    for task_id, unit_id, name in Partner.objects.values_list("plantask_id", "unit_id", "unit__name"):
        partners.setdefault(task_id, []).append((unit_id, name))
    rows = []
    for task_id, text in PlanTask.objects.filter(pk__in=list(partners)).values_list("pk", "partner_text"):
        named = set(directory.resolve_named(text or ""))
        rows += [Named(plantask_id=task_id, unit_id=uid) for uid, name in partners[task_id] if name in named]
    Named.objects.bulk_create(rows, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("plans", "0004_plan_number"),
    ]

    operations = [
        migrations.AddField(
            model_name="plantask",
            name="partner_units_named",
            field=models.ManyToManyField(
                blank=True, related_name="+", to="plans.unit", verbose_name="cơ quan phối hợp được nêu tên"
            ),
        ),
        migrations.RunPython(fill_named, migrations.RunPython.noop),
    ]
