from django.db import migrations, models

# Reviewers who approve everything (core.reliability.always_approver_probability): the
# estimate stores each reviewer's disapprovals, and every stored config version gets
# always_approver_prior at its default, and capped_specificity_prior (the estimate holds a
# reviewer's specificity at no more than their sensitivity); both only matter under
# review_policy=sequential.
NEW_PARAMETERS = {"always_approver_prior": 0.05, "capped_specificity_prior": True}


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
        ("trees", "0012_ready_work_draw"),
    ]

    operations = [
        migrations.AddField(
            model_name="reviewerreliability",
            name="disapprovals",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(add_parameters, remove_parameters),
    ]
