from django.db import migrations, models

from backend.trees.config_migrations import add_config_parameters

# The author's record as a review prior (core.reliability.author_prior; it only matters under
# review_policy=sequential) and the tree quality gate (min_tree_quality, off). Every stored
# config version gets both parameters at their defaults.
NEW_PARAMETERS = {"author_reliability": True, "max_author_prior": 0.96, "min_tree_quality": None}


class Migration(migrations.Migration):
    dependencies = [
        ("trees", "0007_adaptive_review_and_reviewer_reliability"),
    ]

    operations = [
        migrations.AddField(
            model_name="reviewerreliability",
            name="authored",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="reviewerreliability",
            name="author_prior",
            field=models.FloatField(blank=True, null=True),
        ),
        add_config_parameters(NEW_PARAMETERS),
    ]
