"""API clients (frontends, bots) and the users they act for."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone


class ApiClient(models.Model):
    """A frontend or bot holding an API key. Only a keyed digest of the key is stored (keys.py)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=256)
    api_key_digest = models.CharField(max_length=64, unique=True, editable=False)
    key_id = models.CharField(
        max_length=16,
        editable=False,
        help_text="A random label to tell keys apart; not part of the key.",
    )
    enabled = models.BooleanField(default=True)
    trusted = models.BooleanField(default=False)
    frontend_type = models.CharField(max_length=256, blank=True, default="")
    admin_email = models.EmailField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.name} (key {self.key_id})"


class AuthMethod(models.TextChoices):
    DISCORD = "discord"
    GOOGLE = "google"
    LOCAL = "local"
    SYSTEM = "system"


class User(models.Model):
    """A volunteer as known to one API client: ``(auth_method, username)`` is unique per client."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # ``user_unique_per_client`` leads with the client: no index of its own.
    api_client = models.ForeignKey(
        ApiClient, on_delete=models.PROTECT, related_name="users", db_index=False
    )
    auth_method = models.CharField(max_length=128, choices=AuthMethod.choices)
    username = models.CharField(max_length=128)
    display_name = models.CharField(max_length=256)
    enabled = models.BooleanField(default=True)
    deleted = models.BooleanField(default=False)
    show_on_leaderboard = models.BooleanField(default=True)
    notes = models.CharField(max_length=1024, blank=True, default="")
    tos_acceptance_date = models.DateTimeField(null=True, blank=True)
    streak_last_day_date = models.DateTimeField(null=True, blank=True)
    streak_days = models.PositiveIntegerField(null=True, blank=True)
    last_activity_date = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["api_client", "auth_method", "username"],
                name="user_unique_per_client",
            ),
            models.CheckConstraint(condition=~Q(username=""), name="user_username_not_empty"),
        ]
        # No index on ``last_activity_date``: every answered task stamps it, and with the column
        # indexed that update could never be HOT (it wrote all the table's indexes again). Only
        # the streak job reads it, over every user, where a scan of the table serves.
        indexes = [
            models.Index(fields=["api_client", "display_name"], name="user_display_name"),
        ]

    def __str__(self) -> str:
        return f"{self.auth_method}:{self.username}"
