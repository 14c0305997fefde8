"""The task protocol over HTTP: shapes, status codes, error codes, a whole tree's life."""

from __future__ import annotations

import pytest

from backend.trees.models import Message, MessageTree, Task
from tests.api.conftest import protocol_user
from tests.builders import use_small_trees

pytestmark = pytest.mark.django_db

ALICE = protocol_user("alice")
BOB = protocol_user("bob")


def request(frontend, kind="initial_prompt", user=ALICE, lang="en"):
    return frontend.post("tasks/", {"type": kind, "user": user, "lang": lang})


def test_request_without_api_key_is_forbidden(client):
    response = client.post("/api/v1/tasks/", {"type": "random"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error_code"] == 2


def test_request_with_unknown_or_disabled_key_is_forbidden(frontend, client):
    bad = client.post(
        "/api/v1/tasks/", {}, content_type="application/json", HTTP_X_API_KEY="not-a-key"
    )
    assert bad.status_code == 403 and bad.json()["error_code"] == 2
    frontend.client_row.enabled = False
    frontend.client_row.save()
    assert request(frontend).status_code == 403


def test_initial_prompt_task_has_the_protocol_shape(frontend):
    response = request(frontend)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "type", "hint"}
    assert body["type"] == "initial_prompt"


def test_unknown_task_type_is_a_clear_error(frontend):
    response = request(frontend, kind="write_poem")
    assert response.status_code == 400
    assert response.json()["error_code"] == 1000
    assert "write_poem" in response.json()["message"]


def test_no_available_task_answers_503_with_protocol_code(frontend):
    response = request(frontend, kind="rank_assistant_replies")
    assert response.status_code == 503
    assert response.json() == {
        "message": response.json()["message"],
        "error_code": 1006,
    }


def test_wrong_types_get_422_and_write_nothing(frontend):
    response = frontend.post("tasks/", {"type": "random", "user": {"id": 5}})
    assert response.status_code == 422
    assert response.json()["error_code"] == 0
    assert "user" in response.json()["errors"]
    assert Task.objects.count() == 0


def test_ack_interaction_and_close_flow(frontend):
    task = request(frontend).json()
    assert frontend.post(f"tasks/{task['id']}/ack", {"message_id": "fm-1"}).status_code == 204
    done = frontend.post(
        "tasks/interaction",
        {
            "type": "text_reply_to_message",
            "user": ALICE,
            "message_id": "fm-1",
            "user_message_id": "um-1",
            "text": "What makes sourdough rise?",
            "lang": "en",
        },
    )
    assert done.status_code == 200
    assert done.json() == {"type": "task_done", "id": task["id"]}
    message = Message.objects.get(frontend_message_id="um-1")
    assert message.text == "What makes sourdough rise?"
    assert MessageTree.objects.get(id=message.id).state == "initial_prompt_review"


def test_double_ack_is_refused(frontend):
    task = request(frontend).json()
    frontend.post(f"tasks/{task['id']}/ack", {"message_id": "fm-1"})
    again = frontend.post(f"tasks/{task['id']}/ack", {"message_id": "fm-2"})
    assert again.status_code == 400
    assert again.json()["error_code"] == 2103


def test_unknown_task_id_is_404(frontend):
    response = frontend.post("tasks/00000000-0000-0000-0000-000000000000/ack", {"message_id": "fm"})
    assert response.status_code == 404
    assert response.json()["error_code"] == 2100


def test_another_clients_task_does_not_exist_for_me(frontend, make_frontend):
    task = request(frontend).json()
    other = make_frontend()
    response = other.post(f"tasks/{task['id']}/ack", {"message_id": "fm"})
    assert response.status_code == 404
    assert Task.objects.get(id=task["id"]).ack is None


def test_another_users_task_is_refused(frontend):
    task = request(frontend).json()
    request(frontend, user=BOB)
    response = frontend.post(f"tasks/{task['id']}/nack", {"reason": "x"}, user="local:bob")
    assert response.status_code == 400
    assert response.json()["error_code"] == 2106
    assert not Task.objects.get(id=task["id"]).skipped


def test_resending_a_reply_creates_one_message(frontend):
    task = request(frontend).json()
    frontend.post(f"tasks/{task['id']}/ack", {"message_id": "fm-1"})
    body = {
        "type": "text_reply_to_message",
        "user": ALICE,
        "message_id": "fm-1",
        "user_message_id": "um-1",
        "text": "Hello there",
    }
    assert frontend.post("tasks/interaction", body).status_code == 200
    assert frontend.post("tasks/interaction", body).status_code == 200
    assert Message.objects.count() == 1


def test_oversized_text_is_refused_and_nothing_written(frontend, settings):
    settings.GROVE_MAX_MESSAGE_LENGTH = 20
    task = request(frontend).json()
    frontend.post(f"tasks/{task['id']}/ack", {"message_id": "fm-1"})
    response = frontend.post(
        "tasks/interaction",
        {
            "type": "text_reply_to_message",
            "user": ALICE,
            "message_id": "fm-1",
            "user_message_id": "um-1",
            "text": "x" * 21,
        },
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == 1008
    assert Message.objects.count() == 0


def test_unknown_interaction_type_is_refused(frontend):
    response = frontend.post("tasks/interaction", {"type": "message_rating", "user": ALICE})
    assert response.status_code == 400
    assert response.json()["error_code"] == 1003


def test_availability_lists_every_task_type(frontend):
    response = frontend.post("tasks/availability", ALICE, lang="en")
    assert response.status_code == 200
    body = response.json()
    assert body["initial_prompt"] >= 1
    assert {"random", "assistant_reply", "label_initial_prompt", "rank_assistant_replies"} <= set(
        body
    )


def test_throttling_answers_429_in_protocol_shape(frontend, monkeypatch):
    from frontend_api.v1 import throttling

    rates = {**throttling.ProtocolRateThrottle.THROTTLE_RATES, "user": "2/minute"}
    monkeypatch.setattr(throttling.ProtocolRateThrottle, "THROTTLE_RATES", rates)
    # A fixed clock: three real requests could straddle the start of a minute.
    monkeypatch.setattr(throttling.ProtocolRateThrottle, "timer", staticmethod(lambda: 1.8e9))
    responses = [request(frontend) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[2].json()["error_code"] == 429
    assert int(responses[2]["Retry-After"]) >= 1
    # Another user of the same client is not held back by alice's budget.
    assert request(frontend, user=BOB).status_code == 200


def walk(frontend, kind, user, *, labels=None, text=None, ranking=None, n=[0]):  # noqa: B006
    n[0] += 1
    task = request(frontend, kind=kind, user=user).json()
    assert "id" in task, task
    fm = f"fm-{n[0]}"
    assert frontend.post(f"tasks/{task['id']}/ack", {"message_id": fm}).status_code == 204
    if kind.startswith("label_"):
        body = {
            "type": "text_labels",
            "user": user,
            "message_id": task["message_id"],
            "task_id": task["id"],
            "text": "",
            "labels": {k: v for k, v in (labels or {}).items() if k in task["valid_labels"]},
        }
    elif kind.startswith("rank_"):
        if callable(ranking):  # each task offers the replies in its own random order
            ranking = ranking(task)
        body = {"type": "message_ranking", "user": user, "message_id": fm, "ranking": ranking}
        assert len(task["reply_messages"]) == len(ranking)
    else:
        body = {
            "type": "text_reply_to_message",
            "user": user,
            "message_id": fm,
            "user_message_id": f"um-{n[0]}",
            "text": text or f"text {n[0]}",
        }
    response = frontend.post("tasks/interaction", body)
    assert response.status_code == 200, response.json()
    return task


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_whole_tree_life_through_the_api(frontend):
    """Real commits, so tree advancement runs as it does in production (on commit)."""
    use_small_trees()
    users = [protocol_user(name) for name in ("ann", "ben", "cat", "dan", "eve", "fay")]
    ann, ben, cat, dan, eve, fay = users
    good = {"spam": 0.0, "lang_mismatch": 0.0, "quality": 0.75}
    walk(frontend, "initial_prompt", ann, text="Why is the sky blue?")
    walk(frontend, "label_initial_prompt", ben, labels=good)
    walk(frontend, "label_initial_prompt", cat, labels=good)
    reply_task = walk(frontend, "assistant_reply", dan, text="Rayleigh scattering.")
    assert reply_task["conversation"]["messages"][0]["text"] == "Why is the sky blue?"
    walk(frontend, "assistant_reply", eve, text="Short wavelengths scatter more.")
    for reviewer in (ben, cat):
        for _ in range(2):
            walk(frontend, "label_assistant_reply", reviewer, labels=good)
    rank_task = walk(frontend, "rank_assistant_replies", ann, ranking=[1, 0])
    favourite = rank_task["reply_messages"][1]["id"]

    def favourite_first(task):
        ids = [m["id"] for m in task["reply_messages"]]
        return [ids.index(favourite), 1 - ids.index(favourite)]

    walk(frontend, "rank_assistant_replies", fay, ranking=favourite_first)
    tree = MessageTree.objects.get()
    assert tree.state == "ready_for_export"
    best = Message.objects.get(rank=0)
    assert str(best.id) == favourite


def test_unknown_api_path_answers_in_protocol_shape(frontend):
    response = frontend.get("no-such-endpoint")
    assert response.status_code == 404
    assert response.json()["error_code"] == 0


def test_a_frontend_message_id_binds_one_open_task_only(frontend):
    first = request(frontend).json()
    second = request(frontend, user=BOB).json()
    assert frontend.post(f"tasks/{first['id']}/ack", {"message_id": "fm-x"}).status_code == 204
    response = frontend.post(f"tasks/{second['id']}/ack", {"message_id": "fm-x"})
    assert response.status_code == 409
    assert response.json()["error_code"] == 2000
    assert Task.objects.get(id=second["id"]).ack is None


def test_task_type_is_an_enum_in_the_openapi_schema(frontend):
    schema = frontend.get("openapi.json").json()
    field = schema["components"]["schemas"]["TaskRequestInputRequest"]["properties"]["type"]
    assert field["allOf"] == [{"$ref": "#/components/schemas/TaskRequestType"}]
    assert "assistant_reply" in schema["components"]["schemas"]["TaskRequestType"]["enum"]


def test_task_response_is_documented_as_the_any_task_union(frontend):
    schema = frontend.get("openapi.json").json()
    response = schema["paths"]["/api/v1/tasks/"]["post"]["responses"]["200"]
    any_task = response["content"]["application/json"]["schema"]
    assert any_task == {"$ref": "#/components/schemas/AnyTask"}
    union = schema["components"]["schemas"]["AnyTask"]
    assert union["discriminator"]["propertyName"] == "type"
    assert set(union["discriminator"]["mapping"]) == {
        "initial_prompt",
        "assistant_reply",
        "prompter_reply",
        "label_initial_prompt",
        "label_assistant_reply",
        "label_prompter_reply",
        "rank_assistant_replies",
        "rank_prompter_replies",
    }


def test_rendered_tasks_carry_exactly_the_documented_fields(frontend):
    from frontend_api.v1.task_schemas import InitialPromptTaskOut, LabelTaskOut

    prompt_task = request(frontend).json()
    assert set(prompt_task) == set(InitialPromptTaskOut().fields)
    frontend.post(f"tasks/{prompt_task['id']}/ack", {"message_id": "fm-doc"})
    frontend.post(
        "tasks/interaction",
        {
            "type": "text_reply_to_message",
            "user": ALICE,
            "message_id": "fm-doc",
            "user_message_id": "um-doc",
            "text": "What is a monad?",
        },
    )
    label_task = request(frontend, kind="label_initial_prompt", user=BOB).json()
    assert set(label_task) == set(LabelTaskOut().fields) - {"reply"}


def test_availability_without_a_user_counts_for_no_user_in_particular(frontend):
    assert frontend.post("tasks/availability", lang="en").status_code == 200
    assert frontend.post("tasks/availability", {}, lang="en").status_code == 200


@pytest.mark.parametrize("body", [[None, None], "alice", 3])
def test_availability_with_a_body_that_is_not_a_user_object_is_422(frontend, body):
    response = frontend.post("tasks/availability", body, lang="en")
    assert response.status_code == 422


@pytest.mark.parametrize("collective", [0, 1, "false"])
def test_a_task_request_collective_flag_that_is_not_a_json_boolean_is_refused(frontend, collective):
    body = {"type": "random", "user": ALICE, "collective": collective}
    response = frontend.post("tasks/", body)
    assert response.status_code == 422
    assert "collective" in response.json()["errors"]
    assert Task.objects.count() == 0
