from django.db import migrations, models

from backend.trees.config_migrations import add_config_parameters

# First-review routing (core.policy.routed_reviews): a review row of the ready-work index
# carries its message's reviews so far (rows written before this read 0 until their tree
# changes: routing then treats them as first reviews), and every stored config version gets
# first_review_min_informativeness at its default, 0 (off).
NEW_PARAMETERS = {"first_review_min_informativeness": 0.0}


class Migration(migrations.Migration):
    dependencies = [
        ("trees", "0014_claim_counts_by_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="readywork",
            name="reviews",
            field=models.PositiveIntegerField(default=0),
        ),
        add_config_parameters(NEW_PARAMETERS),
    ]
