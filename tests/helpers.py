"""The one place the tests run ncctl and wait on a condition.

- :func:`run_in_process` calls ``ncctl.cli.main.main(argv)`` (it resets its state on every call)
  and reads stdout/stderr through pytest's capsys;
- :func:`run_process` runs ncctl as a real child process (the installed script, or
  ``python -m ncctl``), bounded in time, and :func:`ncctl_command` is its command line for a
  child a test starts itself;
- both runs return an :class:`Outcome` (exit code, stdout, stderr, the JSON document);
- :func:`wait_for` polls a probe until it yields something, with a bounded deadline, and fails
  naming what it waited for; :func:`holds_within` is the variant that answers True/False.

Fixtures stay in the conftest.py files and call these.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
NCCTL_BIN = Path(sys.executable).parent / "ncctl"
"""The installed ``ncctl`` script of the interpreter running the tests."""
PROCESS_TIMEOUT_S = 60.0
POLL_S = 0.005
T = TypeVar("T")

Argument = str | Path
Wrapper = Sequence[str] | Callable[[list[str]], list[str]]
"""What a child's command line runs under: a prefix (``setpriv ... --``) or a function of the
whole command line (to run it as another account)."""


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

    def json(self) -> dict[str, Any]:
        """stdout parsed as one JSON object, without the checks of :meth:`doc`."""
        doc = json.loads(self.out)
        assert isinstance(doc, dict), doc
        return doc


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


def run_in_process(capsys: pytest.CaptureFixture[str], *argv: Argument) -> Outcome:
    """Run ``ncctl ARGV`` in this process and capture what it printed."""
    from ncctl.cli.main import main

    args = tuple(str(a) for a in argv)
    capsys.readouterr()  # drop anything printed before
    code = main(list(args))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, captured.err
    return Outcome(args, code, captured.out, captured.err)


def ncctl_command(*argv: Argument, module: bool = False) -> list[str]:
    """The command line of ``ncctl ARGV``: the installed script, or ``python -m ncctl``
    (``module``), for a child a test starts itself (one it races, kills or leaves running)."""
    head = [sys.executable, "-m", "ncctl"] if module else [str(NCCTL_BIN)]
    return [*head, *(str(a) for a in argv)]


def run_process(
    *argv: Argument,
    cwd: Path,
    columns: str | None = "200",
    env: Mapping[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
    wrapper: Wrapper = (),
    module: bool = False,
    stdin: str | bytes | None = None,
    timeout_s: float = PROCESS_TIMEOUT_S,
) -> Outcome:
    """Run ncctl as a real process, stdout and stderr piped, bounded by ``timeout_s``.

    The environment is ``base_env`` (default: this process's) without ``NCCTL_CONFIG``,
    ``NCCTL_ENV`` and ``COLUMNS``, plus ``env``; ``$COLUMNS`` is ``columns`` (unset when None).
    ``module`` runs ``python -m ncctl`` instead of the installed script; ``wrapper`` is what the
    command line runs under; ``stdin`` is fed to it (nothing otherwise)."""
    args = tuple(str(a) for a in argv)
    drop = {"NCCTL_CONFIG", "NCCTL_ENV", "COLUMNS"}
    source = os.environ if base_env is None else base_env
    environ = {k: v for k, v in source.items() if k not in drop}
    environ.update(env or {})
    if columns is not None:
        environ["COLUMNS"] = columns
    command = ncctl_command(*args, module=module)
    command = wrapper(command) if callable(wrapper) else [*wrapper, *command]
    proc = subprocess.run(
        command,
        cwd=cwd,
        env=environ,
        input=stdin.encode() if isinstance(stdin, str) else stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout_s,
        check=False,
    )
    out, err = _text(proc.stdout), _text(proc.stderr)
    assert "Traceback" not in err, err
    return Outcome(args, proc.returncode, out, err)


def _text(raw: bytes) -> str:
    """Bytes of a child's output as text mode would read them (UTF-8, universal newlines)."""
    return raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def wait_for(probe: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """Poll ``probe`` until it returns something other than None/False and return that, or
    fail naming ``what`` once ``timeout_s`` (monotonic) has passed. The only sleeping in the
    tests is this poll's short tick."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(POLL_S)


def holds_within(condition: Callable[[], bool], timeout_s: float, poll_s: float = POLL_S) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout_s`` (monotonic) passes (False),
    for callers that decide themselves what a timeout means."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)
