"""Leases and the user's history (``core/work.py``), each rule at its boundary.

Messages are named by their path as in ``test_shape``: ``"p"`` the prompt, ``"p.1"`` its
first reply. The task request's SQL applies the same rules
(``tests/db/test_eligible_work_matches_core.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.trees.core.config import TreeManagerConfig
from backend.trees.core.lifecycle import TreeState
from backend.trees.core.policy import eligible_candidates
from backend.trees.core.shape import Node, TreeShape
from backend.trees.core.task_kinds import Role, TaskKind
from backend.trees.core.work import (
    TaskRecord,
    lease_when_handed_out,
    task_candidates,
    user_activity,
)

K = TaskKind
CONFIG = TreeManagerConfig(
    max_tree_depth=3,
    max_children_count=3,
    num_prompter_replies=1,
    goal_tree_size=12,
    num_reviews_reply=2,
    recent_tasks_span_sec=300,
)
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
SPAN = timedelta(seconds=300)
VALID = timedelta(hours=2)


def task(
    user: str = "u",
    kind: TaskKind = K.ASSISTANT_REPLY,
    node: str | None = "p",
    *,
    age: timedelta = timedelta(0),
    acked: bool = False,
    **state: bool,
) -> TaskRecord:
    created = NOW - age
    expiry = created + VALID
    lease = expiry if acked else lease_when_handed_out(created, expiry, CONFIG)
    return TaskRecord(user, kind, node, "t", created, expiry, lease, **state)


def node(path: str, *, author: str = "", result: bool | None = True) -> Node:
    depth = path.count(".")
    return Node(
        id=path,
        parent_id=path.rpartition(".")[0] or None,
        depth=depth,
        role=Role.PROMPTER if depth % 2 == 0 else Role.ASSISTANT,
        author_id=author or f"author-of-{path}",
        review_result=result,
    )


def growing(*nodes: Node, goal: int = 12) -> TreeShape:
    return TreeShape(tree_id="t", state=TreeState.GROWING, goal_tree_size=goal, nodes=nodes)


def free_slots(shape: TreeShape, tasks: list[TaskRecord]) -> dict[str, int]:
    offered = task_candidates([shape], tasks, missing_prompts=0, now=NOW, config=CONFIG)
    return {str(p.message_id): p.free_slots for p in offered.extendible_parents}


# --- leases --------------------------------------------------------------------------------


def test_a_new_task_holds_its_slot_for_recent_tasks_span_sec():
    assert task(age=SPAN - timedelta(seconds=1)).holds_lease(NOW)
    assert not task(age=SPAN).holds_lease(NOW)


def test_an_acked_task_holds_its_slot_until_it_expires():
    assert task(age=SPAN * 3, acked=True).holds_lease(NOW)
    assert not task(age=VALID, acked=True).holds_lease(NOW)


def test_a_lease_never_outlives_the_task():
    created = NOW
    assert lease_when_handed_out(created, created + timedelta(seconds=10), CONFIG) == (
        created + timedelta(seconds=10)
    )


def test_an_answered_or_skipped_task_holds_no_slot():
    assert not task(done=True).holds_lease(NOW)
    assert not task(skipped=True).holds_lease(NOW)


def test_several_people_may_be_handed_one_parent_up_to_its_replies_left():
    shape = growing(node("p"))
    assert free_slots(shape, []) == {"p": 3}
    assert free_slots(shape, [task("a"), task("b")]) == {"p": 1}
    assert free_slots(shape, [task("a"), task("b"), task("c")]) == {"p": 0}


def test_a_lease_on_another_kind_leaves_the_reply_slots_free():
    assert free_slots(growing(node("p")), [task(kind=K.LABEL_INITIAL_PROMPT)]) == {"p": 3}


def test_reply_leases_anywhere_in_the_tree_count_against_its_goal():
    shape = growing(node("p"), node("p.1"), goal=4)  # room for 2 more messages
    offered = free_slots(shape, [task("a", K.PROMPTER_REPLY, "p.1")])
    assert offered == {"p": 1, "p.1": 0}


# --- the user's history --------------------------------------------------------------------


def activity(*tasks: TaskRecord):
    return user_activity("u", tasks, now=NOW, config=CONFIG)


def test_pending_counts_open_tasks_handed_out_within_the_recent_span():
    assert activity(task(), task(age=SPAN)).pending_tasks == 2
    assert activity(task(age=SPAN + timedelta(seconds=1), acked=True)).pending_tasks == 0


def test_pending_ignores_answered_skipped_and_expired_tasks():
    mine = [task(done=True), task(skipped=True), task(age=VALID + timedelta(seconds=1))]
    assert activity(*mine).pending_tasks == 0


def test_pending_counts_only_the_users_own_tasks():
    assert activity(task("someone-else")).pending_tasks == 0


def test_handled_work_is_kept_per_node_and_kind_whatever_became_of_the_task():
    recent = activity(task(done=True), task(age=SPAN + timedelta(seconds=1))).handled_work
    assert recent == {("p", K.ASSISTANT_REPLY)}


def test_a_task_holding_its_slot_keeps_its_node_handled_past_the_recent_span():
    old = SPAN + timedelta(seconds=1)
    assert activity(task(age=old, acked=True)).handled_work == {("p", K.ASSISTANT_REPLY)}
    assert activity(task(age=old)).handled_work == frozenset()  # its lease ended


def test_a_skip_hides_that_kind_for_good_and_an_expiry_is_no_skip():
    skipped = activity(
        task(kind=K.ASSISTANT_REPLY, age=VALID * 5, skipped=True),
        task(kind=K.LABEL_INITIAL_PROMPT, age=VALID * 5, skipped=True, expired=True),
    ).skipped_work
    assert skipped == {("p", K.ASSISTANT_REPLY)}


def test_the_author_of_a_live_reply_is_not_offered_the_parent_again():
    shape = growing(node("p"), node("p.1", author="u", result=None))
    offered = task_candidates([shape], [], missing_prompts=0, now=NOW, config=CONFIG)
    mine = eligible_candidates(offered, activity())
    assert [p.message_id for p in mine.extendible_parents] == []


def test_the_author_of_a_rejected_reply_may_answer_the_parent_again():
    shape = growing(node("p"), node("p.1", author="u", result=False))
    offered = task_candidates([shape], [], missing_prompts=0, now=NOW, config=CONFIG)
    mine = eligible_candidates(offered, activity())
    assert [p.message_id for p in mine.extendible_parents] == ["p"]
