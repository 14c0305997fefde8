"""Export and import in Open-Assistant's format: shape, filters, anonymisation, round trip."""

from __future__ import annotations

import gzip
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from backend.accounts.models import ApiClient, User
from backend.trees.export import ExportFilter, export_trees, pseudonymize_user_id
from backend.trees.importer import TreeImportError, import_trees
from backend.trees.models import (
    Message,
    MessageEmoji,
    MessageReaction,
    MessageTree,
    TextLabels,
)
from backend.trees.services.messages import EmojiOp, react_with_emoji
from tests.builders import add_reply, make_tree, make_user

pytestmark = pytest.mark.django_db
EVERYTHING = ExportFilter(states=(), include_deleted=True)


def export(filters: ExportFilter = EVERYTHING, **options) -> list[dict]:
    out = io.StringIO()
    export_trees(out=out, filters=filters, **options)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def rich_tree():
    """A scored tree with labels, ranks, emojis, a synthetic reply and a deleted message."""
    client_user, labeller, other = make_user(), make_user(), make_user()
    prompt = make_tree(author=client_user, state="ready_for_export")
    MessageTree.objects.filter(id=prompt.message_tree_id).update(origin="api:test")
    Message.objects.filter(id=prompt.id).update(review_count=3)
    first = add_reply(prompt, author=other, review_result=True, rank=1, emojis={"+1": 2})
    second = add_reply(
        prompt, author=other, review_result=True, rank=0, synthetic=True, model_name="m-1"
    )
    deleted = add_reply(first, author=client_user, review_result=True, deleted=True)
    add_reply(deleted, author=other, text="below a deleted message", deleted=True)
    for user, labels in ((labeller, {"spam": 0.0, "quality": 0.75}), (other, {"quality": 0.5})):
        TextLabels.objects.create(
            message=prompt, user=user, api_client=user.api_client, labels=labels
        )
    return prompt, first, second, deleted


def test_a_tree_line_has_oa_export_fields():
    prompt, *_ = rich_tree()

    (tree,) = export()

    assert set(tree) == {"message_tree_id", "tree_state", "prompt", "origin"}
    assert tree["message_tree_id"] == str(prompt.id)
    assert tree["tree_state"] == "ready_for_export"
    node = tree["prompt"]
    assert {
        "message_id",
        "user_id",
        "created_date",
        "text",
        "role",
        "lang",
        "review_count",
        "review_result",
        "deleted",
        "synthetic",
        "emojis",
        "replies",
        "labels",
    } <= set(node)
    assert "parent_id" not in node  # null values are left out, as in OA's exports
    assert node["replies"][0]["parent_id"] == str(prompt.id)


def test_labels_are_averaged_with_their_counts():
    rich_tree()

    labels = export()[0]["prompt"]["labels"]

    assert labels == {"quality": {"value": 0.625, "count": 2}, "spam": {"value": 0.0, "count": 1}}


def test_replies_are_ordered_by_rank():
    _, first, second, _ = rich_tree()

    replies = export()[0]["prompt"]["replies"]

    assert [r["message_id"] for r in replies] == [str(second.id), str(first.id)]
    assert [r["rank"] for r in replies] == [0, 1]


def test_unranked_replies_come_after_the_ranked_ones():
    author = make_user()
    prompt = make_tree(author=author, state="ready_for_export")
    unranked = add_reply(prompt, author=author, review_result=True)  # the oldest
    second = add_reply(prompt, author=author, review_result=True, rank=1)
    best = add_reply(prompt, author=author, review_result=True, rank=0)

    replies = export()[0]["prompt"]["replies"]

    assert [r["message_id"] for r in replies] == [str(best.id), str(second.id), str(unranked.id)]


def test_review_result_is_shown_only_when_true_or_after_three_reviews():
    author = make_user()
    prompt = make_tree(author=author, state="ready_for_export")
    add_reply(prompt, author=author, review_result=False, review_count=1)
    add_reply(prompt, author=author, review_result=False, review_count=3)

    replies = export()[0]["prompt"]["replies"]

    assert sorted(str(r.get("review_result")) for r in replies) == ["False", "None"]


def test_deleted_messages_and_their_replies_are_left_out_by_default():
    _, first, _, deleted = rich_tree()

    (tree,) = export(ExportFilter(states=()))

    first_node = next(r for r in tree["prompt"]["replies"] if r["message_id"] == str(first.id))
    assert first_node["replies"] == []
    assert str(deleted.id) not in json.dumps(tree)


def test_a_tree_with_a_deleted_prompt_is_left_out_by_default():
    prompt = make_tree(author=make_user(), state="ready_for_export")
    Message.objects.filter(id=prompt.id).update(deleted=True)

    assert export(ExportFilter(states=())) == []
    assert len(export()) == 1


def test_state_filter_defaults_to_ready_for_export():
    author = make_user()
    ready = make_tree(author=author, state="ready_for_export")
    make_tree(author=author, state="growing")

    assert [t["message_tree_id"] for t in export(ExportFilter())] == [str(ready.id)]
    assert len(export(ExportFilter(states=("growing", "ready_for_export")))) == 2


def test_language_filter():
    author = make_user()
    make_tree(author=author, lang="en")
    de = make_tree(author=author, lang="de")

    trees = export(ExportFilter(states=(), lang="de"))

    assert [t["message_tree_id"] for t in trees] == [str(de.id)]


def test_date_range_filter_is_from_inclusive_to_exclusive():
    author = make_user()
    old, new = make_tree(author=author), make_tree(author=author)
    cut = timezone.now() - timedelta(days=1)
    MessageTree.objects.filter(id=old.id).update(created_at=cut - timedelta(days=1))
    MessageTree.objects.filter(id=new.id).update(created_at=cut)

    since = export(ExportFilter(states=(), created_from=cut))
    before = export(ExportFilter(states=(), created_to=cut))

    assert [t["message_tree_id"] for t in since] == [str(new.id)]
    assert [t["message_tree_id"] for t in before] == [str(old.id)]


def test_synthetic_exclude_drops_synthetic_messages():
    _, first, _, _ = rich_tree()

    (tree,) = export(ExportFilter(states=(), synthetic="exclude"))

    assert [r["message_id"] for r in tree["prompt"]["replies"]] == [str(first.id)]


def test_synthetic_only_keeps_trees_holding_a_synthetic_message():
    rich_tree()
    make_tree(author=make_user(), state="ready_for_export")

    trees = export(ExportFilter(states=(), synthetic="only"))

    assert len(trees) == 1
    assert any(r.get("synthetic") for r in trees[0]["prompt"]["replies"])


def test_anonymize_replaces_user_ids_with_stable_pseudonyms(settings):
    settings.GROVE_EXPORT_USER_SALT = "salt-one"
    prompt, *_ = rich_tree()

    (tree,) = export(ExportFilter(states=(), anonymize=True))

    assert tree["prompt"]["user_id"] == pseudonymize_user_id(prompt.user_id)
    assert str(prompt.user_id) not in json.dumps(tree)
    assert export(ExportFilter(states=(), anonymize=True)) == [tree]


def test_the_pseudonym_depends_on_the_salt(settings):
    user = make_user()
    settings.GROVE_EXPORT_USER_SALT = "salt-one"
    one = pseudonymize_user_id(user.id)
    settings.GROVE_EXPORT_USER_SALT = "salt-two"

    assert pseudonymize_user_id(user.id) != one


def test_export_reads_trees_in_chunks():
    author = make_user()
    ids = {str(make_tree(author=author).id) for _ in range(5)}

    trees = export(ExportFilter(states=()), chunk_size=2)

    assert {t["message_tree_id"] for t in trees} == ids


def empty_database() -> None:
    MessageTree.objects.all().delete()
    User.objects.all().delete()
    ApiClient.objects.all().delete()


def write_lines(tmp_path, lines: list[str]):
    path = tmp_path / "trees.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_export_import_export_round_trip_is_identical(tmp_path):
    rich_tree()
    make_tree(author=make_user(), state="growing", lang="de")
    path = tmp_path / "trees.jsonl"
    call_command("export_trees", "--state", "all", "--include-deleted", "--output", str(path))
    first = path.read_text(encoding="utf-8")
    empty_database()

    call_command("import_trees", str(path), stdout=io.StringIO())
    again = tmp_path / "again.jsonl.gz"
    call_command("export_trees", "--state=all", "--include-deleted", f"--output={again}")

    with gzip.open(again, "rt", encoding="utf-8") as stream:
        assert stream.read() == first
    assert len(first.splitlines()) == 2
    for field in ('"labels"', '"rank": 0', '"emojis": {"+1": 2}', '"deleted": true', '"m-1"'):
        assert field in first


def test_import_of_an_existing_tree_skips_it(tmp_path):
    rich_tree()
    path = tmp_path / "trees.jsonl"
    call_command("export_trees", "--state", "all", "--output", str(path))
    messages = Message.objects.count()

    report = import_trees(path=path)

    assert report.imported == [] and len(report.skipped) == 1
    assert Message.objects.count() == messages


def test_import_refuses_a_message_id_used_by_another_tree(tmp_path):
    rich_tree()
    (tree,) = export()
    tree["message_tree_id"] = tree["prompt"]["message_id"] = "00000000-0000-4000-8000-000000000001"
    for reply in tree["prompt"]["replies"]:
        reply["parent_id"] = tree["prompt"]["message_id"]

    with pytest.raises(TreeImportError, match=r"line 1: message .* already exists"):
        import_trees(path=write_lines(tmp_path, [json.dumps(tree)]))
    assert not MessageTree.objects.filter(id=tree["message_tree_id"]).exists()


@pytest.mark.parametrize(
    ("bad_line", "error"),
    [
        ("{not json", "line 2: not valid JSON"),
        ('{"message_tree_id": "x"}', "line 2: badly formed hexadecimal UUID string"),
        ("[1, 2]", "line 2: a line must be a JSON object"),
    ],
)
def test_a_bad_line_stops_the_import_with_its_number_and_writes_nothing(tmp_path, bad_line, error):
    rich_tree()
    good = export()[0]
    empty_database()
    path = write_lines(tmp_path, [json.dumps(good), bad_line])

    with pytest.raises(TreeImportError, match=error):
        import_trees(path=path)
    assert MessageTree.objects.count() == 0
    assert Message.objects.count() == 0


def test_import_names_the_missing_field(tmp_path):
    rich_tree()
    tree = export()[0]
    del tree["prompt"]["replies"][0]["text"]
    empty_database()

    with pytest.raises(TreeImportError, match="line 1: missing field 'text'"):
        import_trees(path=write_lines(tmp_path, [json.dumps(tree)]))


def test_import_checks_parent_ids_and_label_values(tmp_path):
    rich_tree()
    tree = export()[0]
    empty_database()
    wrong_parent = json.loads(json.dumps(tree))
    wrong_parent["prompt"]["replies"][0]["parent_id"] = "00000000-0000-4000-8000-000000000009"
    bad_label = json.loads(json.dumps(tree))
    bad_label["prompt"]["labels"]["quality"]["value"] = 1.5

    with pytest.raises(TreeImportError, match="parent_id does not match"):
        import_trees(path=write_lines(tmp_path, [json.dumps(wrong_parent)]))
    with pytest.raises(TreeImportError, match="label 'quality' value must be between 0 and 1"):
        import_trees(path=write_lines(tmp_path, [json.dumps(bad_label)]))


def test_import_trees_command_turns_errors_into_a_command_error(tmp_path):
    path = write_lines(tmp_path, ["{oops"])

    with pytest.raises(CommandError, match="line 1: not valid JSON"):
        call_command("import_trees", str(path))


def test_export_job_writes_the_file_under_the_export_dir(tmp_path, settings):
    from workers.jobs import export_trees_job

    settings.GROVE_EXPORT_DIR = tmp_path / "exports"
    prompt = make_tree(author=make_user(), state="ready_for_export")

    path = export_trees_job.delay({"states": ["ready_for_export"]}, "nightly.jsonl").get()

    assert path == str(tmp_path / "exports" / "nightly.jsonl")
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["message_tree_id"] for line in lines] == [str(prompt.id)]


WITH_EVENTS = ExportFilter(states=(), include_deleted=True, include_events=True)


def react(prompt, first, second):
    """Emoji reactions through the service, and two rankings of the prompt's replies."""
    fan, critic = make_user(), make_user()
    for user, emoji in ((fan, "+1"), (critic, "+1"), (critic, "funny")):
        react_with_emoji(message_id=second.id, user=user, emoji=emoji, op=EmojiOp.ADD)
    for user, order in ((fan, [second, first]), (critic, [first, second])):
        MessageReaction.objects.create(
            message=prompt,
            user=user,
            api_client=user.api_client,
            payload_type="RankingReactionPayload",
            payload={"ranking": [0, 1], "ranked_message_ids": [str(m.id) for m in order]},
        )
    return fan, critic


def test_events_are_written_only_with_include_events():
    prompt, first, second, _ = rich_tree()
    react(prompt, first, second)

    (tree,) = export()

    assert "events" not in json.dumps(tree)


def test_rankings_are_events_of_the_ranked_replies_parent():
    prompt, first, second, _ = rich_tree()
    fan, _critic = react(prompt, first, second)

    events = export(WITH_EVENTS)[0]["prompt"]["events"]

    assert list(events) == ["ranking"]
    assert events["ranking"][0] == {
        "type": "ranking",
        "user_id": str(fan.id),
        "ranking": [0, 1],
        "ranked_message_ids": [str(second.id), str(first.id)],
        "ranking_parent_id": str(prompt.id),
        "message_tree_id": str(prompt.message_tree_id),
    }


def test_emoji_events_name_the_user_and_the_emoji():
    prompt, first, second, _ = rich_tree()
    fan, critic = react(prompt, first, second)

    replies = export(WITH_EVENTS)[0]["prompt"]["replies"]

    node = next(r for r in replies if r["message_id"] == str(second.id))
    assert node["events"] == {
        "emoji": [
            {"type": "emoji", "user_id": str(fan.id), "emoji": "+1"},
            {"type": "emoji", "user_id": str(critic.id), "emoji": "+1"},
            {"type": "emoji", "user_id": str(critic.id), "emoji": "funny"},
        ]
    }
    assert node["emojis"] == {"+1": 2, "funny": 1}


def test_anonymized_events_carry_pseudonymous_user_ids(settings):
    settings.GROVE_EXPORT_USER_SALT = "salt-one"
    prompt, first, second, _ = rich_tree()
    fan, critic = react(prompt, first, second)

    (tree,) = export(ExportFilter(states=(), include_events=True, anonymize=True))

    rankings = tree["prompt"]["events"]["ranking"]
    assert [e["user_id"] for e in rankings] == [
        pseudonymize_user_id(fan.id),
        pseudonymize_user_id(critic.id),
    ]
    assert str(fan.id) not in json.dumps(tree) and str(critic.id) not in json.dumps(tree)


def test_export_import_export_round_trip_keeps_events(tmp_path):
    prompt, first, second, _ = rich_tree()
    react(prompt, first, second)
    path = tmp_path / "trees.jsonl"
    options = ("--state=all", "--include-deleted", "--include-events")
    call_command("export_trees", *options, f"--output={path}")
    first_export = path.read_text(encoding="utf-8")
    empty_database()

    call_command("import_trees", str(path), stdout=io.StringIO())
    again = tmp_path / "again.jsonl"
    call_command("export_trees", *options, f"--output={again}")

    assert again.read_text(encoding="utf-8") == first_export
    assert '"ranking"' in first_export and '"emoji": "funny"' in first_export
    assert MessageEmoji.objects.filter(message_id=second.id).count() == 3
    assert Message.objects.get(id=second.id).emojis == {"+1": 2, "funny": 1}
    rankings = MessageReaction.objects.filter(message_id=prompt.id)
    assert rankings.count() == 2 and not rankings.filter(task__isnull=False).exists()
    assert Message.objects.get(id=first.id).ranking_count == 2


def test_importing_events_twice_changes_nothing(tmp_path):
    prompt, first, second, _ = rich_tree()
    react(prompt, first, second)
    path = tmp_path / "trees.jsonl"
    path.write_text(json.dumps(export(WITH_EVENTS)[0]) + "\n", encoding="utf-8")
    empty_database()
    import_trees(path=path)

    report = import_trees(path=path)

    assert len(report.skipped) == 1
    assert MessageEmoji.objects.count() == 3
    assert MessageReaction.objects.count() == 2


def test_emoji_counts_of_codes_with_events_follow_the_events(tmp_path):
    prompt, first, second, _ = rich_tree()
    react(prompt, first, second)
    tree = export(WITH_EVENTS)[0]
    node = next(r for r in tree["prompt"]["replies"] if r["message_id"] == str(second.id))
    node["emojis"] = {"+1": 7, "_skip_reply": 1}
    empty_database()

    import_trees(path=write_lines(tmp_path, [json.dumps(tree)]))

    assert Message.objects.get(id=second.id).emojis == {"+1": 2, "funny": 1, "_skip_reply": 1}


def _second_reply(tree: dict, second) -> dict:
    return next(r for r in tree["prompt"]["replies"] if r["message_id"] == str(second.id))


@pytest.mark.parametrize(
    ("spoil", "error"),
    [
        (
            lambda tree, second: tree["prompt"]["events"].update(report=[]),
            r"line 2: message .*: unknown event type 'report'",
        ),
        (
            lambda tree, second: tree["prompt"]["events"]["ranking"][0].update(ranking=[0, 0]),
            r"line 2: message .*: ranking event 0: ranking must be a permutation of 0..1",
        ),
        (
            lambda tree, second: tree["prompt"]["events"]["ranking"][0][
                "ranked_message_ids"
            ].__setitem__(0, tree["prompt"]["message_id"]),
            r"line 2: message .*: ranked message .* is not one of its replies",
        ),
        (
            lambda tree, second: _second_reply(tree, second)["events"]["emoji"].append(
                dict(_second_reply(tree, second)["events"]["emoji"][0])
            ),
            r"line 2: message .*: user .* gives the same emoji twice",
        ),
        (
            lambda tree, second: _second_reply(tree, second)["events"]["emoji"][0].update(
                user_id="nobody"
            ),
            r"line 2: message .*: emoji event 0: user_id 'nobody' is not a UUID",
        ),
    ],
    ids=["unknown-type", "ranking", "ranked-id", "duplicate-emoji", "user-id"],
)
def test_a_bad_event_stops_the_import_with_its_line_and_writes_nothing(tmp_path, spoil, error):
    prompt, first, second, _ = rich_tree()
    react(prompt, first, second)
    other = make_tree(author=make_user(), state="ready_for_export")
    good, bad = sorted(export(WITH_EVENTS), key=lambda t: t["message_tree_id"] == str(prompt.id))
    assert good["message_tree_id"] == str(other.id)
    spoil(bad, second)
    empty_database()

    with pytest.raises(TreeImportError, match=error):
        import_trees(path=write_lines(tmp_path, [json.dumps(good), json.dumps(bad)]))
    assert MessageTree.objects.count() == 0
    assert MessageEmoji.objects.count() == 0 and MessageReaction.objects.count() == 0


def test_export_job_accepts_include_events(tmp_path, settings):
    from workers.jobs import export_trees_job

    settings.GROVE_EXPORT_DIR = tmp_path / "exports"
    prompt, first, second, _ = rich_tree()
    react(prompt, first, second)

    path = export_trees_job.delay({"states": [], "include_events": True}, "events.jsonl").get()

    (line,) = Path(path).read_text(encoding="utf-8").splitlines()
    assert len(json.loads(line)["prompt"]["events"]["ranking"]) == 2


def test_a_ranking_naming_replies_left_out_of_the_export_is_imported_as_it_is(tmp_path):
    _, first, _, deleted = rich_tree()
    ranker = make_user()
    MessageReaction.objects.create(
        message=first,
        user=ranker,
        api_client=ranker.api_client,
        payload_type="RankingReactionPayload",
        payload={"ranking": [0], "ranked_message_ids": [str(deleted.id)]},
    )
    (tree,) = export(ExportFilter(states=(), include_events=True))
    assert str(deleted.id) in json.dumps(tree["prompt"]["replies"])
    empty_database()

    import_trees(path=write_lines(tmp_path, [json.dumps(tree)]))

    reaction = MessageReaction.objects.get(message_id=first.id)
    assert reaction.payload["ranked_message_ids"] == [str(deleted.id)]
    assert not Message.objects.filter(id=deleted.id).exists()
