"""The Django admin: tree-growth config versions, tree inspection, moderation and export,
driven through the admin's pages with a superuser (every write goes through a service)."""

from __future__ import annotations

import json

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backend.trees.core.config import TreeManagerConfig
from backend.trees.growth_config import active_config, update_config
from backend.trees.models import JournalEntry, Message, MessageTree, TreeGrowthConfig
from tests.builders import add_reply, config_form_data, make_tree, make_user

pytestmark = pytest.mark.django_db
ACTOR = "django-admin:admin"  # pytest-django's admin_client logs in as "admin"
CONFIG_ADD = "admin:trees_treegrowthconfig_add"
CONFIG_LIST = "admin:trees_treegrowthconfig_changelist"
TREE_LIST = "admin:trees_messagetree_changelist"
MESSAGE_LIST = "admin:trees_message_changelist"


def run_action(client, list_url: str, action: str, objects, **extra):
    return client.post(
        reverse(list_url),
        {"action": action, "_selected_action": [str(o.pk) for o in objects], **extra},
    )


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# -- tree-growth configuration -------------------------------------------------------------


def test_add_form_is_prefilled_with_the_active_version(admin_client):
    update_config(changes={"goal_tree_size": 20}, author="admin:ada")
    response = admin_client.get(reverse(CONFIG_ADD))
    assert response.status_code == 200
    initial = response.context["adminform"].form.initial
    assert initial["goal_tree_size"] == 20
    assert initial["labels_initial_prompt"] == list(TreeManagerConfig().labels_initial_prompt)


def test_adding_through_the_form_creates_a_new_active_version_and_keeps_the_old(admin_client):
    response = admin_client.post(
        reverse(CONFIG_ADD), config_form_data(comment="bigger trees", goal_tree_size=20)
    )
    assert response.status_code == 302
    new = TreeGrowthConfig.objects.get(is_active=True)
    assert (new.version, new.created_by, new.comment) == (2, ACTOR, "bigger trees")
    assert active_config().goal_tree_size == 20
    old = TreeGrowthConfig.objects.get(version=1)
    assert old.is_active is False and old.values["goal_tree_size"] == 12


def test_resubmitting_the_prefilled_form_changes_no_parameter(admin_client):
    admin_client.post(reverse(CONFIG_ADD), config_form_data())
    assert TreeGrowthConfig.objects.get(version=2).values == (
        TreeGrowthConfig.objects.get(version=1).values
    )


def test_out_of_range_value_is_a_form_error_on_its_field_and_writes_nothing(admin_client):
    response = admin_client.post(reverse(CONFIG_ADD), config_form_data(p_activate_backlog_tree=3))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "must be between" in errors["p_activate_backlog_tree"][0]
    assert TreeGrowthConfig.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("review_policy", ["fixed", "sequential"]),
        ("ranking_policy", ["fixed", "adaptive"]),
        ("selection_policy", ["fixed", "active"]),
    ],
)
def test_a_policy_is_chosen_from_its_values_not_typed(admin_client, name, values):
    form = admin_client.get(reverse(CONFIG_ADD)).context["adminform"].form
    assert [value for value, _ in form.fields[name].choices] == values
    assert f'<select name="{name}"' in str(form[name])
    response = admin_client.post(reverse(CONFIG_ADD), config_form_data(**{name: "sequentail"}))
    assert response.status_code == 200
    assert "sequentail" in response.context["adminform"].form.errors[name][0]
    assert TreeGrowthConfig.objects.count() == 1
    response = admin_client.post(reverse(CONFIG_ADD), config_form_data(**{name: values[1]}))
    assert response.status_code == 302
    assert getattr(active_config(), name) == values[1]


def test_cross_field_rule_is_a_form_error_and_writes_nothing(admin_client):
    data = config_form_data(goal_tree_size=4, min_goal_tree_size=5)
    response = admin_client.post(reverse(CONFIG_ADD), data)
    assert "min_goal_tree_size" in response.context["adminform"].form.errors
    assert TreeGrowthConfig.objects.count() == 1


def test_versions_cannot_be_edited_or_deleted(admin_client):
    version = TreeGrowthConfig.objects.get(version=1)
    change_url = reverse("admin:trees_treegrowthconfig_change", args=[version.pk])
    assert admin_client.post(change_url, {"comment": "edited"}).status_code == 403
    delete_url = reverse("admin:trees_treegrowthconfig_delete", args=[version.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert TreeGrowthConfig.objects.get(version=1).comment == version.comment


def test_version_list_names_the_parameters_that_changed(admin_client):
    update_config(changes={"goal_tree_size": 20, "max_tree_depth": 5}, author="admin:ada")
    response = admin_client.get(reverse(CONFIG_LIST))
    assert "goal_tree_size, max_tree_depth" in response.content.decode()


def test_rollback_action_restores_the_selected_version_as_a_new_one(admin_client):
    update_config(changes={"goal_tree_size": 20}, author="admin:ada")
    first = TreeGrowthConfig.objects.get(version=1)
    run_action(admin_client, CONFIG_LIST, "rollback_to_selected", [first])
    active = TreeGrowthConfig.objects.get(is_active=True)
    assert (active.version, active.created_by) == (3, ACTOR)
    assert active.values == first.values


def test_rollback_action_needs_exactly_one_version(admin_client):
    update_config(changes={"goal_tree_size": 20}, author="admin:ada")
    response = run_action(
        admin_client, CONFIG_LIST, "rollback_to_selected", TreeGrowthConfig.objects.all()
    )
    assert "exactly one version" in flash(response)[0]
    assert TreeGrowthConfig.objects.count() == 2


# -- tree inspection -----------------------------------------------------------------------


def grow(replies: int) -> Message:
    author = make_user()
    prompt = make_tree(author=author)
    for i in range(replies):
        reply = add_reply(prompt, author=author, text=f"reply number {i}", rank=i)
        add_reply(reply, author=author, text=f"follow-up of {i}")
    return prompt


def tree_page(client, prompt: Message):
    return client.get(reverse("admin:trees_messagetree_change", args=[prompt.message_tree_id]))


def test_tree_page_shows_messages_depth_first_with_deleted_ones_marked(admin_client):
    prompt = grow(2)
    Message.objects.filter(text="reply number 1").update(deleted=True)
    html = tree_page(admin_client, prompt).content.decode()
    order = [
        html.index(t) for t in ("juggle", "reply number 0", "follow-up of 0", "reply number 1")
    ]
    assert order == sorted(order)
    assert "line-through" in html and "rejected" not in html


def test_tree_page_shows_its_journal(admin_client):
    prompt = grow(0)
    JournalEntry.objects.create(
        event_type="tree_state_changed", message_tree_id=prompt.message_tree_id, actor="mod-7"
    )
    assert "mod-7" in tree_page(admin_client, prompt).content.decode()


def test_tree_page_query_count_does_not_grow_with_the_tree(admin_client):
    small, large = grow(1), grow(10)
    tree_page(admin_client, small)  # session and permission caches warm up
    with CaptureQueriesContext(connection) as small_queries:
        tree_page(admin_client, small)
    with CaptureQueriesContext(connection) as large_queries:
        assert tree_page(admin_client, large).status_code == 200
    assert len(large_queries) == len(small_queries) <= 10


# -- moderation ----------------------------------------------------------------------------


def test_halt_action_halts_trees_and_reports_those_that_cannot_be(admin_client):
    growing, halted = grow(0), grow(0)
    MessageTree.objects.filter(id=halted.message_tree_id).update(state="halted_by_moderator")
    trees = MessageTree.objects.filter(id__in=[growing.message_tree_id, halted.message_tree_id])
    response = run_action(admin_client, TREE_LIST, "halt_selected", trees)
    assert response.status_code == 302
    assert MessageTree.objects.get(id=growing.message_tree_id).state == "halted_by_moderator"
    assert any(str(halted.message_tree_id) in m for m in flash(response))
    entry = JournalEntry.objects.get(event_type="tree_state_changed")
    assert (entry.message_tree_id, entry.actor) == (growing.message_tree_id, ACTOR)


def test_resume_action_moves_halted_trees_on(admin_client):
    prompt = grow(0)
    MessageTree.objects.filter(id=prompt.message_tree_id).update(state="halted_by_moderator")
    run_action(admin_client, TREE_LIST, "resume_selected", [prompt.message_tree])
    # This tree never won the prompt lottery: it goes back to review (OA).
    assert MessageTree.objects.get(id=prompt.message_tree_id).state == "initial_prompt_review"


def test_tree_rows_cannot_be_edited_through_the_form(admin_client):
    prompt = grow(0)
    url = reverse("admin:trees_messagetree_change", args=[prompt.message_tree_id])
    assert admin_client.post(url, {"state": "ready_for_export"}).status_code == 403
    assert MessageTree.objects.get(id=prompt.message_tree_id).state == "growing"


def test_delete_action_soft_deletes_the_subtree(admin_client):
    prompt = grow(1)
    reply = Message.objects.get(text="reply number 0")
    run_action(admin_client, MESSAGE_LIST, "delete_with_subtree", [reply])
    deleted = set(Message.objects.filter(deleted=True).values_list("text", flat=True))
    assert deleted == {"reply number 0", "follow-up of 0"}
    assert Message.objects.get(id=prompt.id).deleted is False
    assert JournalEntry.objects.get(event_type="message_deleted").actor == ACTOR


def test_undelete_action_restores_the_message_and_its_ancestors(admin_client):
    grow(1)
    Message.objects.exclude(depth=0).update(deleted=True)
    leaf = Message.objects.get(text="follow-up of 0")
    run_action(admin_client, MESSAGE_LIST, "undelete_selected", [leaf])
    assert not Message.objects.filter(deleted=True).exists()
    assert JournalEntry.objects.get(event_type="message_undeleted").actor == ACTOR


# -- export --------------------------------------------------------------------------------


def test_export_action_streams_the_selected_trees_as_json_lines(admin_client):
    first, second, _other = grow(1), grow(0), grow(0)
    chosen = MessageTree.objects.filter(id__in=[first.message_tree_id, second.message_tree_id])
    response = run_action(admin_client, TREE_LIST, "export_selected", chosen)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert {line["message_tree_id"] for line in lines} == {
        str(first.message_tree_id),
        str(second.message_tree_id),
    }
    by_id = {line["message_tree_id"]: line for line in lines}
    assert by_id[str(first.message_tree_id)]["prompt"]["replies"][0]["text"] == "reply number 0"


@pytest.mark.parametrize(
    "model",
    [
        "messagetree",
        "message",
        "task",
        "textlabels",
        "messagereaction",
        "messageemoji",
        "messagerevision",
        "flaggedmessage",
        "journalentry",
        "treegrowthconfig",
    ],
)
def test_every_tree_engine_list_page_renders(admin_client, model):
    grow(1)
    assert admin_client.get(reverse(f"admin:trees_{model}_changelist")).status_code == 200


def test_message_page_renders_read_only(admin_client):
    prompt = grow(1)
    url = reverse("admin:trees_message_change", args=[prompt.id])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()


# -- reviewer reliability ---------------------------------------------------------------------


def test_reliability_list_shows_what_each_estimate_writes(admin_client):
    """The admin's columns and the job's upsert are one list: a re-estimate refreshes every
    column shown, and the page shows each of them."""
    from datetime import UTC, datetime

    from backend.trees.models import ReviewerReliability
    from backend.trees.services.reliability import estimate_reviewer_reliability
    from tests.builders import GOOD_REVIEW, make_client, review

    client = make_client()
    people = [make_user(client, username=f"rater-{i}") for i in range(4)]
    prompt = make_tree(author=people[0])
    reply = add_reply(prompt, author=people[1])
    review(reply, people[2:4], GOOD_REVIEW)
    estimate_reviewer_reliability(now=datetime(2026, 1, 1, tzinfo=UTC))
    ReviewerReliability.objects.update(sensitivity=0.0, specificity=0.0, reviews=0, authored=0)
    later = datetime(2026, 1, 2, tzinfo=UTC)
    estimate_reviewer_reliability(now=later)

    row = ReviewerReliability.objects.get(user=people[2])
    assert row.sensitivity > 0 and row.specificity > 0 and row.reviews == 1
    assert row.updated_at == later
    assert ReviewerReliability.objects.get(user=people[1]).authored == 1
    page = admin_client.get(reverse("admin:trees_reviewerreliability_changelist"))
    assert page.status_code == 200
    headers = page.content.decode()
    for name in ReviewerReliability.ESTIMATED_FIELDS:
        assert f"column-{name}" in headers, name
