"""Grove's Django settings: every knob comes from the environment, defaults live here.

With no variable set Grove runs *embedded*: a SQLite file, Celery jobs executed eagerly in
the web process and an in-memory channel layer, so it starts with no external service.
Setting ``DATABASE_URL`` / ``REDIS_URL`` (or the finer ``CELERY_BROKER_URL`` and
``GROVE_CHANNEL_LAYER_URL``) switches to PostgreSQL, Celery on Redis and channels-redis.
Every variable is listed with its default in ``.env.example``.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    """The variable's value; unset and empty both mean the default (as in ``NAME=`` lines)."""
    return os.environ.get(name) or default


VAR_DIR = Path(env_str("GROVE_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def _env_number(name: str, default, parse, what: str):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be {what}, got {raw!r}") from exc


def env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "an integer")


def env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("GROVE_DEBUG", False)
# The embedded default has a fixed, public development key; any deployment sets its own. The
# "django-insecure-" prefix makes `check --deploy` report it (security.W009).
INSECURE_DEV_SECRET_KEY = "django-insecure-grove-embedded-development-key-not-for-production-use"
SECRET_KEY = env_str("GROVE_SECRET_KEY", INSECURE_DEV_SECRET_KEY)
ALLOWED_HOSTS = env_list("GROVE_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("GROVE_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "backend.accounts",
    "backend.trees",
    "backend.stats",
    "backend.console",
    "frontend_api",
    "workers",
]

MIDDLEWARE = [
    # First: its request id and latency cover the whole chain (backend/observability/http.py).
    "backend.observability.http.RequestObservationMiddleware",
    "backend.listeners.RequestScope",
    "django.middleware.security.SecurityMiddleware",
    # Django's and WhiteNoise's own, passed by for /api/ requests (backend/browser_middleware.py).
    "backend.browser_middleware.WhiteNoiseMiddleware",
    "backend.browser_middleware.SessionMiddleware",
    "backend.slash_redirect.SlashRedirectMiddleware",
    # Django's own (its deploy check looks for this path); DRF's views are CSRF-exempt.
    "django.middleware.csrf.CsrfViewMiddleware",
    "backend.browser_middleware.AuthenticationMiddleware",
    "backend.browser_middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# Benchmarks only: SQL statements per request in a response header (backend/query_count.py).
if env_bool("GROVE_QUERY_COUNT_HEADER", False):
    MIDDLEWARE.insert(0, "backend.query_count.QueryCountMiddleware")

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"
ASGI_APPLICATION = "backend.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
EMBEDDED_DATABASE_URL = f"sqlite:///{VAR_DIR / 'grove.sqlite3'}"
DATABASE_URL = os.environ.get("DATABASE_URL") or EMBEDDED_DATABASE_URL
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_health_checks=True)}
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
# HTTP requests one web process works on at once (each holds a database connection);
# more wait their turn. 0 means no bound.
GROVE_WEB_MAX_CONCURRENT_REQUESTS = env_int("GROVE_WEB_MAX_CONCURRENT_REQUESTS", 16)
# PostgreSQL connections come from a pool in each process (psycopg_pool): under ASGI every
# request runs in a context of its own, so a new connection per request (CONN_MAX_AGE=0)
# costs a PostgreSQL backend start each time, and persistent connections (CONN_MAX_AGE>0)
# stay with finished requests' contexts instead of being reused. The pool is sized to the
# request bound above, so a process never holds more connections than it serves requests.
GROVE_DB_POOL = IS_POSTGRES and env_bool("GROVE_DB_POOL", True)
if GROVE_DB_POOL:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("GROVE_DB_POOL_MIN_SIZE", 2),
        "max_size": env_int("GROVE_DB_POOL_MAX_SIZE", GROVE_WEB_MAX_CONCURRENT_REQUESTS or 16),
        # Seconds a request waits for a free connection (or for one to open, when PostgreSQL
        # is down) before it answers 503.
        "timeout": env_int("GROVE_DB_POOL_TIMEOUT_SECONDS", 5),
        # Seconds the pool retries a lost connection, waiting twice as long each time, before
        # it gives up and starts over on demand. psycopg_pool's default (300 s) let the wait
        # grow with the outage: after PostgreSQL crashed for 8 s and came back, requests were
        # answered 503 for 5-7 s more (tests/faults/test_postgres_outage.py).
        "reconnect_timeout": env_int("GROVE_DB_POOL_RECONNECT_SECONDS", 4),
    }
    # The pool checks a connection before lending it only when it has been idle this long
    # (backend/database: Django's own check is a round trip on every request).
    GROVE_DB_POOL_CHECK_IDLE_SECONDS = env_float("GROVE_DB_POOL_CHECK_IDLE_SECONDS", 1.0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("GROVE_DB_CONN_MAX_AGE", 0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serialises writers. A transaction that starts as a reader (DEFERRED, the default)
    # and then writes cannot wait for the write lock: SQLite fails it at once with "database
    # is locked" (measured: 56 of 190 calls of 4 concurrent bots answered 500). IMMEDIATE
    # takes the write lock at BEGIN, so concurrent transactions queue for up to ``timeout``
    # seconds instead; WAL lets reads go on while one transaction writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
if IS_POSTGRES:
    # Django's backend with the pool's check and psycopg's C loaders (backend/database).
    DATABASES["default"]["ENGINE"] = "backend.database"
    # Fail fast: a connection attempt gives up after GROVE_DB_CONNECT_TIMEOUT_SECONDS, and the
    # server cancels a statement running longer than GROVE_DB_STATEMENT_TIMEOUT_SECONDS (0: no
    # limit; give ``migrate`` 0 when an index on a large table takes longer). Either answers a
    # request 503 (frontend_api/v1/errors.py), never a hang.
    _statement_ms = env_int("GROVE_DB_STATEMENT_TIMEOUT_SECONDS", 30) * 1000
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "connect_timeout": env_int("GROVE_DB_CONNECT_TIMEOUT_SECONDS", 5),
            "options": f"-c statement_timeout={_statement_ms}",
        }
    )
    # A server that answers nothing at all (paused, frozen) enforces no statement_timeout:
    # a pooled connection stops waiting for any answer after GROVE_DB_CLIENT_TIMEOUT_SECONDS
    # (default: the statement timeout + 5 s, so the server's own limit fires first; 0: no
    # limit) and the request answers 503 (backend/postgres_client.py).
    GROVE_DB_CLIENT_TIMEOUT_SECONDS = env_int(
        "GROVE_DB_CLIENT_TIMEOUT_SECONDS", _statement_ms // 1000 + 5 if _statement_ms else 0
    )
    if GROVE_DB_POOL:
        from backend.postgres_client import bounded_connection_class

        DATABASES["default"]["OPTIONS"]["pool"]["connection_class"] = bounded_connection_class(
            GROVE_DB_CLIENT_TIMEOUT_SECONDS or None
        )
    from backend.postgres_client import cache_long_statements

    cache_long_statements(max_length=32_768, max_params=500)
    # Parameters bound by the server, and each statement prepared on its connection from its
    # second run on: PostgreSQL then plans it once per connection instead of once per call.
    # Measured (bench/cycle_cpu.py, pg_stat_statements with track_planning): planning was
    # about half of PostgreSQL's time per task cycle (3.8 s of 7.5 s over 700 cycles; 3.1 ms
    # per plan of the task request's read); with this, 0.15 s. GROVE_DB_SERVER_SIDE_BINDING=
    # false goes back to client-side binding (for a pooler such as PgBouncer in transaction
    # mode, which cannot keep prepared statements).
    if env_bool("GROVE_DB_SERVER_SIDE_BINDING", True):
        DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = env_int(
            "GROVE_DB_PREPARE_THRESHOLD", 2
        )
        # A prepared statement's plan: the generic one, built once per connection. PostgreSQL's
        # "auto" plans each of the first five runs for their values, then keeps a custom plan per
        # call whenever it costs less than the generic one, and the task request's sampled read
        # (work_queries._sampled_template, written for the generic plan) is dear to plan.
        # Measured (bench/cycles.py, 16 clients, pg_stat_statements with track_planning, two
        # pairs on a busy box): planning 6.3-6.5 ms per cycle under "auto", 2.2-2.3 ms forced
        # generic; at OA's scale the request latency is unchanged (bench/request_latency.py).
        # GROVE_DB_PLAN_CACHE_MODE=auto goes back to PostgreSQL's own choice.
        _plan_cache_mode = env_str("GROVE_DB_PLAN_CACHE_MODE", "force_generic_plan")
        if _plan_cache_mode not in {"auto", "force_generic_plan", "force_custom_plan"}:
            raise ImproperlyConfigured(
                "GROVE_DB_PLAN_CACHE_MODE must be auto, force_generic_plan or force_custom_plan, "
                f"not {_plan_cache_mode!r}"
            )
        DATABASES["default"]["OPTIONS"]["options"] += f" -c plan_cache_mode={_plan_cache_mode}"
# Parallel test runs on one server each need their own test database name.
if os.environ.get("GROVE_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["GROVE_TEST_DB_NAME"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, Celery, channel layer ------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
# No job result is read by Grove: results are not stored (a result backend round trip per job
# was what turned a broker outage into a 20 s hang). Set it only to inspect results by hand.
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_IGNORE_RESULT = True
# Without a broker, jobs run in-process as they are sent (the embedded default).
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
# Acknowledged on receipt unless a job says otherwise (workers/jobs.py: the advance job).
CELERY_TASK_ACKS_LATE = False
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connections around every job, and in a prefork
# worker with a pool closes the whole pool: a new PostgreSQL session (or two: min_size) per
# job, 8 ms of each job's wall time waiting for it (py-spy of a worker draining 237 advance
# jobs). With this it does so once in 1,000 jobs; workers/signals.py gives each job's
# connection back to the pool instead (closed if it broke).
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_TIME_LIMIT = env_int("GROVE_JOB_TIME_LIMIT_SECONDS", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("GROVE_JOB_SOFT_TIME_LIMIT_SECONDS", 240)
CELERY_TASK_DEFAULT_QUEUE = "tree"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redelivery: a job delivered to a worker that dies with it (kill -9, lost host) stays in the
# broker's "unacked" set until it is GROVE_BROKER_VISIBILITY_TIMEOUT_SECONDS old; a running
# worker looks for such jobs every GROVE_BROKER_RESTORE_INTERVAL_SECONDS and puts them back.
# Only the late-acknowledged tree jobs use it (workers/jobs.py): their hard time limit
# (GROVE_TREE_JOB_TIME_LIMIT_SECONDS) must stay below the visibility timeout, or a job still
# running would be delivered a second time. Worst case from kill to rerun: visibility +
# restore interval (60 + 5 s by default); the due sweep catches a lost advance sooner.
GROVE_BROKER_VISIBILITY_TIMEOUT_SECONDS = env_int("GROVE_BROKER_VISIBILITY_TIMEOUT_SECONDS", 60)
GROVE_BROKER_RESTORE_INTERVAL_SECONDS = env_int("GROVE_BROKER_RESTORE_INTERVAL_SECONDS", 5)
GROVE_TREE_JOB_TIME_LIMIT_SECONDS = env_int("GROVE_TREE_JOB_TIME_LIMIT_SECONDS", 30)
# Sending after commit is best-effort and fast: a dead Redis refuses at once, a paused one
# costs about (1 + 2 x retries) x GROVE_BROKER_SOCKET_TIMEOUT_SECONDS (3 s measured: the
# command, then the retry's reconnect and command); the work is already
# recorded (the PendingAdvance outbox) and the due sweep sends it again.
GROVE_BROKER_SOCKET_TIMEOUT_SECONDS = env_float("GROVE_BROKER_SOCKET_TIMEOUT_SECONDS", 1.0)
CELERY_BROKER_CONNECTION_TIMEOUT = GROVE_BROKER_SOCKET_TIMEOUT_SECONDS
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": GROVE_BROKER_SOCKET_TIMEOUT_SECONDS,
    "socket_connect_timeout": GROVE_BROKER_SOCKET_TIMEOUT_SECONDS,
    "socket_keepalive": True,
    "visibility_timeout": GROVE_BROKER_VISIBILITY_TIMEOUT_SECONDS,
    "unacked_restore_interval": GROVE_BROKER_RESTORE_INTERVAL_SECONDS,
    "unacked_restore_throttle": 1,
}
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": env_int("GROVE_BROKER_PUBLISH_RETRIES", 1),
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}

CHANNEL_LAYER_URL = env_str("GROVE_CHANNEL_LAYER_URL", REDIS_URL)
if CHANNEL_LAYER_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "backend.channels_redis_layer.RedisChannelLayer",
            "CONFIG": {
                # channels_redis waits for a socket's next message with a blocking read
                # (BZPOPMIN) of GROVE_CHANNEL_LAYER_POP_SECONDS; redis-py's default read timeout
                # (5 s) once dropped every socket idle for ~5 s. The read timeout must stay
                # well above that wait.
                "hosts": [
                    {
                        "address": CHANNEL_LAYER_URL,
                        "socket_timeout": env_int("GROVE_CHANNEL_LAYER_READ_TIMEOUT_SECONDS", 30),
                        "socket_connect_timeout": 2,
                        "socket_keepalive": True,
                    }
                ],
                "prefix": "grove",
                # Sockets stay subscribed as long as they are open; a day (the default) is short.
                "group_expiry": env_int("GROVE_WS_GROUP_EXPIRY_SECONDS", 7 * 24 * 3600),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# Seconds one blocking read of the Redis channel layer waits (backend/channels_redis_layer.py):
# a consumer whose socket went away ends within it.
GROVE_CHANNEL_LAYER_POP_SECONDS = env_int("GROVE_CHANNEL_LAYER_POP_SECONDS", 1)

# --- Grove -----------------------------------------------------------------------------------
# Seconds between the {"type": "keepalive"} frames an open websocket gets, so that a proxy's
# idle timeout (nginx and most load balancers: 60 s) never closes a quiet socket.
GROVE_WS_KEEPALIVE_SECONDS = env_int("GROVE_WS_KEEPALIVE_SECONDS", 25)
# Browser origins (host patterns, as ALLOWED_HOSTS) that may open API-key sockets besides the
# socket's own host; sockets without an Origin header (bots) are not checked.
GROVE_WS_ALLOWED_ORIGINS = env_list("GROVE_WS_ALLOWED_ORIGINS", ",".join(ALLOWED_HOSTS))
# Longest frame a client may send (commands are a few hundred bytes); uvicorn's --ws-max-size.
GROVE_WS_MAX_FRAME_BYTES = env_int("GROVE_WS_MAX_FRAME_BYTES", 64 * 1024)
# Seconds a websocket ticket (POST /api/v1/ws_tickets/) may wait before it opens its one socket.
GROVE_WS_TICKET_SECONDS = env_int("GROVE_WS_TICKET_SECONDS", 60)
# Push dispatch (ws/tasks/ "ready"; frontend_api/ws/dispatch.py). Its state is in Redis, so
# every web process sees every waiting user; without Redis (embedded) "ready" is refused.
GROVE_PUSH_REDIS_URL = env_str("GROVE_PUSH_REDIS_URL", CHANNEL_LAYER_URL)
# A pushed task not acknowledged (POST /tasks/{id}/ack) within this goes back to the pool.
GROVE_PUSH_ACK_SECONDS = env_int("GROVE_PUSH_ACK_SECONDS", 30)
# Redis connections one event loop (a web process's websockets) opens at most, per Redis URL;
# a command past them waits for a free one up to the second setting (backend/async_redis.py).
GROVE_ASYNC_REDIS_MAX_CONNECTIONS = env_int("GROVE_ASYNC_REDIS_MAX_CONNECTIONS", 50)
GROVE_ASYNC_REDIS_WAIT_SECONDS = env_float("GROVE_ASYNC_REDIS_WAIT_SECONDS", 10.0)
# After a socket closes (or its web process dies), its pushed tasks wait this long for a
# "resume" with the session's token, then go back to the pool (acknowledged or not).
GROVE_PUSH_RESUME_SECONDS = env_int("GROVE_PUSH_RESUME_SECONDS", 30)
# Seconds between the dispatcher's upkeep runs in each web process: socket heartbeats, leases
# and sessions due, and a poll of the languages with waiting users (work that appears without
# a write, such as a REST task's lease running out).
GROVE_PUSH_TICK_SECONDS = env_float("GROVE_PUSH_TICK_SECONDS", 0.5)
GROVE_PUSH_POLL_SECONDS = env_float("GROVE_PUSH_POLL_SECONDS", 2.0)
# Celery beat's backstop of those returns (grove.tree.return_push_leases), for when no web
# process with a push socket is left to do them.
GROVE_PUSH_SWEEP_INTERVAL_SECONDS = env_int("GROVE_PUSH_SWEEP_INTERVAL_SECONDS", 10)
# Limits: tasks one ready user holds at once (the "ready" command's max_tasks, at most), waiting
# users of one client (a socket: 1000), pushed tasks not yet closed per socket and per client.
GROVE_PUSH_MAX_TASKS_PER_USER = env_int("GROVE_PUSH_MAX_TASKS_PER_USER", 8)
GROVE_PUSH_MAX_READY_USERS_PER_CLIENT = env_int("GROVE_PUSH_MAX_READY_USERS_PER_CLIENT", 10000)
GROVE_PUSH_MAX_TASKS_PER_SOCKET = env_int("GROVE_PUSH_MAX_TASKS_PER_SOCKET", 2000)
GROVE_PUSH_MAX_TASKS_PER_CLIENT = env_int("GROVE_PUSH_MAX_TASKS_PER_CLIENT", 20000)
# A socket that does not take a frame within this many seconds (its reader is too slow and
# the server's send buffer is full) is closed with 4008.
GROVE_WS_SEND_TIMEOUT_SECONDS = env_float("GROVE_WS_SEND_TIMEOUT_SECONDS", 5.0)
GROVE_BOOTSTRAP_API_KEY = env_str("GROVE_BOOTSTRAP_API_KEY", "")
# The key of the API-key digests (HMAC-SHA-256, backend/accounts/keys.py). Changing it makes
# every issued key invalid: set it once per deployment, apart from SECRET_KEY if that rotates.
GROVE_KEY_HASH_SECRET = env_str("GROVE_KEY_HASH_SECRET", "") or SECRET_KEY
# OA's MESSAGE_SIZE_LIMIT (2000 characters) and DUPLICATE_MESSAGE_FILTER_WINDOW_MINUTES (120).
GROVE_MAX_MESSAGE_LENGTH = env_int("GROVE_MAX_MESSAGE_LENGTH", 2000)
GROVE_DUPLICATE_MESSAGE_WINDOW_MINUTES = env_int("GROVE_DUPLICATE_MESSAGE_WINDOW_MINUTES", 120)
# Seconds a process keeps an API client it looked up by key (0: look it up on every request).
# A client disabled in one process may still be accepted by the others for that long.
GROVE_API_CLIENT_CACHE_SECONDS = env_int("GROVE_API_CLIENT_CACHE_SECONDS", 30)
GROVE_TASK_EXPIRY_SECONDS = env_int("GROVE_TASK_EXPIRY_SECONDS", 60 * 60 * 2)
# PostgreSQL: a task request claims its slot in one round trip (the ``grove_claim`` function,
# migration trees 0005) instead of six statements; false takes the step-by-step path SQLite
# uses. Both are tested against the same concurrency tests.
GROVE_CLAIM_IN_DATABASE = env_bool("GROVE_CLAIM_IN_DATABASE", True)
# Exports: files of the export job, and the key of the user-id pseudonyms (HMAC-SHA256).
GROVE_EXPORT_DIR = Path(env_str("GROVE_EXPORT_DIR", str(VAR_DIR / "exports")))
GROVE_EXPORT_USER_SALT = env_str("GROVE_EXPORT_USER_SALT", "")
# Periodic jobs (celery beat, workers/schedule.py): seconds between runs.
GROVE_EXPIRE_TASKS_INTERVAL_SECONDS = env_int("GROVE_EXPIRE_TASKS_INTERVAL_SECONDS", 60)
GROVE_RETRY_SCORING_INTERVAL_SECONDS = env_int("GROVE_RETRY_SCORING_INTERVAL_SECONDS", 600)
GROVE_LOTTERY_INTERVAL_SECONDS = env_int("GROVE_LOTTERY_INTERVAL_SECONDS", 300)
GROVE_SWEEP_INTERVAL_SECONDS = env_int("GROVE_SWEEP_INTERVAL_SECONDS", 600)
# The due sweep: trees owed an advance whose job was not sent or was lost (grove.tree.advance_due).
GROVE_DUE_SWEEP_INTERVAL_SECONDS = env_int("GROVE_DUE_SWEEP_INTERVAL_SECONDS", 30)
# Open-Assistant's USER_STATS_INTERVAL_* (5, 15, 60, 240 minutes) and cached stats (60 minutes).
GROVE_STATS_DAY_INTERVAL_SECONDS = env_int("GROVE_STATS_DAY_INTERVAL_SECONDS", 5 * 60)
GROVE_STATS_WEEK_INTERVAL_SECONDS = env_int("GROVE_STATS_WEEK_INTERVAL_SECONDS", 15 * 60)
GROVE_STATS_MONTH_INTERVAL_SECONDS = env_int("GROVE_STATS_MONTH_INTERVAL_SECONDS", 60 * 60)
GROVE_STATS_TOTAL_INTERVAL_SECONDS = env_int("GROVE_STATS_TOTAL_INTERVAL_SECONDS", 240 * 60)
GROVE_CACHED_STATS_INTERVAL_SECONDS = env_int("GROVE_CACHED_STATS_INTERVAL_SECONDS", 60 * 60)
GROVE_RELIABILITY_INTERVAL_SECONDS = env_int("GROVE_RELIABILITY_INTERVAL_SECONDS", 600)
GROVE_STREAKS_INTERVAL_SECONDS = env_int("GROVE_STREAKS_INTERVAL_SECONDS", 60 * 60)
GROVE_QUEUE_REPORT_INTERVAL_SECONDS = env_int("GROVE_QUEUE_REPORT_INTERVAL_SECONDS", 30)
# The console (/console/): a snapshot for its charts every minute, kept a week; its live
# panels are recomputed at most this often (and after an admin event) while a page is open.
GROVE_CONSOLE_SNAPSHOT_INTERVAL_SECONDS = env_int("GROVE_CONSOLE_SNAPSHOT_INTERVAL_SECONDS", 60)
GROVE_CONSOLE_SNAPSHOT_RETENTION_DAYS = env_int("GROVE_CONSOLE_SNAPSHOT_RETENTION_DAYS", 7)
GROVE_CONSOLE_REFRESH_SECONDS = env_float("GROVE_CONSOLE_REFRESH_SECONDS", 5.0)
# Seconds between a web process's flushes of its task-request latency, "no task" answers and
# REST volunteers to Redis, which the console sums over the deployment (backend/console/
# deployment.py): the console's figures lag by at most this.
GROVE_CONSOLE_FLUSH_SECONDS = env_float("GROVE_CONSOLE_FLUSH_SECONDS", 5.0)

# Request limits: a larger body is answered 413 before it is read further (backend/http_bridge.py
# and Django's own check), a JSON body nested deeper answered 400 (frontend_api/v1/parsing.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("GROVE_MAX_REQUEST_BYTES", 1024 * 1024)
GROVE_MAX_JSON_DEPTH = env_int("GROVE_MAX_JSON_DEPTH", 32)

# --- REST framework --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "frontend_api.v1.schema.ProtocolAutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["frontend_api.v1.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_THROTTLE_CLASSES": ["frontend_api.v1.throttling.ProtocolRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api_client": env_str("GROVE_THROTTLE_CLIENT", "10000/minute"),
        "user": env_str("GROVE_THROTTLE_USER", "120/minute"),
    },
    "EXCEPTION_HANDLER": "frontend_api.v1.errors.protocol_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["frontend_api.v1.rendering.ProtocolJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["frontend_api.v1.parsing.ProtocolJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "frontend_api.v1.rendering.ProtocolNegotiation",
}
# Throttle counters live in the cache's Redis when configured, so every process shares them
# (frontend_api/v1/throttling.py); without it, in the process.
CACHE_URL = env_str("GROVE_CACHE_URL", REDIS_URL)
# Seconds a cache (throttle) call waits for Redis; past it the throttle lets the request in.
GROVE_CACHE_SOCKET_TIMEOUT_SECONDS = env_float("GROVE_CACHE_SOCKET_TIMEOUT_SECONDS", 0.5)
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "grove",
            "OPTIONS": {
                "socket_timeout": GROVE_CACHE_SOCKET_TIMEOUT_SECONDS,
                "socket_connect_timeout": GROVE_CACHE_SOCKET_TIMEOUT_SECONDS,
            },
        }
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Grove API",
    # The protocol in a page: who calls, a task's life, errors, push.
    "DESCRIPTION": (BASE_DIR / "frontend_api" / "v1" / "openapi_description.md").read_text(
        encoding="utf-8"
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc assets come from the drf-spectacular-sidecar package, served as
    # static files: /api/v1/docs/ loads nothing from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"TaskRequestType": "backend.trees.core.task_kinds.TASK_REQUEST_TYPES"},
    # A body read and one written get components of their own (``...Request`` for the read
    # one), so a request states what the serializer refuses (non-blank strings: minLength 1)
    # without a response claiming it.
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Internationalisation, static files ------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("GROVE_STATIC_ROOT", str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Security (production profile turns these on; see README "check --deploy") --------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("GROVE_SECURE_SSL_REDIRECT", False)
# Prometheus scrapes web processes over the internal network in plain HTTP (README
# "Observability"); a redirect to HTTPS would fail every scrape.
SECURE_REDIRECT_EXEMPT = [r"^metrics$"]
SESSION_COOKIE_SECURE = env_bool("GROVE_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("GROVE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Metrics (README "Observability") --------------------------------------------------------
# /metrics answers a request with "Authorization: Bearer <GROVE_METRICS_TOKEN>", or one from a
# peer in GROVE_METRICS_ALLOWED_NETWORKS that did not pass a proxy; anything else gets 404.
GROVE_METRICS_TOKEN = env_str("GROVE_METRICS_TOKEN", "")
try:
    GROVE_METRICS_ALLOWED_NETWORKS = [
        ipaddress.ip_network(item, strict=False)
        for item in env_list("GROVE_METRICS_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"GROVE_METRICS_ALLOWED_NETWORKS: {exc}") from exc
# A Celery worker serves its metrics on this port (0: not at all) and address.
GROVE_WORKER_METRICS_PORT = env_int("GROVE_WORKER_METRICS_PORT", 0)
GROVE_WORKER_METRICS_ADDR = env_str("GROVE_WORKER_METRICS_ADDR", "127.0.0.1")
# Several processes (uvicorn --workers, Celery's pool) share their metrics through files in
# PROMETHEUS_MULTIPROC_DIR (prometheus_client reads the variable itself). It must be empty when
# the first process starts: scripts/run and docker-compose.yml see to it.
# An empty value is unset: prometheus_client would otherwise write its files to the cwd.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
else:
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

# --- Logging: one event per line ------------------------------------------------------------
LOG_LEVEL = env_str("GROVE_LOG_LEVEL", "INFO").upper()
# "text" (a line of key=value pairs) or "json" (one JSON object per line, with the request id).
LOG_FORMAT = env_str("GROVE_LOG_FORMAT", "text").lower()
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"GROVE_LOG_FORMAT must be text or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "backend.observability.logs.JsonFormatter"},
    },
    "filters": {"expected_unavailable": {"()": "backend.log_filters.ExpectedUnavailable"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "line",
            "filters": ["expected_unavailable"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "grove": {"level": LOG_LEVEL, "propagate": True},
    },
}
if LOG_FORMAT == "json":
    # uvicorn's own lines (startup, access, websockets) as JSON too; the secret-redaction
    # filter is attached to these loggers after this (frontend_api/apps.py).
    for _name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        LOGGING["loggers"][_name] = {"handlers": ["console"], "level": "INFO", "propagate": False}
