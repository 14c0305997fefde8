"""What users send back: replies (new messages), labels (reviews) and rankings.

Each function locks the task, validates everything before writing anything, writes the
result and closes the task in one transaction, then (on commit) asks for the tree to be
re-evaluated. Re-sending the same reply (same frontend message id) returns the message that
was created the first time instead of a second one.
"""

from __future__ import annotations

import math
import random
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from backend.accounts.models import User
from backend.accounts.user_services import activity_update, record_user_activity
from backend.compiled_query import (
    SENTINEL_IDS,
    SENTINEL_TIMES,
    CompiledQuery,
    db_value,
    uuid_from_db,
)
from backend.fast_writes import Batch, update
from backend.observability.metrics import TASKS_ANSWERED, count_task
from backend.push import signals as push_signals
from backend.trees import journal, ready_work
from backend.trees.core import lifecycle, policy
from backend.trees.core.lifecycle import TreeState
from backend.trees.core.policy import TaskKind
from backend.trees.core.task_kinds import LABEL_KINDS, RANK_KINDS, REPLY_KINDS
from backend.trees.errors import (
    DuplicateFrontendMessageId,
    DuplicateText,
    InvalidLabels,
    InvalidRanking,
    MandatoryLabelsMissing,
    TargetUnavailable,
    TaskKindMismatch,
    TextEmpty,
    TextTooLong,
)
from backend.trees.growth_config import active_config
from backend.trees.models import (
    Message,
    MessageReaction,
    MessageTree,
    ReactionType,
    Task,
    TextLabels,
)
from backend.trees.services.task_lifecycle import open_task_for_update
from backend.trees.services.trees import LOCKED_TREE, enqueue_advance

TEXT_KINDS = REPLY_KINDS | {TaskKind.INITIAL_PROMPT}


def _start(
    task_id, user: User, now: datetime, kinds, what: str, writes: Batch | None = None
) -> tuple[Task, TaskKind]:
    """Lock the user's open task, stamp their activity (in ``writes`` when given), and check
    the task takes ``what``.

    The user row is locked here, before any tree row: the order every service keeps
    (see tasks._reserve), so two of them never wait on each other. On PostgreSQL the
    activity's UPDATE goes with the task's lock, one round trip for both (it was a locking
    read of the user, then the UPDATE with the answer's writes), the task's row locked first
    as before."""
    if connection.vendor == "postgresql":
        stamp = activity_update(user.id, now)
        task = open_task_for_update(task_id, user, now, with_write=stamp)
    else:
        task = open_task_for_update(task_id, user, now)
        record_user_activity(user_id=user.id, now=now, writes=writes)
    kind = TaskKind(task.payload_type)
    if kind not in kinds:
        raise TaskKindMismatch(f"a {kind.value} task does not take {what}")
    return task, kind


def clean_message_text(text: str) -> str:
    """The text a message stores: stripped, not empty, at most GROVE_MAX_MESSAGE_LENGTH.

    A text of nothing but whitespace and invisible format characters (zero-width space and
    joiners, word joiner, BOM, soft hyphen: Unicode category Cf) is empty too."""
    cleaned = (text or "").strip()
    if not cleaned or all(c.isspace() or unicodedata.category(c) == "Cf" for c in cleaned):
        raise TextEmpty("the message text is empty")
    if len(cleaned) > settings.GROVE_MAX_MESSAGE_LENGTH:
        raise TextTooLong(
            f"the message text has {len(cleaned)} characters; "
            f"the limit is {settings.GROVE_MAX_MESSAGE_LENGTH}"
        )
    return cleaned


def refuse_recent_duplicate(*, user: User, text: str, now: datetime) -> None:
    """OA's duplicate filter: the same text by the same user within
    GROVE_DUPLICATE_MESSAGE_WINDOW_MINUTES is refused (0 turns it off)."""
    minutes = settings.GROVE_DUPLICATE_MESSAGE_WINDOW_MINUTES
    if minutes > 0 and _RECENT_SAME_TEXT.rows(
        {"user_id": user.id, "since": now - timedelta(minutes=minutes), "text": text}
    ):
        raise DuplicateText(f"you sent this same text within the last {minutes} minutes")


# The reply path's reads, compiled once (``backend.compiled_query``): building and compiling
# each ``filter(...).first()`` cost more Python than PostgreSQL spent answering it.
_BY_FRONTEND_ID = CompiledQuery(
    lambda api_client_id, frontend_message_id: Message.objects.filter(
        api_client_id=api_client_id, frontend_message_id=frontend_message_id
    )[:1],
    sentinels={"api_client_id": SENTINEL_IDS[0], "frontend_message_id": "grove-frontend-id"},
)
_MESSAGE = CompiledQuery(
    lambda message_id: Message.objects.filter(id=message_id)[:1],
    sentinels={"message_id": SENTINEL_IDS[0]},
)
_RECENT_SAME_TEXT = CompiledQuery(
    lambda user_id, since, text: Message.objects.filter(
        user_id=user_id, created_at__gt=since, text=text
    ).values_list("id")[:1],
    sentinels={"user_id": SENTINEL_IDS[0], "since": SENTINEL_TIMES[0], "text": "grove-text"},
)


@transaction.atomic
def submit_text_reply(
    *,
    task_id: uuid.UUID,
    user: User,
    text: str,
    frontend_message_id: str,
    lang: str | None = None,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> Message:
    """Create the prompt or reply a text task asked for; idempotent per frontend message id."""
    found = _BY_FRONTEND_ID.fetch(
        {"api_client_id": user.api_client_id, "frontend_message_id": frontend_message_id}
    )
    existing = found[0] if found else None
    if existing is not None:
        if existing.user_id == user.id and existing.task_id == task_id:
            return existing  # the same interaction sent again
        raise DuplicateFrontendMessageId(
            f"frontend message id {frontend_message_id!r} is already used by another message"
        )
    now = now or timezone.now()
    # The activity stamp, the message, the parent's count and the task's close go to
    # PostgreSQL as one statement, after the checks and before the index reads the tree.
    writes = Batch()
    task, kind = _start(task_id, user, now, TEXT_KINDS, "a text reply", writes)
    cleaned = clean_message_text(text)
    refuse_recent_duplicate(user=user, text=cleaned, now=now)
    config = active_config()
    if kind is TaskKind.INITIAL_PROMPT:
        message_lang = lang or task.payload.get("lang") or "en"
        tree = MessageTree.objects.create(
            state=TreeState.INITIAL_PROMPT_REVIEW,
            goal_tree_size=policy.goal_tree_size_for_new_tree(config, rng or random.Random()),
            max_depth=config.max_tree_depth,
            max_children_count=config.max_children_count,
            lang=message_lang,
            origin=f"api:{user.api_client_id}",
            created_at=now,
        )
        parent, depth, role = None, 0, "prompter"
    else:
        locked = LOCKED_TREE.fetch({"tree_id": task.message_tree_id})
        if not locked:
            raise MessageTree.DoesNotExist(task.message_tree_id)
        tree = locked[0]
        found = _MESSAGE.fetch({"message_id": task.parent_message_id})
        parent = found[0] if found else None
        # A reply written on a task that is still valid is stored even if the tree moved on
        # meanwhile (OA does too): a volunteer's text is never lost. Only a parent removed by
        # moderation refuses it.
        if parent is None or parent.deleted:
            raise TargetUnavailable("the message this task replies to was deleted")
        message_lang = parent.lang
        depth = parent.depth + 1
        role = "assistant" if kind is TaskKind.ASSISTANT_REPLY else "prompter"
    message = Message(
        id=tree.id if parent is None else uuid.uuid4(),
        message_tree=tree,
        parent=parent,
        role=role,
        text=cleaned,
        lang=message_lang,
        depth=depth,
        user=user,
        api_client_id=user.api_client_id,
        task=task,
        frontend_message_id=frontend_message_id,
        created_at=now,
    )
    writes.insert(message)
    if parent is not None:
        writes.increment(Message, parent.id, "children_count")
    _close(task, writes)
    writes.send()
    ready_work.refresh_trees([tree.id], config)
    if parent is None:
        ready_work.refresh_lang(tree.lang, config)
    journal.record(
        "message_created",
        payload={"role": role, "depth": depth, "kind": kind.value},
        message_tree_id=tree.id,
        message_id=message.id,
        user_id=user.id,
        api_client_id=user.api_client_id,
    )
    return message


def validate_labels(
    labels: Mapping[str, object], *, valid: Sequence[str], mandatory: Sequence[str]
) -> dict[str, float]:
    """Every label known and allowed, values finite in [0, 1], every mandatory one present.

    A missing mandatory label is reported as such (``MandatoryLabelsMissing``) only when
    nothing else is wrong: an unknown label or a bad value is the error to fix first, as in OA.
    """
    problems = []
    unknown = sorted(set(labels) - set(valid))
    if unknown:
        problems.append(f"labels not valid here: {', '.join(unknown)}")
    clean: dict[str, float] = {}
    for name, value in labels.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"label {name!r} must be a number")
        elif not math.isfinite(value) or not 0.0 <= value <= 1.0:
            problems.append(f"label {name!r} must be between 0 and 1")
        else:
            clean[name] = float(value)
    if problems:
        raise InvalidLabels("; ".join(problems))
    missing = sorted(set(mandatory) - set(labels))
    if missing:
        raise MandatoryLabelsMissing(f"mandatory labels missing: {', '.join(missing)}")
    return clean


def _review_target(
    tree_id: uuid.UUID, message_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[str | None, uuid.UUID | None, bool]:
    """The tree's state (None: no such tree), with its row share-locked until the review
    commits (PostgreSQL); the message's tree if the message still awaits its review verdict
    (None: deleted or decided); whether this user already reviewed it through a task. One
    round trip (it was two: the lock, then the message).

    A review must not be stored while its tree changes state: the advance job's FOR NO KEY
    UPDATE waits for the share lock, and this waits for the job. Reviews of one tree write no
    tree row, so they do not wait for each other: with FOR NO KEY UPDATE here they did, and
    pg_stat_statements at 16 clients showed this statement waiting 8.2 ms on average, the
    second largest total time of the run."""
    row = _share_locked_tree(
        f"m.message_tree_id, EXISTS ("
        f" SELECT 1 FROM {TextLabels._meta.db_table} l"
        f" WHERE l.message_id = m.id AND l.user_id = %s AND l.task_id IS NOT NULL)"
        f" FROM {MessageTree._meta.db_table} t"
        f" LEFT JOIN {Message._meta.db_table} m"
        f" ON m.id = %s AND m.deleted = %s AND m.review_result IS NULL",
        [db_value(user_id), db_value(message_id), False, db_value(tree_id)],
    )
    if row is None:
        return None, None, False
    state, message_tree_id, already = row
    return state, uuid_from_db(message_tree_id), bool(already)


def _ranking_target(
    tree_id: uuid.UUID, parent_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[str | None, bool]:
    """The tree's state (None: no such tree), share-locked until the ranking commits, and
    whether this user already ranked ``parent_id``'s replies: one round trip. Rankings of one
    tree then wait for none of each other, only for (and hold off) its state change, as
    reviews do (``_review_target``)."""
    row = _share_locked_tree(
        f"EXISTS (SELECT 1 FROM {MessageReaction._meta.db_table} r"
        f" WHERE r.message_id = %s AND r.user_id = %s AND r.payload_type = %s)"
        f" FROM {MessageTree._meta.db_table} t",
        [db_value(parent_id), db_value(user_id), ReactionType.RANKING, db_value(tree_id)],
    )
    return (None, False) if row is None else (row[0], bool(row[1]))


def _share_locked_tree(columns_and_from: str, params: list) -> tuple | None:
    """``SELECT t.state, <columns_and_from> WHERE t.id = %s``, the tree's row (``t``)
    share-locked on PostgreSQL; its one row, or None. The tree's id is the last parameter."""
    lock = " FOR SHARE OF t" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT t.state, {columns_and_from} WHERE t.id = %s{lock}", params)
        return cursor.fetchone()


@transaction.atomic
def submit_labels(
    *,
    task_id: uuid.UUID,
    user: User,
    message_id: uuid.UUID,
    labels: Mapping[str, object],
    text: str = "",
    now: datetime | None = None,
) -> TextLabels:
    """A review through a label task: counts towards the message's required reviews."""
    now = now or timezone.now()
    # The review's writes go to PostgreSQL as one statement, after its checks.
    writes = Batch()
    task, _kind = _start(task_id, user, now, LABEL_KINDS, "labels", writes)
    if str(message_id) != task.payload.get("message_id"):
        raise TaskKindMismatch("the labels are for another message than the task's")
    clean = validate_labels(
        labels, valid=task.payload["valid_labels"], mandatory=task.payload["mandatory_labels"]
    )
    message_id = uuid.UUID(str(message_id))
    state, message_tree_id, already = _review_target(task.message_tree_id, message_id, user.id)
    if state is None or not lifecycle.accepts_reviews(TreeState(state)):
        raise TargetUnavailable("this tree no longer takes reviews (halted or moved on)")
    if message_tree_id is None:
        raise TargetUnavailable("this message no longer needs a review")
    if already:
        raise InvalidLabels("you have already reviewed this message")
    row = writes.insert(
        TextLabels(
            message_id=message_id,
            user=user,
            api_client_id=user.api_client_id,
            task=task,
            labels=clean,
            text=text or "",
        )
    )
    writes.increment(Message, message_id, "review_count")
    _close(task, writes)
    journal.record(
        "message_reviewed",
        payload={"labels": clean},
        message_tree_id=message_tree_id,
        message_id=message_id,
        user_id=user.id,
        api_client_id=user.api_client_id,
        writes=writes,
    )
    slots_left = ready_work.take_slot(node_id=message_id, kind=task.payload_type, writes=writes)
    if ready_work.is_complete(slots_left):
        enqueue_advance(message_tree_id)
    return row


@transaction.atomic
def submit_ranking(
    *,
    task_id: uuid.UUID,
    user: User,
    ranking: Sequence[int],
    not_rankable: bool = False,
    now: datetime | None = None,
) -> MessageReaction:
    """A ranking: ``ranking`` orders the offered replies (indices into the task's list).

    ``not_rankable`` (OA) marks that every offered reply was flawed; it is kept with the
    ranking (and exported) but the order still counts towards the consensus, as in OA."""
    now = now or timezone.now()
    # As a review: checks, then the writes in one statement, the tree share-locked.
    writes = Batch()
    task, _kind = _start(task_id, user, now, RANK_KINDS, "a ranking", writes)
    offered = task.payload["reply_ids"]
    if any(isinstance(i, bool) or not isinstance(i, int) for i in ranking) or sorted(
        ranking
    ) != list(range(len(offered))):
        raise InvalidRanking(
            f"the ranking must order all {len(offered)} offered replies: "
            f"a permutation of 0..{len(offered) - 1}"
        )
    state, already = _ranking_target(task.message_tree_id, task.parent_message_id, user.id)
    if state != TreeState.RANKING:
        raise TargetUnavailable("this tree is no longer being ranked")
    ordered = [offered[i] for i in ranking]
    if already:
        raise InvalidRanking("you have already ranked these replies")
    reaction = writes.insert(
        MessageReaction(
            task=task,
            message_id=task.parent_message_id,
            user=user,
            api_client_id=user.api_client_id,
            payload_type=ReactionType.RANKING,
            payload={
                "ranking": list(ranking),
                "ranked_message_ids": ordered,
                **({"not_rankable": True} if not_rankable else {}),
            },
        )
    )
    # In one order for every ranker, so two rankings of a parent lock its replies alike.
    for message_id in sorted(map(str, ordered)):
        writes.increment(Message, message_id, "ranking_count")
    _close(task, writes)
    journal.record(
        "replies_ranked",
        payload={"ranked_message_ids": ordered},
        message_tree_id=task.message_tree_id,
        message_id=task.parent_message_id,
        user_id=user.id,
        writes=writes,
    )
    slots_left = ready_work.take_slot(
        node_id=task.parent_message_id, kind=task.payload_type, writes=writes
    )
    if ready_work.is_complete(slots_left):
        enqueue_advance(task.message_tree_id)
    return reaction


def _close(task: Task, writes: Batch | None = None) -> None:
    task.done = True
    task.ack = True if task.ack is None else task.ack
    if writes is not None:
        writes.update(Task, task.id, {"done": True, "ack": task.ack})
    else:
        update(Task, task.id, {"done": True, "ack": task.ack})
    count_task(TASKS_ANSWERED, task)
    push_signals.task_closed(task)
