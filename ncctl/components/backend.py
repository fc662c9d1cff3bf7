"""What every backend answers: the status of a component and the result of an action."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

RunState = Literal["running", "stopped", "crashed", "failed", "unknown"]

COMPONENTS: tuple[str, ...] = ("feed_handler", "order_session")
"""The components ncctl drives, by configuration name."""


@dataclass(frozen=True)
class ComponentStatus:
    """What a backend sees of a component right now."""

    name: str
    backend: str
    state: RunState
    pid: int | None = None
    since: dt.datetime | None = None
    exit_code: int | None = None
    log_tail: list[str] = field(default_factory=list)
    detail: str = ""

    @property
    def running(self) -> bool:
        return self.state == "running"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": self.backend,
            "state": self.state,
            "pid": self.pid,
            "since": self.since.isoformat(timespec="seconds") if self.since else None,
            "exit_code": self.exit_code,
            "log_tail": self.log_tail,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ActionResult:
    """The outcome of start, stop or restart."""

    name: str
    action: str
    changed: bool
    message: str
    status: ComponentStatus

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "action": self.action,
            "changed": self.changed,
            "message": self.message,
            "status": self.status.as_dict(),
        }


class Backend(Protocol):
    """Start, stop and observe one component."""

    name: str
    kind: str

    def start(self) -> ActionResult: ...

    def stop(self) -> ActionResult: ...

    def status(self) -> ComponentStatus: ...

    def reopen(self) -> bool:
        """Have a running component reopen its files (SIGHUP); False when it is not running."""
        ...
