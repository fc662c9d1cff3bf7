"""The ``[components]`` section: how each component is run and known to be ready."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ncctl.config.paths import CommandFromBase, ConfigPath
from ncctl.config.section import NonEmpty, Port, Section


class ReadyCheck(Section):
    """How ncctl knows a started component is ready."""

    kind: Literal["status_file", "tcp_port", "file"]
    path: ConfigPath | None = None
    port: Port | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=600)

    @model_validator(mode="after")
    def _target(self) -> ReadyCheck:
        if self.kind == "tcp_port" and self.port is None:
            raise ValueError("a tcp_port check needs port")
        if self.kind in ("status_file", "file") and self.path is None:
            raise ValueError(f"a {self.kind} check needs path")
        return self


class ComponentConfig(Section):
    """A component run as a child process (containers) or as a systemd unit (hosts).

    In ``command``, ``{python}`` stands for ncctl's interpreter and ``{state_dir}`` (also in
    ``env`` values) for the absolute state directory; a program written with a ``/`` is a
    path like any other.
    """

    backend: Literal["process", "systemd"] = "process"
    command: Annotated[list[NonEmpty], CommandFromBase] = Field(default_factory=list)
    cwd: ConfigPath | None = None
    env: dict[str, str] = Field(default_factory=dict)
    log_file: ConfigPath | None = None
    stop_timeout_s: float = Field(default=10.0, gt=0, le=600)
    ready: ReadyCheck | None = None
    unit: NonEmpty | None = None

    @model_validator(mode="after")
    def _backend_fields(self) -> ComponentConfig:
        if self.backend == "process" and not self.command:
            raise ValueError("the process backend needs command (an argv list)")
        if self.backend == "systemd" and not self.unit:
            raise ValueError("the systemd backend needs unit")
        return self


def _default_feed() -> ComponentConfig:
    return ComponentConfig(command=["python3", "-m", "ncctl.sim.feed_handler"])


def _default_order() -> ComponentConfig:
    return ComponentConfig(command=["python3", "-m", "ncctl.sim.order_session"])


class ComponentsConfig(Section):
    feed_handler: ComponentConfig = Field(default_factory=_default_feed)
    order_session: ComponentConfig = Field(default_factory=_default_order)


COMPONENT_NAMES = ("feed_handler", "order_session")
