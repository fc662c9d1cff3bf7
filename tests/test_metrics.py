"""Metrics: `/metrics` scraped over HTTP on loopback, `ncctl metrics --textfile`, a failing
source reported instead of failing the scrape, and docs/alerts.yml checked and unit-tested
with promtool (Debian's prometheus package) or, without it, validated with PyYAML."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ncctl.appconfig.load import load_file
from ncctl.appconfig.model import NcctlConfig
from ncctl.components.lifecycle import backend_for
from ncctl.ilink.status import RegistrationStatus
from ncctl.jobs.records import JobStore, job_store_path
from ncctl.logs.manifest import Manifest, manifest_path
from ncctl.metrics.collector import NcctlCollector, collect
from ncctl.metrics.server import serve
from ncctl.metrics.sources import MetricSources
from ncctl.preflight.result import Recorded
from ncctl.schedule import ScheduleEngine, load_engine
from ncctl.tuning.status import TuningStatus
from tests.helpers import run_in_process
from tests.logs.helpers import add_archive, write_config

CHICAGO = ZoneInfo("America/Chicago")
CLOCK = "2026-11-25T16:40"
NOW = dt.datetime(2026, 11, 25, 16, 40, tzinfo=CHICAGO)
"""Wednesday after the maintenance window: every component is wanted running, and the 16:01
rotation and upload windows closed at 16:29."""
UPLOAD_AT = "2026-11-25T16:01:00-06:00"
REGISTRATION_AT = "2026-11-22T15:25:00-06:00"
ALERTS = Path(__file__).resolve().parents[1] / "docs" / "alerts.yml"
SLEEP = '["{python}", "-m", "ncctl.sim.idle"]'  # a simulator: a development setup

Key = tuple[str, frozenset[tuple[str, str]]]


@dataclass
class Env:
    root: Path
    config_path: Path
    config: NcctlConfig
    engine: ScheduleEngine


def values(text: str) -> dict[Key, float]:
    """Every sample of a text exposition, by name and labels (parsed by prometheus_client)."""
    out: dict[Key, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def key(name: str, **labels: str) -> Key:
    return (name, frozenset(labels.items()))


def scrape(url: str) -> dict[Key, float]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text: str = resp.read().decode("utf-8")
    return values(text)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    """A configuration in ``tmp_path`` with destinations fcm and client, an upload manifest
    (one archive verified at fcm and failed at client, one pending at both) and job records."""
    extra = (
        f"[components.feed_handler]\ncommand = {SLEEP}\nstop_timeout_s = 2.0\n"
        f"[components.order_session]\ncommand = {SLEEP}\nstop_timeout_s = 2.0\n"
        f'[tuning]\nprofile = "dev"\nroot = "{tmp_path / "no-tuning-root"}"\n'
    )
    path = write_config(tmp_path, extra=extra)
    config, _ = load_file(path)
    sched = config.schedule
    engine = load_engine(sched.template_path(), sched.holiday_paths())

    manifest = Manifest(manifest_path(config.state_dir))
    try:
        files = []
        for trade_date, size in (("20261124", 1000), ("20261125", 500)):
            files.append(add_archive(manifest, tmp_path, trade_date, size, ["fcm", "client"]))
        manifest.set_upload(files[0], "fcm", "uploading", attempt=True)
        manifest.set_upload(files[0], "fcm", "verified", verified_by="readback")
        manifest.set_upload(files[0], "client", "failed", attempt=True, error="refused")
        manifest.set_upload(files[0], "client", "failed", attempt=True, error="refused")
    finally:
        manifest.close()

    store = JobStore(job_store_path(config.state_dir))
    try:
        store.claim("party_registration", REGISTRATION_AT, 0.25)
        store.done("party_registration", REGISTRATION_AT)
        # yesterday's upload ran late and raised an alert; today's ran 12.5 s late
        yesterday = "2026-11-24T16:01:00-06:00"
        store.claim("upload", yesterday, 99.0)
        store.mark_alerted("upload", yesterday)
        store.done("upload", yesterday)
        store.claim("upload", UPLOAD_AT, 12.5)
        store.done("upload", UPLOAD_AT)
        # today's rotation failed, is being retried, and its window has closed
        store.claim("rotate", UPLOAD_AT, 3.0)
        store.failed("rotate", UPLOAD_AT, "disk full", retry_in_s=60)
        store.mark_alerted("rotate", UPLOAD_AT)
    finally:
        store.close()
    return Env(tmp_path, path, config, engine)


@pytest.fixture
def feed_running(env: Env) -> Iterator[None]:
    """The feed handler runs (a real child process); the order session does not."""
    backend = backend_for("feed_handler", env.config.components, env.config.state_dir)
    backend.start()
    yield
    backend.stop()


@pytest.mark.slow
def test_metrics_served_over_http_are_computed_at_each_scrape(env: Env, feed_running: None) -> None:
    verified_before = dt.datetime.now(tz=CHICAGO).timestamp()
    registry = collect(env.config, env.engine, lambda: NOW)
    server = serve(registry, "127.0.0.1", 0)
    try:
        assert server.host == "127.0.0.1" and server.port > 0
        got = scrape(server.url)

        assert got[key("ncctl_info", version="0.1.0", environment="dev", client="", site="")] == 1
        assert got[key("ncctl_collect_timestamp_seconds")] == NOW.timestamp()
        # schedule: Wednesday 16:40 CT, market closed until the 16:45 pre-open
        assert got[key("ncctl_schedule_market_state", state="CLOSED")] == 1
        assert got[key("ncctl_schedule_market_state", state="OPEN")] == 0
        assert got[key("ncctl_schedule_feed_handler")] == 1
        assert got[key("ncctl_schedule_order_entry")] == 1
        assert got[key("ncctl_schedule_maintenance")] == 0
        assert got[key("ncctl_schedule_l3_loop")] == 1
        pre_open = dt.datetime(2026, 11, 25, 16, 45, tzinfo=CHICAGO).timestamp()
        assert (
            got[key("ncctl_schedule_next_transition_timestamp_seconds", event="market.pre_open")]
            == pre_open
        )
        # components: both wanted; the feed handler runs, the order session does not
        for name in ("feed_handler", "order_session"):
            assert got[key("ncctl_component_desired", component=name)] == 1
        assert got[key("ncctl_component_up", component="feed_handler")] == 1
        assert got[key("ncctl_component_drift", component="feed_handler")] == 0
        assert got[key("ncctl_component_up", component="order_session")] == 0
        assert got[key("ncctl_component_drift", component="order_session")] == 1
        assert got[key("ncctl_component_state", component="order_session", state="stopped")] == 1
        # uploads, from the manifest
        fcm, client = {"destination": "fcm"}, {"destination": "client"}
        assert got[key("ncctl_upload_pending_files", **fcm)] == 1
        assert got[key("ncctl_upload_pending_bytes", **fcm)] == 500
        assert got[key("ncctl_upload_verified_files_total", **fcm)] == 1
        assert got[key("ncctl_upload_verified_bytes_total", **fcm)] == 1000
        assert got[key("ncctl_upload_failures", **fcm)] == 0
        assert got[key("ncctl_upload_attempts_total", **fcm)] == 1
        last = got[key("ncctl_upload_last_verified_timestamp_seconds", **fcm)]
        assert verified_before - 120 <= last <= dt.datetime.now(tz=CHICAGO).timestamp()
        assert got[key("ncctl_upload_pending_files", **client)] == 2
        assert got[key("ncctl_upload_pending_bytes", **client)] == 1500
        assert got[key("ncctl_upload_failures", **client)] == 1
        assert got[key("ncctl_upload_attempts_total", **client)] == 2
        assert got[key("ncctl_upload_verified_bytes_total", **client)] == 0
        assert key("ncctl_upload_last_verified_timestamp_seconds", **client) not in got
        # jobs, from the done-records and the schedule
        assert got[key("ncctl_job_lateness_seconds", job_name="upload")] == 12.5
        assert got[key("ncctl_job_lateness_seconds", job_name="party_registration")] == 0.25
        assert got[key("ncctl_job_alerts_total", job_name="upload")] == 1
        assert got[key("ncctl_job_alerts_total", job_name="rotate")] == 1
        assert got[key("ncctl_job_alerts_total", job_name="party_registration")] == 0
        assert got[key("ncctl_job_overdue", job_name="upload")] == 0
        assert got[key("ncctl_job_overdue", job_name="party_registration")] == 0
        assert got[key("ncctl_job_overdue", job_name="rotate")] == 1
        assert got[key("ncctl_job_failing", job_name="rotate")] == 1
        assert got[key("ncctl_job_failing", job_name="upload")] == 0
        # no registration run recorded, no tuning root: absent, not 0
        names = {name for name, _ in got}
        assert not {n for n in names if n.startswith(("ncctl_registration", "ncctl_tuning"))}
        assert all(v == 0 for (n, _), v in got.items() if n == "ncctl_collector_errors")

        # the values are computed at each scrape, not when the server started
        backend_for("feed_handler", env.config.components, env.config.state_dir).stop()
        again = scrape(server.url)
        assert again[key("ncctl_component_up", component="feed_handler")] == 0
        assert again[key("ncctl_component_drift", component="feed_handler")] == 1
    finally:
        server.stop()
    assert not server.thread.is_alive()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.url, timeout=2)


@pytest.mark.slow
def test_a_failing_source_is_reported_and_the_scrape_still_succeeds(env: Env) -> None:
    def broken(config: NcctlConfig, now: dt.datetime) -> RegistrationStatus | None:
        raise RuntimeError("party.sqlite is locked")

    manifest_path(env.config.state_dir).write_bytes(b"this is not an SQLite database" * 100)
    reported: list[tuple[str, str]] = []
    registry = collect(
        env.config,
        env.engine,
        NOW,
        sources=MetricSources(registration=broken),
        on_error=lambda source, error: reported.append((source, error)),
    )
    with serve(registry, "127.0.0.1", 0) as server:
        got = scrape(server.url)
    assert got[key("ncctl_collector_errors", source="registration")] == 1
    assert got[key("ncctl_collector_errors", source="uploads")] == 1
    for source in ("info", "schedule", "component.feed_handler", "jobs", "tuning"):
        assert got[key("ncctl_collector_errors", source=source)] == 0
    names = {name for name, _ in got}
    assert not {n for n in names if n.startswith("ncctl_upload_")}
    assert got[key("ncctl_job_overdue", job_name="rotate")] == 1  # the other sources still report
    assert got[key("ncctl_component_desired", component="order_session")] == 1
    assert dict(reported).keys() == {"registration", "uploads", "rotation"}
    assert "RuntimeError: party.sqlite is locked" in dict(reported)["registration"]
    assert "not an SQLite database" in dict(reported)["uploads"]


def test_registration_and_tuning_sources_when_present(env: Env) -> None:
    finished = dt.datetime(2026, 11, 22, 15, 25, 3, tzinfo=CHICAGO)
    sources = MetricSources(
        registration=lambda config, now: RegistrationStatus(ok=False, last_run=finished),
        tuning=lambda config, now: TuningStatus(config.tuning.profile, "drift"),
    )
    got = values(NcctlCollector(env.config, env.engine, NOW, sources=sources).scrape().text())
    assert got[key("ncctl_registration_ok")] == 0
    assert got[key("ncctl_registration_last_timestamp_seconds")] == finished.timestamp()
    assert got[key("ncctl_tuning_compliant", profile="dev")] == 0
    assert got[key("ncctl_tuning_state", profile="dev", state="drift")] == 1
    assert got[key("ncctl_tuning_state", profile="dev", state="compliant")] == 0


def test_a_scrape_creates_no_state(tmp_path: Path) -> None:
    """A host where nothing ran yet: the scrape reports and leaves state_dir untouched."""
    config = NcctlConfig(state_dir=tmp_path / "state")
    sched = config.schedule
    engine = load_engine(sched.template_path(), sched.holiday_paths())
    scraped = NcctlCollector(config, engine, NOW).scrape()
    assert scraped.errors == {}
    got = values(scraped.text())
    assert got[key("ncctl_job_overdue", job_name="upload")] == 1  # nothing was uploaded
    assert not (tmp_path / "state").exists()


@pytest.mark.slow
def test_serve_on_a_busy_port_is_unavailable(env: Env) -> None:
    from ncctl.errors import UnavailableError

    registry = collect(env.config, env.engine, NOW)
    with serve(registry, "127.0.0.1", 0) as first, pytest.raises(UnavailableError) as info:
        serve(registry, "127.0.0.1", first.port)
    assert info.value.code == "metrics.listen"


# -- ncctl metrics ----------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    done = run_in_process(capsys, *argv)
    return done.code, done.out, done.err


def test_cli_textfile_is_written_atomically(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    outdir = env.root / "textfile"
    outdir.mkdir()
    target = outdir / "ncctl.prom"
    target.write_text("# an older file, replaced whole\n")
    code, out, err = run(
        capsys, "--config", env.config_path, "--clock", CLOCK, "metrics", "--textfile", target
    )
    assert code == 0, err
    assert str(target) in out
    assert sorted(p.name for p in outdir.iterdir()) == ["ncctl.prom"]  # no temporary file left
    assert target.stat().st_mode & 0o777 == 0o644
    got = values(target.read_text(encoding="utf-8"))
    assert got[key("ncctl_upload_pending_files", destination="client")] == 2
    assert got[key("ncctl_job_overdue", job_name="rotate")] == 1
    assert got[key("ncctl_component_desired", component="feed_handler")] == 1


def test_cli_prints_the_exposition_and_json(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--config", env.config_path, "--clock", CLOCK, "metrics")
    assert code == 0, err
    got = values(out)
    assert got[key("ncctl_upload_verified_bytes_total", destination="fcm")] == 1000

    code, out, err = run(capsys, "--config", env.config_path, "--clock", CLOCK, "metrics", "--json")
    assert code == 0, err
    assert err == ""
    doc = json.loads(out)
    assert doc["ok"] is True and doc["command"] == "metrics" and doc["error"] is None
    data: dict[str, Any] = doc["data"]
    assert data["at"] == "2026-11-25T16:40:00-06:00"
    assert data["collector_errors"] == {}
    samples = {(s["name"], json.dumps(s["labels"], sort_keys=True)): s for s in data["samples"]}
    pending = samples[("ncctl_upload_pending_files", '{"destination": "client"}')]
    assert pending["value"] == 2 and pending["type"] == "gauge"


def test_cli_textfile_in_a_missing_directory_cannot_be_created(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    target = env.root / "no-such-dir" / "ncctl.prom"
    code, out, _ = run(
        capsys, "--config", env.config_path, "metrics", "--textfile", target, "--json"
    )
    assert code == 73
    doc = json.loads(out)
    assert doc["ok"] is False and doc["error"]["code"] == "cant_create"
    assert not target.parent.exists()


def test_cli_metrics_does_not_import_prometheus_client_until_run() -> None:
    code = (
        "import sys, ncctl.cli.metrics_cmd, ncctl.cli.app\n"
        "assert 'prometheus_client' not in sys.modules, 'imported eagerly'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- docs/alerts.yml --------------------------------------------------------------------

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package prometheus)"
)


def test_alert_rules_can_be_checked_here() -> None:
    """promtool, or else PyYAML for the structural check: one of them must be present."""
    has_yaml = importlib.util.find_spec("yaml") is not None
    assert has_yaml or PROMTOOL is not None, "neither promtool nor PyYAML: alerts.yml unchecked"


@needs_promtool
def test_alert_rules_pass_promtool_check() -> None:
    assert PROMTOOL is not None
    proc = subprocess.run(
        [PROMTOOL, "check", "rules", str(ALERTS)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_alert_rules_structure() -> None:
    """Without promtool: the structure promtool would check, and the house conventions."""
    yaml = pytest.importorskip("yaml", reason="PyYAML is in the dev extra")
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    assert set(doc) == {"groups"}
    groups = doc["groups"]
    assert isinstance(groups, list) and groups
    assert len({g["name"] for g in groups}) == len(groups)
    alerts: set[str] = set()
    for group in groups:
        assert set(group) <= {"name", "interval", "rules"}, group
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
            name = rule["alert"]
            assert re.fullmatch(r"Ncctl[A-Z][A-Za-z]+", name), name
            assert name not in alerts
            alerts.add(name)
            assert isinstance(rule["expr"], str) and rule["expr"].strip()
            assert rule["expr"].count("(") == rule["expr"].count(")")
            if "for" in rule:
                assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["for"]
            assert rule["labels"]["severity"] in {"critical", "warning"}
            assert set(rule["annotations"]) == {"summary", "description"}
            text = rule["annotations"]["summary"] + rule["annotations"]["description"]
            assert text.count("{{") == text.count("}}")
    assert {
        "NcctlComponentDriftTradingWeek",
        "NcctlUploadNotVerified",
        "NcctlJobWindowClosedUnfulfilled",
        "NcctlRegistrationFailed",
        "NcctlTuningDrift",
    } <= alerts


def test_alert_rules_name_only_metrics_ncctl_exports(env: Env) -> None:
    """A rule on a metric that does not exist never fires: every name must be exported."""
    sources = MetricSources(
        registration=lambda config, now: RegistrationStatus(ok=True, last_run=NOW),
        tuning=lambda config, now: TuningStatus("dev", "compliant"),
        preflight=lambda config, now: Recorded(NOW.timestamp(), {"holidays": "ok"}),
    )
    exported: set[str] = set()
    for family in text_string_to_metric_families(
        NcctlCollector(env.config, env.engine, NOW, sources=sources).scrape().text()
    ):
        exported.update(s.name for s in family.samples)
    named = set(re.findall(r"\bncctl_[a-z0-9_]*[a-z0-9]\b", ALERTS.read_text(encoding="utf-8")))
    assert len(named) >= 8
    assert named <= exported, sorted(named - exported)


def series(name: str, values: str, **labels: str) -> dict[str, str]:
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def fires(at: str, alert: str, labels: dict[str, str], summary: str, description: str) -> Any:
    expected = {
        "exp_labels": labels,
        "exp_annotations": {"summary": summary, "description": description},
    }
    return {"eval_time": at, "alertname": alert, "exp_alerts": [expected]}


def quiet(at: str, alert: str) -> Any:
    return {"eval_time": at, "alertname": alert, "exp_alerts": []}


H1 = {"instance": "h1", "job": "ncctl"}
H2 = {"instance": "h2", "job": "ncctl"}

DRIFT_CASES = {
    "interval": "1m",
    "input_series": [
        # h1, trading week: the order session drifts from minute 1
        series("ncctl_component_drift", "0 1x30", component="order_session", **H1),
        series("ncctl_component_drift", "0x30", component="feed_handler", **H1),
        series("ncctl_schedule_feed_handler", "1x30", **H1),
        # h2, a Saturday: the feed handler was left running
        series("ncctl_component_drift", "1x30", component="feed_handler", **H2),
        series("ncctl_schedule_feed_handler", "0x30", **H2),
    ],
    "alert_rule_test": [
        quiet("3m", "NcctlComponentDriftTradingWeek"),
        fires(
            "5m",
            "NcctlComponentDriftTradingWeek",
            {"severity": "critical", "component": "order_session", **H1},
            "order_session is not in its scheduled state on h1",
            "During the trading week order_session has differed from the schedule for 3 "
            "minutes (ncctl_component_desired says what the schedule wants) and the reconcile "
            "pass has not fixed it. Run `ncctl status` on the host, then "
            "`ncctl maintenance run` and read its errors.",
        ),
        quiet("10m", "NcctlComponentDriftOutsideTradingWeek"),
        fires(
            "20m",
            "NcctlComponentDriftOutsideTradingWeek",
            {"severity": "warning", "component": "feed_handler", **H2},
            "feed_handler runs outside the trading week on h2",
            "feed_handler has differed from the schedule for 15 minutes while the trading "
            "week is closed. Check `ncctl status` and the journal (`ncctl audit log`) for a "
            "forced start.",
        ),
    ],
}

JOB_CASES = {
    "interval": "1m",
    "input_series": [
        # the upload window closes at minute 2, rotation's at minute 3; fcm refuses uploads
        series("ncctl_job_overdue", "0 0 1 1 1", job_name="upload", **H1),
        series("ncctl_job_overdue", "0 0 0 1 1", job_name="rotate", **H1),
        series("ncctl_job_overdue", "0x4", job_name="party_registration", **H1),
        series("ncctl_upload_failures", "1x20", destination="fcm", **H1),
        series("ncctl_upload_failures", "0x20", destination="client", **H1),
    ],
    "alert_rule_test": [
        quiet("1m", "NcctlUploadNotVerified"),
        fires(
            "2m",
            "NcctlUploadNotVerified",
            {"severity": "critical", "job_name": "upload", **H1},
            "Audit-trail upload not verified by 16:29 CT on h1",
            "The upload window closed with files not verified at every destination; the "
            "audit trail must reach the FCM (CME Rule 536.B). ncctl keeps retrying. See "
            "ncctl_upload_pending_files and ncctl_upload_failures by destination, and "
            "`ncctl logs status` on the host.",
        ),
        quiet("2m", "NcctlJobWindowClosedUnfulfilled"),
        fires(
            "3m",
            "NcctlJobWindowClosedUnfulfilled",
            {"severity": "critical", "job_name": "rotate", **H1},
            "Job rotate missed its window on h1",
            "The latest scheduled run of rotate is not done and its window has closed. Run "
            "`ncctl maintenance run --json` on the host to see its error.",
        ),
        quiet("9m", "NcctlUploadFailing"),
        fires(
            "10m",
            "NcctlUploadFailing",
            {"severity": "warning", "destination": "fcm", **H1},
            "Uploads to fcm failing on h1",
            "1 archive(s) failed their last upload attempt to fcm for 10 minutes. See "
            "`ncctl logs status`.",
        ),
    ],
}

HOST_CASES = {
    "interval": "1m",
    "input_series": [
        series("ncctl_registration_ok", "1 0", **H1),
        series("ncctl_tuning_state", "1x20", profile="prod", state="drift", **H1),
        series("ncctl_tuning_state", "0x20", profile="prod", state="compliant", **H1),
        series("ncctl_collector_errors", "1x20", source="uploads", **H1),
        series("ncctl_collector_errors", "0x20", source="jobs", **H1),
        # h1 stopped writing its textfile at time 0; h2 writes it every minute
        series("ncctl_collect_timestamp_seconds", "0x20", instance="h1", job="node"),
        series("ncctl_collect_timestamp_seconds", "0+60x20", instance="h2", job="node"),
    ],
    "alert_rule_test": [
        quiet("0m", "NcctlRegistrationFailed"),
        fires(
            "1m",
            "NcctlRegistrationFailed",
            {"severity": "critical", **H1},
            "Party-ID registration failed on h1",
            "The latest party-details registration run did not succeed: orders carrying "
            "unregistered PartyDetailsListReqIDs will be rejected. See the journal and the "
            "iLink session log on the host.",
        ),
        quiet("9m", "NcctlTuningDrift"),
        fires(
            "15m",
            "NcctlTuningDrift",
            {"severity": "warning", "profile": "prod", "state": "drift", **H1},
            "Host tuning drift (profile prod) on h1",
            "The host no longer matches tuning profile prod (drift). Run `ncctl tune verify` "
            "on the host; `ncctl tune host` outside trading hours restores it.",
        ),
        fires(
            "15m",
            "NcctlMetricsSourceFailing",
            {"severity": "warning", "source": "uploads", **H1},
            "ncctl cannot read uploads on h1",
            "The uploads metrics have been missing for 10 minutes because ncctl failed to "
            "collect them; `ncctl metrics` on the host prints the error.",
        ),
        quiet("10m", "NcctlMetricsStale"),
        fires(
            "12m",
            "NcctlMetricsStale",
            {"severity": "warning", "instance": "h1", "job": "node"},
            "ncctl metrics are stale on h1",
            "ncctl's metrics were last computed 12m 0s ago: the cron line running "
            "`ncctl metrics --textfile` or the daemon is not running.",
        ),
    ],
}


JOURNAL_CASES = {
    "interval": "1m",
    "input_series": [
        # h1: a writer found the journal changed at minute 3; its journal lost 2 lines at 5
        series("ncctl_journal_anomalies_total", "0 0 0 1x10", **H1),
        series("ncctl_journal_lines", "10 11 12 13 14 12x8", **H1),
        # h2: a journal that only grows, no anomaly
        series("ncctl_journal_anomalies_total", "0x12", **H2),
        series("ncctl_journal_lines", "10+1x12", **H2),
    ],
    "alert_rule_test": [
        quiet("2m", "NcctlJournalAnomaly"),
        fires(
            "4m",
            "NcctlJournalAnomaly",
            {"severity": "critical", **H1},
            "Journal changed behind ncctl's back on h1",
            "An ncctl writer found the journal different from its anchored head 1 time(s). "
            "Run `ncctl audit verify` on the host and keep every copy as evidence; see the "
            "runbook.",
        ),
        quiet("4m", "NcctlJournalShrank"),
        fires(
            "6m",
            "NcctlJournalShrank",
            {"severity": "critical", **H1},
            "Journal lost lines on h1",
            "The journal has 12 lines, fewer than it had within the last hour. Run `ncctl "
            "audit verify` on the host and keep every copy as evidence; see the runbook.",
        ),
    ],
}


def promtool_test_rules(tmp_path: Path, cases: list[Any]) -> None:
    """Run ``promtool test rules`` on docs/alerts.yml with these test groups; assert success."""
    assert PROMTOOL is not None
    tests = tmp_path / "alerts_test.yml"
    doc = {"rule_files": [str(ALERTS)], "evaluation_interval": "1m", "tests": cases}
    tests.write_text(json.dumps(doc, indent=1), encoding="utf-8")  # JSON is YAML
    proc = subprocess.run(
        [PROMTOOL, "test", "rules", str(tests)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


@needs_promtool
def test_alert_rules_fire_when_intended(tmp_path: Path) -> None:
    """``promtool test rules``: each alert fires on its condition, after its ``for``, with
    its labels and rendered annotations, and not on the neighbouring conditions."""
    promtool_test_rules(tmp_path, [DRIFT_CASES, JOB_CASES, HOST_CASES, JOURNAL_CASES])


@pytest.mark.slow
def test_registration_metrics_from_the_party_state_db(env: Env) -> None:
    import sqlite3

    from ncctl.ilink.registration_store import _SCHEMA
    from ncctl.metrics.sources import registration_status

    assert registration_status(env.config, NOW) is None  # no database: nothing, and none made
    assert not (env.config.state_dir / "party.sqlite").exists()
    db = sqlite3.connect(env.config.state_dir / "party.sqlite")
    db.executescript(_SCHEMA)
    db.execute(
        "INSERT INTO runs (week, trade_date, started_at, finished_at, ok, gateway, attempts, "
        "registered, already_registered, rejected, not_sent, secret_expires_in_days) VALUES "
        "('2026-11-22', '2026-11-23', '2026-11-22T21:25:00+00:00', "
        "'2026-11-22T21:25:01+00:00', 1, '127.0.0.1:29000', 1, 1, 0, 0, 0, 9)"
    )
    db.commit()
    db.close()
    registry = collect(env.config, env.engine, NOW)
    got = values(generate_latest(registry).decode())
    assert got[key("ncctl_registration_ok")] == 1
    assert got[key("ncctl_registration_last_timestamp_seconds")] == 1795382701.0
    assert got[key("ncctl_ilink_secret_expires_in_days")] == 9


def test_tuning_metrics_from_a_fake_root(env: Env, tmp_path: Path) -> None:
    from ncctl.metrics.sources import tuning_status
    from tests.tuning import fakeroot

    root = fakeroot.build(tmp_path / "root")
    config = env.config.model_copy(
        update={"tuning": env.config.tuning.model_copy(update={"root": root})}
    )
    status = tuning_status(config, NOW)
    assert status is not None and status.profile == "dev"
    assert status.state in ("compliant", "drift", "reboot-pending", "unsupported")
    registry = collect(config, env.engine, NOW)
    got = values(generate_latest(registry).decode())
    assert got[key("ncctl_tuning_state", profile="dev", state=status.state)] == 1
