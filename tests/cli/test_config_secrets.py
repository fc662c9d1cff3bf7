"""Secrets reach `ncctl config set` through stdin or a hidden prompt, never through argv.

Real ncctl processes: the secret is piped into stdin, or typed on a pseudo-terminal whose
output is checked for an echo. The file, the journal and everything printed are read back.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ncctl.cli.secret_value import is_secret_key, secret_inside
from tests.cli.conftest import DEV_SECRET, DEV_TOML, snapshot
from tests.helpers import NCCTL_BIN, Outcome, run_process

SECRET = "bmV3LXNlY3JldC12YWx1ZS0xMjM0NTY3ODk"
DEADLINE_S = 30.0
KEY = "ilink.secret_key"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A working directory with its own copy of configs/dev.toml (its state directory is
    configs/ itself: the copy's relative paths are taken from there)."""
    (tmp_path / "configs").mkdir()
    shutil.copyfile(DEV_TOML, tmp_path / "configs" / "dev.toml")
    (tmp_path / "configs" / "dev.toml").chmod(0o640)  # as `ncctl config init` makes it
    return tmp_path


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"NCCTL_CONFIG", "NCCTL_ENV"}}
    env["NCCTL_ENV"] = "dev"  # configs/dev.toml of the working directory
    env["COLUMNS"] = "200"
    return env


def run_with_stdin(project: Path, stdin: bytes, *argv: str) -> Outcome:
    return run_process(*argv, cwd=project, env={"NCCTL_ENV": "dev"}, stdin=stdin)


def written(project: Path) -> dict[str, object]:
    return tomllib.loads((project / "configs" / "dev.toml").read_text(encoding="utf-8"))


def everything_recorded(project: Path) -> str:
    return "".join(
        p.read_bytes().decode("utf-8", errors="replace")
        for p in (project / "configs").rglob("*")
        if p.is_file() and p.name != "dev.toml"
    )


@pytest.mark.slow
@pytest.mark.parametrize("line_end", ["\n", "\r\n", ""])
def test_a_secret_piped_into_stdin_is_written_and_never_shown(project: Path, line_end: str) -> None:
    for extra in ((), ("--json",)):
        proc = run_with_stdin(
            project,
            f"{SECRET}{line_end}".encode(),
            "config",
            "set",
            "ilink.secret_key",
            "-",
            *extra,
        )
        assert proc.code == 0, proc.err
        assert SECRET not in proc.out + proc.err
        assert DEV_SECRET not in proc.out + proc.err
        ilink = written(project)["ilink"]
        assert isinstance(ilink, dict)
        assert ilink["secret_key"] == SECRET
    assert SECRET not in everything_recorded(project)


@pytest.mark.slow
def test_a_secret_that_looks_like_toml_stays_text(project: Path) -> None:
    proc = run_with_stdin(project, b"12345\n", "config", "set", "ilink.secret_key", "-")
    assert proc.code == 0, proc.err
    ilink = written(project)["ilink"]
    assert isinstance(ilink, dict)
    assert ilink["secret_key"] == "12345"


@pytest.mark.parametrize(
    ("stdin", "why"),
    [
        (b"", "empty"),
        (b"\n", "empty"),
        (b"one\ntwo\n", "several lines"),
        (b"\xff\xfe\n", "not UTF-8"),
        (b"x" * (64 * 1024 + 10), "more than"),
    ],
)
def test_bad_stdin_is_a_usage_error_that_writes_nothing(
    project: Path, stdin: bytes, why: str
) -> None:
    before = snapshot(project / "configs")
    proc = run_with_stdin(project, stdin, "config", "set", "ilink.secret_key", "-")
    assert proc.code == 64, proc.err
    assert why in proc.err
    assert proc.err.count("\n") == 2  # one error line, one hint line
    assert snapshot(project / "configs") == before


@pytest.mark.slow
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ilink.secret_key", SECRET),
        ("components.feed_handler.env.DB_PASSWORD", SECRET),
        ("ilink", f'{{secret_key = "{SECRET}"}}'),
    ],
)
def test_a_secret_in_argv_is_refused_before_anything_is_read_or_written(
    project: Path, key: str, value: str
) -> None:
    before = snapshot(project)
    proc = run_with_stdin(project, b"ignored\n", "config", "set", key, value)
    assert proc.code == 64
    assert SECRET not in proc.out + proc.err
    assert " -`" in proc.err  # the hint shows the stdin form
    assert snapshot(project) == before


@pytest.mark.parametrize("stdin", [f"{SECRET}\n", f'{{secret_key = "{SECRET}"}}\n'])
def test_no_secret_goes_into_a_file_every_user_can_read(project: Path, stdin: str) -> None:
    (project / "configs" / "dev.toml").chmod(0o644)
    before = snapshot(project / "configs")
    key = KEY if stdin.startswith(SECRET) else "ilink"
    proc = run_with_stdin(project, stdin.encode(), "config", "set", key, "-")
    assert proc.code == 78, proc.err
    assert "readable by every user (mode 0644)" in proc.err
    assert "chmod o-rwx" in proc.err
    assert SECRET not in proc.out + proc.err
    assert snapshot(project / "configs") == before


def test_a_table_holding_a_secret_may_come_from_stdin(project: Path) -> None:
    value = f'{{host = "h.invalid", secret_key = "{SECRET}"}}\n'.encode()
    proc = run_with_stdin(project, value, "config", "set", "ilink", "-", "--dry-run")
    assert proc.code == 0, proc.err
    assert SECRET not in proc.out + proc.err


@pytest.mark.slow
def test_the_hidden_prompt_on_a_terminal_does_not_echo(project: Path) -> None:
    """On a terminal, `config set KEY` asks twice without echo; the typed secret never
    appears in what the terminal shows."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [str(NCCTL_BIN), "config", "set", "ilink.secret_key"],
        cwd=project,
        env=_env(),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    shown = bytearray()

    def read_until(marker: bytes, count: int) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while shown.count(marker) < count:
            left = deadline - time.monotonic()
            assert left > 0, bytes(shown)
            if select.select([master], [], [], left)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                shown.extend(chunk)

    try:
        # click prints the prompt, then getpass turns echo off and prints the final space
        read_until(b"(hidden): ", 1)
        os.write(master, SECRET.encode() + b"\n")
        read_until(b"confirmation: ", 1)
        os.write(master, SECRET.encode() + b"\n")
        assert proc.wait(DEADLINE_S) == 0, bytes(shown)
        read_until(b"\x00never", 1)  # drain what is left, up to end of file
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(DEADLINE_S)
        os.close(master)
    assert SECRET.encode() not in shown
    ilink = written(project)["ilink"]
    assert isinstance(ilink, dict)
    assert ilink["secret_key"] == SECRET


# --- what counts as a secret -------------------------------------------------------------

_PARTS = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)


@pytest.mark.slow
@given(st.lists(_PARTS, max_size=3), st.sampled_from(["password", "PASSWORD", "token", "secret"]))
def test_keys_named_after_secrets_are_secret(parents: list[str], word: str) -> None:
    key = ".".join([*parents, f"db_{word}"])
    assert is_secret_key(key)
    assert secret_inside("components.x.env", {f"db_{word}": "v"}) is not None


@pytest.mark.parametrize(
    "key",
    [
        "ilink.secret_key_file",
        "ilink.secret_expiry_warn_days",
        "ilink.access_key_id",
        "destinations.fcm.key_file",
        "schedule.display_tz",
        "components.feed_handler.env.TOKENIZER_THREADS",
    ],
)
def test_keys_that_only_mention_a_secret_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)
