"""The ``--json`` contract (docs/design.md §3.2, rule 4) for every command of the Typer app.

Exactly one JSON document on stdout, ``{"ok", "command", "data", "error"}``, where
``command`` is the command path without ``ncctl``, even on failure; ``error`` is null or
``{"code", "message", "hint"}``.

``CASES`` holds the arguments each command needs to run. A command that appears in the app
without an entry here fails ``test_every_command_has_a_case``: add one when adding a command.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main

from ncctl.cli.app import app
from tests.cli.conftest import Runner, snapshot
from tests.helpers import Outcome, run_process

WEEKEND = ("--clock", "2026-11-28T12:00")
"""A Saturday: every component is scheduled off, so nothing is started and nothing drifts."""


@dataclass(frozen=True)
class Case:
    """How to run one command: global options, command arguments, the exit code expected."""

    pre: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    code: int = 0
    note: str = ""


CASES: dict[str, Case] = {
    "status": Case(pre=WEEKEND),
    "preflight": Case(pre=WEEKEND, code=1, note="no gateway listening, no outbox directories"),
    "schedule now": Case(args=("--at", "2026-11-27T12:20")),
    "schedule show": Case(args=("--week", "2026-11-22")),
    "schedule next": Case(args=("--at", "2026-11-27T12:20", "--count", "2")),
    "schedule check": Case(),
    # start and restart outside the schedule are refused (exit 1): no process is started
    "feed start": Case(pre=WEEKEND, code=1, note="refused on a Saturday"),
    "feed stop": Case(pre=WEEKEND),
    "feed restart": Case(pre=WEEKEND, code=1, note="refused on a Saturday"),
    "feed status": Case(pre=WEEKEND),
    "session start": Case(pre=WEEKEND, code=1, note="refused on a Saturday"),
    "session stop": Case(pre=WEEKEND),
    "session restart": Case(pre=WEEKEND, code=1, note="refused on a Saturday"),
    "session status": Case(pre=WEEKEND),
    "audit log": Case(),
    "audit verify": Case(),
    "config show": Case(),
    "config validate": Case(),
    "config set": Case(args=("schedule.display_tz", "UTC")),
    "config init": Case(args=("--env", "dev", "--dir", "{tmp}/init")),
    "systemd units": Case(args=("--dir", "{tmp}/units")),
    "logs rotate": Case(pre=WEEKEND, args=("--dry-run",)),
    "logs upload": Case(pre=WEEKEND),
    "logs status": Case(pre=WEEKEND),
    "logs prune": Case(pre=WEEKEND, args=("--dry-run",)),
    "maintenance run": Case(pre=WEEKEND),
    "cron show": Case(),
    "metrics": Case(pre=WEEKEND),
    "party register": Case(args=("--dry-run",)),
    "tune plan": Case(note="dev: its fake root is made in a fresh directory"),
    "tune host": Case(args=("--dry-run",), note="dev: its fake root is made"),
    "tune verify": Case(args=("--root", "{tmp}/nowhere"), code=69, note="no such root"),
    "tune rollback": Case(code=69, note="no fake root yet: nothing made it"),
    "tune reapply": Case(pre=WEEKEND, note="dev: nothing applied, nothing re-applied"),
    "tune hold-latency": Case(code=78, note="the dev profile holds no force_latency"),
    "tune jitter": Case(
        pre=("--clock", "2026-11-25T10:00"), code=1, note="refused inside trading hours"
    ),
    "dev status": Case(note="the gateway simulator is not running"),
    "dev down": Case(note="already stopped"),
    "party list": Case(code=69, note="no gateway listening"),
    "party verify": Case(code=69, note="no gateway listening"),
    "clock set": Case(args=("2026-11-25T10:00",), code=78, note="dev has no [clock] file"),
}

NOT_JSON = {
    "scheduler run": "a daemon: it logs JSON lines on stderr until SIGTERM (tests/runner)",
    "demo": "a simulated week of minutes; its --json is checked in tests/runner/test_demo.py",
    "dev up": "starts a process: its --json is checked in tests/cli/test_dev_cmd.py",
    "completion": "prints a shell script, no result to report (tests/cli/test_completion.py)",
}
"""Commands the contract cases do not run, and why."""

NO_CONFIG_NEEDED = {"config init"}
"""Commands that do not read the configuration, so a bad --config cannot make them fail."""


def command_paths() -> set[str]:
    """Every leaf command of the app, as ``group command`` (without ``ncctl``)."""
    paths: set[str] = set()

    def walk(cmd: Any, prefix: tuple[str, ...]) -> None:
        subcommands = getattr(cmd, "commands", None)
        if subcommands is None:
            paths.add(" ".join(prefix))
            return
        for name, sub in subcommands.items():
            walk(sub, (*prefix, name))

    walk(typer.main.get_command(app), ())
    return paths


def test_every_command_has_a_case() -> None:
    paths = command_paths()
    assert "schedule now" in paths  # the walk itself works
    missing = sorted(paths - set(CASES) - set(NOT_JSON))
    stale = sorted((set(CASES) | set(NOT_JSON)) - paths)
    assert not missing, f"commands without a JSON contract case: {missing}"
    assert not stale, f"cases for commands that no longer exist: {stale}"


def argv_for(
    path: str, case: Case, config: Path, tmp: Path, extra: tuple[str, ...] = ()
) -> list[str]:
    args = [a.replace("{tmp}", str(tmp)) for a in case.args]
    return ["--config", str(config), *case.pre, *path.split(), *args, *extra, "--json"]


def check_envelope(result: Outcome, path: str) -> dict[str, Any]:
    doc = result.doc()
    assert doc["command"] == path, doc
    assert isinstance(doc["ok"], bool)
    assert doc["ok"] is (result.code == 0), (result.code, doc)
    if doc["ok"]:
        assert doc["error"] is None
        assert isinstance(doc["data"], dict)
    else:
        result.error()  # a full error object, no data
    return doc


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(CASES))
def test_success_is_one_document(ncctl: Runner, dev_copy: Path, tmp_path: Path, path: str) -> None:
    case = CASES[path]
    result = ncctl(*argv_for(path, case, dev_copy, tmp_path))
    assert result.code == case.code, (result.out, result.err)
    check_envelope(result, path)
    assert "Traceback" not in result.err


@pytest.mark.parametrize("path", sorted(CASES))
def test_config_failure_is_one_document(
    ncctl: Runner, tmp_path: Path, isolated_cwd: Path, path: str
) -> None:
    missing = tmp_path / "no-such-config.toml"
    case = CASES[path]
    before = snapshot(isolated_cwd)
    if path in NO_CONFIG_NEEDED:
        argv = ["config", "init", "--env", "no-such-env", "--dir", str(tmp_path), "--json"]
        result = ncctl(*argv)
        assert result.code == 64
    else:
        result = ncctl(*argv_for(path, case, missing, tmp_path))
        assert result.code == 78, (result.out, result.err)
        err = result.error()
        assert err["code"] == "config.invalid"
        assert err["message"].startswith(str(missing))
    check_envelope(result, path)
    assert snapshot(isolated_cwd) == before


@pytest.mark.parametrize("path", sorted(CASES))
def test_parse_error_is_one_document(
    ncctl: Runner, dev_copy: Path, tmp_path: Path, path: str
) -> None:
    case = CASES[path]
    result = ncctl(*argv_for(path, case, dev_copy, tmp_path, ("--no-such-option",)))
    assert result.code == 2
    doc = check_envelope(result, path)
    assert doc["error"]["code"] == "usage.parse"
    assert "--no-such-option" in doc["error"]["message"]


def test_extra_argument_names_the_command_not_the_argument(ncctl: Runner) -> None:
    result = ncctl("status", "surplus", "--json")
    assert result.code == 2
    assert result.doc()["command"] == "status"


def test_warnings_go_inside_the_document(ncctl: Runner) -> None:
    # 2030 has no holiday table: a warning, carried in data, with nothing on stderr
    result = ncctl("schedule", "now", "--at", "2030-06-03T12:00", "--json")
    data = result.data()
    assert data["warnings"] == [
        "no holiday table covers 2030: the weekly template alone is used for that year"
    ]
    assert result.err == ""


def test_text_mode_warnings_go_to_stderr(ncctl: Runner) -> None:
    result = ncctl("schedule", "now", "--at", "2030-06-03T12:00")
    assert result.code == 0
    assert "warning: no holiday table covers 2030" in result.err
    assert "warning" not in result.out


def test_json_is_not_printed_without_json(ncctl: Runner) -> None:
    result = ncctl("schedule", "now", "--at", "2026-11-27T12:20")
    assert result.code == 0
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.out)


@pytest.mark.slow
def test_real_process_json_on_success_and_failure(isolated_cwd: Path, tmp_path: Path) -> None:
    ok = run_process("schedule", "next", "--count", "1", "--json", cwd=isolated_cwd)
    assert ok.code == 0, ok.err
    assert ok.doc()["command"] == "schedule next"
    assert ok.err == ""
    missing = tmp_path / "missing.toml"
    bad = run_process("--config", str(missing), "schedule", "now", "--json", cwd=isolated_cwd)
    assert bad.code == 78
    doc = bad.doc()
    assert doc["ok"] is False
    assert doc["command"] == "schedule now"
    assert doc["error"]["message"].startswith(str(missing))
    assert "Traceback" not in bad.err
