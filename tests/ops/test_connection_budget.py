"""docker-compose's defaults cannot exhaust PostgreSQL's connections (finding 2: with
persistent connections under uvicorn, 13-20 % of requests failed with no fault at all)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")
# PostgreSQL's superuser_reserved_connections (3), plus psql sessions and one-off commands
# (migrate, bootstrap_api_client, a manage.py by hand).
HEADROOM = 3 + 5
# settings.py: the pool's maximum defaults to GROVE_WEB_MAX_CONCURRENT_REQUESTS (16).
DEFAULT_POOL_MAX = 16


def with_defaults(value: str) -> str:
    """``${NAME:-default}`` as compose expands it with NAME unset."""
    return DEFAULT.sub(lambda m: m.group(2), str(value))


def option(command: list[str] | str, flag: str) -> str | None:
    words = with_defaults(" ".join(command) if isinstance(command, list) else command).split()
    return words[words.index(flag) + 1] if flag in words else None


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def pool_max(service: dict) -> int:
    value = with_defaults(service["environment"].get("GROVE_DB_POOL_MAX_SIZE", ""))
    return int(value) if value else DEFAULT_POOL_MAX


def test_compose_defaults_stay_within_postgres_max_connections():
    services = compose()["services"]
    max_connections = int(option(services["postgres"]["command"], "-c").split("=")[1])
    web_processes = int(option(services["web"]["command"], "--workers"))
    worker = services["worker"]
    worker_processes = option(worker["command"], "-c")
    assert worker_processes is not None, "celery's default concurrency is one per CPU: pin it"

    needed = (
        web_processes * pool_max(services["web"])
        + int(worker_processes) * pool_max(worker)
        + HEADROOM
    )

    assert needed <= max_connections, (needed, max_connections)


def test_no_service_keeps_persistent_connections_under_uvicorn():
    for name, service in compose()["services"].items():
        environment = service.get("environment") or {}
        assert with_defaults(environment.get("GROVE_DB_POOL", "true")) != "false", name
        assert with_defaults(environment.get("GROVE_DB_CONN_MAX_AGE", "0")) == "0", name
