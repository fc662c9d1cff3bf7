"""``--force --reason TEXT``: an override of a guard is never given without saying why."""

from __future__ import annotations

from ncctl.errors import UsageError


def check_force(force: bool, reason: str | None, why: str = "the guard is overridden") -> None:
    """Refuse ``--force`` without a non-blank ``--reason`` (exit 64); ``why``: what the
    reason must explain, for the hint."""
    if force and not (reason and reason.strip()):
        raise UsageError("--force needs --reason TEXT", hint=f"say why {why}")
