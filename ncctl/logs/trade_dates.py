"""Trade dates of rotation: the session that closed last, the newest date already rotated,
and the archive name a live file gets for a trade date."""

from __future__ import annotations

import datetime as dt
import glob
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ncctl.logs.manifest import Manifest
    from ncctl.logs.section import LogsConfig
    from ncctl.schedule import ScheduleEngine


def last_closed_trade_date(engine: ScheduleEngine, now: dt.datetime) -> dt.date | None:
    """The trade date of the session that closed last at or before ``now``."""
    start = now - dt.timedelta(days=21)
    closes = [
        t
        for t in engine.transitions(start, now + dt.timedelta(microseconds=1))
        if t.event == "market.closed"
    ]
    if not closes:
        return None
    return closes[-1].at.astimezone(engine.zone).date()


def archive_name(live: Path, trade_date: dt.date, n: int) -> str:
    """``<stem>.<YYYYMMDD>[.<n>]<ext>``: audit.csv -> audit.20261125.csv."""
    stem, ext = live.stem, live.suffix
    seq = f".{n}" if n else ""
    return f"{stem}.{trade_date:%Y%m%d}{seq}{ext}"


def newest_rotated(logs: LogsConfig, manifest: Manifest, name: str) -> dt.date | None:
    """The newest trade date already rotated for category ``name``: in the manifest, or in
    the names of its archive directory (so that a manifest moved aside does not hide it)."""
    dates: list[dt.date] = []
    recorded = manifest.newest_trade_date(name)
    if recorded:
        dates.append(dt.date.fromisoformat(recorded))
    cat = logs.categories()[name]
    if not glob.has_magic(cat.path):
        live = Path(cat.path)
        pattern = re.compile(
            rf"{re.escape(live.stem)}\.(\d{{4}})(\d\d)(\d\d)(?:\.\d+)?{re.escape(live.suffix)}"
            r"(?:\.gz|\.zst)?(?:\.sha256)?"
        )
        try:
            names = [p.name for p in logs.archive_for(name).iterdir()]
        except OSError:
            names = []
        for entry in names:
            match = pattern.fullmatch(entry)
            if match:
                try:
                    dates.append(dt.date(int(match[1]), int(match[2]), int(match[3])))
                except ValueError:
                    continue
    return max(dates, default=None)
