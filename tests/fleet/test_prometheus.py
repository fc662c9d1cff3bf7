"""A real Prometheus (Debian package prometheus) scraping five fleet hosts through the file-based
service discovery that playbooks/prometheus.yml generates from the inventory, with the alert
rules of docs/alerts.yml, queried over its HTTP API.

Each host (tests/fleet/hosts.py: its own mount and PID namespaces) gets its configuration
(the same as every host's, but for its metrics port: the hosts share 127.0.0.1) and serves
ncctl's /metrics at the simulated time (tests/fleet/metrics_endpoint.py says why not the
daemon). The feed handler runs on every host; one host's is stopped by hand.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.fleet.ansible import (
    CLOCK,
    ansible_unavailable,
    host_config,
    run_playbook,
    write_inventory,
)
from tests.fleet.hosts import FleetHost, fleet_unavailable, make_keys, start_host
from tests.helpers import holds_within
from tests.sshd import LOOPBACK, STOP_TIMEOUT_S, free_port, port_accepts

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "docs" / "alerts.yml"
ENDPOINT = Path(__file__).with_name("metrics_endpoint.py")
NCCTL = str(Path(sys.executable).parent / "ncctl")
CONFIG = "/etc/ncctl/config.toml"
PROMETHEUS = shutil.which("prometheus")
IDENTITY = {
    "h1": ("acme", "chicago"),
    "h2": ("acme", "chicago"),
    "h3": ("globex", "aurora"),
    "h4": ("globex", "aurora"),
    "h5": ("initech", "aurora"),
}
STOPPED = "h2"
WAIT_S = 60.0
"""Bound of every wait on Prometheus (a 1 s scrape and evaluation interval; a loaded machine)."""
DRIFT = "NcctlComponentDriftTradingWeek"
MISMATCH = "NcctlIdentityMismatch"


@dataclass
class Fleet:
    hosts: list[FleetHost]
    workdir: Path
    inventory: Path
    endpoints: list[subprocess.Popen[bytes]]


MISCONFIGURED = "h5"
"""The host whose configuration names another client than the inventory does."""


def config_of(name: str, host_vars: dict[str, Any]) -> dict[str, Any]:
    """The host's configuration as the config role renders it: ncctl_config with
    ncctl_config_host merged over it and the host's client and site (but on MISCONFIGURED)."""
    config = host_config()
    config["metrics"] = host_vars["ncctl_config_host"]["metrics"]
    config["client"] = "acme" if name == MISCONFIGURED else host_vars["ncctl_client"]
    config["site"] = host_vars["ncctl_site"]
    return config


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    reason = fleet_unavailable() or ansible_unavailable()
    if reason is None and PROMETHEUS is None:
        reason = "prometheus is not installed (Debian package prometheus)"
    if reason is not None:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("prometheus")
    keys = make_keys(workdir)
    hosts: list[FleetHost] = []
    endpoints: list[subprocess.Popen[bytes]] = []
    try:
        host_vars: dict[str, dict[str, Any]] = {}
        for name, (client, site) in IDENTITY.items():
            hosts.append(start_host(name, keys.client_public, keys.host_key, keys.host_public))
            host_vars[name] = {
                "ncctl_client": client,
                "ncctl_site": site,
                "ncctl_config_host": {"metrics": {"listen": LOOPBACK, "port": free_port()}},
            }
        inventory = write_inventory(
            workdir, hosts, keys, artifact=Path("unused"), host_vars=host_vars
        )
        for host in hosts:
            config = config_of(host.name, host_vars[host.name])
            written = host.run(
                "sh",
                "-c",
                f"mkdir -p {Path(CONFIG).parent} && cat > {CONFIG}",
                stdin=tomli_w.dumps(config),
            )
            assert written.returncode == 0, written.stderr
            started = host.run(NCCTL, "--config", CONFIG, "--clock", CLOCK, "feed", "start")
            assert started.returncode == 0, started.stdout + started.stderr
            endpoints.append(
                subprocess.Popen(
                    host.argv(sys.executable, str(ENDPOINT), CONFIG, CLOCK),
                    cwd=REPO,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        ports = [v["ncctl_config_host"]["metrics"]["port"] for v in host_vars.values()]
        assert holds_within(lambda: all(port_accepts(p) for p in ports), WAIT_S)
        yield Fleet(hosts, workdir, inventory, endpoints)
    finally:
        for endpoint in endpoints:
            endpoint.kill()
            endpoint.wait(STOP_TIMEOUT_S)
        for host in hosts:
            host.stop()


@pytest.fixture(scope="module")
def sd_file(fleet: Fleet) -> Path:
    run = run_playbook("prometheus.yml", fleet.inventory, fleet.workdir)
    assert run.code == 0, run.out[-3000:] + run.err[-2000:]
    assert run.changed() == {"localhost": 1}
    again = run_playbook("prometheus.yml", fleet.inventory, fleet.workdir)
    assert (again.code, again.changed()) == (0, {"localhost": 0}), again.out[-3000:]
    return fleet.workdir / "ncctl-targets.json"


def rules_for_a_test(directory: Path) -> Path:
    """docs/alerts.yml with every ``for`` cut to 1 s (a test cannot wait 3 minutes)."""
    yaml = pytest.importorskip("yaml", reason="PyYAML is in the dev extra")
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "1s"
    path = directory / "alerts.yml"
    path.write_text(json.dumps(doc), encoding="utf-8")  # JSON is YAML
    return path


@pytest.fixture(scope="module")
def prometheus(fleet: Fleet, sd_file: Path) -> Iterator[str]:
    assert PROMETHEUS is not None
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules_for_a_test(fleet.workdir))],
        "scrape_configs": [
            {
                "job_name": "ncctl",
                "file_sd_configs": [{"files": [str(sd_file)], "refresh_interval": "1s"}],
            }
        ],
    }
    (fleet.workdir / "prometheus.yml").write_text(json.dumps(config), encoding="utf-8")
    with (fleet.workdir / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={fleet.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={fleet.workdir / 'tsdb'}",
                f"--web.listen-address={LOOPBACK}:{port}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    url = f"http://{LOOPBACK}:{port}"
    try:
        ready = holds_within(
            lambda: process.poll() is not None or answers(f"{url}/-/ready"), WAIT_S
        )
        assert ready and process.poll() is None, (fleet.workdir / "prometheus.log").read_text()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_S)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def api(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as reply:
        doc = json.loads(reply.read())
    assert doc["status"] == "success", doc
    return doc["data"]


def test_the_service_discovery_names_every_host_with_its_client_and_site(
    fleet: Fleet, sd_file: Path
) -> None:
    entries = json.loads(sd_file.read_text(encoding="utf-8"))
    assert len(entries) == len(IDENTITY)
    found = {e["labels"]["host"]: (e["labels"]["client"], e["labels"]["site"]) for e in entries}
    assert found == IDENTITY
    assert all(e["targets"][0].startswith(f"{LOOPBACK}:") for e in entries)


def test_prometheus_scrapes_every_host_and_the_drift_alert_fires_for_the_stopped_one_only(
    fleet: Fleet, prometheus: str
) -> None:
    def targets() -> list[dict[str, Any]]:
        active: list[dict[str, Any]] = api(f"{prometheus}/api/v1/targets?state=active")[
            "activeTargets"
        ]
        return active

    def all_up() -> bool:
        now = targets()
        return len(now) == len(IDENTITY) and all(t["health"] == "up" for t in now)

    assert holds_within(all_up, WAIT_S), json.dumps(targets())[:3000]
    labels = {t["labels"]["host"]: (t["labels"]["client"], t["labels"]["site"]) for t in targets()}
    assert labels == IDENTITY

    victim = next(h for h in fleet.hosts if h.name == STOPPED)
    stopped = victim.run(
        NCCTL, "--config", CONFIG, "--clock", CLOCK, "feed", "stop", "--force", "--reason", "test"
    )
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr

    def alerts_named(name: str) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = api(f"{prometheus}/api/v1/alerts")["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == name]

    def firing(name: str) -> bool:
        return any(a["state"] == "firing" for a in alerts_named(name))

    assert holds_within(lambda: firing(DRIFT), WAIT_S), json.dumps(alerts_named(DRIFT))
    alerts = alerts_named(DRIFT)
    assert len(alerts) == 1, alerts
    assert alerts[0]["labels"] | {"instance": "-"} == {
        "alertname": DRIFT,
        "component": "feed_handler",
        "client": "acme",
        "site": "chicago",
        "host": STOPPED,
        "instance": "-",
        "job": "ncctl",
        "severity": "critical",
    }
    # ncctl_info names the configured client: one host's differs from the inventory's
    assert holds_within(lambda: firing(MISMATCH), WAIT_S), json.dumps(alerts_named(MISMATCH))
    mismatched = alerts_named(MISMATCH)
    assert [(a["labels"]["host"], a["labels"]["exported_client"]) for a in mismatched] == [
        (MISCONFIGURED, "acme")
    ]
    promql = 'ncctl_component_up{component="feed_handler"}'
    up = api(f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")["result"]
    assert {r["metric"]["host"]: r["value"][1] for r in up} == {
        name: "0" if name == STOPPED else "1" for name in IDENTITY
    }
