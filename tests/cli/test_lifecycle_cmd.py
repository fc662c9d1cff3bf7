"""`ncctl feed|session …`, `ncctl status` and `ncctl audit …` through the CLI, in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ncctl.cli.main import main
from tests.helpers import run_in_process


def simulators(root: Path) -> str:
    """The [components] and [tuning] of a development configuration under ``root`` (the
    simulators, a tuning root that is not the machine's): ``--clock`` may act on it."""
    data = root / "data"
    feed = ["{python}", "-m", "ncctl.sim.feed_handler", "--status-file", str(root / "fh.json")]
    order = ["{python}", "-m", "ncctl.sim.order_session", "--rate", "1"]
    for flag, name in (
        ("--audit-file", "audit.csv"),
        ("--trade-file", "t.log"),
        ("--ion-file", "s.ion"),
    ):
        order += [flag, str(data / name)]
    return (
        "[components.feed_handler]\n"
        f"command = {json.dumps(feed)}\n"
        "stop_timeout_s = 2.0\n"
        "[components.order_session]\n"
        f"command = {json.dumps(order)}\n"
        "stop_timeout_s = 2.0\n"
        f'[tuning]\nroot = "{root / "tuning-root"}"\n'
    )


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "c.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n' + simulators(tmp_path))
    yield path
    for group in ("feed", "session"):
        main(["--config", str(path), group, "stop", "--force", "--reason", "test teardown"])


def run(
    capsys: pytest.CaptureFixture[str], config: Path, clock: str, *args: str
) -> tuple[int, dict[str, Any]]:
    done = run_in_process(capsys, "--config", config, "--clock", clock, *args, "--json")
    return done.code, done.json()


def journal(config: Path) -> list[dict[str, Any]]:
    path = config.parent / "state" / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(
    ("group", "clock", "why", "next_allowed"),
    [
        ("session", "2026-11-25T16:10", "maintenance window", "2026-11-25T16:30:00-06:00"),
        ("session", "2026-11-21T12:00", "outside order-entry hours", "2026-11-22T15:29:00-06:00"),
        ("feed", "2026-11-27T16:30", "outside feed-handler hours", "2026-11-29T15:00:00-06:00"),
        ("session", "2026-12-24T16:30", "outside order-entry hours", "2026-12-27T15:29:00-06:00"),
    ],
)
def test_guard_refuses_with_reason_and_next_allowed_time(
    capsys: pytest.CaptureFixture[str],
    config: Path,
    group: str,
    clock: str,
    why: str,
    next_allowed: str,
) -> None:
    code, doc = run(capsys, config, clock, group, "start")
    assert code == 1
    assert doc["ok"] is False and doc["error"]["code"] == "schedule.refused"
    assert why in doc["error"]["message"] and next_allowed in doc["error"]["message"]
    assert "--force --reason" in doc["error"]["hint"]
    last = journal(config)[-1]
    assert (last["command"], last["outcome"]) == (f"{group} start", "refused")
    assert last["details"]["next_allowed"] == next_allowed
    status_code, status = run(capsys, config, clock, group, "status")
    assert status["data"]["actual"] == "stopped" and status_code == 0


def test_force_with_reason_overrides_and_is_journaled(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    clock = "2026-11-25T16:10"
    code, doc = run(capsys, config, clock, "session", "start", "--force")
    assert code == 64 and "--reason" in doc["error"]["message"]
    code, doc = run(
        capsys, config, clock, "session", "start", "--force", "--reason", "FCM asked for a test"
    )
    assert code == 0 and doc["data"]["changed"] is True
    last = journal(config)[-1]
    assert last["command"] == "session start" and last["outcome"] == "ok"
    assert last["reason"] == "FCM asked for a test"
    assert "maintenance" in last["details"]["overrides"]
    # inside maintenance the session should be down: status shows the drift, exit 1
    code, doc = run(capsys, config, clock, "status")
    assert code == 1 and doc["ok"] is False and doc["data"]["drift"] is True
    rows = {r["name"]: r for r in doc["data"]["components"]}
    assert rows["order_session"]["desired"] == "stopped"
    assert rows["order_session"]["actual"] == "running"
    assert rows["order_session"]["drift"] is True
    assert rows["feed_handler"]["drift"] is True  # desired running, actually stopped


@pytest.mark.slow
def test_round_trip_in_hours_and_status_in_sync(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    clock = "2026-11-25T10:00"
    for group in ("feed", "session"):
        code, doc = run(capsys, config, clock, group, "start")
        assert code == 0 and doc["data"]["status"]["state"] == "running"
    code, doc = run(capsys, config, clock, "status")
    assert code == 0 and doc["data"]["drift"] is False
    assert {r["actual"] for r in doc["data"]["components"]} == {"running"}
    code, doc = run(capsys, config, clock, "session", "restart")
    assert code == 1 and doc["error"]["code"] == "schedule.refused"  # it runs in its hours
    code, doc = run(capsys, config, clock, "session", "restart", "--force", "--reason", "test")
    assert code == 0 and doc["data"]["action"] == "restart"
    first_pid = doc["data"]["status"]["pid"]
    code, doc = run(capsys, config, clock, "session", "status")
    assert doc["data"]["pid"] == first_pid
    for group in ("session", "feed"):
        code, doc = run(capsys, config, clock, group, "stop", "--force", "--reason", "test")
        assert code == 0 and doc["data"]["changed"] is True
    commands = [(e["command"], e["outcome"]) for e in journal(config)]
    assert commands == [
        ("feed start", "ok"),
        ("session start", "ok"),
        ("session restart", "refused"),
        ("session restart", "ok"),
        ("session stop", "ok"),
        ("feed stop", "ok"),
    ]


def test_audit_verify_names_a_hand_edited_line(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    clock = "2026-11-21T12:00"
    for _ in range(3):
        run(capsys, config, clock, "feed", "start")  # refused, journaled
    code, doc = run(capsys, config, clock, "audit", "verify")
    assert code == 0 and doc["data"]["intact"] is True and doc["data"]["lines"] == 3
    code, doc = run(capsys, config, clock, "audit", "log")
    assert [e["outcome"] for e in doc["data"]["entries"]] == ["refused"] * 3
    path = config.parent / "state" / "journal.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace('"refused"', '"ok"')
    path.write_text("".join(lines))
    code, doc = run(capsys, config, clock, "audit", "verify")
    assert code == 1 and doc["ok"] is False
    assert doc["data"]["broken_line"] == 2


def test_audit_log_since_filters(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    run(capsys, config, "2026-11-21T12:00", "feed", "start")
    code, doc = run(capsys, config, "2026-11-21T12:00", "audit", "log", "--since", "2099-01-01")
    assert code == 0 and doc["data"]["entries"] == []
    code, doc = run(capsys, config, "2026-11-21T12:00", "audit", "log", "--since", "2000-01-01")
    assert len(doc["data"]["entries"]) == 1


def test_a_component_dying_before_ready_is_exit_69_with_its_log_tail(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "crash.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        "[components.feed_handler]\n"
        'command = ["{python}", "-c", "import sys; print(\'no licence file\'); sys.exit(4)"]\n'
        "[components.feed_handler.ready]\n"
        'kind = "file"\n'
        f'path = "{tmp_path / "ready"}"\n'
    )
    forced = ("--force", "--reason", "a crash, not a simulator")  # not a development setup
    code, doc = run(capsys, path, "2026-11-25T10:00", "feed", "start", *forced)
    assert code == 69
    assert doc["error"]["code"] == "component.failed"
    assert "exit status 4" in doc["error"]["message"]
    assert doc["error"]["log_tail"] == ["no licence file"]
    assert journal(path)[-1]["outcome"] == "failed"
    code = main(["--config", str(path), "--clock", "2026-11-25T10:00", "feed", "start", *forced])
    err = capsys.readouterr().err
    assert code == 69 and "no licence file" in err and "hint:" in err
