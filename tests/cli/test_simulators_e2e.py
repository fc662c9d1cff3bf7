"""The dev configuration end to end: both simulators started, checked and stopped by ncctl.

Real processes: `ncctl` runs as a child process on configs/dev.toml, in an empty working
directory (state in ``$XDG_STATE_HOME/ncctl``, in the test's folder), with the clock pinned
through `--clock`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ncctl.ilink.audit_trail import AUDIT_COLUMNS
from tests.helpers import REPO_ROOT, run_process, wait_for

pytestmark = pytest.mark.slow

DEV = REPO_ROOT / "configs" / "dev.toml"
TRADING = "2026-11-25T10:00"  # Wednesday, market OPEN, order entry up
WEEKEND = "2026-11-28T12:00"  # Saturday: everything off


def ncctl(cwd: Path, clock: str, *args: str) -> tuple[int, dict[str, Any]]:
    done = run_process("--config", DEV, "--clock", clock, *args, "--json", cwd=cwd)
    return done.code, done.json()


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    for group in ("session", "feed"):
        run_process(
            "--config", DEV, group, "stop", "--force", "--reason", "test teardown", cwd=tmp_path
        )


FORCED = ("--force", "--reason", "a round trip of the simulators")


def test_both_simulators_round_trip_and_status_in_sync(
    workdir: Path, private_state_home: Path
) -> None:
    # the dev configuration has party details: no registration this week, no order session
    code, doc = ncctl(workdir, TRADING, "session", "start")
    assert code == 1 and doc["error"]["code"] == "registration.missing", doc
    for group in ("feed", "session"):
        code, doc = ncctl(workdir, TRADING, group, "start", *FORCED)
        assert code == 0, doc
        assert doc["data"]["status"]["state"] == "running"

    code, doc = ncctl(workdir, TRADING, "status")
    assert code == 0 and doc["data"]["drift"] is False, doc
    assert {c["actual"] for c in doc["data"]["components"]} == {"running"}

    # the feed handler publishes its state; the order session writes iLink 3 audit rows
    status_file = private_state_home / "run" / "feed_handler.status"
    published = json.loads(status_file.read_text())
    assert published["market_state"] in ("OPEN", "PRE_OPEN", "CLOSED")
    audit = private_state_home / "data" / "audit" / "audit.csv"
    wait_for(lambda: audit.is_file() and len(audit.read_text().splitlines()) > 2, 10, "audit rows")
    with audit.open(newline="") as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == AUDIT_COLUMNS

    code, doc = ncctl(workdir, TRADING, "session", "restart", *FORCED)
    assert code == 0 and doc["data"]["status"]["state"] == "running"
    code, doc = ncctl(workdir, TRADING, "feed", "restart", *FORCED)
    assert code == 0 and doc["data"]["status"]["state"] == "running"

    # the same processes on a Saturday are drift: exit 1, both named
    code, doc = ncctl(workdir, WEEKEND, "status")
    assert code == 1 and doc["error"]["code"] == "drift"
    assert "feed_handler" in doc["error"]["message"]
    assert "order_session" in doc["error"]["message"]

    for group in ("session", "feed"):
        code, doc = ncctl(workdir, WEEKEND, group, "stop")
        assert code == 0 and doc["data"]["changed"] is True
        assert "SIGTERM" in doc["data"]["message"]
        assert "exit status 0" in doc["data"]["message"]  # clean exit on SIGTERM
    code, doc = ncctl(workdir, WEEKEND, "status")
    assert code == 0 and doc["data"]["drift"] is False

    code, doc = ncctl(workdir, WEEKEND, "audit", "verify")
    assert code == 0 and doc["data"]["lines"] == 7  # refused, start x2, restart x2, stop x2
