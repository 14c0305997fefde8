import dataclasses
import json

import pytest

from backend.trees.core.config import (
    BOOLEAN_LABELS,
    DEFAULT_CONFIG,
    KNOWN_LABELS,
    LIKERT_LABELS,
    ConfigError,
    TreeManagerConfig,
    settings_schema,
)

OA_DEFAULTS = {
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
    "rank_prompter_replies": False,
    "lonely_children_count": 2,
    "p_lonely_child_extension": 0.75,
    "recent_tasks_span_sec": 300,
    "max_pending_tasks_per_user": 8,
    "max_prompt_lottery_waiting": 250,
    "init_prompt_disabled_langs": "",
    "mandatory_labels_initial_prompt": ["spam"],
    "mandatory_labels_assistant_reply": ["spam"],
    "mandatory_labels_prompter_reply": ["spam"],
}


@pytest.mark.parametrize(("name", "value"), OA_DEFAULTS.items())
def test_default_matches_open_assistant(name, value):
    assert DEFAULT_CONFIG.to_dict()[name] == value


def test_grove_quality_gates_are_off_by_default():
    assert DEFAULT_CONFIG.min_prompt_quality is None
    assert DEFAULT_CONFIG.min_reply_quality_for_extension is None


def test_assistant_labels_add_fails_task_and_helpfulness_to_prompt_labels():
    extra = set(DEFAULT_CONFIG.labels_assistant_reply) - set(DEFAULT_CONFIG.labels_initial_prompt)
    assert extra == {"fails_task", "helpfulness"}
    assert DEFAULT_CONFIG.labels_prompter_reply == DEFAULT_CONFIG.labels_initial_prompt


def test_known_labels_are_split_into_boolean_and_likert():
    assert BOOLEAN_LABELS | LIKERT_LABELS == KNOWN_LABELS
    assert not BOOLEAN_LABELS & LIKERT_LABELS
    assert {"spam", "lang_mismatch", "pii"} <= BOOLEAN_LABELS
    assert {"quality", "helpfulness", "violence"} <= LIKERT_LABELS


def test_to_dict_is_json_and_round_trips():
    data = json.loads(json.dumps(DEFAULT_CONFIG.to_dict()))
    assert TreeManagerConfig.from_dict(data) == DEFAULT_CONFIG


def test_from_dict_fills_missing_keys_with_defaults():
    config = TreeManagerConfig.from_dict({"goal_tree_size": 20})
    assert config.goal_tree_size == 20
    assert config.max_tree_depth == 3


def test_unknown_key_is_rejected():
    with pytest.raises(ConfigError) as exc:
        TreeManagerConfig.from_dict({"goal_size": 3})
    assert exc.value.errors == {"goal_size": "unknown setting"}


def test_bool_is_not_accepted_as_int():
    with pytest.raises(ConfigError) as exc:
        TreeManagerConfig.from_dict({"max_tree_depth": True})
    assert "max_tree_depth" in exc.value.errors


def test_int_is_not_accepted_as_bool():
    with pytest.raises(ConfigError) as exc:
        TreeManagerConfig.from_dict({"auto_mod_enabled": 1})
    assert "auto_mod_enabled" in exc.value.errors


def test_float_field_accepts_int():
    assert TreeManagerConfig.from_dict({"p_activate_backlog_tree": 1}).p_activate_backlog_tree == 1


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), "0.5"])
def test_probability_outside_unit_interval_is_rejected(value):
    with pytest.raises(ConfigError) as exc:
        TreeManagerConfig.from_dict({"p_lonely_child_extension": value})
    assert "p_lonely_child_extension" in exc.value.errors


def test_zero_required_reviews_is_rejected():
    with pytest.raises(ConfigError) as exc:
        TreeManagerConfig.from_dict({"num_reviews_reply": 0})
    assert "num_reviews_reply" in exc.value.errors


def test_all_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as exc:
        TreeManagerConfig.from_dict(
            {"max_children_count": 0, "p_activate_backlog_tree": 2.0, "bogus": 1}
        )
    assert set(exc.value.errors) == {"max_children_count", "p_activate_backlog_tree", "bogus"}


def test_min_goal_tree_size_may_not_exceed_goal_tree_size():
    with pytest.raises(ConfigError) as exc:
        TreeManagerConfig.from_dict({"goal_tree_size": 4, "min_goal_tree_size": 5})
    assert "min_goal_tree_size" in exc.value.errors


def test_unknown_label_name_is_rejected():
    with pytest.raises(ConfigError) as exc:
        TreeManagerConfig.from_dict({"labels_initial_prompt": ["spam", "sarcasm"]})
    assert "sarcasm" in exc.value.errors["labels_initial_prompt"]


def test_mandatory_labels_must_be_valid_labels():
    with pytest.raises(ConfigError) as exc:
        TreeManagerConfig.from_dict({"mandatory_labels_prompter_reply": ["spam", "fails_task"]})
    assert "fails_task" in exc.value.errors["mandatory_labels_prompter_reply"]


def test_none_mandatory_labels_mean_none_are_mandatory():
    config = TreeManagerConfig.from_dict({"mandatory_labels_initial_prompt": None})
    assert config.mandatory_labels_initial_prompt == ()


def test_quality_gate_accepts_none_or_unit_interval():
    assert TreeManagerConfig.from_dict({"min_prompt_quality": 0.4}).min_prompt_quality == 0.4
    with pytest.raises(ConfigError):
        TreeManagerConfig.from_dict({"min_reply_quality_for_extension": 1.2})


def test_direct_construction_is_validated_too():
    with pytest.raises(ConfigError):
        TreeManagerConfig(max_tree_depth=0)


def test_replace_validates_the_copy():
    assert DEFAULT_CONFIG.replace(goal_tree_size=7).goal_tree_size == 7
    with pytest.raises(ConfigError):
        DEFAULT_CONFIG.replace(goal_tree_size=3)  # below min_goal_tree_size 5


def test_config_is_immutable():
    with pytest.raises(AttributeError):
        DEFAULT_CONFIG.goal_tree_size = 3  # type: ignore[misc]


def test_disabled_langs_are_parsed_from_comma_separated_text():
    config = TreeManagerConfig.from_dict({"init_prompt_disabled_langs": "de, fr,,es "})
    assert config.init_prompt_disabled_langs_list == ["de", "fr", "es"]


def test_the_settings_schema_states_every_setting_and_refuses_others():
    schema = settings_schema()
    assert set(schema["properties"]) == {f.name for f in dataclasses.fields(TreeManagerConfig)}
    assert schema["additionalProperties"] is False
    assert schema["properties"]["max_tree_depth"]["minimum"] == 1
    assert schema["properties"]["review_policy"]["enum"] == ["fixed", "sequential"]


@pytest.mark.parametrize("name", ["labels_initial_prompt", "labels_prompter_reply"])
def test_a_label_list_may_not_be_null_only_a_mandatory_list_may(name):
    with pytest.raises(ConfigError) as refused:
        TreeManagerConfig.from_dict({name: None})
    assert name in refused.value.errors
    assert TreeManagerConfig.from_dict({"mandatory_labels_prompter_reply": None})


def test_tree_quality_gate_is_off_by_default_and_bounded():
    assert DEFAULT_CONFIG.min_tree_quality is None
    assert TreeManagerConfig.from_dict({"min_tree_quality": 0.35}).min_tree_quality == 0.35
    with pytest.raises(ConfigError):
        TreeManagerConfig.from_dict({"min_tree_quality": -0.1})
