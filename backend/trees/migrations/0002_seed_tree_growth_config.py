"""Seed version 1 of the tree-growth configuration with Open-Assistant's defaults.

The values are frozen here (not imported from backend.trees.config) so this migration means
the same thing forever, whatever later code changes.
"""

from django.db import migrations

OPEN_ASSISTANT_DEFAULTS = {
    "max_active_trees": 10,
    "max_initial_prompt_review": 100,
    "max_tree_depth": 3,
    "max_children_count": 3,
    "num_prompter_replies": 1,
    "goal_tree_size": 12,
    "random_goal_tree_size": False,
    "min_goal_tree_size": 5,
    "num_reviews_initial_prompt": 3,
    "num_reviews_reply": 3,
    "auto_mod_enabled": True,
    "auto_mod_max_skip_reply": 25,
    "auto_mod_red_flags": 4,
    "p_full_labeling_review_prompt": 1.0,
    "p_full_labeling_review_reply_assistant": 1.0,
    "p_full_labeling_review_reply_prompter": 0.25,
    "acceptance_threshold_initial_prompt": 0.6,
    "acceptance_threshold_reply": 0.6,
    "num_required_rankings": 3,
    "p_activate_backlog_tree": 0.1,
    "min_active_rankings_per_lang": 0,
    "labels_initial_prompt": [
        "spam",
        "lang_mismatch",
        "quality",
        "creativity",
        "humor",
        "toxicity",
        "violence",
        "not_appropriate",
        "pii",
        "hate_speech",
        "sexual_content",
    ],
    "labels_assistant_reply": [
        "spam",
        "lang_mismatch",
        "fails_task",
        "quality",
        "helpfulness",
        "creativity",
        "humor",
        "toxicity",
        "violence",
        "not_appropriate",
        "pii",
        "hate_speech",
        "sexual_content",
    ],
    "labels_prompter_reply": [
        "spam",
        "lang_mismatch",
        "quality",
        "creativity",
        "humor",
        "toxicity",
        "violence",
        "not_appropriate",
        "pii",
        "hate_speech",
        "sexual_content",
    ],
    "mandatory_labels_initial_prompt": ["spam"],
    "mandatory_labels_assistant_reply": ["spam"],
    "mandatory_labels_prompter_reply": ["spam"],
    "rank_prompter_replies": False,
    "lonely_children_count": 2,
    "p_lonely_child_extension": 0.75,
    "recent_tasks_span_sec": 300,
    "max_pending_tasks_per_user": 8,
    "max_prompt_lottery_waiting": 250,
    "init_prompt_disabled_langs": "",
    "min_prompt_quality": None,
    "min_reply_quality_for_extension": None,
}


def seed(apps, schema_editor):
    TreeGrowthConfig = apps.get_model("trees", "TreeGrowthConfig")
    if not TreeGrowthConfig.objects.exists():
        TreeGrowthConfig.objects.create(
            version=1,
            values=OPEN_ASSISTANT_DEFAULTS,
            is_active=True,
            created_by="migration",
            comment="Open-Assistant defaults",
        )


def unseed(apps, schema_editor):
    apps.get_model("trees", "TreeGrowthConfig").objects.filter(
        version=1, created_by="migration"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("trees", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
