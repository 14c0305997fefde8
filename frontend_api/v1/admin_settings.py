"""What ``admin/backend_settings/*`` show: Grove's settings under OA's names, never a secret.

OA returns its whole ``Settings`` object (database password included) to trusted clients.
Grove answers from an explicit allow-list instead: nothing here reads a URL, a key, a salt or
a password, so no deployment secret can leak through these endpoints.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from backend.trees.growth_config import active_config, active_version

PROJECT_NAME = "Grove"
API_V1_STR = "/api/v1"
# OA's USER_STATS_INTERVAL_* defaults in minutes, used until the stats settings exist.
_STATS_INTERVAL_DEFAULTS = {"DAY": 5, "WEEK": 15, "MONTH": 60, "TOTAL": 240}


def _stats_interval_minutes(frame: str) -> int:
    seconds = getattr(settings, f"GROVE_STATS_{frame}_INTERVAL_SECONDS", None)
    return seconds // 60 if seconds else _STATS_INTERVAL_DEFAULTS[frame]


def public_settings() -> dict:
    """OA ``PublicSettings``, field for field. Grove has no seed data, embeddings or toxicity
    model, and never lets a user label their own message."""
    return {
        "PROJECT_NAME": PROJECT_NAME,
        "API_V1_STR": API_V1_STR,
        "MESSAGE_SIZE_LIMIT": settings.GROVE_MAX_MESSAGE_LENGTH,
        "DEBUG_USE_SEED_DATA": False,
        "DEBUG_ALLOW_SELF_LABELING": False,
        "DEBUG_SKIP_EMBEDDING_COMPUTATION": True,
        "DEBUG_SKIP_TOXICITY_CALCULATION": True,
        "DEBUG_DATABASE_ECHO": False,
        **{
            f"USER_STATS_INTERVAL_{frame}": _stats_interval_minutes(frame)
            for frame in _STATS_INTERVAL_DEFAULTS
        },
    }


def full_settings() -> dict:
    """The public settings, Grove's operational knobs, and the active tree-growth config
    (OA's ``tree_manager``)."""
    version = active_version()
    throttle = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
    return {
        **public_settings(),
        "DEBUG": settings.DEBUG,
        "TASK_VALIDITY_MINUTES": settings.GROVE_TASK_EXPIRY_SECONDS // 60,
        "RATE_LIMIT_API_CLIENT": throttle.get("api_client"),
        "RATE_LIMIT_USER": throttle.get("user"),
        "DATABASE_VENDOR": connection.vendor,
        "CELERY_TASK_ALWAYS_EAGER": settings.CELERY_TASK_ALWAYS_EAGER,
        "CHANNEL_LAYER_BACKEND": settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1],
        "tree_manager": active_config().to_dict(),
        "tree_manager_version": version.version if version else None,
    }
