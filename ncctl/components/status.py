"""Read-only status of one component, as its configured backend sees it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ncctl.components.backend import ComponentStatus
    from ncctl.components.section import ComponentConfig


def component_status(name: str, section: ComponentConfig, state_dir: Path) -> ComponentStatus:
    """How component ``name`` (configured by ``section``) runs now: ``systemctl`` for a
    systemd unit, its pid file under ``state_dir/run`` for a process (nothing is started,
    stopped or signalled)."""
    if section.backend == "systemd":
        from ncctl.components.systemd import SystemdBackend

        return SystemdBackend(name, section).status()
    from ncctl.components.process import ProcessBackend

    return ProcessBackend(name, section, state_dir).status()


def process_cpus(pid: int | None) -> frozenset[int] | None:
    """The CPUs process ``pid`` may run on now (``sched_getaffinity``), or None when there is
    no such process."""
    if pid is None:
        return None
    try:
        return frozenset(os.sched_getaffinity(pid))
    except OSError:
        return None
