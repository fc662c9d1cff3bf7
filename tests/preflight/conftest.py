"""Shared parts of the preflight tests: a configuration in the test's directory, a TCP
listener standing in for a reachable gateway, a PATH whose ``timedatectl`` says what the test
wants, and ``ncctl preflight --json`` run in-process with its checks by name."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Outcome, run_in_process

SUNDAY = "2026-11-22T13:30"
"""Half an hour before the Sunday preflight; the holiday tables reach 2027-12-31."""


@pytest.fixture
def listener() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts TCP connections (the kernel completes them)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """``tools(timedatectl="yes")``: a directory of scripts first on PATH (with ``only``, the
    only one); each named tool prints the text given (``None``: the tool is absent)."""
    original = os.environ.get("PATH", "")

    def make(*, only: bool = False, **outputs: str | None) -> Path:
        directory = tmp_path / "bin"
        directory.mkdir(exist_ok=True)
        for name, text in outputs.items():
            script = directory / name
            if text is None:
                script.unlink(missing_ok=True)
                continue
            quoted = text.replace("'", "'\\''")
            # printf is a shell builtin: the script runs with nothing else on PATH
            script.write_text(f"#!/bin/sh\nprintf '%s\\n' '{quoted}'\n", encoding="ascii")
            script.chmod(0o755)
        monkeypatch.setenv("PATH", str(directory) if only else f"{directory}:{original}")
        return directory

    return make


@pytest.fixture(autouse=True)
def _synchronised_clock(tools: Callable[..., Path]) -> None:
    """By default the machine's clock reads as synchronised (tests of it say otherwise)."""
    tools(timedatectl="yes")


def write_config(
    tmp_path: Path,
    *,
    gateway_port: int,
    environment: str = "dev",
    extra: str = "",
    tuning_root: Path | None = None,
    tuning_profile: str = "dev",
    ilink: str = "",
) -> Path:
    """A configuration in ``tmp_path``: state, archives and logs there, no tuning root unless
    given, the gateway at ``gateway_port``, ``min_free_mb = 1``; ``ilink`` is added to the
    ``[ilink]`` table, ``extra`` appended."""
    root = tuning_root or tmp_path / "no-tuning-root"
    text = f"""environment = "{environment}"
state_dir = "{tmp_path / "state"}"

[logs]
archive_dir = "{tmp_path / "archive"}"

[preflight]
min_free_mb = 1

[tuning]
profile = "{tuning_profile}"
root = "{root}"

[ilink]
host = "127.0.0.1"
port = {gateway_port}
connect_timeout_s = 2.0
{ilink}"""
    path = tmp_path / "cfg" / "ncctl.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + extra, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Run:
    outcome: Outcome
    doc: dict[str, Any]

    @property
    def code(self) -> int:
        return self.outcome.code

    @property
    def checks(self) -> dict[str, dict[str, str]]:
        data = self.doc["data"]
        assert isinstance(data, dict), self.doc
        return {c["name"]: c for c in data["checks"]}

    def status(self, name: str) -> str:
        return self.checks[name]["status"]


def preflight(
    capsys: pytest.CaptureFixture[str], config: Path, clock: str = SUNDAY, *more: str
) -> Run:
    """``ncctl --config CONFIG --clock CLOCK preflight --json`` in-process."""
    outcome = run_in_process(
        capsys, "--config", config, "--clock", clock, *more, "preflight", "--json"
    )
    doc = outcome.doc()
    assert doc["command"] == "preflight"
    if outcome.code == 0:
        assert doc["ok"] is True and doc["error"] is None
    else:
        assert outcome.code == 1, outcome
        assert doc["ok"] is False and doc["error"]["code"] == "preflight.failed"
    return Run(outcome, doc)


def snapshot_tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every entry under ``root``: (size, mtime_ns), by relative path."""
    out: dict[str, tuple[int, int]] = {}
    for path in sorted(root.rglob("*")):
        st = os.lstat(path)
        out[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


# an empty working directory without NCCTL_* (autouse), and the shared test sshd
from tests.cli.conftest import isolated_cwd  # noqa: E402, F401
from tests.ilink.conftest import key_file, start_gateway  # noqa: E402, F401
from tests.logs.conftest import sshd  # noqa: E402, F401
