"""`-o/--output table|wide|json|yaml`, `-q/--quiet` and `--json` on every command of the app."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml  # type: ignore[import-untyped]  # PyYAML: the dev extra, tests only
from hypothesis import given, settings
from hypothesis import strategies as st

from ncctl.cli.app import app
from ncctl.cli.output import FORMATS
from ncctl.cli.yaml_out import dump
from tests.cli.conftest import Runner, snapshot
from tests.cli.test_json_contract import CASES, NOT_JSON, argv_for, command_paths
from tests.helpers import ncctl_command, one_json_document, run_process
from tests.logs.helpers import write_config as write_logs_config
from tests.runner.test_daemon import EXTRA as DAEMON_EXTRA

OUTPUT_OPTIONS = ("-o, --output FORMAT", "-q, --quiet", "--json")


def _leaf(path: str) -> Any:
    command: Any = typer.main.get_command(app)
    for word in path.split():
        command = command.commands[word]
    return command


def _argv(path: str, config: Path, tmp: Path, *extra: str) -> list[str]:
    """The command of its contract case, with ``extra`` options instead of --json."""
    argv = argv_for(path, CASES[path], config, tmp, extra)
    argv.remove("--json")
    return argv


@pytest.mark.parametrize("path", sorted(command_paths()))
def test_every_command_lists_the_output_options(path: str) -> None:
    opts = {opt for p in _leaf(path).params for opt in p.opts}
    assert {"-o", "--output", "-q", "--quiet", "--json"} <= opts, path


def test_every_command_help_shows_them(ncctl: Runner) -> None:
    for path in sorted(command_paths()):
        result = ncctl(*path.split(), "--help")
        assert result.code == 0, (path, result.err)
        for text in OUTPUT_OPTIONS:
            assert text in result.out, (path, text)


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(CASES))
def test_quiet_prints_nothing_and_keeps_the_exit_code(
    ncctl: Runner, dev_copy: Path, tmp_path: Path, path: str
) -> None:
    case = CASES[path]
    result = ncctl(*_argv(path, dev_copy, tmp_path, "-q"))
    assert result.code == case.code, (result.out, result.err)
    assert result.out == ""
    if case.code != 0:
        assert result.err.startswith("ncctl: "), result.err  # the error still says why


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(CASES))
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_keeps_the_exit_code(
    ncctl: Runner, dev_copy: Path, tmp_path: Path, path: str, fmt: str
) -> None:
    """json and yaml: one document, and --quiet changes nothing; table and wide: text."""
    case = CASES[path]
    text = fmt in ("table", "wide")
    result = ncctl(*_argv(path, dev_copy, tmp_path, f"--output={fmt}", *([] if text else ["-q"])))
    assert result.code == case.code, (result.out, result.err)
    if text:
        assert not result.out.startswith("{")
        return
    doc = one_json_document(result.out) if fmt == "json" else yaml.safe_load(result.out)
    assert set(doc) == {"ok", "command", "data", "error"}
    assert doc["command"] == path
    assert doc["ok"] is (case.code == 0)


def test_yaml_is_the_json_document(ncctl: Runner) -> None:
    argv = ("schedule", "show", "--week", "2026-12-24")
    as_json = ncctl(*argv, "-o", "json").doc()
    as_yaml = ncctl(*argv, "-oyaml")
    assert as_yaml.code == 0
    assert yaml.safe_load(as_yaml.out) == as_json
    assert ncctl(*argv, "--json").doc() == as_json  # --json is -o json


@pytest.mark.parametrize("before", [("-o", "json"), ("--output=json",), ("--json",)])
def test_the_output_options_also_come_before_the_command(
    ncctl: Runner, before: tuple[str, ...]
) -> None:
    argv = ("schedule", "show", "--week", "2026-12-24")
    expected = ncctl(*argv, "--json").doc()
    result = ncctl(*before, *argv)
    assert result.code == 0, result.err
    assert result.doc() == expected  # the command's name, not the option's value
    quiet = ncctl("-q", *argv)
    assert (quiet.code, quiet.out) == (0, "")


def test_a_parse_error_is_a_document_in_the_format_asked(ncctl: Runner) -> None:
    result = ncctl("schedule", "now", "--no-such-option", "-o", "yaml")
    assert result.code == 2
    doc = yaml.safe_load(result.out)
    assert doc["ok"] is False and doc["error"]["code"] == "usage.parse"
    assert doc["command"] == "schedule now"


def test_an_error_in_yaml_is_one_document(ncctl: Runner, tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    result = ncctl("--config", missing, "status", "-o", "yaml")
    assert result.code == 78
    doc = yaml.safe_load(result.out)
    assert doc["error"]["code"] == "config.invalid"
    assert doc["error"]["message"].startswith(str(missing))


@pytest.mark.parametrize("value", ["xml", "JSON", ""])
def test_an_unknown_format_is_a_parse_error_naming_the_choices(ncctl: Runner, value: str) -> None:
    result = ncctl("schedule", "now", "--output", value)
    assert result.code == 2
    assert result.out == ""
    assert "--output" in result.err
    assert all(f in result.err for f in FORMATS)


def test_systemd_units_writes_to_dir_and_still_takes_output_dir(
    ncctl: Runner, dev_copy: Path, tmp_path: Path
) -> None:
    new = ncctl("--config", dev_copy, "systemd", "units", "--dir", tmp_path / "new", "--json")
    assert {Path(f["path"]).parent for f in new.data()["files"]} == {tmp_path / "new"}
    old = ncctl("--config", dev_copy, "systemd", "units", "--output", tmp_path / "old", "--json")
    data = old.data()
    assert {Path(f["path"]).parent for f in data["files"]} == {tmp_path / "old"}
    assert any("deprecated" in w and "--dir" in w for w in data["warnings"])
    assert sorted(p.name for p in (tmp_path / "old").iterdir()) == sorted(
        p.name for p in (tmp_path / "new").iterdir()
    )
    # a format is a format, here too: -o json answers with a document, writes to --dir
    fmt = ncctl("--config", dev_copy, "systemd", "units", "--dir", tmp_path / "f", "-o", "json")
    assert fmt.data()["directory"] == str(tmp_path / "f")


def test_completion_as_a_document_and_quiet(ncctl: Runner, isolated_cwd: Path) -> None:
    before = snapshot(isolated_cwd)
    doc = ncctl("completion", "bash", "-o", "json").data()
    text = ncctl("completion", "bash")
    assert doc == {"shell": "bash", "script": text.out}
    assert ncctl("completion", "zsh", "-q").out == ""
    assert snapshot(isolated_cwd) == before


def test_every_command_without_a_contract_case_is_covered_here() -> None:
    assert set(NOT_JSON) == {"scheduler run", "demo", "completion", "dev up"}


@pytest.fixture
def daemon_config(tmp_path: Path) -> Iterator[Path]:
    config = write_logs_config(tmp_path, extra=DAEMON_EXTRA)
    yield config
    for group in ("session", "feed"):
        run_process("--config", config, group, "stop", cwd=tmp_path)


@pytest.mark.slow
def test_scheduler_run_json_prints_one_document_when_it_stops(
    daemon_config: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    stdout = tmp_path / "stdout"
    with stdout.open("w") as sink:
        proc = subprocess.Popen(
            ncctl_command("--config", daemon_config, "scheduler", "run", "--json"),
            env=env,
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
        )
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in iter(proc.stderr.readline, ""):
            lines.append(line)
            if '"event": "started"' in line:
                started.set()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert started.wait(60), "".join(lines)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        reader.join(timeout=10)
    assert proc.returncode == 0, "".join(lines)
    doc = one_json_document(stdout.read_text())
    assert doc["ok"] is True and doc["command"] == "scheduler run"
    assert doc["data"]["exit_code"] == 0
    assert doc["data"]["passes"] >= 1
    # the log lines stay on stderr, every one a JSON object
    records = [json.loads(line) for line in lines]
    assert [r["event"] for r in records][-1] == "stopped"


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_the_yaml_emitter_round_trips_json_data(value: Any) -> None:
    assert yaml.safe_load(dump(value)) == value
