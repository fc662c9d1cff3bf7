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

from ncctl.errors import NcctlError
from ncctl.logs.archives import archive_files, sidecar_of
from ncctl.logs.manifest import Manifest
from ncctl.logs.section import LogsConfig
from ncctl.logs.trade_dates import last_closed_trade_date, newest_rotated
from ncctl.schedule import ScheduleEngine


@dataclass(frozen=True)
class Inventory:
    files: list[dict[str, Any]]
    overdue: list[dict[str, Any]]
    last_trade_date: str | None
    held: list[dict[str, Any]]
    warnings: list[str]


def inventory(
    logs: LogsConfig, manifest: Manifest, engine: ScheduleEngine, now: dt.datetime
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
        cat = logs.categories().get(row.category)
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
        clock_warnings(logs, manifest, last),
    )


def clock_warnings(logs: LogsConfig, manifest: Manifest, last: dt.date | None) -> list[str]:
    """One warning per category whose newest archive is after the last closed trade date."""
    out: list[str] = []
    for name in logs.categories():
        newest = newest_rotated(logs, manifest, name)
        if newest is not None and (last is None or newest > last):
            out.append(
                f"the clock is behind the newest {name} archive ({newest}; the last closed "
                f"trade date is {last}): `ncctl logs rotate` refuses to rotate into the past"
            )
    return out


def prune(
    logs: LogsConfig, manifest: Manifest, now: dt.datetime, dry_run: bool = False
) -> list[dict[str, Any]]:
    """Delete archives past ``retain_days`` that every destination verified."""
    today = now.date()
    verified: dict[int, list[str]] = {}
    for up in manifest.uploads():
        verified.setdefault(up.file_id, []).append(up.state)
    removed: list[dict[str, Any]] = []
    for row in manifest.files("state = 'compressed'"):
        cat = logs.categories().get(row.category)
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


# -- archives the manifest does not know ----------------------------------------------------

SIDECAR_LIMIT = 4096


@dataclass(frozen=True)
class UnknownArchive:
    """An archive on disk that the manifest does not know, and whether it may be adopted."""

    category: str
    path: Path
    trade_date: str | None
    size: int
    sha256: str | None
    problem: str | None
    """Why it is not adoptable (no sidecar, a mismatch, no date in its name), or None."""

    @property
    def adoptable(self) -> bool:
        return self.problem is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "file": str(self.path),
            "trade_date": self.trade_date,
            "size": self.size,
            "sha256": self.sha256,
            "adoptable": self.adoptable,
            "problem": self.problem,
        }


def _trade_date(name: str) -> str | None:
    """The trade date in an archive name ``<stem>.<YYYYMMDD>[.<n>]<ext>`` (the last
    eight-digit part that is a date)."""
    for part in reversed(name.split(".")[1:]):
        if len(part) == 8 and part.isdigit():
            try:
                return dt.date(int(part[:4]), int(part[4:6]), int(part[6:])).isoformat()
            except ValueError:
                continue
    return None


def _sidecar_digest(path: Path) -> tuple[str | None, str | None]:
    """(the digest the sidecar of ``path`` names, None) or (None, why it cannot be used)."""
    from ncctl.errors import DataError, NcctlError
    from ncctl.small_files import read_capped

    side = sidecar_of(path)
    try:
        raw = read_capped(side, what="the sidecar", limit=SIDECAR_LIMIT, error=DataError)
    except NcctlError as err:
        if "not found" in err.message:
            return None, f"no sidecar {side.name}: it cannot be checked"
        return None, err.message
    fields = raw.decode("utf-8", errors="replace").split()
    digest = fields[0].lower() if fields else ""
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        return None, f"{side.name} holds no SHA-256 digest"
    if len(fields) > 1 and fields[1].lstrip("*") != path.name:
        return None, f"{side.name} names another file ({fields[1]})"
    return digest, None


def unknown_archives(
    logs: LogsConfig, manifest: Manifest, *, hash_files: bool = True
) -> list[UnknownArchive]:
    """Archives in the categories' archive directories that the manifest does not know; each
    checked against its ``.sha256`` sidecar (``hash_files``) to say whether it may be adopted."""
    from ncctl.logs.destinations import sha256_of

    known = manifest.archive_names()  # (and a directory two categories share: seen once)
    found: list[UnknownArchive] = []
    for name in logs.categories():
        for path, size in archive_files(logs.archive_for(name)):
            if str(path) in known:
                continue
            known.add(str(path))
            trade_date = _trade_date(path.name)
            digest, problem = _sidecar_digest(path)
            actual: str | None = None
            if trade_date is None:
                problem = problem or "no trade date (YYYYMMDD) in its name"
            if problem is None and hash_files:
                actual = sha256_of(path)
                if actual != digest:
                    problem = (
                        f"its SHA-256 {actual[:16]}… does not match its sidecar's "
                        f"{(digest or '')[:16]}…"
                    )
            found.append(UnknownArchive(name, path, trade_date, size, actual, problem))
    return found


def unknown_lines(unknown: list[dict[str, Any]], *, adopted: bool = False) -> list[str]:
    """One text line per archive the manifest did not know (adopted, adoptable or not)."""
    lines: list[str] = []
    for u in unknown:
        if u["problem"] is not None:
            lines.append(f"not in the manifest, not adoptable: {u['file']}: {u['problem']}")
        elif adopted:
            lines.append(f"adopted into the manifest (sidecar matches): {u['file']}")
        else:
            lines.append(f"not in the manifest, adoptable (sidecar matches): {u['file']}")
    return lines


def unknown_failure(unknown: list[dict[str, Any]]) -> NcctlError | None:
    """The failure (exit 1) that archives outside the manifest are, or None."""
    from ncctl.errors import RefusedError

    if not unknown:
        return None
    bad = [u for u in unknown if u["problem"] is not None]
    first = (bad or unknown)[0]
    what = f"{first['file']}: {first['problem']}" if bad else str(first["file"])
    return RefusedError(
        f"{len(unknown)} archive(s) on disk are not in the upload manifest "
        f"({len(bad)} not adoptable); first: {what}",
        hint="`ncctl logs upload` adopts and uploads those whose .sha256 sidecar matches; "
        "check the others by hand, then give each a sidecar (sha256sum) or move it out of "
        "the archive directory",
        code="logs.unknown",
    )
