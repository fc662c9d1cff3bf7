"""docs/runbook.md says what to do for every alert rule in docs/alerts.yml."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_alert_has_a_runbook_entry() -> None:
    alerts = re.findall(r"^\s*- alert: (\w+)$", (DOCS / "alerts.yml").read_text(), re.MULTILINE)
    assert len(alerts) >= 5
    headings = " ".join(
        line for line in (DOCS / "runbook.md").read_text().splitlines() if line.startswith("###")
    )
    missing = [a for a in alerts if a not in headings]
    assert not missing, f"alerts without a runbook section: {missing}"
