"""The NcctlRotationHeld rule of docs/alerts.yml, unit-tested with promtool: it fires when a
rotated file stays held for 10 minutes, per category and host, and not before."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.test_metrics import ALERTS, H1, H2, PROMTOOL, fires, needs_promtool, quiet, series

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
    assert PROMTOOL is not None
    tests = tmp_path / "alerts_test.yml"
    doc = {"rule_files": [str(ALERTS)], "evaluation_interval": "1m", "tests": [HELD_CASES]}
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
