"""The reviewer-skill estimator (two-coin Dawid-Skene) on synthetic data with a known answer."""

from __future__ import annotations

import math
import random

import pytest

from backend.trees.core.reliability import (
    ReviewerSkill,
    Verdict,
    always_approver_probability,
    author_prior,
    dawid_skene,
    is_acceptable_vote,
    posterior_acceptable,
)

PRIOR = ReviewerSkill(0.9, 0.8)


def synthetic_verdicts(seed: int = 7, items: int = 400, per_item: int = 4):
    """Items 85 % acceptable; reviewers of known kinds, each item reviewed by ``per_item``."""
    rng = random.Random(seed)
    kinds = {
        **{f"good{i}": (0.95, 0.95) for i in range(6)},
        **{f"noisy{i}": (0.7, 0.7) for i in range(2)},
        "random": (0.5, 0.5),
        "lazy": (1.0, 0.0),
        "adversary": (0.05, 0.05),
    }
    truth = {item: rng.random() < 0.85 for item in range(items)}
    verdicts = []
    for item, acceptable in truth.items():
        for reviewer in rng.sample(sorted(kinds), per_item):
            sensitivity, specificity = kinds[reviewer]
            right = rng.random() < (sensitivity if acceptable else specificity)
            verdicts.append(Verdict(item, reviewer, acceptable if right else not acceptable))
    return truth, verdicts


def empirical_skill(truth, verdicts, reviewer) -> ReviewerSkill:
    """What the reviewer actually did on this sample (the answer the estimate should find)."""
    mine = [v for v in verdicts if v.reviewer == reviewer]
    good = [v for v in mine if truth[v.item]]
    bad = [v for v in mine if not truth[v.item]]
    return ReviewerSkill(
        sum(v.acceptable for v in good) / len(good), sum(not v.acceptable for v in bad) / len(bad)
    )


def test_dawid_skene_recovers_each_reviewers_skills_without_the_truth():
    truth, verdicts = synthetic_verdicts()
    estimate = dawid_skene(verdicts, prior=PRIOR)
    for reviewer, found in estimate.skills.items():
        actual = empirical_skill(truth, verdicts, reviewer)
        assert found.sensitivity == pytest.approx(actual.sensitivity, abs=0.05), reviewer
        # Few bad items per reviewer (10 to 30): the prior (0.8, 4 pseudo-reviews) pulls.
        assert found.specificity == pytest.approx(actual.specificity, abs=0.15), reviewer


def test_dawid_skene_finds_no_information_in_random_lazy_or_adversarial_reviewers():
    _truth, verdicts = synthetic_verdicts()
    estimate = dawid_skene(verdicts, prior=PRIOR)
    for reviewer in ("random", "lazy", "adversary"):
        assert estimate.skills[reviewer].informativeness < 0.25, reviewer
    for i in range(6):
        assert estimate.skills[f"good{i}"].informativeness > 0.65


def test_dawid_skene_posteriors_beat_the_unweighted_majority():
    truth, verdicts = synthetic_verdicts()
    estimate = dawid_skene(verdicts, prior=PRIOR)
    by_model = sum((estimate.posteriors[i] >= 0.5) == truth[i] for i in truth) / len(truth)
    votes: dict[int, list[bool]] = {}
    for v in verdicts:
        votes.setdefault(v.item, []).append(v.acceptable)
    by_majority = sum((sum(votes[i]) * 2 > len(votes[i])) == truth[i] for i in truth) / len(truth)
    assert by_model >= 0.97
    assert by_model > by_majority


def test_dawid_skene_estimates_the_share_of_acceptable_items():
    truth, verdicts = synthetic_verdicts()
    estimate = dawid_skene(verdicts, prior=PRIOR)
    assert estimate.prevalence == pytest.approx(sum(truth.values()) / len(truth), abs=0.03)


def test_a_reviewer_with_few_reviews_stays_near_the_prior():
    estimate = dawid_skene([Verdict("m", "new", True)], prior=PRIOR)
    assert estimate.skills["new"].sensitivity == pytest.approx(0.9, abs=0.03)
    assert estimate.skills["new"].specificity == pytest.approx(0.8, abs=0.03)
    assert estimate.reviews == {"new": 1}


def test_posterior_of_one_vote_with_an_even_prior_is_the_reviewers_accuracy():
    skill = ReviewerSkill(0.9, 0.9)
    assert posterior_acceptable([(True, skill)], 0.5) == pytest.approx(0.9)
    assert posterior_acceptable([(False, skill)], 0.5) == pytest.approx(0.1)


def test_two_agreeing_votes_multiply_the_odds():
    skill = ReviewerSkill(0.8, 0.8)  # likelihood ratio 4 per vote
    odds = 16 * (0.6 / 0.4)
    assert posterior_acceptable([(True, skill), (True, skill)], 0.6) == pytest.approx(
        odds / (1 + odds)
    )


def test_an_adversarys_verdicts_weigh_nothing_either_way():
    adversary = ReviewerSkill(0.05, 0.05)
    assert adversary.vote_weight(True) == 0.0
    assert adversary.vote_weight(False) == 0.0
    assert posterior_acceptable([(False, adversary)] * 5, 0.9) == pytest.approx(0.9)


def test_a_reviewer_who_always_says_acceptable_adds_no_weight():
    lazy = ReviewerSkill(1.0, 0.0)
    assert lazy.informativeness == 0.0
    assert lazy.vote_weight(True) == pytest.approx(0.0, abs=1e-5)


def test_vote_weight_is_the_log_likelihood_ratio():
    skill = ReviewerSkill(0.9, 0.8)
    assert skill.vote_weight(True) == pytest.approx(math.log(0.9 / 0.2))
    assert skill.vote_weight(False) == pytest.approx(math.log(0.1 / 0.8))


def test_a_review_is_an_acceptable_vote_unless_flagged_spam_or_wrong_language():
    assert is_acceptable_vote({"spam": 0.0, "quality": 0.2})
    assert is_acceptable_vote({})
    assert not is_acceptable_vote({"spam": 1.0})
    assert not is_acceptable_vote({"spam": 0.0, "lang_mismatch": 1.0})


# --- the author's record as a prior -----------------------------------------------------------


def test_an_author_without_record_starts_at_the_base_prior():
    assert author_prior([], base=0.9, ceiling=0.96) == pytest.approx(0.9)


def test_a_spam_writers_record_lowers_their_next_messages_prior():
    # 6 messages judged spam, 4 fine: (4 + 4 * 0.9) / (10 + 4)
    found = author_prior([0.0] * 6 + [1.0] * 4, base=0.9, ceiling=0.96)
    assert found == pytest.approx(7.6 / 14)
    assert posterior_acceptable([(True, ReviewerSkill(0.97, 0.97))], found) < 0.98


def test_a_good_record_raises_the_prior_up_to_the_ceiling_only():
    assert author_prior([1.0] * 6, base=0.9, ceiling=0.96) == pytest.approx(9.6 / 10)
    assert author_prior([1.0] * 50, base=0.9, ceiling=0.96) == pytest.approx(0.96)


def test_under_the_ceiling_a_worthless_approval_never_accepts():
    prior = author_prior([1.0] * 500, base=0.9, ceiling=0.96)
    lazy, spammer = ReviewerSkill(1.0, 0.2), ReviewerSkill(0.5, 0.5)
    for skill in (lazy, spammer):
        assert posterior_acceptable([(True, skill)], prior) < 0.98


def test_dawid_skene_posteriors_tell_a_spam_writer_from_an_honest_author():
    truth, verdicts = synthetic_verdicts()
    estimate = dawid_skene(verdicts, prior=PRIOR)
    spam_items = [i for i, ok in truth.items() if not ok][:12]
    good_items = [i for i, ok in truth.items() if ok][:12]
    spam_writer = spam_items[:8] + good_items[:4]  # 2/3 spam
    honest = good_items[4:12]
    spam_prior = author_prior([estimate.posteriors[i] for i in spam_writer], base=0.9, ceiling=0.96)
    honest_prior = author_prior([estimate.posteriors[i] for i in honest], base=0.9, ceiling=0.96)
    assert spam_prior < 0.5
    assert honest_prior > 0.9


# --- reviewers who approve everything ---------------------------------------------------------


def test_a_newcomer_is_an_always_approver_with_the_prior_share():
    skill = ReviewerSkill(0.9, 0.8)
    found = always_approver_probability(
        reviews=0, disapprovals=0, skill=skill, prevalence=0.9, share=0.05
    )
    assert found == pytest.approx(0.05)


def test_one_disapproval_rules_out_the_always_approver():
    skill = ReviewerSkill(0.99, 0.8)
    found = always_approver_probability(
        reviews=500, disapprovals=1, skill=skill, prevalence=0.9, share=0.05
    )
    assert found == 0.0


def test_a_run_of_approvals_makes_the_always_approver_likely():
    skill = ReviewerSkill(0.9, 0.8)  # an engaged reviewer disapproves 0.1*0.8 + 0.9*0.1 = 17 %
    engaged = 0.95 * 0.83**20
    found = always_approver_probability(
        reviews=20, disapprovals=0, skill=skill, prevalence=0.9, share=0.05
    )
    assert found == pytest.approx(0.05 / (0.05 + engaged))
    assert found > 0.5


def test_an_approval_weighs_by_the_mixture_and_a_disapproval_by_the_engaged_reviewer():
    skill = ReviewerSkill(0.9, 0.8, always_approves=0.25)
    ratio = (0.25 + 0.75 * 0.9) / (0.25 + 0.75 * 0.2)
    assert skill.vote_weight(True) == pytest.approx(math.log(ratio))
    assert skill.vote_weight(False) == pytest.approx(math.log(0.1 / 0.8))
    assert ReviewerSkill(0.9, 0.8, always_approves=1.0).vote_weight(True) == pytest.approx(0.0)
    assert skill.informativeness == pytest.approx(0.75 * 0.7)


def test_an_always_ok_reviewers_approval_does_not_accept_alone_after_a_long_run():
    """The lazy reviewer's trap: their "ok" accepted the spam they saw, so the EM judged
    little of it unacceptable and their estimated specificity stays near the prior: one of
    their approvals accepts a message from an author with a clean record (prior 0.97). After
    40 approvals without one disapproval the mixture gives the "approves everything" kind
    about 0.29, and it no longer does."""
    _truth, verdicts = synthetic_verdicts()
    lazy_alone = [Verdict(f"solo{i}", "lazy2", True) for i in range(40)]
    estimate = dawid_skene(verdicts + lazy_alone, prior=PRIOR)
    believed = estimate.skills["lazy2"]
    assert posterior_acceptable([(True, believed)], 0.97) >= 0.98
    always = always_approver_probability(
        reviews=estimate.reviews["lazy2"],
        disapprovals=estimate.disapprovals["lazy2"],
        skill=believed,
        prevalence=0.9,
        share=0.05,
    )
    lazy = ReviewerSkill(believed.sensitivity, believed.specificity, always)
    assert posterior_acceptable([(True, lazy)], 0.97) < 0.98


def test_the_em_counts_each_reviewers_disapprovals():
    _truth, verdicts = synthetic_verdicts()
    estimate = dawid_skene(verdicts, prior=PRIOR)
    for reviewer in estimate.reviews:
        said_no = sum(not v.acceptable for v in verdicts if v.reviewer == reviewer)
        assert estimate.disapprovals[reviewer] == said_no
    assert estimate.disapprovals["lazy"] == 0


def test_a_careless_reviewers_specificity_is_held_at_their_sensitivity():
    """Noisy (0.7/0.7) and random reviewers show a sensitivity below the prior specificity
    0.8: capped, their specificity is held at that sensitivity on the few bad items they saw,
    so their approvals weigh less. Reliable reviewers (sensitivity above 0.8) keep theirs."""
    _truth, verdicts = synthetic_verdicts()
    plain = dawid_skene(verdicts, prior=PRIOR)
    capped = dawid_skene(verdicts, prior=PRIOR, capped_specificity_prior=True)
    for careless in ("noisy0", "noisy1", "random"):
        was, now = plain.skills[careless], capped.skills[careless]
        assert now.sensitivity < 0.8
        assert now.specificity < was.specificity
        assert now.vote_weight(True) < was.vote_weight(True)
    for i in range(6):
        good = f"good{i}"
        assert capped.skills[good].specificity == pytest.approx(
            plain.skills[good].specificity, abs=0.01
        )
