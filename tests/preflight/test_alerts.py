"""The preflight alert rules of docs/alerts.yml under ``promtool test rules``: each fires on
its condition with its labels and annotations, and stays quiet on the neighbouring ones."""

from __future__ import annotations

from pathlib import Path

from tests.test_metrics import H1, fires, needs_promtool, promtool_test_rules, quiet, series

PREFLIGHT_CASES = {
    "interval": "1m",
    "input_series": [
        series("ncctl_preflight_check_ok", "0x10", check="destination.fcm", **H1),
        series("ncctl_preflight_check_ok", "1x10", check="holidays", **H1),
        series("ncctl_preflight_check_status", "0x10", check="holidays", status="fail", **H1),
        series("ncctl_preflight_check_status", "1x10", check="holidays", status="warn", **H1),
        series("ncctl_preflight_check_status", "1x10", check="tuning", status="ok", **H1),
        series("ncctl_preflight_check_status", "0x10", check="tuning", status="warn", **H1),
    ],
    "alert_rule_test": [
        fires(
            "1m",
            "NcctlPreflightCheckFailed",
            {"severity": "critical", "check": "destination.fcm", **H1},
            "Preflight check destination.fcm failed on h1",
            "The latest `ncctl preflight` run found destination.fcm failing: the week will "
            "fail where it needs it. Run `ncctl preflight` on the host for the detail and "
            "hint, fix it, and run it again to clear this alert.",
        ),
        fires(
            "1m",
            "NcctlPreflightCheckWarning",
            {"severity": "warning", "check": "holidays", "status": "warn", **H1},
            "Preflight check holidays warns on h1",
            "The latest `ncctl preflight` run warns about holidays (an expiring iLink secret, "
            "holiday tables about to end, free space unknown, a pending reboot). Run `ncctl "
            "preflight` on the host for the detail and hint.",
        ),
    ],
}

STALE_CASES = {
    "interval": "1m",
    "input_series": [
        # h1 last recorded a run 700000 s (8 days 2 h 26 min 40 s) before time 0; h2 records
        # one every minute
        series("ncctl_preflight_last_run_timestamp_seconds", "-700000x90", instance="h1", job="n"),
        series("ncctl_preflight_last_run_timestamp_seconds", "0+60x90", instance="h2", job="n"),
    ],
    "alert_rule_test": [
        quiet("59m", "NcctlPreflightStale"),
        fires(
            "61m",
            "NcctlPreflightStale",
            {"severity": "warning", "instance": "h1", "job": "n"},
            "Preflight has not run for over a week on h1",
            "The latest `ncctl preflight` run was recorded 8d 3h 27m 40s ago; the runner runs it "
            "every Sunday at 14:00 CT. Check the runner (`ncctl maintenance run --json`, or "
            "the scheduler's log) and run `ncctl preflight`.",
        ),
    ],
}


@needs_promtool
def test_preflight_alerts_fire_when_intended(tmp_path: Path) -> None:
    promtool_test_rules(tmp_path, [PREFLIGHT_CASES, STALE_CASES])
