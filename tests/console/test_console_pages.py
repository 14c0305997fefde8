"""The console's pages through HTTP with a logged-in staff user: who may see them, the config
form's diff, save and rollback, and the tree view's moderation (all through the services)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.urls import reverse

from backend.trees.growth_config import active_config, active_version, update_config
from backend.trees.models import JournalEntry, Message, MessageTree, TreeGrowthConfig
from frontend_api.console.views import proposal_digest
from tests.builders import add_reply, config_form_data, make_tree, make_user

pytestmark = pytest.mark.django_db
ACTOR = "console:admin"  # pytest-django's admin_client logs in as "admin"


def form_data(action: str, base_version: int | None = None, **changes: Any) -> dict[str, Any]:
    """The config form as a browser posts it: the active values with ``changes`` applied
    (with ``base_version``, as "Save" posts it after the preview of the same values)."""
    data = {**config_form_data("from a test", **changes), "action": action}
    if base_version is not None:
        data["base_version"] = str(base_version)
        data["proposal"] = proposal_digest({**active_config().to_dict(), **changes})
    return data


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def staff_client(client, *permissions: str):
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)
    return client


def test_console_sends_anonymous_visitors_to_the_admin_login(client):
    response = client.get(reverse("console"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_console_refuses_a_logged_in_user_who_is_not_staff(client):
    client.force_login(User.objects.create_user("visitor", password="pw"))

    assert client.get(reverse("console-overview")).status_code == 302


def test_console_page_carries_the_overview_for_its_script(admin_client):
    make_tree(author=make_user(), state="growing", lang="en")

    response = admin_client.get(reverse("console"))

    assert response.status_code == 200
    page = response.content.decode()
    start = page.index('<script id="overview-data" type="application/json">')
    data = json.loads(page[page.index(">", start) + 1 : page.index("</script>", start)])
    assert data["funnel"] == {"en": {"growing": 1}}
    assert "console/vendor/uplot/uPlot.iife.min.js" in page


def test_overview_json_is_a_bounded_number_of_queries(admin_client, django_assert_max_num_queries):
    author = make_user()
    for lang in ("en", "de", "fr"):
        make_tree(author=author, state="growing", lang=lang)

    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("console-overview"))

    assert response.status_code == 200
    assert set(response.json()["funnel"]) == {"en", "de", "fr"}


def test_series_json_refuses_a_bad_span(admin_client):
    response = admin_client.get(reverse("console-series"), {"hours": "many"})

    assert response.status_code == 400
    assert "hours" in response.json()["error"]


def test_preview_shows_the_diff_and_writes_nothing(admin_client):
    before = TreeGrowthConfig.objects.count()
    goal = active_config().goal_tree_size

    response = admin_client.post(
        reverse("console-config"), form_data("preview", goal_tree_size=goal + 5)
    )

    assert response.status_code == 200
    assert response.context["diff"] == [
        {"name": "goal_tree_size", "before": goal, "after": goal + 5}
    ]
    assert 'id="save"' in response.content.decode()
    assert TreeGrowthConfig.objects.count() == before


def test_save_activates_a_new_version_through_the_service(admin_client):
    base = active_version().version
    goal = active_config().goal_tree_size

    response = admin_client.post(
        reverse("console-config"), form_data("save", base, goal_tree_size=goal + 5)
    )

    assert response.status_code == 302
    assert active_config().goal_tree_size == goal + 5
    assert active_version().version == base + 1
    entry = JournalEntry.objects.filter(event_type="config_updated").latest("id")
    assert entry.actor == ACTOR and entry.payload["changed"] == ["goal_tree_size"]


def test_save_is_refused_when_another_version_became_active_since_the_preview(admin_client):
    base = active_version().version
    update_config(changes={"goal_tree_size": 29}, author="someone-else")

    response = admin_client.post(
        reverse("console-config"), form_data("save", base, goal_tree_size=30)
    )

    assert response.status_code == 409
    assert active_config().goal_tree_size != 30
    assert active_version().version == base + 1


def test_save_is_refused_when_the_values_changed_since_the_preview(admin_client):
    base = active_version().version
    goal = active_config().goal_tree_size
    data = form_data("save", base, goal_tree_size=goal + 1)
    data["goal_tree_size"] = str(goal + 2)  # edited after the preview, not previewed again

    response = admin_client.post(reverse("console-config"), data)

    assert response.status_code == 409
    assert response.context["diff"][0]["after"] == goal + 2
    assert active_version().version == base


def test_invalid_value_is_shown_on_its_field_and_nothing_is_written(admin_client):
    before = TreeGrowthConfig.objects.count()

    response = admin_client.post(
        reverse("console-config"), form_data("save", active_version().version, goal_tree_size=-1)
    )

    assert response.status_code == 400
    assert response.context["form"].errors["goal_tree_size"]
    assert TreeGrowthConfig.objects.count() == before


def rollback_data(version: int) -> dict[str, Any]:
    """The rollback button's form: the version, and the active one its difference was shown
    against."""
    return {"version": version, "base_version": active_version().version}


def test_each_earlier_version_shows_what_rolling_back_to_it_would_change(admin_client):
    original = active_version()
    goal = original.values["goal_tree_size"]
    update_config(changes={"goal_tree_size": goal + 7}, author="someone")

    response = admin_client.get(reverse("console-config"))

    page = response.content.decode()
    rollbacks = {version.version: diff for version, diff in response.context["history"]}
    assert rollbacks[original.version] == [
        {"name": "goal_tree_size", "before": goal + 7, "after": goal}
    ]
    assert rollbacks[original.version + 1] is None  # the active one: nothing to roll back to
    row = page.split(f'<tr data-version="{original.version}"')[1].split("<tr data-version=")[0]
    assert 'class="rollback-diff"' in row and "goal_tree_size" in row
    assert f'name="base_version" value="{original.version + 1}"' in row


def test_rollback_restores_an_earlier_version_as_a_new_one(admin_client):
    original = active_version()
    update_config(changes={"goal_tree_size": 31}, author="someone")

    response = admin_client.post(reverse("console-rollback"), rollback_data(original.version))

    assert response.status_code == 302
    assert active_config().goal_tree_size == original.values["goal_tree_size"]
    assert active_version().version == original.version + 2
    assert JournalEntry.objects.filter(event_type="config_updated", actor=ACTOR).exists()


def test_rollback_to_an_unknown_version_is_refused(admin_client):
    before = TreeGrowthConfig.objects.count()

    response = admin_client.post(reverse("console-rollback"), rollback_data(999))

    assert flash(response) == ["Rollback refused: no configuration version 999"]
    assert TreeGrowthConfig.objects.count() == before


def test_rollback_is_refused_when_another_version_became_active_since_the_page_showed_it(
    admin_client,
):
    original = active_version()
    update_config(changes={"goal_tree_size": 31}, author="someone")
    shown = rollback_data(original.version)  # the page showed the difference against this one
    update_config(changes={"goal_tree_size": 32}, author="someone-else")
    before = TreeGrowthConfig.objects.count()

    response = admin_client.post(reverse("console-rollback"), shown)

    assert response.status_code == 302
    assert flash(response)[0].startswith(
        f"Rollback refused: version {original.version + 2} became active"
    )
    assert TreeGrowthConfig.objects.count() == before
    assert active_config().goal_tree_size == 32


def test_rollback_to_the_active_values_is_refused_as_no_change(admin_client):
    original = active_version()
    update_config(changes={}, author="same values")  # a new version, the same values
    before = TreeGrowthConfig.objects.count()

    response = admin_client.post(reverse("console-rollback"), rollback_data(original.version))

    assert flash(response) == [
        f"Rollback refused: version {original.version} has the active version's values"
    ]
    assert TreeGrowthConfig.objects.count() == before


def test_staff_without_the_config_permission_may_look_but_not_change(client):
    client = staff_client(client)
    before = TreeGrowthConfig.objects.count()

    assert client.get(reverse("console-config")).status_code == 200
    assert client.post(reverse("console-rollback"), {"version": 1}).status_code == 403
    assert TreeGrowthConfig.objects.count() == before


def test_tree_view_draws_nodes_by_review_state_and_rank_beside_the_journal(admin_client):
    author = make_user()
    prompt = make_tree(author=author)
    best = add_reply(prompt, author=make_user(), review_result=True, rank=0)
    add_reply(prompt, author=make_user(), review_result=False)

    response = admin_client.get(reverse("console-tree", kwargs={"tree_id": prompt.message_tree_id}))

    page = response.content.decode()
    assert response.status_code == 200
    assert f'id="node-{best.id}" data-review="accepted" data-rank="0"' in page
    assert page.count('data-review="rejected"') == 1
    assert 'id="journal"' in page


def test_unknown_tree_is_404(admin_client):
    url = reverse("console-tree", kwargs={"tree_id": "00000000-0000-0000-0000-000000000001"})

    assert admin_client.get(url).status_code == 404


def test_halt_and_resume_in_place_go_through_the_service(admin_client):
    prompt = make_tree(author=make_user())
    tree_id = prompt.message_tree_id

    admin_client.post(reverse("console-tree-halt", kwargs={"tree_id": tree_id}))
    assert MessageTree.objects.get(id=tree_id).state == "halted_by_moderator"
    admin_client.post(reverse("console-tree-resume", kwargs={"tree_id": tree_id}))

    assert MessageTree.objects.get(id=tree_id).state != "halted_by_moderator"
    moves = JournalEntry.objects.filter(message_tree_id=tree_id, event_type="tree_state_changed")
    assert [(entry.payload["reason"], entry.actor) for entry in moves.order_by("id")][:2] == [
        ("moderator", ACTOR),
        ("resumed", ACTOR),
    ]


def test_delete_removes_the_message_with_its_subtree(admin_client):
    prompt = make_tree(author=make_user())
    reply = add_reply(prompt, author=make_user())
    below = add_reply(reply, author=make_user())
    url = reverse(
        "console-message-delete",
        kwargs={"tree_id": prompt.message_tree_id, "message_id": reply.id},
    )

    response = admin_client.post(url)

    assert response.status_code == 302
    assert set(Message.objects.filter(deleted=True).values_list("id", flat=True)) == {
        reply.id,
        below.id,
    }


def test_staff_without_the_moderation_permission_cannot_halt(client):
    client = staff_client(client)
    prompt = make_tree(author=make_user())

    response = client.post(reverse("console-tree-halt", kwargs={"tree_id": prompt.message_tree_id}))

    assert response.status_code == 403
    assert MessageTree.objects.get(id=prompt.message_tree_id).state == "growing"
