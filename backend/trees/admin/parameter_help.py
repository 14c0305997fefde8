"""What each tree-growth parameter does, for the people who tune it in the admin.

One entry per field of ``TreeManagerConfig``: its group on the form, what it does, its unit,
Open-Assistant's default (``None`` for Grove's own parameters) and what raising or lowering it
trades off. ``tests/db/test_admin_config_help.py`` fails when a parameter has no entry, so a
new parameter cannot reach the form undocumented.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SELECTION = "Selection weights"
REVIEW = "Review"
RANKING = "Ranking"
LOTTERY = "Lottery and activation"
LIMITS = "Tree shape and user limits"
QUALITY = "Quality and auto-moderation"
GROUPS: tuple[str, ...] = (SELECTION, REVIEW, RANKING, LOTTERY, LIMITS, QUALITY)

GROVE_ONLY = object()  # marks a parameter Open-Assistant does not have


@dataclass(frozen=True)
class ParameterHelp:
    group: str
    does: str
    unit: str
    oa_default: Any
    trade_off: str

    def text(self, default: Any) -> str:
        """The form field's help text, given Grove's default for the parameter."""
        if self.oa_default is GROVE_ONLY:
            oa = " (Grove only: Open-Assistant has no such parameter)"
        elif _same(self.oa_default, default):
            oa = " (as Open-Assistant's)"
        else:
            oa = f"; Open-Assistant's: {_shown(self.oa_default)}"
        return (
            f"{self.does} Unit: {self.unit}. Default: {_shown(default)}{oa}. "
            f"Trade-off: {self.trade_off}"
        )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return list(a) == list(b)
    return a == b


def _shown(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(value) if value else "(none)"
    if value is None:
        return "empty (off)"
    if value == "":
        return "empty"
    return repr(value)


_PROB = "probability, 0 to 1"
_SCORE = "acceptance score, -1 to 1 (1 minus the mean spam and lang_mismatch labels)"
_LABELS = "label names"
# OA's label lists (config.py), written out here so that a change of Grove's defaults shows.
_OA_COMMON_LABELS = (
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
_OA_ASSISTANT_LABELS = (
    *_OA_COMMON_LABELS[:2],
    "fails_task",
    "quality",
    "helpfulness",
    *_OA_COMMON_LABELS[3:],
)

PARAMETER_HELP: dict[str, ParameterHelp] = {
    # --- Selection weights -------------------------------------------------------------------
    "lonely_children_count": ParameterHelp(
        SELECTION,
        "A parent with some, but fewer than this many, live replies counts as 'lonely' and is "
        "preferred when a reply task is drawn (with p_lonely_child_extension).",
        "replies",
        2,
        "higher spreads replies so siblings appear sooner (ranking starts earlier); "
        "lower lets trees grow deeper before they grow wide.",
    ),
    "p_lonely_child_extension": ParameterHelp(
        SELECTION,
        "Chance that a reply task goes to a lonely parent (see lonely_children_count) rather "
        "than to any extendible parent.",
        _PROB,
        0.75,
        "higher completes sibling sets (rankable sooner); lower explores new branches.",
    ),
    "recent_tasks_span_sec": ParameterHelp(
        SELECTION,
        "Tasks handed out within this span still count: a user is not offered the same "
        "message again, and an unacknowledged task keeps its slot reserved this long.",
        "seconds",
        300,
        "longer avoids handing one slot to two users and counts more tasks as pending; "
        "shorter frees abandoned slots sooner.",
    ),
    # --- Review ------------------------------------------------------------------------------
    "num_reviews_initial_prompt": ParameterHelp(
        REVIEW,
        "Label reviews a new prompt needs before it is accepted or rejected.",
        "reviews",
        3,
        "more reviews give a surer verdict but cost volunteer time and slow new trees down.",
    ),
    "num_reviews_reply": ParameterHelp(
        REVIEW,
        "Label reviews a reply needs before it is accepted or rejected.",
        "reviews",
        3,
        "more reviews give a surer verdict but cost volunteer time and delay ranking.",
    ),
    "acceptance_threshold_initial_prompt": ParameterHelp(
        REVIEW,
        "A reviewed prompt whose acceptance score reaches this is accepted; below, its tree "
        "ends as aborted_low_grade.",
        _SCORE,
        0.6,
        "higher keeps only clean prompts but discards more work; lower accepts borderline ones.",
    ),
    "acceptance_threshold_reply": ParameterHelp(
        REVIEW,
        "A reviewed reply whose acceptance score reaches this is accepted (and can be ranked "
        "and answered); below, it is rejected.",
        _SCORE,
        0.6,
        "higher keeps only clean replies but discards more work; lower accepts borderline ones.",
    ),
    "p_full_labeling_review_prompt": ParameterHelp(
        REVIEW,
        "Chance that a prompt's review asks for every label rather than the mandatory ones only.",
        _PROB,
        1.0,
        "higher gathers richer labels; lower makes reviews quicker.",
    ),
    "p_full_labeling_review_reply_assistant": ParameterHelp(
        REVIEW,
        "Chance that an assistant reply's review asks for every label rather than the "
        "mandatory ones only.",
        _PROB,
        1.0,
        "higher gathers richer labels; lower makes reviews quicker.",
    ),
    "p_full_labeling_review_reply_prompter": ParameterHelp(
        REVIEW,
        "Chance that a prompter reply's review asks for every label rather than the "
        "mandatory ones only.",
        _PROB,
        0.25,
        "higher gathers richer labels; lower makes reviews quicker.",
    ),
    "labels_initial_prompt": ParameterHelp(
        REVIEW,
        "Labels offered in a full review of a prompt.",
        _LABELS,
        _OA_COMMON_LABELS,
        "more labels describe messages better but make each review longer.",
    ),
    "labels_assistant_reply": ParameterHelp(
        REVIEW,
        "Labels offered in a full review of an assistant reply.",
        _LABELS,
        _OA_ASSISTANT_LABELS,
        "more labels describe messages better but make each review longer.",
    ),
    "labels_prompter_reply": ParameterHelp(
        REVIEW,
        "Labels offered in a full review of a prompter reply.",
        _LABELS,
        _OA_COMMON_LABELS,
        "more labels describe messages better but make each review longer.",
    ),
    "mandatory_labels_initial_prompt": ParameterHelp(
        REVIEW,
        "Labels every prompt review must answer (a subset of labels_initial_prompt).",
        _LABELS,
        ("spam",),
        "more mandatory labels make every review longer; spam feeds the acceptance score.",
    ),
    "mandatory_labels_assistant_reply": ParameterHelp(
        REVIEW,
        "Labels every assistant-reply review must answer (a subset of labels_assistant_reply).",
        _LABELS,
        ("spam",),
        "more mandatory labels make every review longer; spam feeds the acceptance score.",
    ),
    "mandatory_labels_prompter_reply": ParameterHelp(
        REVIEW,
        "Labels every prompter-reply review must answer (a subset of labels_prompter_reply).",
        _LABELS,
        ("spam",),
        "more mandatory labels make every review longer; spam feeds the acceptance score.",
    ),
    # --- Ranking -----------------------------------------------------------------------------
    "num_required_rankings": ParameterHelp(
        RANKING,
        "Rankings each set of sibling replies needs before the consensus (ranked pairs) "
        "fixes their ranks.",
        "rankings",
        3,
        "more rankings give a steadier order but keep trees in ranking longer.",
    ),
    "rank_prompter_replies": ParameterHelp(
        RANKING,
        "Whether sibling prompter replies are ranked too (assistant replies always are).",
        "on/off",
        False,
        "on ranks more of each tree at the cost of many more ranking tasks.",
    ),
    "p_activate_backlog_tree": ParameterHelp(
        RANKING,
        "Chance that a tree waiting in backlog_ranking is moved to ranking each time another "
        "tree finishes.",
        _PROB,
        0.1,
        "higher ranks imported or paused trees sooner but takes rankers from growing trees.",
    ),
    "min_active_rankings_per_lang": ParameterHelp(
        RANKING,
        "When a tree finishes and a language has fewer trees in ranking than this, backlog "
        "trees of that language are activated until it has this many (0: off).",
        "trees per language",
        0,
        "higher always keeps ranking work available; 0 leaves the backlog to chance.",
    ),
    # --- Lottery and activation --------------------------------------------------------------
    "max_active_trees": ParameterHelp(
        LOTTERY,
        "Trees growing at once per language: the prompt lottery activates waiting prompts "
        "while fewer are active, and new-prompt tasks are offered for the free places.",
        "trees per language",
        10,
        "more trees give volunteers more choice but each one completes later.",
    ),
    "max_initial_prompt_review": ParameterHelp(
        LOTTERY,
        "Prompts that may wait for review at once per language; new-prompt tasks are offered "
        "for its free places (plus max_active_trees's).",
        "prompts per language",
        100,
        "higher collects more prompts; lower makes volunteers review before writing new ones.",
    ),
    "max_prompt_lottery_waiting": ParameterHelp(
        LOTTERY,
        "Accepted prompts that may wait for the lottery per language; beyond it, no new-prompt "
        "tasks are handed out.",
        "prompts per language",
        250,
        "higher keeps a larger pool to draw good prompts from; lower steers effort to replies.",
    ),
    "init_prompt_disabled_langs": ParameterHelp(
        LOTTERY,
        "Comma-separated language tags (e.g. 'en,de') in which no new-prompt tasks are "
        "handed out; existing trees keep growing.",
        "language tags",
        "",
        "lets a language with a full pool work through it, at the cost of fresh prompts.",
    ),
    # --- Tree shape and user limits ----------------------------------------------------------
    "max_tree_depth": ParameterHelp(
        LIMITS,
        "Deepest level a message may sit at (the prompt is depth 0); new trees copy it.",
        "levels",
        3,
        "deeper trees give longer conversations but fewer alternatives per turn.",
    ),
    "max_children_count": ParameterHelp(
        LIMITS,
        "Most live replies any message may have.",
        "replies",
        3,
        "more replies give richer rankings but more work per turn.",
    ),
    "num_prompter_replies": ParameterHelp(
        LIMITS,
        "Most prompter replies an assistant reply may have.",
        "replies",
        1,
        "more prompter replies branch conversations earlier and cost more assistant replies.",
    ),
    "goal_tree_size": ParameterHelp(
        LIMITS,
        "Messages a tree collects before it stops growing (the upper bound when "
        "random_goal_tree_size is on); new trees copy it.",
        "messages",
        12,
        "bigger trees hold more alternatives but take longer to finish.",
    ),
    "random_goal_tree_size": ParameterHelp(
        LIMITS,
        "Give each new tree a random goal size between min_goal_tree_size and goal_tree_size.",
        "on/off",
        False,
        "on mixes small and large trees (some finish quickly) at the cost of uneven data.",
    ),
    "min_goal_tree_size": ParameterHelp(
        LIMITS,
        "Smallest random goal size (used only with random_goal_tree_size).",
        "messages",
        5,
        "lower finishes some trees very quickly with few alternatives.",
    ),
    "max_pending_tasks_per_user": ParameterHelp(
        LIMITS,
        "Open tasks one user may hold within recent_tasks_span_sec; beyond it the user gets "
        "no task until one is answered, skipped or expires.",
        "tasks",
        8,
        "higher suits users with several tabs; lower stops one user from hoarding slots.",
    ),
    # --- Quality and auto-moderation ---------------------------------------------------------
    "auto_mod_enabled": ParameterHelp(
        QUALITY,
        "Turn automatic moderation (auto_mod_red_flags, auto_mod_max_skip_reply) on or off.",
        "on/off",
        True,
        "off leaves every flagged message to human moderators.",
    ),
    "auto_mod_red_flags": ParameterHelp(
        QUALITY,
        "Red flags at which a reply is deleted with its subtree, or a prompt's tree ends as "
        "aborted_low_grade.",
        "red flags",
        4,
        "lower removes bad content faster but lets a few users remove good content.",
    ),
    "auto_mod_max_skip_reply": ParameterHelp(
        QUALITY,
        "Reply-task skips on one message at which its tree is halted (halted_by_moderator).",
        "skips",
        25,
        "lower stops trees nobody wants to continue sooner, and halts some merely hard ones.",
    ),
    "min_prompt_quality": ParameterHelp(
        QUALITY,
        "A reviewed prompt whose mean quality label (reviews with a task only; free labels and "
        "reports do not count) is below this ends as aborted_low_grade even if accepted "
        "(empty: off).",
        "mean quality label, 0 to 1",
        GROVE_ONLY,
        "higher keeps only good prompts but discards more reviewed work.",
    ),
    "min_reply_quality_for_extension": ParameterHelp(
        QUALITY,
        "A reply whose mean quality label (reviews with a task only) is below this gets no "
        "replies of its own: the weak branch stops growing (empty: off).",
        "mean quality label, 0 to 1",
        GROVE_ONLY,
        "higher spends effort only on good branches and leaves trees smaller.",
    ),
    "min_tree_quality": ParameterHelp(
        QUALITY,
        "A growing tree whose quality score (the mean quality label of its accepted replies, "
        "from reviews with a task, once 3 replies have one) is below this is closed early: it "
        "goes to ranking and export with what it holds (empty: off).",
        "mean quality label, 0 to 1",
        GROVE_ONLY,
        "higher stops spending replies and reviews on weak trees and exports smaller ones.",
    ),
    # --- Adaptive review and ranking (core.sequential) -----------------------------------------
    "review_policy": ParameterHelp(
        REVIEW,
        "fixed: every message gets num_reviews_* reviews, decided by the acceptance score (OA). "
        "sequential: decide once the reviewers' weighted verdicts make the outcome sure "
        "(review_confidence), asking more reviewers only when they disagree.",
        "fixed or sequential",
        GROVE_ONLY,
        "sequential spends fewer reviews on clear cases and more on disputed ones.",
    ),
    "min_reviews": ParameterHelp(
        REVIEW,
        "Sequential review: no message is decided on fewer reviews.",
        "reviews",
        GROVE_ONLY,
        "higher is safer against a single careless reviewer; lower saves reviews.",
    ),
    "max_reviews": ParameterHelp(
        REVIEW,
        "Sequential review: at this many reviews the more likely outcome is taken.",
        "reviews",
        GROVE_ONLY,
        "higher settles disputes better; lower bounds the cost of a disputed message.",
    ),
    "review_confidence": ParameterHelp(
        REVIEW,
        "Sequential review: decide once the posterior of accept (or of reject) reaches this.",
        _PROB,
        GROVE_ONLY,
        "higher: fewer wrong decisions, more reviews per message. Measured with 30 % noisy "
        "volunteers (bench/README.md, 4 seeds): 0.98 with min_reviews 1 and "
        "first_review_min_informativeness 0.5 needs 31 % fewer answers than OA, keeps 99.7 % "
        "of good messages against OA's 96.9 % and rejects 93 % of spam against OA's 95 % "
        "(the intervals overlap); without routing 89 % at 30 % fewer, and 0.995 rejects 98 % "
        "at 12 % fewer.",
    ),
    "review_prior_acceptable": ParameterHelp(
        REVIEW,
        "Sequential review: how likely a new message is acceptable before any review.",
        _PROB,
        GROVE_ONLY,
        "higher accepts on less evidence; set it near the share of messages accepted.",
    ),
    "reviewer_reliability": ParameterHelp(
        REVIEW,
        "Sequential review: weight each verdict by its reviewer's estimated skill "
        "(estimate_reviewer_reliability, a periodic job); off: everyone counts as the prior.",
        "on/off",
        GROVE_ONLY,
        "on discounts spammers and careless reviewers; off treats all reviewers alike.",
    ),
    "reviewer_prior_sensitivity": ParameterHelp(
        REVIEW,
        "Skill assumed for a reviewer without an estimate: chance they call an acceptable "
        "message acceptable.",
        _PROB,
        GROVE_ONLY,
        "higher trusts newcomers' approvals more.",
    ),
    "reviewer_prior_specificity": ParameterHelp(
        REVIEW,
        "Skill assumed for a reviewer without an estimate: chance they call a bad message bad.",
        _PROB,
        GROVE_ONLY,
        "higher trusts newcomers' rejections more.",
    ),
    "author_reliability": ParameterHelp(
        REVIEW,
        "Sequential review: start each message from its author's record instead of "
        "review_prior_acceptable: the share of their reviewed messages judged acceptable "
        "(estimate_reviewer_reliability), shrunk toward review_prior_acceptable, at most "
        "max_author_prior. A spam writer's next message needs more agreeing reviews, a "
        "trusted author's less.",
        "on/off",
        GROVE_ONLY,
        "on catches more spam from spam writers and spends fewer reviews on trusted authors.",
    ),
    "max_author_prior": ParameterHelp(
        REVIEW,
        "Sequential review: the highest prior an author's record can give their message. "
        "Keep it below review_confidence so that one informative approval is still needed.",
        _PROB,
        GROVE_ONLY,
        "higher accepts trusted authors' messages on weaker approvals (one careless "
        "reviewer's); lower asks them for more reviews.",
    ),
    "capped_specificity_prior": ParameterHelp(
        REVIEW,
        "Reviewer reliability: hold a reviewer's estimated chance of calling a bad message bad "
        "at no more than their chance of calling a good message good, instead of at "
        "reviewer_prior_specificity, until they have judged bad messages themselves.",
        "on/off",
        GROVE_ONLY,
        "on gives careless reviewers' approvals their due (small) weight sooner; off trusts "
        "every reviewer's approvals as the prior does until spam proves otherwise.",
    ),
    "always_approver_prior": ParameterHelp(
        REVIEW,
        "Sequential review: the share of reviewers assumed to approve everything. A reviewer "
        "who has approved a long run of messages without one disapproval is then likely such "
        "a reviewer, and their approvals weigh little (Reviewer reliabilities: disapprovals). "
        "0 leaves them out of the model.",
        "share of reviewers",
        GROVE_ONLY,
        "higher catches careless approvers sooner, and asks a second review of engaged "
        "reviewers who have not disapproved anything yet; 0 lets a careless approver accept "
        "messages alone (bench/README.md).",
    ),
    "first_review_min_informativeness": ParameterHelp(
        REVIEW,
        "Review routing: a reviewer whose estimated skill at telling good from bad (sensitivity "
        "+ specificity - 1, discounted by the chance they approve everything) is below this is "
        "handed a message someone has reviewed already whenever one is open to them, and a "
        "message's first review only when nothing else is. Meant for sequential review, where "
        "a first review alone can decide. 0 turns it off.",
        "skill, 0 to 1",
        GROVE_ONLY,
        "higher leaves more first reviews, the ones that most often decide alone, to skilled "
        "reviewers; the category of task drawn is unchanged. 0.5 with sequential review "
        "(min_reviews 1, review_confidence 0.98) is what bench/README.md measures against 0: "
        "the same answers per tree, more spam rejected (93 % against 89 % with 30 % noisy "
        "volunteers, 98 % against 93 % with mostly reliable ones; 4 seeds).",
    ),
    "ranking_policy": ParameterHelp(
        RANKING,
        "fixed: every parent gets num_required_rankings rankings (OA). adaptive: stop once "
        "the rankers agree (ranking_agreement), asking more only when they do not.",
        "fixed or adaptive",
        GROVE_ONLY,
        "adaptive spends fewer rankings on clear orders and more on disputed ones.",
    ),
    "min_rankings": ParameterHelp(
        RANKING,
        "Adaptive rankings: no parent is scored on fewer rankings.",
        "rankings",
        GROVE_ONLY,
        "higher is safer against one careless ranker; lower saves rankings.",
    ),
    "max_rankings": ParameterHelp(
        RANKING,
        "Adaptive rankings: at this many rankings a parent is scored, agreed or not.",
        "rankings",
        GROVE_ONLY,
        "higher settles disputed orders better; lower bounds their cost.",
    ),
    "ranking_agreement": ParameterHelp(
        RANKING,
        "Adaptive rankings: enough once Kendall's W of the parent's rankings reaches this "
        "(1: identical orders, 0: no agreement).",
        "Kendall's W, 0 to 1",
        GROVE_ONLY,
        "higher asks more rankings for a surer order.",
    ),
    "selection_policy": ParameterHelp(
        SELECTION,
        "Which message to review or parent to rank next, within the task kind drawn with "
        "OA's weights. fixed: uniformly (OA). active: in proportion to the expected "
        "information of the next answer: a message whose acceptance is most in doubt (the "
        "posterior its last review decision left), a parent whose rankers disagree most "
        "(1 - Kendall's W), ahead of those nearly settled. The weight is written with the "
        "ready work when a decision runs; a switch applies to the next task request.",
        "fixed or active",
        GROVE_ONLY,
        "active spends the next answers where they tell most; measured in bench/README.md "
        "(label efficiency: active selection).",
    ),
}


def help_text(name: str, default: Any) -> str:
    """The help text of parameter ``name``; only its default when it has no entry (a test
    forbids that)."""
    entry = PARAMETER_HELP.get(name)
    return entry.text(default) if entry else f"Default: {_shown(default)}."


def grouped(names: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """``names`` by group, in GROUPS order; names without an entry come last, under "Other"."""
    groups = [(group, [n for n in names if _group(n) == group]) for group in GROUPS]
    other = [n for n in names if _group(n) is None]
    return [(g, members) for g, members in groups if members] + (
        [("Other", other)] if other else []
    )


def _group(name: str) -> str | None:
    entry = PARAMETER_HELP.get(name)
    return entry.group if entry else None
