"""The ncctl.fleet collection driven by a real ansible-playbook against five real sshd "hosts"
on 127.0.0.1, each in its own mount namespace (tests/fleet/hosts.py): install from the artifact,
configuration rollout with one invalid host, units checked by systemd-analyze verify, the fleet
report with drift on one host and one host unreachable, changed=0 on a second run, check mode.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.ansible import (
    CLOCK,
    STATE_DIR,
    PlaybookRun,
    ansible_unavailable,
    host_config,
    run_playbook,
    write_inventory,
)
from tests.fleet.hosts import FleetHost, Keys, fleet_unavailable, make_keys, start_host

pytestmark = pytest.mark.slow

HOSTS = 5
CONFIG = "/etc/ncctl/config.toml"
NCCTL = "/usr/local/bin/ncctl"


@dataclass
class Fleet:
    hosts: list[FleetHost]
    keys: Keys
    workdir: Path
    artifact: Path

    def inventory(self, **kwargs: Any) -> Path:
        return write_inventory(
            self.workdir, self.hosts, self.keys, artifact=self.artifact, **kwargs
        )

    def play(self, playbook: str, *args: str, **kwargs: Any) -> PlaybookRun:
        return run_playbook(playbook, self.inventory(**kwargs), self.workdir, *args)

    def digests(self, path: str) -> dict[str, str]:
        """sha256 of ``path`` on every host ('' where it is missing)."""
        found = {}
        for host in self.hosts:
            done = host.run("cat", path)
            found[host.name] = (
                hashlib.sha256(done.stdout.encode()).hexdigest() if done.returncode == 0 else ""
            )
        return found


@pytest.fixture(scope="module")
def fleet(bundle_tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    reason = fleet_unavailable() or ansible_unavailable()
    if reason is not None:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("fleet")
    keys = make_keys(workdir)
    hosts: list[FleetHost] = []
    try:
        for n in range(1, HOSTS + 1):
            hosts.append(start_host(f"h{n}", keys.client_public, keys.host_key, keys.host_public))
        yield Fleet(hosts, keys, workdir, bundle_tarball)
    finally:
        for host in hosts:
            host.stop()


def assert_ran(run: PlaybookRun, code: int = 0) -> None:
    assert run.code == code, run.out[-4000:] + run.err[-2000:]


@pytest.fixture(scope="module")
def installed(fleet: Fleet) -> PlaybookRun:
    run = fleet.play("install.yml")
    assert_ran(run)
    return run


@pytest.fixture(scope="module")
def rolled_out(fleet: Fleet, installed: PlaybookRun) -> PlaybookRun:
    run = fleet.play("rollout.yml")
    assert_ran(run)
    return run


def test_install_puts_the_artifact_on_every_host_and_a_second_run_changes_nothing(
    fleet: Fleet, installed: PlaybookRun
) -> None:
    names = [h.name for h in fleet.hosts]
    assert set(installed.recap) == set(names)
    assert all(installed.changed()[n] > 0 for n in names)
    for host in fleet.hosts:
        done = host.run(NCCTL, "--version")
        assert (done.returncode, done.stdout.strip()) == (0, "ncctl 0.1.0"), done.stderr
        assert host.run("readlink", "/opt/ncctl/current").stdout.strip() == "0.1.0"

    again = fleet.play("install.yml")
    assert_ran(again)
    assert again.changed() == dict.fromkeys(names, 0)


def test_rollout_keeps_an_invalid_config_off_its_host_and_the_others_proceed(
    fleet: Fleet, rolled_out: PlaybookRun
) -> None:
    names = [h.name for h in fleet.hosts]
    assert all(rolled_out.changed()[n] > 0 for n in names)
    before = fleet.digests(CONFIG)
    assert all(before.values())

    utc = {"schedule": {"display_tz": "UTC"}}
    bad = {"h3": {"ncctl_config_host": {"schedule": {"display_tz": "Mars/Olympus"}}}}
    run = fleet.play("rollout.yml", ncctl_config_host=utc, host_vars=bad)
    assert_ran(run, 2)
    assert run.failed() == {"h3"}
    assert "Mars/Olympus" in run.out
    after = fleet.digests(CONFIG)
    assert after["h3"] == before["h3"]
    assert all(after[n] != before[n] for n in names if n != "h3")
    assert 'display_tz = "UTC"' in fleet.hosts[0].run("cat", CONFIG).stdout

    again = fleet.play("rollout.yml", ncctl_config_host=utc, host_vars=bad)
    assert_ran(again, 2)
    assert again.failed() == {"h3"}
    assert again.changed() == dict.fromkeys(names, 0)
    assert fleet.digests(CONFIG) == after


def test_units_are_installed_and_pass_systemd_analyze_verify(
    fleet: Fleet, rolled_out: PlaybookRun
) -> None:
    for host in fleet.hosts:
        listing = host.run("ls", "/etc/systemd/system").stdout.split()
        assert {"ncctl-scheduler.service", "ncctl-maintenance.timer"} <= set(listing)
        units = [f"/etc/systemd/system/{u}" for u in listing if u.startswith("ncctl-")]
        verified = host.run("systemd-analyze", "verify", "--man=no", *units)
        assert verified.returncode == 0, verified.stderr
    assert "Check the unit files with systemd-analyze verify" in rolled_out.out


def test_check_mode_reports_what_would_change_and_changes_nothing(
    fleet: Fleet, rolled_out: PlaybookRun
) -> None:
    before = {
        path: fleet.digests(path)
        for path in (CONFIG, "/etc/systemd/system/ncctl-scheduler.service")
    }
    other = {"schedule": {"display_tz": "America/New_York"}}
    run = fleet.play("rollout.yml", "--check", "--diff", ncctl_config_host=other)
    assert_ran(run)
    assert all(c > 0 for c in run.changed().values())
    assert 'display_tz = "America/New_York"' in run.out
    assert {path: fleet.digests(path) for path in before} == before


def test_the_fleet_report_shows_drift_and_the_unreachable_host_only_where_they_are(
    fleet: Fleet, rolled_out: PlaybookRun
) -> None:
    config = ["--config", CONFIG, "--clock", CLOCK]
    for host in fleet.hosts:
        started = host.run(NCCTL, *config, "feed", "start")
        assert started.returncode == 0, started.stdout + started.stderr
    stopped = fleet.hosts[1].run(NCCTL, *config, "feed", "stop", "--force", "--reason", "test")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    for host in fleet.hosts:  # every journal line names the host's client
        journal = host.run("cat", f"{STATE_DIR}/journal.jsonl").stdout.splitlines()
        assert journal and {json.loads(line)["client"] for line in journal} == {
            f"client-{host.name}"
        }

    run = fleet.play("gather.yml", unreachable=("ghost",))
    assert_ran(run, 4)  # 4: a host was unreachable
    assert run.unreachable() == {"ghost"}
    report = json.loads((fleet.workdir / "ncctl-fleet-report.json").read_text())
    assert report["unreachable"] == ["ghost"]
    assert report["drift"] == ["h2"], json.dumps(report["hosts"])[:3000]
    rows = {row["host"]: row for row in report["hosts"]}
    assert rows["h2"]["drift"] == ["feed_handler"]
    assert all(
        rows[h.name]["reachable"] and rows[h.name]["status"] == "ok"
        for h in fleet.hosts
        if h.name != "h2"
    )
    assert rows["h1"]["documents"]["status"]["data"]["components"][0]["actual"] == "running"
    assert rows["h2"]["documents"]["status"]["data"]["components"][0]["actual"] == "stopped"
    assert "drift: feed_handler" in run.out and "unreachable" in run.out
    assert set(run.changed().values()) == {0}


def test_host_config_is_valid_as_rendered_with_the_hosts_identity(
    fleet: Fleet, rolled_out: PlaybookRun
) -> None:
    done = fleet.hosts[0].run(NCCTL, "--config", CONFIG, "config", "validate", "--json")
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout)["data"]["valid"] is True
    assert host_config()["state_dir"] in fleet.hosts[0].run("cat", CONFIG).stdout
    for host in fleet.hosts:
        shown = host.run(NCCTL, "--config", CONFIG, "config", "show", "--json")
        config = json.loads(shown.stdout)["data"]["config"]
        assert (config["client"], config["site"]) == (f"client-{host.name}", "chicago")
