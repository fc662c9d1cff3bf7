"""The Sunday party-ID registration job: the iLink 3 registration when configured, else none."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ncctl.config import NcctlConfig

if TYPE_CHECKING:
    from ncctl.runner.reconcile import JobAction


def registration_hook(config: NcctlConfig) -> JobAction | None:
    """The job action that registers party details, or None when nothing is configured."""
    return None
