"""Shared helpers of the CLI tests: run ncctl in-process or as a real process, and snapshots.

In-process runs call ``ncctl.cli.main.main(argv)`` (it resets its state on every call) and read
stdout/stderr through pytest's capsys. Every test runs in an empty working directory with
``$NCCTL_CONFIG`` and ``$NCCTL_ENV`` unset, so that the configuration resolves to the embedded
default (or to /etc/ncctl/config.toml on a host that has one: see ``needs_embedded``), whose
state is in ``$XDG_STATE_HOME/ncctl``, in the test's own folder (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ncctl.cli.main import main
from ncctl.config import ETC_CONFIG

REPO_ROOT = Path(__file__).resolve().parents[2]
DEV_TOML = REPO_ROOT / "configs" / "dev.toml"
TEMPLATE_TOML = REPO_ROOT / "schedules" / "cme-globex.toml"
DEV_SECRET = "ZGV2LW9ubHktc2VjcmV0LWZvci10aGUtc2ltdWxhdG9y"
"""ilink.secret_key of configs/dev.toml: it must never be printed."""

NCCTL_BIN = Path(sys.executable).parent / "ncctl"

needs_embedded = pytest.mark.skipif(
    ETC_CONFIG.exists(),
    reason=f"{ETC_CONFIG} exists on this host, so the embedded default is not what resolves",
)


@dataclass(frozen=True)
class Outcome:
    """What one ncctl run produced."""

    argv: tuple[str, ...]
    code: int
    out: str
    err: str

    def doc(self) -> dict[str, Any]:
        """The one JSON document on stdout; fails the test unless there is exactly one."""
        return one_json_document(self.out, self.argv)

    def data(self) -> dict[str, Any]:
        """``data`` of a successful ``--json`` run (asserts ok, exit 0, no error)."""
        doc = self.doc()
        assert self.code == 0, (self.code, self.out, self.err)
        assert doc["ok"] is True
        assert doc["error"] is None
        data = doc["data"]
        assert isinstance(data, dict)
        return data

    def error(self) -> dict[str, Any]:
        """``error`` of a failed ``--json`` run (asserts ok false and a non-zero exit)."""
        doc = self.doc()
        assert self.code != 0, (self.out, self.err)
        assert doc["ok"] is False
        # a result that is also a failure (drift, an overdue upload) carries its data too
        assert doc["data"] is None or isinstance(doc["data"], dict)
        err = doc["error"]
        assert isinstance(err, dict)
        assert {"code", "message", "hint"} <= set(err)
        assert all(isinstance(err[k], str) and err[k] for k in ("code", "message", "hint")), err
        return err


def one_json_document(text: str, argv: tuple[str, ...] = ()) -> dict[str, Any]:
    """Parse ``text`` as exactly one JSON object (one line, nothing before or after)."""
    decoder = json.JSONDecoder()
    stripped = text.strip()
    assert stripped, f"no output on stdout for {argv}"
    doc, end = decoder.raw_decode(stripped)
    assert end == len(stripped), f"more than one document on stdout for {argv}: {text!r}"
    assert text.endswith("\n") and text.count("\n") == 1, f"not one line: {text!r}"
    assert isinstance(doc, dict), doc
    assert set(doc) == {"ok", "command", "data", "error"}, doc
    return doc


Runner = Callable[..., Outcome]


def run_in_process(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> Outcome:
    """Run ``ncctl ARGV`` in this process and capture what it printed."""
    args = tuple(str(a) for a in argv)
    capsys.readouterr()  # drop anything printed before
    code = main(list(args))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, captured.err
    return Outcome(args, code, captured.out, captured.err)


@pytest.fixture
def ncctl(capsys: pytest.CaptureFixture[str]) -> Runner:
    """``ncctl(*argv) -> Outcome``, in-process."""

    def run(*argv: str | Path) -> Outcome:
        return run_in_process(capsys, *argv)

    return run


def run_process(
    *argv: str | Path,
    cwd: Path,
    columns: str | None = "200",
    env: Mapping[str, str] | None = None,
) -> Outcome:
    """Run the installed ``ncctl`` script as a real process (end-to-end checks), stdout and
    stderr piped, with ``$COLUMNS`` set to ``columns`` (unset when None), no ``NCCTL_*``
    variable but those of ``env``."""
    args = tuple(str(a) for a in argv)
    drop = {"NCCTL_CONFIG", "NCCTL_ENV", "COLUMNS"}
    environ = {k: v for k, v in os.environ.items() if k not in drop}
    environ.update(env or {})
    if columns is not None:
        environ["COLUMNS"] = columns
    proc = subprocess.run(
        [str(NCCTL_BIN), *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Outcome(args, proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(autouse=True)
def isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working directory and no NCCTL_* variables, for every CLI test."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("NCCTL_CONFIG", raising=False)
    monkeypatch.delenv("NCCTL_ENV", raising=False)
    yield cwd


@pytest.fixture
def dev_copy(tmp_path: Path) -> Path:
    """A private copy of configs/dev.toml (mode 0600) that a test may change."""
    target = tmp_path / "cfg" / "dev.toml"
    target.parent.mkdir()
    shutil.copyfile(DEV_TOML, target)
    target.chmod(0o600)
    return target


FileState = tuple[bytes, int, int, int]


def snapshot(root: Path) -> dict[str, FileState]:
    """Every file under ``root``: (content, mode, mtime_ns, inode), by relative path."""
    out: dict[str, FileState] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            st = path.stat()
            out[str(path.relative_to(root))] = (
                path.read_bytes(),
                st.st_mode,
                st.st_mtime_ns,
                st.st_ino,
            )
    return out


def write_config(path: Path, text: str) -> Path:
    """Write a configuration (or schedule) file, creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
