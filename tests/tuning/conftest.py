"""Fixtures of the tuning tests: a fake root, a configuration, a clean working directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Outcome, run_in_process
from tests.tuning import fakeroot

SATURDAY = "2026-11-28T12:00"
"""Outside trading hours: market closed, order entry down."""
WEDNESDAY = "2026-11-25T10:00"
"""Inside trading hours: the market is OPEN."""


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("NCCTL_CONFIG", raising=False)
    monkeypatch.delenv("NCCTL_ENV", raising=False)
    monkeypatch.delenv("NCCTL_CRASH_AT", raising=False)


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    return fakeroot.build(tmp_path / "root")


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def write_config(path: Path, state_dir: Path, root: Path, profile: str = "latency") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'state_dir = "{state_dir}"\n[tuning]\nprofile = "{profile}"\nroot = "{root}"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def config(tmp_path: Path, state_dir: Path, fake_root: Path) -> Path:
    return write_config(tmp_path / "cfg" / "ncctl.toml", state_dir, fake_root)


class Tune:
    """``tune(*args)``: ``ncctl --config CONFIG --clock CLOCK tune ARGS --json`` in-process."""

    def __init__(self, capsys: pytest.CaptureFixture[str], config: Path) -> None:
        self.capsys = capsys
        self.config = config
        self.clock = SATURDAY

    def __call__(self, *args: str | Path, json_mode: bool = True) -> Outcome:
        argv: list[str | Path] = ["--config", self.config, "--clock", self.clock, "tune", *args]
        if json_mode:
            argv.append("--json")
        return run_in_process(self.capsys, *argv)


@pytest.fixture
def tune(capsys: pytest.CaptureFixture[str], config: Path) -> Tune:
    return Tune(capsys, config)


def envelope(result: Outcome, command: str) -> dict[str, Any]:
    """The one JSON document of a tune command; ok matches the exit code."""
    doc = json.loads(result.out)
    assert result.out.count("\n") == 1, result.out
    assert set(doc) == {"ok", "command", "data", "error"}
    assert doc["command"] == command
    assert doc["ok"] is (result.code == 0), (result.code, doc)
    if result.code == 0:
        assert doc["error"] is None
    else:
        assert set(doc["error"]) == {"code", "message", "hint"}
    assert isinstance(doc, dict)
    return doc


def verdicts(data: dict[str, Any]) -> dict[str, str]:
    return {row["id"]: row["verdict"] for row in data["settings"]}
