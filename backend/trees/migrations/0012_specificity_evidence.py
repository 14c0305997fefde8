from django.db import migrations, models

# The specificity a reviewer has shown (core.reliability.shown_specificity): the estimate
# stores the counts behind it, and every stored config version gets specificity_evidence at
# its default (it only matters under review_policy=sequential).
NEW_PARAMETERS = {"specificity_evidence": True}


def add_parameters(apps, schema_editor):
    TreeGrowthConfig = apps.get_model("trees", "TreeGrowthConfig")
    for version in TreeGrowthConfig.objects.all():
        version.values = {**NEW_PARAMETERS, **version.values}
        version.save(update_fields=["values"])


def remove_parameters(apps, schema_editor):
    TreeGrowthConfig = apps.get_model("trees", "TreeGrowthConfig")
    for version in TreeGrowthConfig.objects.all():
        version.values = {k: v for k, v in version.values.items() if k not in NEW_PARAMETERS}
        version.save(update_fields=["values"])


class Migration(migrations.Migration):
    dependencies = [
        ("trees", "0011_active_selection_weights"),
    ]

    operations = [
        migrations.AddField(
            model_name="reviewerreliability",
            name="unacceptable_judged",
            field=models.FloatField(default=0.0),
        ),
        migrations.AddField(
            model_name="reviewerreliability",
            name="unacceptable_rejected",
            field=models.FloatField(default=0.0),
        ),
        migrations.RunPython(add_parameters, remove_parameters),
    ]
