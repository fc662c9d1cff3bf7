"""``ncctl completion SHELL``: the scripts, and the completions a real bash gets from them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ncctl.cli.app import ENTRIES
from tests.helpers import NCCTL_BIN, run_process


def _env(**extra: str) -> dict[str, str]:
    """This environment without completion requests, the installed ncctl first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("_NCCTL")}
    env["PATH"] = f"{NCCTL_BIN.parent}:{env.get('PATH', '/usr/bin:/bin')}"
    return {**env, **extra}


def _bash_complete(script: str, *words: str) -> list[str]:
    """What bash's completion function, sourced from ``script``, offers for ``words`` (the
    last one being completed), with the installed ncctl first on PATH."""
    quoted = " ".join(f"'{w}'" for w in words)
    program = (
        f"{script}\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
        "_ncctl_completion ncctl\n"
        "printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    proc = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [line for line in proc.stdout.splitlines() if line]


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> str:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    outcome = run_process("completion", "bash", cwd=tmp_path_factory.mktemp("cwd"))
    assert outcome.code == 0, outcome.err
    assert "_NCCTL_COMPLETE" in outcome.out
    return outcome.out


@pytest.mark.slow
def test_bash_completes_a_group(bash_script: str) -> None:
    assert _bash_complete(bash_script, "ncctl", "lo") == ["logs"]


def test_bash_lists_every_group(bash_script: str) -> None:
    offered = set(_bash_complete(bash_script, "ncctl", ""))
    assert set(ENTRIES) <= offered, set(ENTRIES) - offered


@pytest.mark.slow
def test_bash_completes_subcommands_and_options(bash_script: str) -> None:
    assert "rotate" in _bash_complete(bash_script, "ncctl", "logs", "")
    assert _bash_complete(bash_script, "ncctl", "schedule", "now", "--js") == ["--json"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts(tmp_path: Path, shell: str) -> None:
    outcome = run_process("completion", shell, cwd=tmp_path)
    assert outcome.code == 0, outcome.err
    assert "ncctl" in outcome.out and "_NCCTL_COMPLETE=complete_" + shell in outcome.out


@pytest.mark.slow
def test_zsh_protocol_answers(tmp_path: Path) -> None:
    """What the zsh script evaluates: ncctl's answer for ``ncctl lo``."""
    env = _env(_NCCTL_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS="ncctl lo")
    outcome = run_process(cwd=tmp_path, base_env=env, columns=None)
    assert outcome.code == 0, outcome.err
    assert '"logs"' in outcome.out and '"schedule"' not in outcome.out


def test_unknown_shell_is_a_usage_error(tmp_path: Path) -> None:
    outcome = run_process("completion", "tcsh", cwd=tmp_path)
    assert outcome.code == 2
    assert outcome.out == ""
    assert "tcsh" in outcome.err
