"""The compose profile's files parse, and every metric their rules and panels query exists.

``promtool`` (Debian's ``prometheus`` package) checks the rules and runs their unit tests when
it is installed, and ``amtool`` (``prometheus-alertmanager``) the Alertmanager configuration;
without them those tests are skipped, the others still run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.observability.scraping import scrape
from workers.celery import app

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "observability"
RULES = FILES / "prometheus" / "alerts.yml"
DASHBOARD = FILES / "grafana" / "dashboards" / "grove.json"
METRIC = re.compile(r"\b(grove_[a-z0-9_]+)")
SUFFIXES = re.compile(r"_(total|bucket|count|sum)$")
ALERTS = {
    "GroveLanguageStarving",
    "GroveQueueBacklog",
    "GroveJobFailureRate",
    "GroveTaskLatencyHigh",
    "GroveNotReady",
    "GroveTargetDown",
}
promtool = shutil.which("promtool")
amtool = shutil.which("amtool")
ALERTMANAGER = FILES / "alertmanager" / "alertmanager.yml"


def rule_expressions() -> dict[str, str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def panel_expressions() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    annotations = json.loads(DASHBOARD.read_text())["annotations"]["list"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])] + [
        annotation["expr"] for annotation in annotations
    ]


def exported_names(text: str) -> set[str]:
    from prometheus_client.parser import text_string_to_metric_families

    names = set()
    for family in text_string_to_metric_families(text):
        names.add(SUFFIXES.sub("", family.name))
        names.update(SUFFIXES.sub("", sample.name) for sample in family.samples)
    return names


def test_the_compose_and_provisioning_files_parse():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for service in ("prometheus", "alertmanager", "grafana"):
        assert compose["services"][service]["profiles"] == ["observability"]
    for path in FILES.rglob("*.yml"):
        assert yaml.safe_load(path.read_text()), path
    assert json.loads(DASHBOARD.read_text())["uid"] == "grove-overview"


def test_every_panel_reads_the_provisioned_prometheus():
    # A uid Grafana was not provisioned with shows "data source not found" on the panel.
    provisioned = yaml.safe_load(
        (FILES / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    uids = {source["uid"] for source in provisioned if source["type"] == "prometheus"}
    used = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("datasource"), dict):
                used.add((node["datasource"]["type"], node["datasource"]["uid"]))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(json.loads(DASHBOARD.read_text()))
    assert used and used <= {("prometheus", uid) for uid in uids}


def test_prometheus_sends_its_alerts_to_the_profiles_alertmanager():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    prometheus = yaml.safe_load((FILES / "prometheus" / "prometheus.yml").read_text())
    targets = [
        target
        for manager in prometheus["alerting"]["alertmanagers"]
        for config in manager["static_configs"]
        for target in config["targets"]
    ]
    assert targets == ["alertmanager:9093"]
    mounted = compose["services"]["alertmanager"]["volumes"]
    assert (
        "./observability/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro"
        in (mounted)
    )
    routes = yaml.safe_load(ALERTMANAGER.read_text())
    receivers = {receiver["name"] for receiver in routes["receivers"]}
    assert routes["route"]["receiver"] in receivers


def test_prometheus_scrapes_every_replica_of_web_and_worker():
    # A static "worker:9808" target reaches one replica per scrape (Docker's DNS answers
    # each in turn): with `--scale worker=3` the counters would jump between processes.
    # DNS discovery makes each replica a target of its own.
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    prometheus = yaml.safe_load((FILES / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    for job, service, port in (("grove-web", "web", 8080), ("grove-worker", "worker", 9808)):
        assert "static_configs" not in jobs[job], job
        assert jobs[job]["dns_sd_configs"] == [{"names": [service], "type": "A", "port": port}]
        assert service in compose["services"]
    assert compose["services"]["worker"]["environment"]["GROVE_WORKER_METRICS_PORT"] == "9808"


@pytest.mark.skipif(
    amtool is None, reason="amtool is not installed (apt-get install prometheus-alertmanager)"
)
def test_amtool_accepts_the_alertmanager_configuration():
    result = subprocess.run(
        [amtool, "check-config", str(ALERTMANAGER)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_cover_what_an_operator_is_alerted_on():
    assert set(rule_expressions()) == ALERTS


@pytest.mark.django_db
def test_every_metric_the_rules_and_the_dashboard_query_is_exported(client):
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False  # the queue gauges need the broker
    try:
        exported = exported_names(scrape(client))
    finally:
        app.conf.task_always_eager = eager
    queried = {
        SUFFIXES.sub("", name)
        for expr in [*rule_expressions().values(), *panel_expressions()]
        for name in METRIC.findall(expr)
    }
    assert queried, "no metric found in the rules and panels"
    assert queried - exported == set()


@pytest.mark.skipif(
    promtool is None, reason="promtool is not installed (apt-get install prometheus)"
)
def test_promtool_accepts_the_rules_and_the_scrape_configuration(tmp_path):
    subprocess.run([promtool, "check", "rules", str(RULES)], check=True, capture_output=True)
    # The configuration names the rule file where the container mounts it.
    config = (FILES / "prometheus" / "prometheus.yml").read_text()
    (tmp_path / "alerts.yml").write_text(RULES.read_text())
    (tmp_path / "grove-metrics-token").write_text("token")
    config = config.replace("/etc/prometheus/alerts.yml", str(tmp_path / "alerts.yml"))
    config = config.replace(
        "/prometheus/grove-metrics-token", str(tmp_path / "grove-metrics-token")
    )
    (tmp_path / "prometheus.yml").write_text(config)
    result = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(
    promtool is None, reason="promtool is not installed (apt-get install prometheus)"
)
def test_each_alert_fires_on_the_data_it_is_for():
    result = subprocess.run(
        [promtool, "test", "rules", "alerts.test.yml"],
        cwd=FILES / "prometheus",
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
