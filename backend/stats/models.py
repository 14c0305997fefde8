"""Leaderboard and troll statistics per user and time frame, and cached system stats."""

from __future__ import annotations

from django.db import models

from backend.accounts.models import User


class TimeFrame(models.TextChoices):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    TOTAL = "total"


class UserStats(models.Model):
    """Counts and Open-Assistant's leader score for one user in one time frame."""

    # The unique (user, time_frame) constraint leads with the user: no index of its own.
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="stats", db_index=False)
    time_frame = models.CharField(max_length=8, choices=TimeFrame.choices)
    leader_score = models.IntegerField(default=0)
    rank = models.PositiveIntegerField(null=True, blank=True)
    base_date = models.DateTimeField(null=True, blank=True)
    modified_date = models.DateTimeField(auto_now=True)
    prompts = models.PositiveIntegerField(default=0)
    replies_assistant = models.PositiveIntegerField(default=0)
    replies_prompter = models.PositiveIntegerField(default=0)
    labels_simple = models.PositiveIntegerField(default=0)
    labels_full = models.PositiveIntegerField(default=0)
    rankings_total = models.PositiveIntegerField(default=0)
    rankings_good = models.PositiveIntegerField(default=0)
    accepted_prompts = models.PositiveIntegerField(default=0)
    accepted_replies_assistant = models.PositiveIntegerField(default=0)
    accepted_replies_prompter = models.PositiveIntegerField(default=0)
    reply_ranked_1 = models.PositiveIntegerField(default=0)
    reply_ranked_2 = models.PositiveIntegerField(default=0)
    reply_ranked_3 = models.PositiveIntegerField(default=0)
    streak_last_day_date = models.DateTimeField(null=True, blank=True)
    streak_days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "user stats"
        constraints = [
            models.UniqueConstraint(fields=["user", "time_frame"], name="user_stats_unique"),
            models.CheckConstraint(
                condition=models.Q(time_frame__in=TimeFrame.values),
                name="user_stats_time_frame_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["time_frame", "rank"], name="user_stats_leaderboard"),
        ]


class TrollStats(models.Model):
    """Signals of abuse for one user in one time frame (OA's troll board)."""

    # The unique (user, time_frame) constraint leads with the user: no index of its own.
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="troll_stats", db_index=False
    )
    time_frame = models.CharField(max_length=8, choices=TimeFrame.choices)
    troll_score = models.IntegerField(default=0)
    rank = models.PositiveIntegerField(null=True, blank=True)
    base_date = models.DateTimeField(null=True, blank=True)
    modified_date = models.DateTimeField(auto_now=True)
    red_flags = models.PositiveIntegerField(default=0)
    upvotes = models.PositiveIntegerField(default=0)
    downvotes = models.PositiveIntegerField(default=0)
    spam_prompts = models.PositiveIntegerField(default=0)
    quality = models.FloatField(null=True, blank=True)
    humor = models.FloatField(null=True, blank=True)
    toxicity = models.FloatField(null=True, blank=True)
    violence = models.FloatField(null=True, blank=True)
    helpfulness = models.FloatField(null=True, blank=True)
    spam = models.PositiveIntegerField(default=0)
    lang_mismatch = models.PositiveIntegerField(default=0)
    not_appropriate = models.PositiveIntegerField(default=0)
    pii = models.PositiveIntegerField(default=0)
    hate_speech = models.PositiveIntegerField(default=0)
    sexual_content = models.PositiveIntegerField(default=0)
    political_content = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "troll stats"
        constraints = [
            models.UniqueConstraint(fields=["user", "time_frame"], name="troll_stats_unique"),
            models.CheckConstraint(
                condition=models.Q(time_frame__in=TimeFrame.values),
                name="troll_stats_time_frame_valid",
            ),
        ]
        indexes = [models.Index(fields=["time_frame", "rank"], name="troll_stats_board")]


class CachedStats(models.Model):
    """A named JSON document of system statistics, recomputed by a periodic job."""

    name = models.CharField(max_length=128, primary_key=True)
    stats = models.JSONField(default=dict)
    modified_date = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "cached stats"
