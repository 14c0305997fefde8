from django.db import migrations, models

from backend.trees.config_migrations import add_config_parameters

# Reviewers who approve everything (core.reliability.always_approver_probability): the
# estimate stores each reviewer's disapprovals, and every stored config version gets
# always_approver_prior at its default, and capped_specificity_prior (the estimate holds a
# reviewer's specificity at no more than their sensitivity); both only matter under
# review_policy=sequential.
NEW_PARAMETERS = {"always_approver_prior": 0.05, "capped_specificity_prior": True}


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
        add_config_parameters(NEW_PARAMETERS),
    ]
