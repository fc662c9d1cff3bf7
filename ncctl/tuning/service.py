"""``[pin] irqbalance = "stop"``: irqbalance disabled and stopped with ``systemctl`` (run as the
target system would, through :class:`ncctl.tuning.host.Host`), whether it was enabled and
active first recorded in the rollback journal (entry kind ``service``); a rollback enables
and starts it again as it was. Disabled, it stays off after a reboot. ``"ban"``: a running
irqbalance is restarted after its banned-CPU list is written, so that it reads it."""

from __future__ import annotations

import json
from typing import Any

from ncctl.errors import UnavailableError
from ncctl.tuning.host import Host
from ncctl.tuning.rollback_journal import RollbackEntry, RollbackJournal, RollbackStep

KIND = "service"
IRQBALANCE = "irqbalance.service"


def service_state(host: Host, unit: str) -> dict[str, bool]:
    """Whether ``unit`` is enabled and active (``systemctl is-enabled`` / ``is-active``)."""
    enabled = host.run(["systemctl", "is-enabled", unit]).stdout.strip()
    active = host.run(["systemctl", "is-active", unit]).stdout.strip()
    return {"enabled": enabled == "enabled", "active": active == "active"}


def _shown(state: dict[str, bool]) -> str:
    return (
        f"{'enabled' if state['enabled'] else 'disabled'}, "
        f"{'active' if state['active'] else 'inactive'}"
    )


def stop(
    host: Host, journal: RollbackJournal, boot_id: str | None
) -> tuple[bool, dict[str, Any]] | None:
    """Disable and stop irqbalance, its state journaled first: (done, what happened), or None
    when it is neither enabled nor active."""
    state = service_state(host, IRQBALANCE)
    if not (state["enabled"] or state["active"]):
        return None
    ident = f"{KIND}:{IRQBALANCE}"
    journal.remember(
        RollbackEntry(
            id=ident,
            kind=KIND,
            path=IRQBALANCE,
            root=str(host.root),
            original=json.dumps(state, sort_keys=True),
            boot_id=boot_id,
        ),
        intended="disabled, inactive",
    )
    done = host.run(["systemctl", "disable", "--now", IRQBALANCE])
    if not done.ok:
        return False, {"id": ident, "error": f"systemctl disable --now: {done.said()}"}
    return True, {"id": ident, "from": _shown(state), "to": "disabled, inactive"}


def restart_if_active(host: Host) -> tuple[bool, dict[str, Any]] | None:
    """Restart a running irqbalance, which reads its banned-CPU list only when it starts:
    (done, what happened), or None when it is not active (it reads the list when it starts)."""
    if not service_state(host, IRQBALANCE)["active"]:
        return None
    ident = f"{KIND}:{IRQBALANCE}:restart"
    done = host.run(["systemctl", "restart", IRQBALANCE])
    if not done.ok:
        return False, {"id": ident, "error": f"systemctl restart: {done.said()}"}
    return True, {"id": ident, "from": "active", "to": "restarted (reads its banned CPUs)"}


def assess(entry: RollbackEntry, host: Host) -> RollbackStep:
    """What a rollback does with a service ncctl stopped."""
    was = json.loads(entry.original or "{}")
    now = service_state(host, entry.path)
    if now == was:
        return RollbackStep(entry, "unchanged", _shown(now), "already as it was")
    return RollbackStep(entry, "restore", _shown(now), f"{_shown(now)} -> {_shown(was)}")


def restore(entry: RollbackEntry, host: Host) -> None:
    """Enable and start the service again, as it was before ncctl stopped it."""
    was = json.loads(entry.original or "{}")
    for wanted, verb in (("enabled", "enable"), ("active", "start")):
        if not was.get(wanted):
            continue
        done = host.run(["systemctl", verb, entry.path])
        if not done.ok:
            raise UnavailableError(
                f"systemctl {verb} {entry.path}: {done.said()}",
                hint=f"run `systemctl {verb} {entry.path}` by hand",
            )
