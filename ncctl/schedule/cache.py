"""A cache of validated schedules, so that ``ncctl schedule now`` starts fast.

Validating the configuration and the schedule files with pydantic costs more than answering
the question. Once a configuration file and the schedule files it names have been validated,
the compiled engine input is stored under ``$XDG_CACHE_HOME/ncctl`` (or ``~/.cache/ncctl``;
nowhere without a home directory; ``NCCTL_CACHE_DIR`` overrides, ``NCCTL_CACHE_DIR=off``
disables), keyed by the SHA-256 of the configuration's bytes, its path and the directory its
relative paths are taken from (see :mod:`ncctl.config.files`). A hit also checks the SHA-256 of
every schedule file, so any edit is seen at once and falls back to full validation. The cache
only ever remembers that identical bytes were valid; a failure to read or write it is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ncctl import __version__
from ncctl.errors import NcctlError
from ncctl.schedule.engine import CompiledTemplate, HolidayCalendar, ScheduleEngine

FORMAT = 3  # 3: relative paths from the configuration's directory, not the current one
KEEP = 32


@dataclass(frozen=True)
class CachedSchedule:
    engine: ScheduleEngine
    display_tz: str
    clock_file: str | None


def cache_dir() -> Path | None:
    value = os.environ.get("NCCTL_CACHE_DIR")
    if value is not None:
        return None if value in ("", "off", "0") else Path(value)
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no $HOME and no passwd entry (a bare uid): no cache
            return None
    return Path(base) / "ncctl"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(path: Path) -> bytes:
    """A configuration or schedule file's bytes, never from a FIFO, a device or a link
    (OSError then: a cache miss, and loading the file itself names the problem)."""
    from ncctl.errors import NcctlError
    from ncctl.small_files import read_capped
    from ncctl.validation import TOML_LIMIT

    try:
        return read_capped(path, what="file", limit=TOML_LIMIT, error=NcctlError)
    except NcctlError as err:
        raise OSError(err.message) from None


def _entry(config_path: Path, config_bytes: bytes) -> Path | None:
    directory = cache_dir()
    if directory is None:
        return None
    from ncctl.config.files import base_dir

    base = base_dir(config_path, "")
    key = _sha(
        f"{FORMAT}\0{__version__}\0{config_path.absolute()}\0{base}\0".encode() + config_bytes
    )
    return directory / f"schedule-{key[:40]}.json"


def load(config_path: Path) -> CachedSchedule | None:
    """The engine for this configuration, if validated before with identical files."""
    try:
        config_bytes = _read(config_path)
        entry = _entry(config_path, config_bytes)
        if entry is None:
            return None
        doc: dict[str, Any] = json.loads(entry.read_bytes())
        for dep in doc["files"]:
            if _sha(_read(Path(dep["path"]))) != dep["sha256"]:
                return None
        engine = ScheduleEngine(
            CompiledTemplate.from_data(doc["template"]),
            HolidayCalendar.from_data(doc["holidays"]),
        )
        clock = doc.get("clock_file")
        return CachedSchedule(engine, str(doc["display_tz"]), str(clock) if clock else None)
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def store(
    config_path: Path,
    display_tz: str,
    files: list[Path],
    engine: ScheduleEngine,
    clock_file: Path | None = None,
) -> None:
    """Remember a validated configuration's schedule (best effort)."""
    try:
        entry = _entry(config_path, _read(config_path))
        if entry is None:
            return
        doc = {
            "format": FORMAT,
            "config": str(config_path.absolute()),
            "files": [{"path": str(p.absolute()), "sha256": _sha(_read(p))} for p in files],
            "display_tz": display_tz,
            "clock_file": str(clock_file) if clock_file else None,
            "template": engine.template.to_data(),
            "holidays": engine.holidays.to_data(),
        }
        from ncctl import floor

        floor.ensure_dir(entry.parent, "schedule cache")
        floor.atomic_write(entry, json.dumps(doc).encode(), what="schedule cache entry")
        _prune(entry.parent)
    except (OSError, NcctlError):
        return


def _prune(directory: Path) -> None:
    entries = sorted(directory.glob("schedule-*.json"), key=lambda p: p.stat().st_mtime)
    for old in entries[:-KEEP]:
        old.unlink(missing_ok=True)
