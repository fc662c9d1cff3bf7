"""A simulated clock shared by ncctl and the simulators: `[clock] file` and `ncctl clock set`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import wait_for
from tests.logs.helpers import run, write_config

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_clock_set_then_ncctl_and_the_feed_handler_share_it(tmp_path: Path) -> None:
    status = tmp_path / "feed.status"
    extra = (
        f'[clock]\nfile = "{tmp_path / "clock.json"}"\n'
        "[components.feed_handler]\n"
        f'command = ["{{python}}", "-m", "ncctl.sim.feed_handler", "--status-file", "{status}"]\n'
        f'[components.feed_handler.ready]\nkind = "status_file"\npath = "{status}"\n'
    )
    config = write_config(tmp_path, extra=extra)
    code, doc, _err = run(config, "schedule", "now", clock_free=True)
    assert code == 78 and "clock.file" in doc["error"]["message"]  # not started yet
    code, doc, _ = run(
        config, "clock", "set", "2026-11-25T16:44:40", "--speed", "10", clock_free=True
    )
    assert code == 0, doc
    code, doc, _ = run(config, "schedule", "now", clock_free=True)
    assert doc["data"]["at"].startswith("2026-11-25T16:4")  # ncctl reads the shared clock
    try:
        code, doc, _ = run(config, "feed", "start", clock_free=True)
        assert code == 0, doc
        # the simulator follows the same clock across 16:45: PRE_OPEN within a few real seconds
        wait_for(
            lambda: json.loads(status.read_text()).get("market_state") == "PRE_OPEN",
            15,
            "PRE_OPEN in the simulator's status",
        )
        at = json.loads(status.read_text())["at"]
        assert at.startswith("2026-11-25T16:45")
    finally:
        run(config, "feed", "stop", "--force", "--reason", "test teardown", clock_free=True)


def test_the_daemon_refuses_a_configured_simulated_clock(tmp_path: Path) -> None:
    config = write_config(tmp_path, extra=f'[clock]\nfile = "{tmp_path / "clock.json"}"\n')
    code, _doc, err = run(config, "scheduler", "run", clock_free=True, json_flag=False)
    assert code == 64 and "[clock]" in err
