"""A real Prometheus (Debian package prometheus) scraping the daemons of five fleet hosts
through the file-based service discovery that playbooks/prometheus.yml generates from the
inventory, with the alert rules of docs/alerts.yml, queried over its HTTP API.

Each host (tests/fleet/hosts.py: its own mount and PID namespaces) gets its configuration
(the same as every host's, but for its metrics port: the hosts share 127.0.0.1) and runs the
daemon, ``ncctl scheduler run``, on the machine's clock, which serves /metrics. So that the
test holds whatever the real day and hour, every host's schedule is a template the test
writes (:func:`always_up_template`): the feed handler is wanted at every instant of the week
and no scheduled event falls near the test, and the reconcile interval is an hour, so after
its start pass no daemon runs another pass while the test runs. Every daemon starts its feed
handler; one host's is stopped by hand and stays stopped.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import tomli_w
from hypothesis import example, given
from hypothesis import strategies as st

from ncctl.schedule import ScheduleEngine
from ncctl.schedule.files import WeeklyTemplate
from ncctl.schedule.weektime import DAYS
from tests.fleet.ansible import (
    ansible_unavailable,
    host_config,
    run_playbook,
    write_inventory,
)
from tests.fleet.hosts import FleetHost, fleet_unavailable, make_keys, start_host, terminate
from tests.helpers import holds_within
from tests.sshd import LOOPBACK, STOP_TIMEOUT_S, free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "docs" / "alerts.yml"
NCCTL = str(Path(sys.executable).parent / "ncctl")
CONFIG = "/etc/ncctl/config.toml"
TEMPLATE = "/etc/ncctl/always-up.toml"
RECONCILE_INTERVAL_S = 3600.0
"""No pass but the start pass while the test runs: one would start the stopped feed handler."""
QUIET = dt.timedelta(hours=2)
"""No scheduled event (each makes the daemon run a pass) within this of the test's start."""
DAEMON_STOP_S = 30.0
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
    daemons: dict[str, subprocess.Popen[bytes]]

    def log(self, name: str) -> list[dict[str, Any]]:
        return daemon_log(self.workdir, name)


def daemon_log(workdir: Path, name: str) -> list[dict[str, Any]]:
    """The JSON lines host ``name``'s daemon has written on stderr so far."""
    text = (workdir / f"{name}.daemon.log").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


MISCONFIGURED = "h5"
"""The host whose configuration names another client than the inventory does."""


def always_up_template(now: dt.datetime) -> str:
    """A weekly template under which the feed handler is wanted at every instant of every
    week and whose scheduled events all fall at least QUIET from ``now``.

    Every schedule week starts with everything off at Sunday 00:00 of the template's zone,
    so the feed handler is switched on at that very instant (``feed_handler.on`` at Sun 00:00)
    and never off. A template needs a session: one, on the day three days after ``now``. Its
    zone is UTC, or UTC-12 when ``now`` is within QUIET of Sunday 00:00 UTC (their Sundays
    start 12 hours apart)."""
    utc = now.astimezone(dt.UTC)
    sunday = dt.datetime.combine(utc.date(), dt.time(), dt.UTC) - dt.timedelta(
        days=(utc.weekday() + 1) % 7
    )
    near = min(utc - sunday, sunday + dt.timedelta(days=7) - utc) < QUIET
    zone = "Etc/GMT+12" if near else "UTC"
    local = now.astimezone(ZoneInfo(zone))
    day = DAYS[(local.weekday() + 1 + 3) % 7]
    return tomli_w.dumps(
        {
            "name": "always-up",
            "description": "test: the feed handler wanted at every instant",
            "tz": zone,
            "week": {"start": "Sun 00:00", "end": "Sat 23:59"},
            "sessions": [
                {
                    "trade_day": day,
                    "pre_open": f"{day} 10:00",
                    "open": f"{day} 11:00",
                    "close": f"{day} 12:00",
                }
            ],
            "events": [{"event": "feed_handler.on", "at": "Sun 00:00"}],
        }
    )


def config_of(name: str, host_vars: dict[str, Any]) -> dict[str, Any]:
    """The host's configuration as the config role renders it: ncctl_config with
    ncctl_config_host merged over it and the host's client and site (but on MISCONFIGURED),
    on the test's template with no holiday table (a closure would remove its only session,
    and with it the week) and a pass an hour."""
    config = host_config()
    config["metrics"] = host_vars["ncctl_config_host"]["metrics"]
    config["client"] = "acme" if name == MISCONFIGURED else host_vars["ncctl_client"]
    config["site"] = host_vars["ncctl_site"]
    config["schedule"] = {"template": TEMPLATE, "holidays": [], "display_tz": "America/Chicago"}
    config["runner"] = {"reconcile_interval_s": RECONCILE_INTERVAL_S}
    return config


def write_file(host: FleetHost, path: str, text: str) -> None:
    written = host.run("sh", "-c", f"mkdir -p {Path(path).parent} && cat > {path}", stdin=text)
    assert written.returncode == 0, written.stderr


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    reason = fleet_unavailable() or ansible_unavailable()
    if reason is None and PROMETHEUS is None:
        reason = "prometheus is not installed (Debian package prometheus)"
    if reason is not None:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("prometheus")
    keys = make_keys(workdir)
    template = always_up_template(dt.datetime.now(dt.UTC))
    hosts: list[FleetHost] = []
    daemons: dict[str, subprocess.Popen[bytes]] = {}
    stopped: dict[str, int | None] = {}
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
            write_file(host, TEMPLATE, template)
            write_file(host, CONFIG, tomli_w.dumps(config_of(host.name, host_vars[host.name])))
            daemons[host.name] = host.spawn(
                NCCTL,
                "--config",
                CONFIG,
                "scheduler",
                "run",
                stderr=workdir / f"{host.name}.daemon.log",
            )
        yield Fleet(hosts, workdir, inventory, daemons)
    finally:
        for name, daemon in daemons.items():
            stopped[name] = terminate(daemon, DAEMON_STOP_S)
        for host in hosts:
            host.stop()
    # every daemon stopped on SIGTERM, within the bound, and said so last
    assert stopped == dict.fromkeys(daemons, 0)
    last = {n: [e["event"] for e in daemon_log(workdir, n)][-1:] for n in daemons}
    assert last == {n: ["stopped"] for n in daemons}


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


@given(
    st.datetimes(
        min_value=dt.datetime(2026, 1, 1),
        max_value=dt.datetime(2035, 12, 31),
        timezones=st.just(dt.UTC),
    )
)
@example(dt.datetime(2026, 12, 5, 22, 30, tzinfo=dt.UTC))  # Saturday, before the week starts
@example(dt.datetime(2026, 12, 6, 1, 0, tzinfo=dt.UTC))  # Sunday, just after it
def test_the_template_wants_the_feed_handler_always_and_schedules_nothing_near_now(
    now: dt.datetime,
) -> None:
    template = WeeklyTemplate.model_validate(tomllib.loads(always_up_template(now)))
    engine = ScheduleEngine(template)
    assert engine.transitions(now - QUIET, now + QUIET) == []
    # the state changes only at transitions: on just before and at each, on at every instant
    start, end = now - dt.timedelta(days=8), now + dt.timedelta(days=8)
    tick = dt.timedelta(microseconds=1)
    transitions = engine.transitions(start, end)
    instants = [start, *(t.at - d for t in transitions for d in (tick, dt.timedelta(0)))]
    assert len(transitions) >= 2 * 4  # two weeks' starts and sessions at the least
    assert [i for i in instants if not engine.state_at(i).feed_handler] == []


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

    # every daemon's start pass has started its feed handler
    def passes(name: str) -> list[dict[str, Any]]:
        return [e for e in fleet.log(name) if e["event"].startswith("pass")]

    def passed_or_gone(name: str) -> bool:
        return bool(passes(name)) or fleet.daemons[name].poll() is not None

    everyone = holds_within(lambda: all(passed_or_gone(n) for n in IDENTITY), WAIT_S)
    assert everyone, {n: fleet.log(n) for n in IDENTITY}
    started = {
        n: [(p["event"], [a.split(":")[0] for a in p["actions"]], p["errors"]) for p in passes(n)]
        for n in IDENTITY
    }
    assert started == {n: [("pass", ["feed_handler start"], [])] for n in IDENTITY}
    for host in fleet.hosts:
        status = host.run(NCCTL, "--config", CONFIG, "feed", "status", "--json")
        data = json.loads(status.stdout)["data"]
        assert (data["desired"], data["actual"], data["drift"]) == ("running", "running", False)

    victim = next(h for h in fleet.hosts if h.name == STOPPED)
    stopped = victim.run(NCCTL, "--config", CONFIG, "feed", "stop", "--force", "--reason", "test")
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
    # no pass after the start pass did anything (a pass that does nothing logs nothing): one
    # would have started h2's feed handler again
    assert {n: len(passes(n)) for n in IDENTITY} == dict.fromkeys(IDENTITY, 1)
