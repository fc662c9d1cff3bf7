"""The sections of the packages above the domain ones (the metrics server, the runner, its
systemd units, preflight) and of the clock: a package cannot be both above and below the whole
configuration, so these live beside it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ncctl.addresses import is_loopback
from ncctl.config.paths import ConfigPath
from ncctl.config.section import NonEmpty, Section


@dataclass(frozen=True)
class MetricsTls:
    """The TLS files of ``/metrics``: server certificate and key, and the CA that client
    certificates must chain to (None: clients are not asked for one)."""

    cert: Path
    key: Path
    client_ca: Path | None


class MetricsConfig(Section):
    """Prometheus metrics: the daemon serves them on a loopback port; cron setups write a
    node_exporter textfile with `ncctl metrics --textfile PATH`.

    Beyond loopback ``/metrics`` is served over TLS only: ``tls_cert`` and ``tls_key`` (PEM;
    the key readable by its owner only), and ``tls_client_ca`` to require client certificates
    signed by that CA (mutual TLS). TLS may be set on loopback too.
    """

    tls_cert: ConfigPath | None = None
    tls_key: ConfigPath | None = None
    tls_client_ca: ConfigPath | None = None
    listen: NonEmpty = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535, description="0: any free port")

    @field_validator("listen")
    @classmethod
    def _tls_beyond_loopback(cls, listen: str, info: ValidationInfo) -> str:
        # tls_* are declared first, so they are validated (and in info.data) by now
        if not is_loopback(listen) and (
            info.data.get("tls_cert") is None or info.data.get("tls_key") is None
        ):
            raise ValueError(
                f"{listen!r} is reachable from other hosts: /metrics is served there over TLS "
                "only; set metrics.tls_cert and metrics.tls_key (see docs/runbook.md), or "
                'listen on "127.0.0.1"'
            )
        return listen

    @model_validator(mode="after")
    def _tls_pairs(self) -> MetricsConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: set both or neither")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ValueError("tls_client_ca needs tls_cert and tls_key (TLS on the server)")
        return self

    def tls(self) -> MetricsTls | None:
        if self.tls_cert is None or self.tls_key is None:
            return None
        return MetricsTls(self.tls_cert, self.tls_key, self.tls_client_ca)


class ClockConfig(Section):
    """A simulated clock for development: a file shared by ncctl and the simulators
    (see `ncctl clock set`). Unset, everything runs on the machine's clock."""

    file: ConfigPath | None = None


class RunnerConfig(Section):
    """The daemon: how often the safety-net reconcile pass runs, and the watchdog."""

    reconcile_interval_s: float = Field(default=15.0, ge=1, le=3600)


UNIX_NAME = r"^[a-z_][a-z0-9_-]{0,30}$"


class SystemdConfig(Section):
    """The generated systemd units (`ncctl systemd units`): the account ncctl's own units run
    as, and how many reconcile intervals a pass may take before the watchdog restarts the
    daemon (``WatchdogSec=`` is ``watchdog_intervals * runner.reconcile_interval_s``)."""

    user: Annotated[str, Field(pattern=UNIX_NAME)] = "ncctl"
    group: Annotated[str, Field(pattern=UNIX_NAME)] = "ncctl"
    watchdog_intervals: int = Field(default=20, ge=3, le=1000)


class PreflightConfig(Section):
    """Thresholds of ``ncctl preflight``.

    Free space, at every upload destination and on the local file systems of the logs and
    archives, must be at least ``free_space_factor`` times the size of the newest trade date's
    archives (what a day adds) and never below ``min_free_mb`` MiB. The holiday tables must
    reach ``holiday_warn_days`` days past now, or preflight warns. (The iLink secret's warning
    threshold is ``ilink.secret_expiry_warn_days``.)
    """

    min_free_mb: int = Field(default=1024, ge=0, le=1 << 30)
    free_space_factor: float = Field(default=2.0, ge=0, le=1000)
    holiday_warn_days: int = Field(default=60, ge=0, le=3650)
