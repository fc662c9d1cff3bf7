"""The one-shot jobs of the schedule and when their instances fall.

A job instance is a job name and the scheduled instant of the event that calls it (for
example ``rotate`` at ``2026-11-25T16:01:00-06:00``), less the job's lead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ncctl.schedule import ScheduleEngine


@dataclass(frozen=True)
class Job:
    """A one-shot job: the events that call it, how long before them it runs (``lead``),
    and how long its window stays open."""

    name: str
    events: tuple[str, ...]
    window: dt.timedelta
    lead: dt.timedelta = dt.timedelta(0)


PREFLIGHT_LEAD = dt.timedelta(hours=1)
"""How long before the feed handler starts (Sunday 15:00 CT) preflight runs."""

LOOKBACK = dt.timedelta(days=7)
"""How far back a pass looks for instances still to run (catch-up after downtime)."""

JOBS: tuple[Job, ...] = (
    # preflight at 14:00, an hour before the week starts; its window closes at the feed start
    Job("preflight", ("feed_handler.on",), PREFLIGHT_LEAD, lead=PREFLIGHT_LEAD),
    # registration at 15:25 must be done before order entry comes up at 15:29
    Job("party_registration", ("party_registration",), dt.timedelta(minutes=4)),
    # rotation and upload at 16:01 must be done before the window ends at 16:29
    Job("rotate", ("rotation.daily", "rotation.weekly"), dt.timedelta(minutes=28)),
    Job("upload", ("rotation.daily", "rotation.weekly"), dt.timedelta(minutes=28)),
)


def job_instants(
    engine: ScheduleEngine, now: dt.datetime, lookback: dt.timedelta, jobs: tuple[Job, ...] = JOBS
) -> dict[str, list[dt.datetime]]:
    """Each job's scheduled instants (its event's instant less its lead) from ``now -
    lookback`` up to and including ``now``, oldest first."""
    ahead = max((job.lead for job in jobs), default=dt.timedelta(0))
    found: dict[str, list[dt.datetime]] = {}
    for tr in engine.transitions(now - lookback, now + ahead + dt.timedelta(microseconds=1)):
        for job in jobs:
            at = tr.at - job.lead
            if tr.event in job.events and now - lookback <= at <= now:
                found.setdefault(job.name, []).append(at)
    return found
