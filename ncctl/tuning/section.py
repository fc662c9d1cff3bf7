"""The ``[tuning]`` section: which profile, and the root the host's files live under."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from ncctl.config.paths import ConfigPath, DataRef
from ncctl.config.section import NonEmpty, Section


class TuningConfig(Section):
    """Host tuning: which profile, and the root under which /proc, /sys and /etc live."""

    profile: Annotated[NonEmpty, DataRef] = "dev"
    """A shipped profile's name, or a ``.toml`` path."""
    root: ConfigPath = Path("/")
