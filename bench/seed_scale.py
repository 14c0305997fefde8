"""Seed Open-Assistant's scale into a Grove PostgreSQL database in minutes (COPY, no ORM).

    .venv/bin/python bench/seed_scale.py --database-url postgres://postgres@127.0.0.1:5432/DB \\
        [--scale 1.0] [--seed 1] [--repo .]

At ``--scale 1.0``: 66,497 trees, 161,443 messages, 461,292 review labels and ~13,000 users,
as OA's deployment had, in 35 languages (en and es large, a long tail), most trees
ready_for_export and the rest growing, in review, waiting for the lottery, ranking, in the
ranking backlog or aborted. Parents with two or more accepted replies carry their rankings,
and every message, label and ranking has the done Task that produced it: the history that
makes task selection slow or fast at scale. ``--scale 0.015`` gives ~1,000 trees.

Rows are generated in Python from ``--seed`` (same seed, same forest) and written with
``COPY`` in one transaction; Django's foreign keys are DEFERRABLE INITIALLY DEFERRED, so
tasks and the messages they point at can go in any order. Then ANALYZE, and the target's
``manage.py rebuild_ready_work`` when it has that command.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.grove_processes import rebuild_ready_work, repo_python
from bench.texts import realistic_texts

OA_TREES, OA_MESSAGES, OA_LABELS, OA_USERS = 66_497, 161_443, 461_292, 13_000
REVIEWS_TO_DECIDE = 3  # num_reviews_initial_prompt / num_reviews_reply
RANKINGS_PER_PARENT = 3  # num_required_rankings
TREES_PER_COPY = 2_000
# Share of trees per state. Single-prompt states first; what is left is ready_for_export.
STATE_SHARE = {
    "initial_prompt_review": 0.03,
    "prompt_lottery_waiting": 0.08,
    "aborted_low_grade": 0.25,
    "growing": 0.01,
    "ranking": 0.005,
    "backlog_ranking": 0.03,
}
SINGLE_PROMPT_STATES = {"initial_prompt_review", "prompt_lottery_waiting", "aborted_low_grade"}
# (language, weight): en and es large, then a long tail (35 languages, as in OA).
# fmt: off
LANG_WEIGHTS = {
    "en": 380, "es": 250, "ru": 80, "de": 50, "zh": 40, "fr": 40, "th": 20, "pt-BR": 20,
    "ca": 20, "uk-UA": 15, "it": 15, "ja": 10, "pl": 10, "eu": 10, "vi": 8, "hu": 6,
    "ar": 6, "da": 5, "tr": 5, "ko": 5, "fi": 4, "id": 4, "cs": 3, "sv": 3, "nl": 3,
    "fa": 2, "bg": 2, "ro": 2, "he": 2, "el": 2, "nb-NO": 2, "gl": 1, "eo": 1, "sk": 1,
    "hi": 1,
}
# fmt: on
START = datetime(2023, 2, 1, tzinfo=UTC)
COLUMNS = {
    "accounts_user": "id api_client_id auth_method username display_name enabled deleted "
    "show_on_leaderboard notes created_at",
    "trees_messagetree": "id state goal_tree_size max_depth max_children_count lang origin "
    "active won_prompt_lottery_date created_at updated_at",
    "trees_task": "id payload_type payload user_id api_client_id frontend_message_id "
    "message_tree_id parent_message_id ack done skipped skip_reason collective created_at "
    "expiry_date",
    "trees_message": "id message_tree_id parent_id role text lang depth children_count "
    "review_count review_result ranking_count rank deleted synthetic edited model_name emojis "
    "user_id api_client_id task_id frontend_message_id created_at",
    "trees_textlabels": "id message_id user_id api_client_id task_id labels text created_at",
    "trees_messagereaction": "id task_id message_id user_id api_client_id payload_type payload "
    "created_at",
}


@cache
def shape(size: int) -> tuple[tuple[int | None, str, int], ...]:
    """(parent index, role, depth) of each node of a tree of ``size`` messages, in order.

    OA's default limits: three assistant replies to the prompt, one prompter reply under
    each (num_prompter_replies), then assistant replies at depth 3. Nodes come after their
    parents, and the last node is always a leaf.
    """
    nodes: list[tuple[int | None, str, int]] = [(None, "prompter", 0)]
    assistants = list(range(1, 1 + min(3, size - 1)))
    nodes += [(0, "assistant", 1)] * len(assistants)
    prompters = list(range(len(nodes), len(nodes) + min(3, size - len(nodes))))
    nodes += [(a, "prompter", 2) for a in assistants[: len(prompters)]]
    for j in range(size - len(nodes)):
        nodes.append((prompters[j % len(prompters)], "assistant", 3))
    return tuple(nodes)


def has_children(size: int, index: int) -> bool:
    return any(parent == index for parent, _, _ in shape(size))


class Plan:
    """Every tree's state, language, size and pending reviews; totals match the targets."""

    def __init__(self, scale: float, rng: random.Random):
        n_trees, n_messages = round(OA_TREES * scale), round(OA_MESSAGES * scale)
        states = [s for s, share in STATE_SHARE.items() for _ in range(round(share * n_trees))]
        states += ["ready_for_export"] * (n_trees - len(states))
        rng.shuffle(states)
        self.states = states
        self.langs = rng.choices(list(LANG_WEIGHTS), list(LANG_WEIGHTS.values()), k=n_trees)
        minimum = {"growing": 1, "ranking": 3, "backlog_ranking": 3, "ready_for_export": 3}
        self.sizes = [1 if s in SINGLE_PROMPT_STATES else minimum[s] for s in states]
        grown = [i for i, s in enumerate(states) if s not in SINGLE_PROMPT_STATES]
        # Spread the remaining messages, few trees reaching the goal size of 12 (as in OA).
        left = n_messages - sum(self.sizes)
        while left > 0:
            i = rng.choice(grown)
            if self.sizes[i] < 12:
                self.sizes[i] += 1
                left -= 1
        # Pending reviews (review_result None): the prompt in review, growing trees' newest
        # leaf replies; each with 0-2 reviews so far.
        self.pending: list[dict[int, int]] = []
        for state, size in zip(states, self.sizes, strict=True):
            if state == "initial_prompt_review":
                self.pending.append({0: rng.randint(0, 2)})
            elif state == "growing" and size > 1:
                last = [i for i in (size - 2, size - 1) if i > 0 and not has_children(size, i)]
                self.pending.append({i: rng.randint(0, 2) for i in last[: rng.randint(0, 2)]})
            else:
                self.pending.append({})
        decided = n_messages - sum(len(p) for p in self.pending)
        planned = REVIEWS_TO_DECIDE * decided + sum(sum(p.values()) for p in self.pending)
        # OA's counts give 2.86 labels per message: that many decided messages carry 2
        # reviews instead of 3 so the totals come out exactly.
        twos = max(0, min(decided, planned - round(OA_LABELS * scale)))
        self.two_reviews = set(rng.sample(range(decided), twos))


class Seeder:
    """Generates rows tree by tree and COPYs them table by table every few thousand trees."""

    def __init__(self, conn: psycopg.Connection, rng: random.Random, n_users: int):
        self.conn, self.rng = conn, rng
        self.texts = realistic_texts()
        self.rows: dict[str, list[tuple]] = {table: [] for table in COLUMNS}
        self.client_id = self.uid()
        conn.execute(
            "INSERT INTO accounts_apiclient (id, name, api_key_digest, key_id, enabled,"
            " trusted, frontend_type, admin_email, created_at) VALUES (%s, %s, %s, %s, true,"
            " false, 'bench', '', %s)",
            (self.client_id, "oa-scale-seed", uuid.uuid4().hex * 2, "seed", START),
        )
        self.users = [self.uid() for _ in range(n_users)]
        for i, user in enumerate(self.users):
            method = ("discord", "google", "local")[i % 3]
            created = START + timedelta(minutes=i)
            self.rows["accounts_user"].append(
                (user, self.client_id, method, f"oa-{i}", f"OA {i}", True, False, True, "", created)
            )
        # Few volunteers do most of the work (OA's leaderboard is steep).
        self.cum_weights = list(_accumulate(1 / (i + 1) ** 0.9 for i in range(n_users)))
        self.decided_seen = 0
        self.counts = dict.fromkeys(COLUMNS, 0)

    def uid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def people(self, k: int, *, besides: uuid.UUID) -> list[uuid.UUID]:
        chosen: list[uuid.UUID] = []
        while len(chosen) < k:
            user = self.rng.choices(self.users, cum_weights=self.cum_weights)[0]
            if user != besides and user not in chosen:
                chosen.append(user)
        return chosen

    def task(self, kind: str, user, payload: dict, tree, parent, created: datetime) -> uuid.UUID:
        task_id = self.uid()
        self.rows["trees_task"].append(
            (task_id, kind, json.dumps({"kind": kind, **payload}), user, self.client_id, "",
             tree, parent, True, True, False, "", False, created, created + timedelta(hours=2))
        )  # fmt: skip
        return task_id

    def tree(self, state: str, lang: str, size: int, pending: dict[int, int], when: datetime):
        tree_id = self.uid()  # the tree's id is its prompt's id, as in OA
        won = when + timedelta(hours=1) if state not in SINGLE_PROMPT_STATES else None
        self.rows["trees_messagetree"].append(
            (tree_id, state, 12, 3, 3, lang, "", state in {"growing", "initial_prompt_review",
             "ranking"}, won, when, when + timedelta(days=2))
        )  # fmt: skip
        nodes = shape(size)
        ids = [tree_id] + [self.uid() for _ in nodes[1:]]
        authors = [self.people(1, besides=tree_id)[0] for _ in nodes]
        children: dict[int, list[int]] = {}
        for index, (parent, _, _) in enumerate(nodes):
            if parent is not None:
                children.setdefault(parent, []).append(index)
        rankings = {p: self.ranking_count(state) for p, c in children.items() if len(c) >= 2}
        for index, (parent, role, depth) in enumerate(nodes):
            created = when + timedelta(minutes=30 * index)
            parent_id = ids[parent] if parent is not None else None
            kind = "initial_prompt" if parent is None else f"{role}_reply"
            task_id = self.task(kind, authors[index], {}, tree_id, parent_id, created)
            if index in pending:
                reviews, result = pending[index], None
            else:
                reviews = 2 if self.decided_seen in self.two_reviews else REVIEWS_TO_DECIDE
                result = state != "aborted_low_grade"
                self.decided_seen += 1
            ranked = rankings.get(parent, 0) if parent is not None else 0
            rank = None
            if state == "ready_for_export" and ranked:
                rank = children[parent].index(index)
            text = self.rng.choice(self.texts[role])
            self.rows["trees_message"].append(
                (ids[index], tree_id, parent_id, role, text, lang, depth,
                 len(children.get(index, ())), reviews, result, ranked, rank, False, False,
                 False, "", "{}", authors[index], self.client_id, task_id,
                 f"seed-{ids[index].hex}", created)
            )  # fmt: skip
            self.labels(ids[index], tree_id, role, depth, reviews, authors[index], created)
        for parent, count in rankings.items():
            self.rankings(tree_id, ids, parent, children[parent], nodes, count, when)

    def ranking_count(self, state: str) -> int:
        if state == "ready_for_export":
            return RANKINGS_PER_PARENT
        return self.rng.randint(0, RANKINGS_PER_PARENT - 1) if state == "ranking" else 0

    def labels(self, message_id, tree_id, role, depth, reviews, author, created) -> None:
        kind = "label_initial_prompt" if depth == 0 else f"label_{role}_reply"
        for reviewer in self.people(reviews, besides=author):
            at = created + timedelta(minutes=self.rng.randint(5, 600))
            payload = {"message_id": str(message_id), "mode": "full", "mandatory_labels": ["spam"]}
            task_id = self.task(kind, reviewer, payload, tree_id, message_id, at)
            labels = {"spam": 0.0, "lang_mismatch": 0.0, "quality": round(self.rng.random(), 2)}
            self.rows["trees_textlabels"].append(
                (self.uid(), message_id, reviewer, self.client_id, task_id, json.dumps(labels),
                 "", at)
            )  # fmt: skip

    def rankings(self, tree_id, ids, parent, kids, nodes, count, when) -> None:
        kind = (
            "rank_assistant_replies"
            if nodes[kids[0]][1] == "assistant"
            else ("rank_prompter_replies")
        )
        reply_ids = [str(ids[k]) for k in kids]
        for ranker in self.people(count, besides=ids[parent]):
            at = when + timedelta(days=1, minutes=self.rng.randint(0, 600))
            payload = {"parent_id": str(ids[parent]), "reply_ids": reply_ids}
            task_id = self.task(kind, ranker, payload, tree_id, ids[parent], at)
            order = list(range(len(kids)))
            self.rng.shuffle(order)
            body = {"ranking": order, "ranked_message_ids": [reply_ids[i] for i in order]}
            self.rows["trees_messagereaction"].append(
                (self.uid(), task_id, ids[parent], ranker, self.client_id,
                 "RankingReactionPayload", json.dumps(body), at)
            )  # fmt: skip

    def flush(self) -> None:
        with self.conn.cursor() as cursor:
            for table, rows in self.rows.items():
                if not rows:
                    continue
                columns = ", ".join(COLUMNS[table].split())
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                self.counts[table] += len(rows)
                rows.clear()


def _accumulate(values):
    total = 0.0
    for value in values:
        total += value
        yield total


def seed(database_url: str, scale: float, seed_value: int) -> dict[str, int]:
    rng = random.Random(seed_value)
    plan = Plan(scale, rng)
    with psycopg.connect(database_url) as conn:
        seeder = Seeder(conn, rng, max(50, round(OA_USERS * scale)))
        seeder.two_reviews = plan.two_reviews
        minutes_apart = 250 * 24 * 60 / max(1, len(plan.states))
        for i, state in enumerate(plan.states):
            when = START + timedelta(minutes=i * minutes_apart)
            seeder.tree(state, plan.langs[i], plan.sizes[i], plan.pending[i], when)
            if i % TREES_PER_COPY == TREES_PER_COPY - 1:
                seeder.flush()
        seeder.flush()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    return seeder.counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of OA's counts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()
    env = {**os.environ, "DATABASE_URL": args.database_url}
    manage = [repo_python(args.repo), "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=args.repo, env=env, check=True)
    started = time.monotonic()
    counts = seed(args.database_url, args.scale, args.seed)
    print(f"seeded in {time.monotonic() - started:.0f}s: " + ", ".join(
        f"{n} {table}" for table, n in counts.items()))  # fmt: skip
    if rebuild_ready_work(args.repo, env):
        print("ran manage.py rebuild_ready_work")
    else:
        print("no rebuild_ready_work command in this Grove; skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
