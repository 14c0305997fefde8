"""Conversation trees, their messages, the tasks handed out on them, and what users send back.

Rows the v1 protocol refers to (trees, messages, tasks) have UUID primary keys. Indexes are
chosen for the queries the tree engine runs on every task request: the review queue, the
extendible parents of growing trees, incomplete rankings and a user's pending tasks.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Random
from django.utils import timezone

from backend.accounts.models import ApiClient, User
from backend.trees.core.task_kinds import CATEGORY_NUMBER, KINDS_OF_CATEGORY

# Open-Assistant's tree states, spelled as on the wire (lifecycle.TreeState is the same set).
TREE_STATE_CHOICES = [
    ("initial_prompt_review", "initial prompt review"),
    ("prompt_lottery_waiting", "prompt lottery waiting"),
    ("growing", "growing"),
    ("ranking", "ranking"),
    ("ready_for_scoring", "ready for scoring"),
    ("ready_for_export", "ready for export"),
    ("scoring_failed", "scoring failed"),
    ("aborted_low_grade", "aborted low grade"),
    ("halted_by_moderator", "halted by moderator"),
    ("backlog_ranking", "backlog ranking"),
]


class Role(models.TextChoices):
    PROMPTER = "prompter"
    ASSISTANT = "assistant"


class MessageTree(models.Model):
    """A tree's state and growth limits. Its id is the id of its initial prompt (as in OA)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    state = models.CharField(max_length=32, choices=TREE_STATE_CHOICES)
    goal_tree_size = models.PositiveIntegerField()
    max_depth = models.PositiveIntegerField()
    max_children_count = models.PositiveIntegerField()
    lang = models.CharField(max_length=32)
    origin = models.CharField(max_length=1024, blank=True, default="")
    active = models.BooleanField(default=True)
    won_prompt_lottery_date = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=[value for value, _ in TREE_STATE_CHOICES]),
                name="tree_state_valid",
            ),
            models.CheckConstraint(condition=Q(goal_tree_size__gte=1), name="tree_goal_size_pos"),
        ]
        indexes = [
            models.Index(fields=["state", "lang", "active"], name="tree_state_lang"),
            models.Index(fields=["lang", "state", "created_at"], name="tree_lang_state_created"),
        ]

    def __str__(self) -> str:
        return f"tree {self.id} [{self.state}]"


class PendingAdvance(models.Model):
    """A tree owed a run of ``advance_tree``: the transactional outbox of the advance job.

    ``enqueue_advance`` writes one in the transaction of the change that needs the advance
    (a completed review or ranking, a moderation), so the debt commits with the change even
    when the job cannot be sent; ``advance_tree`` deletes a tree's rows once it holds the
    tree's lock, and the due sweep (``advance_due_trees``, every few seconds on beat) runs the
    trees whose rows are older than a few seconds. An insert, not an update of the tree row:
    concurrent answers on one tree never queue behind each other or behind a running advance.
    """

    tree = models.ForeignKey(MessageTree, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="pending_advance_created")]

    def __str__(self) -> str:
        return f"advance of {self.tree_id} due since {self.created_at}"


class Message(models.Model):
    """One prompt or reply. ``review_result`` is None while under review."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    message_tree = models.ForeignKey(MessageTree, on_delete=models.CASCADE, related_name="messages")
    # Foreign keys without an index of their own where a composite index leads with the same
    # column and serves every lookup by it (``message_children_by_user``,
    # ``message_user_created``, ``message_frontend_id_unique``): each message written paid for
    # three more indexes.
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        db_index=False,
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    text = models.TextField()
    lang = models.CharField(max_length=32)
    depth = models.PositiveIntegerField(default=0)
    children_count = models.PositiveIntegerField(default=0)
    review_count = models.PositiveIntegerField(default=0)
    review_result = models.BooleanField(null=True, blank=True)
    ranking_count = models.PositiveIntegerField(default=0)
    rank = models.PositiveIntegerField(null=True, blank=True)
    # What an adaptive decision asked for (core.sequential): reviews of this message, rankings
    # of its replies; null while nothing beyond the policy's minimum was asked.
    reviews_asked = models.PositiveSmallIntegerField(null=True, blank=True)
    rankings_asked = models.PositiveSmallIntegerField(null=True, blank=True)
    # What that decision read (active selection weights the next review or ranking by it):
    # P(acceptable) of an undecided review, Kendall's W of the rankings of its replies.
    review_posterior = models.FloatField(null=True, blank=True)
    ranking_agreement = models.FloatField(null=True, blank=True)
    deleted = models.BooleanField(default=False)
    synthetic = models.BooleanField(default=False)
    edited = models.BooleanField(default=False)
    model_name = models.CharField(max_length=1024, blank=True, default="")
    emojis = models.JSONField(default=dict, blank=True)
    user = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="messages", db_index=False
    )
    api_client = models.ForeignKey(
        ApiClient, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    task = models.ForeignKey(
        "Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    frontend_message_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["api_client", "frontend_message_id"], name="message_frontend_id_unique"
            ),
            models.CheckConstraint(
                condition=(Q(parent__isnull=True) & Q(depth=0))
                | (Q(parent__isnull=False) & Q(depth__gte=1)),
                name="message_depth_matches_parent",
            ),
            models.CheckConstraint(
                condition=Q(parent__isnull=False) | Q(role="prompter"),
                name="message_root_is_prompter",
            ),
            models.CheckConstraint(
                condition=Q(role__in=["prompter", "assistant"]), name="message_role_valid"
            ),
        ]
        indexes = [
            # Review queue: pending messages of a language, oldest first.
            models.Index(
                fields=["lang", "depth", "created_at"],
                condition=Q(review_result__isnull=True, deleted=False),
                name="message_review_queue",
            ),
            # Extendible parents and ranking candidates inside active trees.
            models.Index(
                fields=["message_tree", "depth"],
                condition=Q(review_result=True, deleted=False),
                name="message_accepted_by_tree",
            ),
            # A parent's children, and whether a user already answered the parent (the task
            # request's anti-join, per ready-work row read): both columns bound, whatever the
            # statistics. (parent, review_result) left the planner of a table not analyzed yet
            # to pick message_user_created for that check, every message of the user read per
            # row (EXPLAIN after a 16-client run: 695 buffers a task request; 312 with this).
            models.Index(fields=["parent", "user"], name="message_children_by_user"),
            models.Index(fields=["user", "created_at"], name="message_user_created"),
            models.Index(fields=["created_at"], name="message_created"),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.id}"


class MessageRevision(models.Model):
    """The text a message had before an edit; the newest text stays on the message."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="revisions")
    text = models.TextField()
    user = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]


class Task(models.Model):
    """A unit of work handed to one user: reply, label or rank, with its wire payload."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    payload_type = models.CharField(max_length=64)
    payload = models.JSONField()
    # ``task_user_created`` and ``task_user_node`` lead with the user: no index of its own.
    user = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tasks",
        db_index=False,
    )
    # No index of its own: ``task_frontend_message`` (api_client, frontend_message_id) serves
    # every lookup by client. With both, a table not analyzed yet (a new deployment) had the
    # ack's statement read every task of the client through the one-column index, twice
    # (EXPLAIN: 760 rows filtered for 1, 1.35 ms; 0.38 ms without it), and each task
    # written paid for one more index.
    api_client = models.ForeignKey(
        ApiClient, on_delete=models.PROTECT, related_name="tasks", db_index=False
    )
    frontend_message_id = models.CharField(max_length=200, blank=True, default="")
    message_tree = models.ForeignKey(
        MessageTree, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    parent_message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    ack = models.BooleanField(null=True, blank=True)
    done = models.BooleanField(default=False)
    skipped = models.BooleanField(default=False)
    skip_reason = models.CharField(max_length=512, blank=True, default="")
    # True only for the user's own skip (nack): the node is then never offered to them again.
    # Grove's closes (expiry, a pushed task returned) set ``skipped`` alone; the free-text
    # ``skip_reason`` cannot tell them apart (a user may type "expired").
    skipped_by_user = models.BooleanField(default=False, db_default=False)
    collective = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    expiry_date = models.DateTimeField(null=True, blank=True)
    # Until when the task holds its slot: ``recent_tasks_span_sec`` after it is handed out,
    # its validity once acked. A task past its lease may still be answered; it just no longer
    # keeps others off its node.
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~(Q(done=True) & Q(skipped=True)), name="task_not_done_and_skipped"
            ),
        ]
        indexes = [
            # A user's recent tasks (the user's history, the recent-task exclusions).
            models.Index(fields=["user", "created_at"], name="task_user_created"),
            # A user's pending tasks (max_pending_tasks_per_user): the open ones only. Counted
            # from task_user_created, a request read every task the user had within
            # recent_tasks_span_sec, open or not (a benchmark volunteer's hundreds), twice.
            # "user_id IS NOT NULL" keeps the lease counts off it (their conditions imply the
            # rest): on statistics that saw no open task they scanned it whole instead of
            # task_lease_by_tree (tests/db/test_claim_plans.py).
            models.Index(
                fields=["user", "created_at"],
                condition=Q(done=False, skipped=False, user__isnull=False),
                name="task_user_open",
            ),
            models.Index(
                fields=["api_client", "frontend_message_id"], name="task_frontend_message"
            ),
            # Open tasks by expiry, for the expiry sweep. "expiry_date IS NOT NULL" keeps the
            # lease counts off it: their conditions imply "NOT done", and at OA's scale, with
            # statistics that see almost no open task, PostgreSQL probed this index (every
            # open task) once per ready-work row instead of task_lease_by_node: 188 ms for the
            # task request's read, 400 open tasks (EXPLAIN ANALYZE on seed_scale --scale 1.0).
            models.Index(
                fields=["expiry_date"],
                condition=Q(done=False, expiry_date__isnull=False),
                name="task_open_expiring",
            ),
            # Live leases per node and kind, and per tree (the goal counts claimed replies).
            models.Index(
                fields=["parent_message", "payload_type", "lease_until"],
                condition=Q(done=False, skipped=False),
                name="task_lease_by_node",
            ),
            models.Index(
                fields=["message_tree", "payload_type", "lease_until"],
                condition=Q(done=False, skipped=False),
                name="task_lease_by_tree",
            ),
            # Per-user exclusions: what this user was handed on a node (skips, recent tasks).
            models.Index(fields=["user", "parent_message", "payload_type"], name="task_user_node"),
        ]

    def __str__(self) -> str:
        return f"{self.payload_type} {self.id}"


_KINDS_BY_CATEGORY_NUMBER = {
    CATEGORY_NUMBER[category]: [kind.value for kind in kinds]
    for category, kinds in KINDS_OF_CATEGORY.items()
}


class ReadyWork(models.Model):
    """Work that can be handed out now: the ready-work index.

    One row per node and task kind (a message to review, a parent to answer, a parent whose
    replies to rank) while the node offers ``slots`` of that work, plus one ``initial_prompt``
    row per language (``slots`` = prompts missing). ``backend.trees.ready_work`` keeps it in the
    same transaction as every change that affects it and can rebuild it from the trees; a task
    request reads it and claims one slot (open tasks' leases are subtracted at claim time).
    """

    lang = models.CharField(max_length=32)
    kind = models.CharField(max_length=32)
    # ``ready_work_tree`` (tree, kind) serves every lookup by tree: no index of its own.
    tree = models.ForeignKey(
        MessageTree,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    # ``ready_work_node`` (node, kind) WHERE node IS NOT NULL serves every lookup by node (a
    # lookup by node = x implies the condition): no index of its own.
    node = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    slots = models.PositiveIntegerField()
    # Replies only: messages the tree still takes before its goal size (shared by its parents).
    tree_room = models.PositiveIntegerField(null=True, blank=True)
    author_id = models.UUIDField(null=True, blank=True)
    child_count = models.PositiveIntegerField(default=0)
    child_ids = models.JSONField(default=list, blank=True)
    # The expected information of the node's next review or ranking (core.shape.WorkItem's
    # weight), written with the row; the active selection policy draws by it.
    weight = models.FloatField(default=1.0)
    # Review rows: the message's reviews so far (first-review routing, core.policy).
    reviews = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
    # The row's place in a random order of its language and category: a task request reads
    # the first eligible rows from a random point of it (an index scan that stops when it
    # has enough, ``work_queries.eligible``), and a claim moves the row to a new random place.
    draw = models.FloatField(db_default=Random())
    # The task category of ``kind`` as a number (``core.task_kinds.CATEGORY_NUMBER``).
    category = models.GeneratedField(
        expression=Case(
            *(
                When(kind__in=kinds, then=Value(number))
                for number, kinds in _KINDS_BY_CATEGORY_NUMBER.items()
            ),
            default=Value(-1),
        ),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )

    class Meta:
        verbose_name_plural = "ready work"
        constraints = [
            models.UniqueConstraint(
                fields=["node", "kind"], condition=Q(node__isnull=False), name="ready_work_node"
            ),
            models.UniqueConstraint(
                fields=["lang", "kind"], condition=Q(node__isnull=True), name="ready_work_lang"
            ),
        ]
        indexes = [
            models.Index(fields=["tree", "kind"], name="ready_work_tree"),
            # The sampled read: a language's category, or one kind, in random order
            # (``draw``). Not partial ("slots > 0"): the read is a prepared statement whose
            # generic plan sees "slots > $1", which proves no partial index's condition, so
            # PostgreSQL planned it afresh on every call (10.5 ms of planning at OA's scale).
            models.Index(fields=["lang", "category", "draw"], name="ready_work_category_draw"),
            models.Index(fields=["lang", "kind", "draw"], name="ready_work_kind_draw"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.node_id or self.lang} ({self.slots})"


class TextLabels(models.Model):
    """One user's labels on one message (a review when it comes from a label task)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="text_labels")
    # ``text_labels_user`` (user, created_at) serves every lookup by user.
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="text_labels", db_index=False
    )
    api_client = models.ForeignKey(ApiClient, on_delete=models.PROTECT, related_name="+")
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.SET_NULL)
    labels = models.JSONField(help_text="label name -> value in [0, 1]")
    text = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "text labels"
        constraints = [
            # A user reviews a message through a task at most once; report labels are free.
            models.UniqueConstraint(
                fields=["message", "user"],
                condition=Q(task__isnull=False),
                name="text_labels_one_review_per_user",
            ),
        ]
        indexes = [models.Index(fields=["user", "created_at"], name="text_labels_user")]


class ReactionType(models.TextChoices):
    RATING = "RatingReactionPayload"
    RANKING = "RankingReactionPayload"


class MessageReaction(models.Model):
    """A rating of a message or a ranking of a parent's children (``message`` is the parent)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.OneToOneField(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="reaction"
    )
    # ``reaction_once_per_user`` and ``reaction_user`` lead with these: no index of their own.
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="reactions", db_index=False
    )
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="reactions", db_index=False
    )
    api_client = models.ForeignKey(ApiClient, on_delete=models.PROTECT, related_name="+")
    payload_type = models.CharField(max_length=64, choices=ReactionType.choices)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["message", "user", "payload_type"], name="reaction_once_per_user"
            ),
        ]
        indexes = [models.Index(fields=["user", "created_at"], name="reaction_user")]


class MessageEmoji(models.Model):
    """An emoji reaction (+1, -1, red_flag, ...); counts are kept on ``Message.emojis``."""

    # ``emoji_once`` (message, user, emoji) leads with the message: no index of its own.
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="emoji_rows", db_index=False
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="emojis")
    emoji = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "message emojis"
        constraints = [
            models.UniqueConstraint(fields=["message", "user", "emoji"], name="emoji_once"),
        ]


class FlaggedMessage(models.Model):
    """A message reported for moderation, until an admin marks it processed."""

    message = models.OneToOneField(
        Message, primary_key=True, on_delete=models.CASCADE, related_name="flag"
    )
    processed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["processed", "created_at"], name="flagged_queue")]


class JournalEntry(models.Model):
    """Audit of every state change. Ids are plain values so entries outlive what they name."""

    event_type = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    message_tree_id = models.UUIDField(null=True, blank=True)
    message_id = models.UUIDField(null=True, blank=True)
    user_id = models.UUIDField(null=True, blank=True)
    api_client_id = models.UUIDField(null=True, blank=True)
    actor = models.CharField(max_length=256, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "journal entries"
        ordering = ["id"]
        indexes = [
            models.Index(fields=["message_tree_id", "id"], name="journal_tree"),
            models.Index(fields=["event_type", "created_at"], name="journal_event"),
        ]


class TreeGrowthConfig(models.Model):
    """One version of the tree-growth parameters; exactly one version is active.

    Changes never edit a row: they add a version (with who and when) and move ``is_active``.
    """

    version = models.PositiveIntegerField(unique=True)
    values = models.JSONField()
    is_active = models.BooleanField(default=False)
    created_by = models.CharField(max_length=256)
    comment = models.CharField(max_length=1024, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_config"
            ),
        ]

    def __str__(self) -> str:
        return f"config v{self.version}{' (active)' if self.is_active else ''}"


class ReviewerReliability(models.Model):
    """A reviewer's estimated skill (``core.reliability``, two-coin Dawid-Skene), written by
    the ``estimate_reviewer_reliability`` job; the sequential review policy weights their
    verdicts by it. Read-only in the admin."""

    user = models.OneToOneField(
        User, primary_key=True, on_delete=models.CASCADE, related_name="review_reliability"
    )
    sensitivity = models.FloatField()
    specificity = models.FloatField()
    reviews = models.PositiveIntegerField()
    # As an author: reviewed messages read, and the prior P(acceptable) of their next one
    # (core.reliability.author_prior; None with no reviewed message).
    authored = models.PositiveIntegerField(default=0)
    author_prior = models.FloatField(null=True, blank=True)
    # Reviews that said "not acceptable" (core.reliability.always_approver_probability).
    disapprovals = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    # What each estimate writes (the job's upsert) and the admin lists beside the user.
    ESTIMATED_FIELDS = (
        "sensitivity",
        "specificity",
        "reviews",
        "authored",
        "author_prior",
        "disapprovals",
        "updated_at",
    )

    def __str__(self) -> str:
        return f"{self.user_id}: {self.sensitivity:.2f}/{self.specificity:.2f} ({self.reviews})"
