"""Checking schedule files: validation, and the invariants of a week without holidays."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ncctl.errors import ConfigError
from ncctl.schedule.engine import ALL_OFF, ScheduleEngine
from ncctl.schedule.files import HolidayTable, WeeklyTemplate, load_schedule_file


def template_invariants(template: WeeklyTemplate) -> list[str]:
    """Problems of a template's plain week: order entry up while the feed handler is off, or
    a state that does not end the week with everything off."""
    engine = ScheduleEngine(template)
    # any Sunday will do without holidays; take one far from DST switches
    sunday = dt.date(2026, 1, 11)
    plan = engine.week(sunday)
    problems: list[str] = []
    for tr, state in zip(plan.transitions, plan.states, strict=True):
        if state.order_entry and not state.feed_handler:
            problems.append(
                f"order entry is up while the feed handler is off after {tr.event} "
                f"at {tr.at:%a %H:%M}"
            )
            break
    if plan.states and plan.states[-1] != ALL_OFF:
        problems.append(
            "the week does not end with everything off (feed handler off, order entry down, "
            "market closed, no maintenance)"
        )
    return problems


def check_files(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Validate each file; raise ConfigError naming the first bad file and key."""
    results: list[dict[str, Any]] = []
    for path in paths:
        loaded = load_schedule_file(path)
        if isinstance(loaded, HolidayTable):
            closed = sum(1 for h in loaded.holidays if h.kind == "closed")
            early = len(loaded.holidays) - closed
            results.append(
                {
                    "file": str(path),
                    "kind": "holidays",
                    "year": loaded.year,
                    "summary": f"holiday table {loaded.calendar} {loaded.year}: "
                    f"{closed} closed, {early} early close",
                }
            )
            continue
        problems = template_invariants(loaded)
        if problems:
            raise ConfigError(
                f"{path}: {problems[0]}",
                hint="order the events so that order entry runs only inside feed handler hours",
            )
        results.append(
            {
                "file": str(path),
                "kind": "template",
                "name": loaded.name,
                "summary": f"weekly template {loaded.name} ({loaded.tz}): "
                f"{len(loaded.sessions)} sessions, {len(loaded.events)} events, "
                f"{len(loaded.windows)} windows",
            }
        )
    return results
