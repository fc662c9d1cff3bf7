"""Fixtures for the schedule engine tests: the shipped CME Globex template and holiday tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from ncctl.schedule import ScheduleEngine, load_engine
from ncctl.schedule.files import WeeklyTemplate, load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEDULES = REPO_ROOT / "schedules"
TEMPLATE_PATH = SCHEDULES / "cme-globex.toml"
HOLIDAY_PATHS = (
    SCHEDULES / "holidays" / "cme-2026.toml",
    SCHEDULES / "holidays" / "cme-2027.toml",
)


@pytest.fixture(scope="session")
def engine() -> ScheduleEngine:
    """The engine as shipped: CME Globex week with the 2026 and 2027 holiday tables.

    Session-scoped because hypothesis tests cannot use function-scoped fixtures; the engine
    is pure, so sharing it is safe.
    """
    return load_engine(TEMPLATE_PATH, list(HOLIDAY_PATHS))


@pytest.fixture(scope="session")
def template() -> WeeklyTemplate:
    """The shipped weekly template alone, for engines built with other holiday tables."""
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="session")
def holiday_paths() -> tuple[Path, ...]:
    """The shipped holiday table files."""
    return HOLIDAY_PATHS
