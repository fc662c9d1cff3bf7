"""Where every archived file stands (``ncctl logs status``) and pruning what is safe to delete.

An archive is overdue when its trade date is older than the last closed trade date and some
destination has not verified it. A renamed file a writer still held at the last rotation run
is listed as held (with the processes), and a clock behind the newest archive is warned
about (``logs rotate`` would refuse it). Pruning deletes local archives older than their
category's ``retain_days`` only when every destination has verified them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ncctl.config import NcctlConfig
from ncctl.logs.manifest import Manifest
from ncctl.logs.rotation import last_closed_trade_date, newest_rotated
from ncctl.schedule import ScheduleEngine


@dataclass(frozen=True)
class Inventory:
    files: list[dict[str, Any]]
    overdue: list[dict[str, Any]]
    last_trade_date: str | None
    held: list[dict[str, Any]]
    warnings: list[str]


def inventory(
    config: NcctlConfig, manifest: Manifest, engine: ScheduleEngine, now: dt.datetime
) -> Inventory:
    last = last_closed_trade_date(engine, now)
    uploads: dict[int, dict[str, dict[str, Any]]] = {}
    for up in manifest.uploads():
        uploads.setdefault(up.file_id, {})[up.destination] = {
            "state": up.state,
            "attempts": up.attempts,
            "last_error": up.last_error,
            "verified_by": up.verified_by,
        }
    files: list[dict[str, Any]] = []
    overdue: list[dict[str, Any]] = []
    held = {h.file_id: h.as_dict() for h in manifest.holds()}
    for row in manifest.files("state != 'pruned'"):
        cat = config.logs.categories().get(row.category)
        wanted = list(cat.destinations) if cat else list(uploads.get(row.id, {}))
        per_dest: dict[str, Any] = {}
        for dest in wanted:
            # before it is ready, every destination shows the file's own state
            per_dest[dest] = uploads.get(row.id, {}).get(dest) or {
                "state": row.state,
                "attempts": 0,
                "last_error": None,
                "verified_by": None,
            }
        entry = {
            "category": row.category,
            "trade_date": row.trade_date,
            "file": row.archive_path if row.id in held else row.final_path,
            "state": row.state,
            "empty": row.empty,
            "size": row.size,
            "sha256": row.sha256,
            "destinations": per_dest,
            "held": held.get(row.id),
        }
        files.append(entry)
        complete = all(d["state"] == "verified" for d in per_dest.values())
        if last is not None and row.trade_date < last.isoformat() and not complete:
            overdue.append(entry)
    return Inventory(
        files,
        overdue,
        last.isoformat() if last else None,
        list(held.values()),
        clock_warnings(config, manifest, last),
    )


def clock_warnings(config: NcctlConfig, manifest: Manifest, last: dt.date | None) -> list[str]:
    """One warning per category whose newest archive is after the last closed trade date."""
    out: list[str] = []
    for name in config.logs.categories():
        newest = newest_rotated(config, manifest, name)
        if newest is not None and (last is None or newest > last):
            out.append(
                f"the clock is behind the newest {name} archive ({newest}; the last closed "
                f"trade date is {last}): `ncctl logs rotate` refuses to rotate into the past"
            )
    return out


def prune(
    config: NcctlConfig, manifest: Manifest, now: dt.datetime, dry_run: bool = False
) -> list[dict[str, Any]]:
    """Delete archives past ``retain_days`` that every destination verified."""
    today = now.date()
    verified: dict[int, list[str]] = {}
    for up in manifest.uploads():
        verified.setdefault(up.file_id, []).append(up.state)
    removed: list[dict[str, Any]] = []
    for row in manifest.files("state = 'compressed'"):
        cat = config.logs.categories().get(row.category)
        if cat is None:
            continue
        age = (today - dt.date.fromisoformat(row.trade_date)).days
        states = verified.get(row.id, [])
        if age <= cat.retain_days or not states or any(s != "verified" for s in states):
            continue
        final = Path(row.final_path)
        removed.append({"category": row.category, "trade_date": row.trade_date, "file": str(final)})
        if dry_run:
            continue
        final.unlink(missing_ok=True)
        final.with_name(final.name + ".sha256").unlink(missing_ok=True)
        manifest.set_file_state(row.id, "pruned")
    return removed
