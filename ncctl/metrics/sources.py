"""What the metrics are computed from: the pluggable status sources and the context every
family builder sees during one scrape.

Registration, tuning and preflight are pluggable (:class:`MetricSources`): replace one to test
it or to plug another in; a source that returns None leaves its metrics out of the exposition
(absent, not 0).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client.core import Metric

from ncctl.ilink.status import RegistrationStatus
from ncctl.tuning.status import TuningStatus

if TYPE_CHECKING:
    from ncctl.appconfig.model import NcctlConfig
    from ncctl.preflight.result import Recorded
    from ncctl.schedule import ScheduleEngine


RegistrationSource = Callable[["NcctlConfig", dt.datetime], RegistrationStatus | None]
TuningSource = Callable[["NcctlConfig", dt.datetime], TuningStatus | None]
PreflightSource = Callable[["NcctlConfig", dt.datetime], "Recorded | None"]


def registration_status(config: NcctlConfig, now: dt.datetime) -> RegistrationStatus | None:
    """The latest party-ID registration run recorded by ``ncctl.ilink.registration`` in
    ``state_dir/party.sqlite`` (opened read-only, never created); None without a run."""
    from ncctl.ilink.status import registration_status as recorded

    return recorded(config.state_dir)


def tuning_status(config: NcctlConfig, now: dt.datetime) -> TuningStatus | None:
    """How the host under ``tuning.root`` compares with ``tuning.profile`` (read-only)."""
    from ncctl.tuning.status import tuning_status as status_of

    return status_of(config.tuning, config.state_dir, now)


def preflight_status(config: NcctlConfig, now: dt.datetime) -> Recorded | None:
    """The latest ``ncctl preflight`` run recorded in ``state_dir/preflight.json`` (by the
    command or the runner's Sunday job); None before the first."""
    from ncctl.preflight.result import read_record

    return read_record(config.state_dir)


@dataclass(frozen=True)
class MetricSources:
    """The sources that other parts of ncctl provide; replace one to test or to plug it in."""

    registration: RegistrationSource = field(default=registration_status)
    tuning: TuningSource = field(default=tuning_status)
    preflight: PreflightSource = field(default=preflight_status)


@dataclass(frozen=True)
class ScrapeContext:
    """What every source sees during one scrape."""

    config: NcctlConfig
    engine: ScheduleEngine
    now: dt.datetime
    sources: MetricSources


Source = Callable[[ScrapeContext], list[Metric]]
