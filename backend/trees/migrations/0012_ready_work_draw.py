"""The ready-work index in random order: a task request reads a bounded slice of it.

``draw`` places each row at random within its language and category (``category``, the
task category of ``kind`` as a number, computed by PostgreSQL); the indexes let the sampled
read scan from a random point and stop once it has enough eligible rows, whatever the
forest's size (not partial: the read's generic plan sees "slots > $1", which proves no
partial condition). ``grove_claim`` moves the claimed row to a new random place, so no row
keeps a place that makes it more (or less) likely to be read first.
"""

import importlib

import django.db.models.functions.math
from django.db import migrations, models

_CLAIM = importlib.import_module("backend.trees.migrations.0005_claim_function")
_INSERTED = "    FROM jsonb_populate_record(NULL::trees_journalentry, p_journal);\n"
_REDRAW = (
    "    IF p_row IS NOT NULL THEN\n"
    "        UPDATE trees_readywork SET draw = random() WHERE id = p_row;\n"
    "    END IF;\n"
)
assert _INSERTED in _CLAIM.CREATE
CREATE = _CLAIM.CREATE.replace(_INSERTED, _INSERTED + _REDRAW)


class Migration(migrations.Migration):
    dependencies = [
        ("trees", "0011_active_selection_weights"),
    ]

    operations = [
        migrations.AddField(
            model_name="readywork",
            name="category",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.Case(
                    models.When(
                        kind__in=[
                            "rank_initial_prompts",
                            "rank_prompter_replies",
                            "rank_assistant_replies",
                        ],
                        then=models.Value(0),
                    ),
                    models.When(
                        kind__in=["label_assistant_reply", "label_prompter_reply"],
                        then=models.Value(1),
                    ),
                    models.When(
                        kind__in=["prompter_reply", "assistant_reply"], then=models.Value(2)
                    ),
                    models.When(kind__in=["label_initial_prompt"], then=models.Value(3)),
                    models.When(kind__in=["initial_prompt"], then=models.Value(4)),
                    default=models.Value(-1),
                ),
                output_field=models.SmallIntegerField(),
            ),
        ),
        migrations.AddField(
            model_name="readywork",
            name="draw",
            field=models.FloatField(db_default=django.db.models.functions.math.Random()),
        ),
        migrations.AddIndex(
            model_name="readywork",
            index=models.Index(
                fields=["lang", "category", "draw"],
                name="ready_work_category_draw",
            ),
        ),
        migrations.AddIndex(
            model_name="readywork",
            index=models.Index(
                fields=["lang", "kind", "draw"],
                name="ready_work_kind_draw",
            ),
        ),
        migrations.RunPython(_CLAIM._on_postgresql(CREATE), _CLAIM._on_postgresql(_CLAIM.CREATE)),
    ]
