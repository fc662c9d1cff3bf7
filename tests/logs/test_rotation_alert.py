"""The NcctlRotationHeld rule of docs/alerts.yml, unit-tested with promtool: it fires when a
rotated file stays held for 10 minutes, per category and host, and not before."""

from __future__ import annotations

from pathlib import Path

from tests.test_metrics import H1, H2, fires, needs_promtool, promtool_test_rules, quiet, series

HELD_CASES = {
    "interval": "1m",
    "input_series": [
        # h1: the audit file is held from minute 2 on; trade never
        series("ncctl_rotation_held", "0 0 1x20", category="audit", **H1),
        series("ncctl_rotation_held", "0x22", category="trade", **H1),
        # h2: held for 5 minutes only (the owner reopened late)
        series("ncctl_rotation_held", "1x4 0x17", category="ion", **H2),
    ],
    "alert_rule_test": [
        quiet("11m", "NcctlRotationHeld"),
        fires(
            "12m",
            "NcctlRotationHeld",
            {"severity": "critical", "category": "audit", **H1},
            "Rotated audit file held by a writer on h1",
            "1 rotated audit file(s) are still open for writing by a process, so they are "
            "kept uncompressed and not uploaded. `ncctl logs status` names the process; see "
            "the runbook. Never delete the file.",
        ),
    ],
}


@needs_promtool
def test_rotation_held_alert_fires_after_ten_minutes(tmp_path: Path) -> None:
    promtool_test_rules(tmp_path, [HELD_CASES])
