"""`ncctl status` reports each running component's CPUs (``sched_getaffinity``) against those
the tuning profile gives it, with real component processes (the simulators)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ncctl.cli.main import main
from tests.cli.test_lifecycle_cmd import simulators
from tests.helpers import run_in_process
from tests.tuning import fakeroot

CLOCK = "2026-11-25T10:00"  # the session runs in its hours


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    # the tuning root has CPUs 0-3: housekeeping 0, isolated 1-3; the session gets core 1
    fakeroot.build(tmp_path / "tuning-root")
    profile = tmp_path / "pinned.toml"
    profile.write_text('extends = ["isolated-cores"]\n[cpus]\norder_session = "auto"\n')
    path = tmp_path / "c.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        + simulators(tmp_path).replace("[tuning]\n", f'[tuning]\nprofile = "{profile}"\n')
    )
    yield path
    main(["--config", str(path), "session", "stop", "--force", "--reason", "test teardown"])


def status(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[dict[str, Any], list[str]]:
    done = run_in_process(capsys, "--config", config, "--clock", CLOCK, "status", "--json")
    doc = done.json()
    rows = {r["name"]: r for r in doc["data"]["components"]}
    return rows, doc["data"].get("warnings", [])


@pytest.mark.slow
@pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2 or 1 not in os.sched_getaffinity(0),
    reason="needs CPUs 0 and 1",
)
def test_status_flags_a_component_off_its_profile_cpus_until_it_is_moved(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    started = run_in_process(
        capsys, "--config", config, "--clock", CLOCK, "session", "start", "--json"
    )
    assert started.code == 0, started.out
    pid = started.json()["data"]["status"]["pid"]
    os.sched_setaffinity(pid, {0, 1})
    rows, warnings = status(capsys, config)
    session = rows["order_session"]["affinity"]
    assert session == {"actual": "0-1", "profile": "1", "mismatch": True}
    assert [w for w in warnings if "order_session" in w and "not the tuning profile's 1" in w]
    assert rows["feed_handler"]["affinity"] == {"actual": None, "profile": None, "mismatch": False}
    shown = run_in_process(capsys, "--config", config, "--clock", CLOCK, "status")
    assert "order_session CPUs: 0-1 (profile: 1) MISMATCH" in shown.out
    assert "not the tuning profile's 1" in shown.err

    os.sched_setaffinity(pid, {1})
    rows, warnings = status(capsys, config)
    assert rows["order_session"]["affinity"] == {"actual": "1", "profile": "1", "mismatch": False}
    assert not [w for w in warnings if "order_session" in w]
