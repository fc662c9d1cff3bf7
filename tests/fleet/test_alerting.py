"""Alerting for a fleet: the fleet rules of docs/alerts.yml (``promtool test rules``), the
Alertmanager configuration that fleet/alertmanager.py generates from ncctl's schedule data
(``amtool check-config``, ``amtool config routes test``), and the inventory checks of
playbooks/prometheus.yml."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fleet.alertmanager import HOLIDAYS, MAINTENANCE, WEEKDAYS, main, render
from ncctl.config.section import IDENTITY_NAME
from ncctl.schedule.files import load_holiday_table, load_template
from ncctl.schedule.section import ScheduleConfig
from tests.fleet.ansible import ansible_unavailable, run_playbook
from tests.test_metrics import fires, needs_promtool, promtool_test_rules, quiet, series

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "fleet" / "alertmanager.example.yml"
AMTOOL = shutil.which("amtool")
needs_amtool = pytest.mark.skipif(
    AMTOOL is None, reason="amtool not installed (Debian package prometheus-alertmanager)"
)


def info(instance: str, *, client: str, configured: str) -> dict[str, str]:
    """ncctl_info of a fleet target: ``client`` from the inventory (the target label),
    ``configured`` from ncctl's configuration (scraped, so renamed exported_client)."""
    return series(
        "ncctl_info",
        "1x12",
        instance=instance,
        job="ncctl",
        client=client,
        site="chi",
        exported_client=configured,
        exported_site="chi",
        version="0.1.0",
        environment="prod",
    )


FLEET_CASES = {
    "interval": "1m",
    "input_series": [
        # h1 (acme) unreachable from minute 2; h2 (globex) up; a non-fleet target down
        series("up", "1 1 0x10", instance="h1:9464", job="ncctl", client="acme", site="chi"),
        series("up", "1x12", instance="h2:9464", job="ncctl", client="globex", site="chi"),
        series("up", "0x12", instance="node:9100", job="node"),
        # h1 configured for acme at chi (agrees); h2 configured for acme (wrong host)
        info("h1:9464", client="acme", configured="acme"),
        info("h2:9464", client="globex", configured="acme"),
    ],
    "alert_rule_test": [
        quiet("6m", "NcctlHostUnreachable"),
        fires(
            "8m",
            "NcctlHostUnreachable",
            {
                "severity": "critical",
                "instance": "h1:9464",
                "job": "ncctl",
                "client": "acme",
                "site": "chi",
            },
            "ncctl metrics unreachable on h1:9464 (client acme)",
            "Prometheus has not scraped ncctl's /metrics on h1:9464 (site chi) for 5 minutes: "
            "the host, the daemon or the network is down, so no other ncctl alert can fire "
            "for it. Run `ncctl status` on the host (`systemctl status ncctl-scheduler`), or "
            "the fleet report (gather.yml).",
        ),
        quiet("4m", "NcctlIdentityMismatch"),
        fires(
            "6m",
            "NcctlIdentityMismatch",
            {
                "severity": "critical",
                "instance": "h2:9464",
                "job": "ncctl",
                "client": "globex",
                "site": "chi",
                "exported_client": "acme",
                "exported_site": "chi",
                "version": "0.1.0",
                "environment": "prod",
            },
            "ncctl on h2:9464 is configured for another client than globex",
            "The inventory says h2:9464 is client globex at site chi; ncctl's configuration "
            'there says client "acme" at site "chi". Check `ncctl config show` on the host '
            "and the inventory, then roll out the right configuration (rollout.yml).",
        ),
    ],
}


@needs_promtool
def test_fleet_rules_fire_for_the_host_and_client_concerned_only(tmp_path: Path) -> None:
    promtool_test_rules(tmp_path, [FLEET_CASES])


def test_the_example_is_what_the_tool_writes() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == render(["acme", "globex"])


def intervals(text: str) -> dict[str, list[dict[str, Any]]]:
    yaml = pytest.importorskip("yaml", reason="PyYAML is in the dev extra")
    doc = yaml.safe_load(text)
    return {i["name"]: i["time_intervals"] for i in doc["time_intervals"]}


def test_mute_times_come_from_ncctls_schedule_data() -> None:
    """Every holiday of ncctl's tables is muted on its date (from its early close on), and
    the maintenance window on the template's days and times, in the template's zone."""
    schedule = ScheduleConfig()
    template = load_template(schedule.template_path())
    holidays = [h for p in schedule.holiday_paths() for h in load_holiday_table(p).holidays]
    found = intervals(render(["acme"]))
    window = next(w for w in template.windows if w.name == "maintenance")
    assert found[MAINTENANCE] == [
        {
            "weekdays": [WEEKDAYS[d] for d in window.days],
            "times": [{"start_time": "16:01", "end_time": "16:30"}],
            "location": "America/Chicago",
        }
    ]
    assert len(found[HOLIDAYS]) == len(holidays) >= 20
    by_date = {
        (int(i["years"][0]), int(i["months"][0]), int(i["days_of_month"][0])): i
        for i in found[HOLIDAYS]
    }
    for h in holidays:
        muted = by_date[(h.date.year, h.date.month, h.date.day)]
        assert muted["location"] == "America/Chicago"
        if h.kind == "closed":
            assert "times" not in muted
        else:
            assert muted["times"] == [{"start_time": h.close, "end_time": "24:00"}]


def test_a_table_given_by_path_is_used(tmp_path: Path) -> None:
    table = tmp_path / "one.toml"
    table.write_text(
        'calendar = "cme"\nyear = 2030\nsource = "test"\n[[holidays]]\ndate = 2030-12-25\n'
        'kind = "closed"\nname = "Christmas"\nnote = "test"\n',
        encoding="utf-8",
    )
    found = intervals(render(["acme"], holidays=[str(table)]))
    assert found[HOLIDAYS] == [
        {
            "years": ["2030"],
            "months": ["12"],
            "days_of_month": ["25"],
            "location": "America/Chicago",
        }
    ]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--client", "Acme"], 64, "--client 'Acme': a client is a lowercase name"),
        (["--client", "acme", "--client", "acme"], 64, "--client: a client is named twice"),
        (["--client", "acme", "--holidays", "cme-1999"], 78, "cme-1999.toml"),
        (["--client", "acme", "--template", "nowhere"], 78, "nowhere.toml"),
        ([], 64, "the following arguments are required: --client"),
        (["--client", "acme", "--bogus"], 64, "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments_are_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    out = tmp_path / "am.yml"
    assert main([*argv, "--output", str(out)]) == code
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err.splitlines()[0], err
    assert "Traceback" not in err
    assert not out.exists()


@needs_amtool
def test_the_example_passes_amtool_and_routes_by_client(tmp_path: Path) -> None:
    assert AMTOOL is not None

    def amtool(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [AMTOOL, *args], capture_output=True, text=True, timeout=60, check=False
        )

    checked = amtool("check-config", str(EXAMPLE))
    assert checked.returncode == 0 and "SUCCESS" in checked.stdout, checked.stdout
    for labels, receiver in (
        (["client=acme", "alertname=NcctlComponentDriftTradingWeek"], "client-acme"),
        (["client=globex", "alertname=NcctlHostUnreachable"], "client-globex"),
        (["client=initech", "alertname=NcctlHostUnreachable"], "operations"),
        (["alertname=NcctlJournalAnomaly"], "operations"),
    ):
        routed = amtool("config", "routes", "test", f"--config.file={EXAMPLE}", *labels)
        assert (routed.returncode, routed.stdout.strip()) == (0, receiver), routed.stderr


def fake_inventory(path: Path, hosts: dict[str, dict[str, Any]]) -> Path:
    inventory = {"ncctl": {"hosts": hosts, "vars": {"ansible_host": "192.0.2.1"}}}
    path.write_text(json.dumps(inventory), encoding="utf-8")
    return path


@pytest.mark.slow
def test_the_playbook_refuses_hosts_without_a_client_and_writes_nothing(tmp_path: Path) -> None:
    if (reason := ansible_unavailable()) is not None:
        pytest.skip(reason)
    hosts = {
        "good": {"ncctl_client": "acme", "ncctl_site": "chi"},
        "nameless": {"ncctl_site": "chi"},
        "shouting": {"ncctl_client": "ACME", "ncctl_site": "chi"},
    }
    run = run_playbook("prometheus.yml", fake_inventory(tmp_path / "inv.yml", hosts), tmp_path)
    assert run.code == 2 and run.failed() == {"localhost"}, run.out[-3000:]
    assert "ncctl_client and ncctl_site" in run.out and "nameless, shouting" in run.out
    assert not (tmp_path / "ncctl-targets.json").exists()

    del hosts["nameless"], hosts["shouting"]
    am = tmp_path / "am.yml"
    run = run_playbook(
        "prometheus.yml",
        fake_inventory(tmp_path / "inv.yml", hosts),
        tmp_path,
        "-e",
        f"ncctl_alertmanager_file={am}",
    )
    assert run.code == 0, run.out[-3000:] + run.err[-2000:]
    assert am.read_text(encoding="utf-8") == render(["acme"])
    assert am.stat().st_mode & 0o777 == 0o640  # receivers may carry webhook tokens
    targets = json.loads((tmp_path / "ncctl-targets.json").read_text(encoding="utf-8"))
    assert targets == [
        {"labels": {"client": "acme", "host": "good", "site": "chi"}, "targets": ["192.0.2.1:9464"]}
    ]


def test_the_playbook_checks_names_as_ncctl_does() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML is in the dev extra")
    defaults = REPO / "ansible_collections/ncctl/fleet/roles/prometheus/defaults/main.yml"
    pattern = yaml.safe_load(defaults.read_text(encoding="utf-8"))["ncctl_name_pattern"]
    assert pattern == IDENTITY_NAME


def test_output_replaces_the_file_atomically_or_leaves_it(tmp_path: Path) -> None:
    out = tmp_path / "am.yml"
    out.write_text("old\n", encoding="utf-8")
    assert main(["--client", "acme", "--holidays", "cme-1999", "--output", str(out)]) == 78
    assert out.read_text(encoding="utf-8") == "old\n"
    assert main(["--client", "acme", "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render(["acme"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["am.yml"]
    missing = tmp_path / "no" / "am.yml"
    assert main(["--client", "acme", "--output", str(missing)]) == 73
    assert not missing.parent.exists()
