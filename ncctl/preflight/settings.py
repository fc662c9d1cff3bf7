"""The ``[preflight]`` table of the configuration (pydantic only: ``ncctl.config`` imports it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PreflightConfig(BaseModel):
    """Thresholds of ``ncctl preflight``.

    Free space, at every upload destination and on the local file systems of the logs and
    archives, must be at least ``free_space_factor`` times the size of the newest trade date's
    archives (what a day adds) and never below ``min_free_mb`` MiB. The holiday tables must
    reach ``holiday_warn_days`` days past now, or preflight warns. (The iLink secret's warning
    threshold is ``ilink.secret_expiry_warn_days``.)
    """

    model_config = ConfigDict(extra="forbid", validate_default=True, defer_build=True)

    min_free_mb: int = Field(default=1024, ge=0, le=1 << 30)
    free_space_factor: float = Field(default=2.0, ge=0, le=1000)
    holiday_warn_days: int = Field(default=60, ge=0, le=3650)
