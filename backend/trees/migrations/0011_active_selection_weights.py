from django.db import migrations, models

from backend.trees.config_migrations import add_config_parameters

# Active selection (selection_policy, off: OA's uniform draw): the weight of each piece of
# ready work, and on each message what the last undecided decision read (the review posterior,
# the agreement of its replies' rankings). Every stored config version gets the parameter at
# its default. The columns are nullable or have a constant default: no table rewrite.
NEW_PARAMETERS = {"selection_policy": "fixed"}


class Migration(migrations.Migration):
    dependencies = [
        ("trees", "0010_task_skipped_by_user"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="ranking_agreement",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="message",
            name="review_posterior",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="readywork",
            name="weight",
            field=models.FloatField(default=1.0),
        ),
        add_config_parameters(NEW_PARAMETERS),
    ]
