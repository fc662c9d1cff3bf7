"""Read-only status of the logs: upload totals per destination, the size of the newest trade
date, and files held back by a writer per category, from the upload manifest (a missing
manifest reads as empty; nothing is created)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class UploadTotals:
    """One destination's uploads: not yet verified, failed, verified, attempts."""

    pending_files: int = 0
    pending_bytes: int = 0
    failed: int = 0
    verified_files: int = 0
    verified_bytes: int = 0
    attempts: int = 0
    last_verified_ns: int | None = None


def upload_totals(state_dir: Path, destinations: Iterable[str]) -> dict[str, UploadTotals]:
    """Totals for every configured destination (zero without uploads) and for any other
    destination the manifest names."""
    from ncctl.logs.manifest import Manifest, manifest_path

    totals = {name: UploadTotals() for name in destinations}
    manifest = Manifest(manifest_path(state_dir), read_only=True)
    try:
        rows = manifest.upload_totals()
    finally:
        manifest.close()
    for dest, state, count, size, attempts, updated in rows:
        d = totals.setdefault(dest, UploadTotals())
        d.attempts += attempts
        if state == "verified":
            d.verified_files += count
            d.verified_bytes += size
            d.last_verified_ns = max(d.last_verified_ns or 0, updated)
        else:
            d.pending_files += count
            d.pending_bytes += size
            if state == "failed":
                d.failed += count
    return totals


def newest_day_bytes(state_dir: Path, destination: str | None = None) -> int:
    """Bytes of the archives of the newest trade date in the upload manifest (those bound for
    ``destination`` when given); 0 without a manifest (nothing is created)."""
    from ncctl.logs.manifest import Manifest, manifest_path

    manifest = Manifest(manifest_path(state_dir), read_only=True)
    try:
        return manifest.newest_day_bytes(destination)
    finally:
        manifest.close()


def held_files(state_dir: Path, categories: Iterable[str]) -> dict[str, int]:
    """Renamed files kept uncompressed because a writer still held them at the last rotation
    run, per category (0 for every configured category without one)."""
    from ncctl.logs.manifest import Manifest, manifest_path

    counts = dict.fromkeys(categories, 0)
    path = manifest_path(state_dir)
    if path.exists():
        manifest = Manifest(path)
        try:
            for hold in manifest.holds():
                counts[hold.category] = counts.get(hold.category, 0) + 1
        finally:
            manifest.close()
    return counts
