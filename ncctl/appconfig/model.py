"""The whole configuration file (:class:`NcctlConfig`, every section) and a loaded one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from ncctl.appconfig.sections import (
    ClockConfig,
    MetricsConfig,
    PreflightConfig,
    RunnerConfig,
    SystemdConfig,
)
from ncctl.components.section import COMPONENT_NAMES, ComponentConfig, ComponentsConfig
from ncctl.config.files import EMBEDDED, is_embedded_file
from ncctl.config.paths import ConfigPath, with_state_dir
from ncctl.config.section import IdentityName, NonEmpty, Section
from ncctl.ilink.section import IlinkConfig, PartyDetailsList
from ncctl.logs.section import DestinationConfig, LogsConfig
from ncctl.schedule.section import ScheduleConfig
from ncctl.tuning.section import TuningConfig


class NcctlConfig(Section):
    """The whole configuration file."""

    environment: NonEmpty = "dev"
    client: IdentityName | None = Field(
        default=None,
        description="the client this ncctl runs for (a label of ncctl_info, every journal line)",
    )
    site: IdentityName | None = Field(
        default=None, description="where it runs (a data centre or colocation; ncctl_info)"
    )
    state_dir: ConfigPath = Path(".ncctl")
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    components: ComponentsConfig = Field(default_factory=ComponentsConfig)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    destinations: dict[str, DestinationConfig] = Field(default_factory=dict)
    tuning: TuningConfig = Field(default_factory=TuningConfig)
    ilink: IlinkConfig = Field(default_factory=IlinkConfig)
    party_details: PartyDetailsList = Field(default_factory=list)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    runner: RunnerConfig = Field(default_factory=RunnerConfig)
    clock: ClockConfig = Field(default_factory=ClockConfig)
    systemd: SystemdConfig = Field(default_factory=SystemdConfig)
    preflight: PreflightConfig = Field(default_factory=PreflightConfig)

    @model_validator(mode="after")
    def _from_state_dir(self) -> NcctlConfig:
        """``{state_dir}`` in component commands and environments, and the default archive
        directory."""
        for name in COMPONENT_NAMES:
            comp: ComponentConfig = getattr(self.components, name)
            comp.command = with_state_dir(comp.command, self.state_dir)
            comp.env = dict(
                zip(comp.env, with_state_dir(list(comp.env.values()), self.state_dir), strict=True)
            )
        if "archive_dir" not in self.logs.model_fields_set:
            self.logs.archive_dir = self.state_dir / "archive"
        return self

    def cross_reference_problem(self) -> tuple[str, str] | None:
        """A key path and a problem where one part names another that does not exist."""
        for name, cat in self.logs.categories().items():
            for i, dest in enumerate(cat.destinations):
                if dest not in self.destinations:
                    return (
                        f"logs.{name}.destinations[{i}]",
                        f"{dest!r} is not a [destinations.{dest}] table",
                    )
        return None


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration, where it came from, and the raw document."""

    config: NcctlConfig
    path: Path
    source: str
    document: dict[str, Any]
    base: Path
    """The directory relative paths of the file were taken from."""

    @property
    def embedded(self) -> bool:
        """Whether this is the embedded default (however it was named): read-only."""
        return self.source == EMBEDDED or is_embedded_file(self.path)
