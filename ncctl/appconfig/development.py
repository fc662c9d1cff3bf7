"""Whether a configuration is a development one: nothing it drives is real.

A simulated clock may change state only under such a configuration (docs/design.md, rules of
the house): ``environment = "dev"``, both components process backends running a simulator
(``python -m ncctl.sim.*``), every destination a ``file:`` URL, and a tuning root that is not
the machine's ``/``. Anything else can reach systemd, a server or the host's kernel settings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import PurePath

from ncctl.appconfig.model import NcctlConfig
from ncctl.components.section import COMPONENT_NAMES

_PYTHON = re.compile(r"python[0-9.]*")
SIMULATORS = "ncctl.sim."


def runs_simulator(command: Sequence[str]) -> bool:
    """Whether ``command`` is ``PYTHON -m ncctl.sim.NAME ...`` (PYTHON: ``{python}`` or an
    interpreter named python, python3, python3.11 ...)."""
    if len(command) < 3 or command[1] != "-m" or not command[2].startswith(SIMULATORS):
        return False
    program = command[0]
    return program == "{python}" or _PYTHON.fullmatch(PurePath(program).name) is not None


def development_problem(config: NcctlConfig) -> str | None:
    """The first thing that makes ``config`` more than a development setup, or None."""
    if config.environment != "dev":
        return f'environment is "{config.environment}", not "dev"'
    for name in COMPONENT_NAMES:
        component = getattr(config.components, name)
        if component.backend != "process":
            return f"components.{name} runs under {component.backend}"
        if not runs_simulator(component.command):
            return f"components.{name}.command does not run a simulator ({SIMULATORS}*)"
    for name, destination in sorted(config.destinations.items()):
        if not destination.url.startswith("file:"):
            return f"destinations.{name} is not a file: destination"
    if os.path.realpath(config.tuning.root) == "/":
        return "tuning.root is the machine's /"
    return None


def is_development(config: NcctlConfig) -> bool:
    """Whether ``config`` drives simulators, local directories and a fake tuning root only."""
    return development_problem(config) is None
