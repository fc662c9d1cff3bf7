"""``ncctl completion SHELL``: print the shell completion script for bash, zsh or fish."""

from __future__ import annotations

import os
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from ncctl.cli.command import command

if TYPE_CHECKING:
    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.completion import CompletionScript

PROG = "ncctl"
COMPLETE_VAR = "_NCCTL_COMPLETE"
"""The environment variable the scripts set when they ask ncctl for completions."""


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


@command(None, "completion", json=False)
def completion(
    ctx: CommandContext,
    shell: Annotated[Shell, typer.Argument(help="The shell to print the completion script for.")],
) -> CompletionScript:
    """Print the completion script for SHELL on stdout.

    bash: `ncctl completion bash > /etc/bash_completion.d/ncctl`; zsh: write it as `_ncctl` into
    a directory of $fpath; fish: `ncctl completion fish > ~/.config/fish/completions/ncctl.fish`.
    """
    from typer._completion_shared import get_completion_script

    from ncctl.cli.views.completion import CompletionScript

    script = get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell.value)
    return CompletionScript(shell.value, script)


def completing() -> bool:
    """Whether a completion script runs ncctl to ask for completions (then the completion
    classes are registered; otherwise nothing of them is imported)."""
    if COMPLETE_VAR not in os.environ:
        return False
    from typer._completion_classes import completion_init

    completion_init()
    return True
