"""Tree-growth parameters as a validated, immutable value object.

The field names and defaults are those of Open-Assistant's ``TreeManagerConfiguration`` so an
operator who knows OA can read a Grove config at a glance. Grove adds two quality thresholds that
are off (``None``) by default. Pure Python: no Django import.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


class LabelWidget(enum.StrEnum):
    """How a text label is answered (OA ``LabelWidget``)."""

    yes_no = "yes_no"
    flag = "flag"
    likert = "likert"


# OA's ``TextLabel`` enum (protocol.py), name -> widget. Every label value is a float in [0, 1].
LABEL_WIDGETS: Mapping[str, LabelWidget] = {
    "spam": LabelWidget.yes_no,
    "fails_task": LabelWidget.yes_no,
    "lang_mismatch": LabelWidget.flag,
    "pii": LabelWidget.flag,
    "not_appropriate": LabelWidget.flag,
    "hate_speech": LabelWidget.flag,
    "sexual_content": LabelWidget.flag,
    "moral_judgement": LabelWidget.flag,
    "political_content": LabelWidget.flag,
    "quality": LabelWidget.likert,
    "toxicity": LabelWidget.likert,
    "humor": LabelWidget.likert,
    "helpfulness": LabelWidget.likert,
    "creativity": LabelWidget.likert,
    "violence": LabelWidget.likert,
}
KNOWN_LABELS: frozenset[str] = frozenset(LABEL_WIDGETS)
BOOLEAN_LABELS: frozenset[str] = frozenset(
    name for name, widget in LABEL_WIDGETS.items() if widget is not LabelWidget.likert
)
LIKERT_LABELS: frozenset[str] = KNOWN_LABELS - BOOLEAN_LABELS

_COMMON_LABELS = (
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
)
_ASSISTANT_LABELS = (
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
)


class ConfigError(ValueError):
    """Raised for an invalid configuration; ``errors`` maps each bad field to its problem."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors: dict[str, str] = dict(errors)
        super().__init__("; ".join(f"{name}: {msg}" for name, msg in sorted(self.errors.items())))


@dataclass(frozen=True)
class TreeManagerConfig:
    """All knobs of tree growth; see OA ``TreeManagerConfiguration`` for their origin."""

    max_active_trees: int = 10
    max_initial_prompt_review: int = 100
    max_tree_depth: int = 3
    max_children_count: int = 3
    num_prompter_replies: int = 1
    goal_tree_size: int = 12
    random_goal_tree_size: bool = False
    min_goal_tree_size: int = 5
    num_reviews_initial_prompt: int = 3
    num_reviews_reply: int = 3
    auto_mod_enabled: bool = True
    auto_mod_max_skip_reply: int = 25
    auto_mod_red_flags: int = 4
    p_full_labeling_review_prompt: float = 1.0
    p_full_labeling_review_reply_assistant: float = 1.0
    p_full_labeling_review_reply_prompter: float = 0.25
    acceptance_threshold_initial_prompt: float = 0.6
    acceptance_threshold_reply: float = 0.6
    num_required_rankings: int = 3
    p_activate_backlog_tree: float = 0.1
    min_active_rankings_per_lang: int = 0
    labels_initial_prompt: tuple[str, ...] = _COMMON_LABELS
    labels_assistant_reply: tuple[str, ...] = _ASSISTANT_LABELS
    labels_prompter_reply: tuple[str, ...] = _COMMON_LABELS
    mandatory_labels_initial_prompt: tuple[str, ...] = ("spam",)
    mandatory_labels_assistant_reply: tuple[str, ...] = ("spam",)
    mandatory_labels_prompter_reply: tuple[str, ...] = ("spam",)
    rank_prompter_replies: bool = False
    lonely_children_count: int = 2
    p_lonely_child_extension: float = 0.75
    recent_tasks_span_sec: int = 300
    max_pending_tasks_per_user: int = 8
    max_prompt_lottery_waiting: int = 250
    init_prompt_disabled_langs: str = ""
    # Grove's own quality gates, off by default.
    min_prompt_quality: float | None = field(default=None)
    """A reviewed prompt whose mean ``quality`` label is below this closes as aborted_low_grade."""
    min_reply_quality_for_extension: float | None = field(default=None)
    """A reply whose mean ``quality`` label is below this gets no children."""
    min_tree_quality: float | None = field(default=None)
    """A growing tree whose accepted replies' mean ``quality`` label is below this is closed
    early: it goes to ranking with what it holds (``shape.TreeShape.reply_quality``)."""
    # Grove's adaptive policies (core.sequential), off by default: OA's fixed counts apply.
    review_policy: str = "fixed"
    """``fixed`` (OA: num_reviews_* unweighted reviews) or ``sequential`` (stop once sure)."""
    min_reviews: int = 2
    """Sequential reviews: no decision on fewer reviews than this."""
    max_reviews: int = 5
    """Sequential reviews: decide by the more likely outcome at this many reviews."""
    review_confidence: float = 0.95
    """Sequential reviews: decide once the posterior of accept (or reject) reaches this."""
    review_prior_acceptable: float = 0.9
    """Sequential reviews: the prior probability that a new message is acceptable."""
    reviewer_reliability: bool = True
    """Sequential reviews: weight each verdict by the reviewer's estimated skill."""
    reviewer_prior_sensitivity: float = 0.9
    """Skill of a reviewer with no estimate: P(says acceptable | acceptable)."""
    reviewer_prior_specificity: float = 0.8
    """Skill of a reviewer with no estimate: P(says unacceptable | unacceptable)."""
    author_reliability: bool = True
    """Sequential reviews: a message's prior is its author's record (``author_prior``)."""
    max_author_prior: float = 0.96
    """Sequential reviews: an author's record never makes the prior higher than this."""
    capped_specificity_prior: bool = True
    """Reviewer reliability: a reviewer's specificity is held at no more than the sensitivity
    they show, not at ``reviewer_prior_specificity`` (``reliability.dawid_skene``)."""
    always_approver_prior: float = 0.05
    """Sequential reviews: the prior share of reviewers who approve everything; a reviewer's
    long run of approvals without one disapproval makes them likely that kind and their
    approvals weigh little (``reliability.always_approver_probability``). 0: not modelled."""
    first_review_min_informativeness: float = 0.0
    """Review routing: a reviewer whose estimated informativeness (``ReviewerSkill``, Youden's
    J) is below this is handed a message that already has a review when one is eligible, a
    first review only when none is (``policy.routed_reviews``). 0: off (OA)."""
    ranking_policy: str = "fixed"
    """``fixed`` (OA: num_required_rankings) or ``adaptive`` (stop once rankers agree)."""
    min_rankings: int = 2
    """Adaptive rankings: never fewer rankings per parent."""
    max_rankings: int = 5
    """Adaptive rankings: enough at this many, agreed or not."""
    ranking_agreement: float = 0.75
    """Adaptive rankings: enough once Kendall's W of the rankings reaches this."""
    selection_policy: str = "fixed"
    """``fixed`` (OA: a message to review, a parent to rank, drawn uniformly within its task
    category) or ``active`` (drawn in proportion to the expected information of its next
    review or ranking: ``core.sequential.review_information`` / ``ranking_information``)."""

    def __post_init__(self) -> None:
        for name in _LABEL_FIELDS:
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
            elif value is None:  # OA allows None for the mandatory lists: no mandatory label
                object.__setattr__(self, name, ())
        problems = _validate(self.to_dict())
        if problems:
            raise ConfigError(problems)

    @property
    def init_prompt_disabled_langs_list(self) -> list[str]:
        """The comma-separated ``init_prompt_disabled_langs`` as a list of language tags."""
        return [lang.strip() for lang in self.init_prompt_disabled_langs.split(",") if lang.strip()]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TreeManagerConfig:
        """Build a config from plain data; missing keys take defaults.

        Raises ``ConfigError`` listing every problem at once (unknown keys, wrong types,
        out-of-range values, cross-field rules).
        """
        unknown = {key: "unknown setting" for key in data if key not in _FIELD_TYPES}
        values = {**DEFAULT_CONFIG.to_dict(), **{k: v for k, v in data.items() if k not in unknown}}
        problems = {**unknown, **_validate(values)}
        if problems:
            raise ConfigError(problems)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able representation; ``from_dict(cfg.to_dict()) == cfg``."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def replace(self, **changes: Any) -> TreeManagerConfig:
        """A copy with some fields changed (validated like any config)."""
        return dataclasses.replace(self, **changes)


_LABEL_FIELDS = (
    "labels_initial_prompt",
    "labels_assistant_reply",
    "labels_prompter_reply",
    "mandatory_labels_initial_prompt",
    "mandatory_labels_assistant_reply",
    "mandatory_labels_prompter_reply",
)
_MANDATORY_OF = {
    "mandatory_labels_initial_prompt": "labels_initial_prompt",
    "mandatory_labels_assistant_reply": "labels_assistant_reply",
    "mandatory_labels_prompter_reply": "labels_prompter_reply",
}
# field -> (kind, minimum, maximum); kind is "int", "float", "optional_float", "bool", "str",
# "choice" (one of ``_CHOICES``) or "labels". Bounds are inclusive; None means unbounded,
# except that an "int" is at most MAX_INT_SETTING: trees copy sizes into integer columns, and
# spans become timedeltas.
MAX_INT_SETTING = 2**31 - 1  # PostgreSQL's integer
_FIELD_TYPES: dict[str, tuple[str, float | None, float | None]] = {
    "max_active_trees": ("int", 0, None),
    "max_initial_prompt_review": ("int", 0, None),
    "max_tree_depth": ("int", 1, None),
    "max_children_count": ("int", 1, None),
    "num_prompter_replies": ("int", 1, None),
    "goal_tree_size": ("int", 1, None),
    "random_goal_tree_size": ("bool", None, None),
    "min_goal_tree_size": ("int", 1, None),
    "num_reviews_initial_prompt": ("int", 1, None),
    "num_reviews_reply": ("int", 1, None),
    "auto_mod_enabled": ("bool", None, None),
    "auto_mod_max_skip_reply": ("int", 1, None),
    "auto_mod_red_flags": ("int", 1, None),
    "p_full_labeling_review_prompt": ("float", 0.0, 1.0),
    "p_full_labeling_review_reply_assistant": ("float", 0.0, 1.0),
    "p_full_labeling_review_reply_prompter": ("float", 0.0, 1.0),
    # acceptance = 1 - (mean spam + mean lang_mismatch) lies in [-1, 1]
    "acceptance_threshold_initial_prompt": ("float", -1.0, 1.0),
    "acceptance_threshold_reply": ("float", -1.0, 1.0),
    "num_required_rankings": ("int", 1, None),
    "p_activate_backlog_tree": ("float", 0.0, 1.0),
    "min_active_rankings_per_lang": ("int", 0, None),
    **dict.fromkeys(_LABEL_FIELDS, ("labels", None, None)),
    "rank_prompter_replies": ("bool", None, None),
    "lonely_children_count": ("int", 0, None),
    "p_lonely_child_extension": ("float", 0.0, 1.0),
    "recent_tasks_span_sec": ("int", 0, None),
    "max_pending_tasks_per_user": ("int", 1, None),
    "max_prompt_lottery_waiting": ("int", 0, None),
    "init_prompt_disabled_langs": ("str", None, None),
    "min_prompt_quality": ("optional_float", 0.0, 1.0),
    "min_reply_quality_for_extension": ("optional_float", 0.0, 1.0),
    "min_tree_quality": ("optional_float", 0.0, 1.0),
    "review_policy": ("choice", None, None),
    "min_reviews": ("int", 1, None),
    "max_reviews": ("int", 1, None),
    "review_confidence": ("float", 0.5, 1.0),
    "review_prior_acceptable": ("float", 0.01, 0.99),
    "reviewer_reliability": ("bool", None, None),
    "reviewer_prior_sensitivity": ("float", 0.5, 0.999),
    "reviewer_prior_specificity": ("float", 0.5, 0.999),
    "author_reliability": ("bool", None, None),
    "max_author_prior": ("float", 0.5, 0.999),
    "always_approver_prior": ("float", 0.0, 0.5),
    "capped_specificity_prior": ("bool", None, None),
    "first_review_min_informativeness": ("float", 0.0, 1.0),
    "ranking_policy": ("choice", None, None),
    "min_rankings": ("int", 1, None),
    "max_rankings": ("int", 1, None),
    "ranking_agreement": ("float", 0.0, 1.0),
    "selection_policy": ("choice", None, None),
}
# "choice" fields and the values they take.
_CHOICES: dict[str, tuple[str, ...]] = {
    "review_policy": ("fixed", "sequential"),
    "ranking_policy": ("fixed", "adaptive"),
    "selection_policy": ("fixed", "active"),
}


def choices_of(name: str) -> tuple[str, ...] | None:
    """The values a "choice" parameter takes (None for any other parameter)."""
    return _CHOICES.get(name)


def settings_schema() -> dict[str, Any]:
    """What a (partial) set of settings may hold, per field, as an OpenAPI 3.0 schema object
    (the API documents a config change with it), read from ``_FIELD_TYPES``. The cross-field
    rules of ``_validate`` (a minimum not above its maximum, mandatory labels among the
    labels) are not in it: a schema cannot state them."""
    return {
        "type": "object",
        "properties": {
            name: _value_schema(name, kind, lo, hi) for name, (kind, lo, hi) in _FIELD_TYPES.items()
        },
        "additionalProperties": False,
    }


def _value_schema(name: str, kind: str, lo: float | None, hi: float | None) -> dict[str, Any]:
    if kind == "bool":
        return {"type": "boolean"}
    if kind == "str":
        return {"type": "string"}
    if kind == "choice":
        return {"type": "string", "enum": list(_CHOICES[name])}
    if kind == "labels":
        labels = {"type": "string", "enum": sorted(KNOWN_LABELS)}
        listed = {"type": "array", "items": labels, "uniqueItems": True}
        return {**listed, "nullable": True} if name in _MANDATORY_OF else listed
    schema: dict[str, Any] = {"type": "integer" if kind == "int" else "number"}
    if kind == "int" and hi is None:
        hi = MAX_INT_SETTING
    if lo is not None:
        schema["minimum"] = lo
    if hi is not None:
        schema["maximum"] = hi
    if kind == "optional_float":
        schema["nullable"] = True
    return schema


def _check_value(
    name: str, kind: str, value: Any, lo: float | None, hi: float | None
) -> str | None:
    """Return a problem description for one value, or None when it is acceptable."""
    if kind == "bool":
        return None if isinstance(value, bool) else "must be a boolean"
    if kind == "str":
        return None if isinstance(value, str) else "must be a string"
    if kind == "labels":
        return _check_labels(name, value)
    if kind == "optional_float" and value is None:
        return None
    if isinstance(value, bool):
        return "must be a number, not a boolean"
    if kind == "int" and not isinstance(value, int):
        return "must be an integer"
    if kind == "int" and hi is None:
        hi = MAX_INT_SETTING
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "must be a finite number"
    if lo is not None and value < lo:
        return f"must be >= {lo}" if hi is None else f"must be between {lo} and {hi}"
    if hi is not None and value > hi:
        return f"must be between {lo} and {hi}"
    return None


def _check_choice(name: str, value: Any) -> str | None:
    if value in _CHOICES[name]:
        return None
    return f"must be one of: {', '.join(_CHOICES[name])}"


def _check_labels(name: str, value: Any) -> str | None:
    if value is None:  # OA allows None for the mandatory lists only
        return None if name in _MANDATORY_OF else "must be a list of label names"
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        return "must be a list of label names"
    unknown = sorted(set(value) - KNOWN_LABELS)
    if unknown:
        return f"unknown labels: {', '.join(unknown)}"
    if len(set(value)) != len(value):
        return "labels must not repeat"
    return None


def _validate(values: Mapping[str, Any]) -> dict[str, str]:
    """All problems of a full set of values: per-field first, then cross-field rules."""
    problems: dict[str, str] = {}
    for name, (kind, lo, hi) in _FIELD_TYPES.items():
        problem = (
            _check_choice(name, values.get(name))
            if kind == "choice"
            else _check_value(name, kind, values.get(name), lo, hi)
        )
        if problem:
            problems[name] = problem

    def usable(*names: str) -> bool:
        return not any(n in problems for n in names)

    if usable("min_goal_tree_size", "goal_tree_size") and (
        values["min_goal_tree_size"] > values["goal_tree_size"]
    ):
        problems["min_goal_tree_size"] = "must not exceed goal_tree_size"
    for low, high in (("min_reviews", "max_reviews"), ("min_rankings", "max_rankings")):
        if usable(low, high) and values[low] > values[high]:
            problems[low] = f"must not exceed {high}"
    for mandatory, allowed in _MANDATORY_OF.items():
        if usable(mandatory, allowed):
            extra = sorted(set(values[mandatory] or ()) - set(values[allowed]))
            if extra:
                problems[mandatory] = f"not in {allowed}: {', '.join(extra)}"
    return problems


DEFAULT_CONFIG = TreeManagerConfig()
