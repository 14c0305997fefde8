"""The ready-work index's reads: the compiled eligible query is the ORM query, values swapped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.trees import ready_work, work_queries
from backend.trees.core.policy import TaskKind
from backend.trees.growth_config import active_config
from backend.trees.models import ReadyWork, Task
from backend.trees.services.interactions import submit_ranking
from backend.trees.services.tasks import request_task
from tests.builders import add_reply, make_client, make_ranking_tree, make_tree, make_user, review

pytestmark = pytest.mark.django_db


def ids(rows):
    return [(row.id, getattr(row, "pending", None)) for row in rows]


def test_compiled_eligible_query_returns_what_the_orm_query_returns():
    client = make_client()
    author, replier, reviewer = make_user(client), make_user(client), make_user(client)
    prompt = make_tree(author=author)
    add_reply(prompt, author=replier)
    make_tree(author=author, lang="de")
    request_task(user=reviewer, kind=TaskKind.LABEL_ASSISTANT_REPLY, lang="en")
    config, now = active_config(), timezone.now()
    since = now - timedelta(seconds=config.recent_tasks_span_sec)

    for user in (author, replier, reviewer, None):
        user_id = user.id if user else None
        compiled = work_queries.eligible(lang="en", now=now, config=config, user_id=user_id)
        direct = work_queries._eligible_query(lang="en", now=now, since=since, user_id=user_id)
        assert ids(compiled) == ids(direct)
    # the per-user values really reach the statement: nobody works on their own message
    kinds = {
        user: {
            row.kind
            for row in work_queries.eligible(lang="en", now=now, config=config, user_id=user.id)
        }
        for user in (author, replier)
    }
    assert "assistant_reply" not in kinds[author]
    assert "label_assistant_reply" in kinds[author]
    assert "label_assistant_reply" not in kinds[replier]


def many_replies_in_review(count: int, client):
    """A growing prompt with ``count`` assistant replies awaiting review (more than the sample)."""
    prompt = make_tree(author=make_user(client), max_children_count=count + 1, goal_tree_size=99)
    return [add_reply(prompt, author=make_user(client)) for _ in range(count)]


def test_a_sampled_read_holds_at_most_the_sample_of_each_category():
    client = make_client()
    many_replies_in_review(work_queries.SAMPLE_PER_CATEGORY + 8, client)
    config, now = active_config(), timezone.now()
    everything = work_queries.eligible(
        lang="en", now=now, config=config, user_id=make_user(client).id
    )
    sampled = work_queries.eligible(
        lang="en", now=now, config=config, user_id=make_user(client).id, sample=True
    )
    labels = [row for row in everything if row.kind == "label_assistant_reply"]
    sampled_labels = [row for row in sampled if row.kind == "label_assistant_reply"]
    assert len(labels) == work_queries.SAMPLE_PER_CATEGORY + 8
    assert len(sampled_labels) == work_queries.SAMPLE_PER_CATEGORY
    assert {row.id for row in sampled_labels} <= {row.id for row in labels}
    assert {row.kind for row in sampled} == {row.kind for row in everything}


def test_an_explicit_kind_is_found_however_many_rows_its_category_has():
    client = make_client()
    replies = many_replies_in_review(work_queries.SAMPLE_PER_CATEGORY * 2, client)
    accepted = replies[0]
    type(accepted).objects.filter(id=accepted.id).update(review_result=True, review_count=3)
    lonely = add_reply(accepted, author=make_user(client))  # the one prompter reply in review

    task = request_task(user=make_user(client), kind=TaskKind.LABEL_PROMPTER_REPLY, lang="en")

    assert task.parent_message_id == lonely.id


def index_of(tree_id):
    return sorted(
        (str(row.node_id), row.kind, row.slots)
        for row in ReadyWork.objects.filter(tree_id=tree_id, slots__gt=0)
    )


def test_reviews_and_rankings_leave_the_index_as_a_refresh_from_the_tree_would():
    """Labels and rankings take their slot with one UPDATE (no advance job runs here): the
    rows must equal what ``refresh_trees`` computes from the tree."""
    client = make_client()
    author, replier = make_user(client), make_user(client)
    prompt = make_tree(author=author)
    reply = add_reply(prompt, author=replier)
    review(reply, [make_user(client), make_user(client)])  # 2 of the 3 reviews it needs
    ranked = make_ranking_tree(author=author, repliers=[make_user(client), make_user(client)])
    ranker = make_user(client)
    task = request_task(user=ranker, kind=TaskKind.RANK_ASSISTANT_REPLIES, lang="en")
    submit_ranking(task_id=task.id, user=ranker, ranking=[1, 0])

    for tree_id in (prompt.message_tree_id, ranked.message_tree_id):
        incremental = index_of(tree_id)
        ready_work.refresh_trees([tree_id], active_config())
        assert incremental == index_of(tree_id)
    assert ("label_assistant_reply", 1) in {
        (kind, slots) for _, kind, slots in index_of(prompt.message_tree_id)
    }


def advance_jobs_enqueued(callbacks) -> int:
    return sum("enqueue_advance" in callback.__qualname__ for callback in callbacks)


def test_only_the_review_or_ranking_that_completes_its_node_enqueues_an_advance(
    django_capture_on_commit_callbacks,
):
    """Before a node has all its reviews (rankings) nothing can move the tree, so no job; the
    one that completes it enqueues the tree's advance job (with the default 3 reviews)."""
    client = make_client()
    prompt = make_tree(author=make_user(client))
    reply = add_reply(prompt, author=make_user(client))
    enqueued = []
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            review(reply, [make_user(client)])
        enqueued.append(advance_jobs_enqueued(callbacks))
    assert enqueued == [0, 0, 1]

    ranked = make_ranking_tree(author=make_user(client), repliers=[make_user(client)] * 2)
    rankers = [make_user(client) for _ in range(active_config().num_required_rankings)]
    enqueued = []
    for ranker in rankers:
        task = request_task(user=ranker, kind=TaskKind.RANK_ASSISTANT_REPLIES, lang="en")
        assert task.parent_message_id == ranked.id
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            submit_ranking(task_id=task.id, user=ranker, ranking=[1, 0])
        enqueued.append(advance_jobs_enqueued(callbacks))
    assert enqueued == [0] * (len(rankers) - 1) + [1]


def test_an_advance_that_changes_nothing_reads_the_tree_once_for_its_decision_and_index(
    django_assert_max_num_queries,
):
    """The shape read for the lifecycle decision also refreshes the ready work: one read of
    the tree's messages for it, beside the review settlement's and auto-moderation's."""
    from backend.trees.services.trees import advance_tree

    client = make_client()
    prompt = make_tree(author=make_user(client))
    reply = add_reply(prompt, author=make_user(client))
    review(reply, [make_user(client)])  # 1 of 3 reviews: nothing is due
    before = index_of(prompt.message_tree_id)
    with CaptureQueriesContext(connection) as queries:
        assert advance_tree(tree_id=prompt.message_tree_id) == []
    message_reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('SELECT "trees_message"')  # the ORM's and compiled reads
        or " JOIN trees_message m ON m.message_tree_id = t.id" in q["sql"]  # the shape's
    ]
    assert len(message_reads) == 3, message_reads  # settle, auto-moderation, shape
    assert index_of(prompt.message_tree_id) == before


def test_a_state_change_with_the_deciders_shape_reads_no_message_and_indexes_as_a_refresh():
    """``set_state`` given the shape its caller read recomputes the ready work from it (a
    state change changes no message): no read of the tree, the same rows as a fresh refresh."""
    from backend.trees.core.lifecycle import TreeState
    from backend.trees.models import MessageTree
    from backend.trees.services.trees import set_state

    client = make_client()
    prompt = make_tree(author=make_user(client))
    for _ in range(2):
        add_reply(prompt, author=make_user(client), review_result=True)
    tree = MessageTree.objects.get(id=prompt.message_tree_id)
    config = active_config()
    tree_shape = ready_work.load_shapes([tree.id], config)[tree.id]
    with CaptureQueriesContext(connection) as queries:
        set_state(tree, TreeState.RANKING, reason="test", config=config, tree_shape=tree_shape)
    shape_reads = ('FROM "trees_message" ', '"trees_messagereaction"', '"goal_tree_size"')
    reads = [q["sql"] for q in queries.captured_queries if any(r in q["sql"] for r in shape_reads)]
    assert reads == []
    after = index_of(tree.id)
    assert [row[1] for row in after] == [TaskKind.RANK_ASSISTANT_REPLIES.value]
    ready_work.refresh_trees([tree.id], config)  # from the tree itself
    assert index_of(tree.id) == after


def test_a_sample_that_excludes_its_whole_category_reads_the_category_in_full():
    """40 replies await review and the user handled 39 of them: a sample of 32 misses the
    last one one time in five; the read must find it every time."""
    client = make_client()
    replies = many_replies_in_review(work_queries.SAMPLE_PER_CATEGORY + 8, client)
    user = make_user(client)
    now = timezone.now()
    for reply in replies[1:]:
        Task.objects.create(
            payload_type="label_assistant_reply",
            payload={},
            user=user,
            api_client=client,
            message_tree_id=reply.message_tree_id,
            parent_message_id=reply.id,
            created_at=now,
            expiry_date=now + timedelta(hours=1),
            done=True,
        )
    config = active_config()
    for _ in range(20):  # without the full read, all 20 find it 1 % of the time
        sampled = work_queries.eligible(
            lang="en", now=now, config=config, user_id=user.id, sample=True
        )
        labels = [row.node_id for row in sampled if row.kind == "label_assistant_reply"]
        assert labels == [replies[0].id]


def test_an_advance_writes_the_index_once_after_its_state_changes():
    """The ready-work rows are locked until commit and task requests claim from them: an
    advance that moves a prompt to the lottery and then draws it writes the index at its end,
    the language's initial-prompt row (a hot row) once."""
    from backend.trees.models import MessageTree
    from backend.trees.services.trees import advance_tree
    from tests.db.test_advance_serialisation import prompt_with_task_reviews

    prompt = prompt_with_task_reviews()
    with CaptureQueriesContext(connection) as queries:
        entered = advance_tree(tree_id=prompt.message_tree_id)
    assert entered == ["prompt_lottery_waiting"]
    writes = tuple(f'{verb} "trees_readywork"' for verb in ("UPDATE", "INSERT INTO", "DELETE FROM"))
    assert MessageTree.objects.get(id=prompt.message_tree_id).state == "growing"  # drawn
    sqls = [q["sql"] for q in queries.captured_queries]
    index_writes = [
        i
        for i, sql in enumerate(sqls)
        if sql.startswith(writes)
        or (sql.startswith('SELECT "trees_readywork"') and "FOR UPDATE" in sql)
    ]
    lang_rows = [i for i in index_writes if "initial_prompt" in sqls[i] and "UPDATE" in sqls[i]]
    tree_updates = [i for i, sql in enumerate(sqls) if sql.startswith('UPDATE "trees_messagetree"')]
    assert len(tree_updates) == 2
    assert index_writes and min(index_writes) > tree_updates[-1]
    assert len(lang_rows) == 1


def in_circular_order(rows, draws, start):
    """Rows in ``draw`` order from ``start``, going round past the end."""
    return sorted(rows, key=lambda row: (draws[row.id] < start, draws[row.id]))


@pytest.mark.parametrize("start", [0.0, 0.3, 0.7, 0.999])
def test_a_sampled_read_is_each_categorys_first_eligible_rows_in_draw_order_from_its_start(start):
    """The sampled read against the full read: per category, the first SAMPLE_PER_CATEGORY
    rows the user may do, in ``draw`` order from ``start`` and round past the end; the
    rows the user may not do are skipped, never counted."""
    client = make_client()
    replies = many_replies_in_review(work_queries.SAMPLE_PER_CATEGORY * 3, client)
    user = make_user(client)
    now = timezone.now()
    handled(user, replies[::3], now)  # a third of them are not for this user
    for _ in range(5):
        make_tree(author=make_user(client), state="initial_prompt_review", review_result=None)
    config = active_config()
    draws = dict(ReadyWork.objects.values_list("id", "draw"))

    sampled = work_queries.eligible(
        lang="en", now=now, config=config, user_id=user.id, sample=True, start=start
    )
    everything = work_queries.eligible(lang="en", now=now, config=config, user_id=user.id)

    assert [row.node_id for row in sampled if row.node_id is None] == [None]
    for kinds in ({"label_assistant_reply"}, {"label_initial_prompt"}, {"assistant_reply"}):
        expected = in_circular_order(
            [row for row in everything if row.kind in kinds], draws, start
        )[: work_queries.SAMPLE_PER_CATEGORY]
        assert [row.id for row in sampled if row.kind in kinds] == [row.id for row in expected]
    assert len([row for row in sampled if row.kind == "label_assistant_reply"]) == (
        work_queries.SAMPLE_PER_CATEGORY
    )
    reviewed = {reply.id for reply in replies[::3]}
    assert not reviewed & {row.node_id for row in sampled}
    assert {row.pending for row in sampled} == {0}
    assert len([row for row in sampled if row.kind == "label_initial_prompt"]) == 5
    assert {row.config_pk for row in sampled} == {config_version_pk()}


@pytest.mark.parametrize("start", [0.0, 0.5])
def test_a_sampled_read_skips_nodes_whose_slots_are_all_leased(start):
    """A node whose every slot another volunteer holds (live leases) is not read: not in the
    sample, as not in the full read; a node with one slot still free is."""
    client = make_client()
    replies = many_replies_in_review(work_queries.SAMPLE_PER_CATEGORY + 4, client)
    user, others = make_user(client), [make_user(client) for _ in range(3)]
    now = timezone.now()
    slots = ReadyWork.objects.get(node_id=replies[0].id, kind="label_assistant_reply").slots
    assert slots >= 2
    full, one_left = replies[::2], replies[1::4]
    leased(others[:slots], full, now)
    leased(others[: slots - 1], one_left, now)
    config = active_config()

    sampled = work_queries.eligible(
        lang="en", now=now, config=config, user_id=user.id, sample=True, start=start
    )
    everything = work_queries.eligible(lang="en", now=now, config=config, user_id=user.id)

    labels = [row for row in sampled if row.kind == "label_assistant_reply"]
    free = {reply.id for reply in replies} - {reply.id for reply in full}
    assert {row.node_id for row in labels} <= free
    assert len(labels) == min(len(free), work_queries.SAMPLE_PER_CATEGORY)
    assert {row.node_id for row in everything if row.kind == "label_assistant_reply"} == free
    assert {row.leased for row in labels if row.node_id in {r.id for r in one_left}} <= {slots - 1}


def leased(users, replies, now):
    """Each of ``users`` holds a live review task (its lease) on each of ``replies``."""
    _review_tasks(users, replies, now, done=False)


def handled(user, replies, now):
    """The user was handed these replies' review tasks just now: not theirs to do again."""
    _review_tasks([user], replies, now, done=True)


def _review_tasks(users, replies, now, *, done: bool):
    Task.objects.bulk_create(
        Task(
            payload_type="label_assistant_reply",
            payload={},
            user=user,
            api_client=user.api_client,
            message_tree_id=reply.message_tree_id,
            parent_message_id=reply.id,
            created_at=now,
            expiry_date=now + timedelta(hours=1),
            done=done,
            lease_until=None if done else now + timedelta(minutes=5),
        )
        for reply in replies
        for user in users
    )


def config_version_pk():
    from backend.trees.models import TreeGrowthConfig

    return TreeGrowthConfig.objects.get(is_active=True).pk


@pytest.mark.parametrize("in_database", [True, False])
def test_a_claim_moves_its_row_to_a_new_random_place(settings, in_database):
    """A row keeps its place in the random order until a claim moves it, so no row stays
    more (or less) likely to be read first: claimed rows get a new ``draw``."""
    settings.GROVE_CLAIM_IN_DATABASE = in_database
    client = make_client()
    prompt = make_tree(author=make_user(client), state="initial_prompt_review", review_result=None)
    row = ReadyWork.objects.get(node_id=prompt.id, kind="label_initial_prompt")
    places = [row.draw]

    for _ in range(2):  # the prompt waits for three reviews
        task = request_task(user=make_user(client), kind=TaskKind.LABEL_INITIAL_PROMPT, lang="en")
        assert task.parent_message_id == prompt.id
        row.refresh_from_db()
        places.append(row.draw)

    assert len(set(places)) == 3
    assert all(0 <= place < 1 for place in places)


def test_a_task_request_sends_two_statements_however_many_rows_the_user_may_not_do():
    """The read and the claim, also when nearly every row of a category is excluded for
    the user (the read used to repeat itself in full when its sample was all excluded)."""
    client = make_client()
    replies = many_replies_in_review(40, client)  # more than any sample, old (32) or new
    user = make_user(client)
    handled(user, replies[1:], timezone.now())
    request_task(user=make_user(client), kind=TaskKind.RANDOM, lang="en")  # warm: config

    for _ in range(5):
        with CaptureQueriesContext(connection) as sent:
            task = request_task(user=user, kind=TaskKind.LABEL_ASSISTANT_REPLY, lang="en")
        assert task.parent_message_id == replies[0].id
        assert len(sent.captured_queries) == 2, [q["sql"][:60] for q in sent.captured_queries]
        Task.objects.filter(id=task.id).delete()


def _comparable(tree_shape):
    return (
        tree_shape.tree_id,
        tree_shape.state,
        tree_shape.lang,
        tree_shape.goal_tree_size,
        tree_shape.max_depth,
        tree_shape.max_children_count,
        sorted(tree_shape.nodes, key=lambda node: str(node.id)),
        dict(tree_shape.rankings_done),
    )


def test_one_trees_shape_in_one_statement_is_the_many_trees_reads():
    """On PostgreSQL one tree's shape is read in one statement (tree, messages, rankings
    done); it equals what the reads for several trees give, for trees with rankings, deleted
    and unreviewed replies, a tree of one prompt, and no tree."""
    client = make_client()
    repliers = [make_user(client) for _ in range(3)]
    ranked = make_ranking_tree(author=make_user(client), repliers=repliers)
    for ranker in (make_user(client), make_user(client)):
        task = request_task(user=ranker, kind=TaskKind.RANK_ASSISTANT_REPLIES, lang="en")
        submit_ranking(task_id=task.id, user=ranker, ranking=[2, 0, 1])
    growing = make_tree(author=make_user(client))
    add_reply(growing, author=repliers[0], review_result=None)
    add_reply(growing, author=repliers[1], review_result=False, deleted=True)
    accepted = add_reply(growing, author=repliers[2], review_result=True)
    add_reply(accepted, author=repliers[0], review_result=None)
    lonely = make_tree(author=make_user(client))
    config = active_config()
    missing = make_client().id  # an id no tree has
    for tree_id in (ranked.message_tree_id, growing.message_tree_id, lonely.message_tree_id):
        with CaptureQueriesContext(connection) as sent:
            one = ready_work.load_shapes([tree_id], config)
        if connection.vendor == "postgresql":
            assert len(sent.captured_queries) == 1
        several = ready_work.load_shapes([tree_id, missing], config)
        assert _comparable(one[tree_id]) == _comparable(several[tree_id])
    shapes = ready_work.load_shapes([ranked.message_tree_id], config)
    assert shapes[ranked.message_tree_id].rankings_done == {ranked.id: 2}
    assert ready_work.load_shapes([missing], config) == {}
