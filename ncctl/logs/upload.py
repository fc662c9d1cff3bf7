"""Uploading archived files to every destination, exactly once, verified.

For each archive in the manifest and each of its category's destinations that is not yet
``verified``: mark ``uploading``, send (a destination resumes its own ``.part`` file and renames
it into place), mark ``uploaded``, verify, mark ``verified``. A temporary failure (network,
time-out, full remote disk) is retried with exponential backoff and jitter up to the
destination's ``retries``, on a fresh connection; anything else (a conflicting remote file, a
refused host key, permission denied) is recorded as ``failed`` with its error and left for the
operator. Nothing is ever marked verified without a successful verification.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ncctl.crashpoints import crashpoint
from ncctl.errors import NcctlError, TemporaryError
from ncctl.logs.destinations import Destination, Item
from ncctl.logs.file_destination import FileDestination
from ncctl.logs.manifest import FileRow, Manifest
from ncctl.logs.section import DestinationConfig, LogsConfig

MAX_BACKOFF_S = 60.0


@dataclass
class UploadOutcome:
    category: str
    trade_date: str
    file: str
    destination: str
    state: str
    attempts: int = 0
    bytes_sent: int = 0
    resumed_from: int = 0
    already_present: bool = False
    verified_by: str | None = None
    error: dict[str, str] | None = None
    retryable: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "trade_date": self.trade_date,
            "file": self.file,
            "destination": self.destination,
            "state": self.state,
            "attempts": self.attempts,
            "bytes_sent": self.bytes_sent,
            "resumed_from": self.resumed_from,
            "already_present": self.already_present,
            "verified_by": self.verified_by,
            "error": self.error,
            "retryable": self.retryable,
        }


@dataclass
class Pending:
    row: FileRow
    destination: str
    item: Item


class ProgressSink:
    """Told about each file and each block sent (a Rich bar on a TTY, plain lines otherwise)."""

    def start(self, total_bytes: int, files: int) -> None: ...

    def file(self, pending: Pending) -> None: ...

    def advance(self, nbytes: int) -> None: ...

    def done(self, outcome: UploadOutcome) -> None: ...

    def finish(self) -> None: ...


@dataclass
class Uploader:
    logs: LogsConfig
    destinations: dict[str, DestinationConfig]
    manifest: Manifest
    only_destination: str | None = None
    progress: ProgressSink = field(default_factory=ProgressSink)
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random
    _open: dict[str, Destination] = field(default_factory=dict)
    adopted: list[dict[str, Any]] = field(default_factory=list)
    """Archives on disk that the manifest did not know, taken in (sidecar matched)."""
    not_adopted: list[dict[str, Any]] = field(default_factory=list)
    """Archives on disk that the manifest does not know and that were left alone, and why."""

    def adopt_unknown(self) -> None:
        """Take in every archive the manifest does not know whose ``.sha256`` sidecar
        matches it (queued for its category's destinations); report the others."""
        from ncctl.logs.inventory import unknown_archives

        cats = self.logs.categories()
        for found in unknown_archives(self.logs, self.manifest):
            if not found.adoptable or found.sha256 is None or found.trade_date is None:
                self.not_adopted.append(found.as_dict())
                continue
            self.manifest.adopt(
                found.category,
                trade_date=found.trade_date,
                final_path=str(found.path),
                size=found.size,
                sha256=found.sha256,
                destinations=list(cats[found.category].destinations),
            )
            self.adopted.append(found.as_dict())

    def pending(self) -> list[Pending]:
        """Every (archive, destination) pair still to be verified, oldest first."""
        todo: list[Pending] = []
        uploads = {(u.file_id, u.destination): u for u in self.manifest.uploads()}
        for row in self.manifest.files("state = 'compressed'"):
            for (file_id, dest), up in uploads.items():
                if file_id != row.id or up.state == "verified":
                    continue
                if self.only_destination is not None and dest != self.only_destination:
                    continue
                final = Path(row.final_path)
                item = Item(final, final.name, row.size or 0, row.sha256 or "")
                todo.append(Pending(row, dest, item))
        return todo

    def _destination(self, name: str) -> Destination:
        dest = self._open.get(name)
        if dest is None:
            cfg = self.destinations.get(name)
            if cfg is None:
                from ncctl.errors import ConfigError

                raise ConfigError(
                    f"destination {name!r} is in the manifest but not in the configuration",
                    hint=f"add [destinations.{name}] back, or finish its uploads elsewhere",
                )
            dest = open_destination(name, cfg)
            self._open[name] = dest
        return dest

    def _reconnect(self, name: str) -> None:
        dest = self._open.pop(name, None)
        if dest is not None:
            with contextlib.suppress(NcctlError, OSError):
                dest.close()

    def close(self) -> None:
        for name in list(self._open):
            self._reconnect(name)

    def _backoff(self, name: str, attempt: int) -> float:
        cfg = self.destinations[name]
        return float(min(MAX_BACKOFF_S, cfg.backoff_s * 2**attempt * (0.5 + self.jitter())))

    def _one(self, p: Pending) -> UploadOutcome:
        row, name = p.row, p.destination
        out = UploadOutcome(row.category, row.trade_date, p.item.name, name, "pending")
        if not p.item.local.is_file():
            err = {
                "code": "upload.local_missing",
                "message": f"{p.item.local} is missing locally",
                "hint": "restore it from a destination that verified it",
            }
            self.manifest.set_upload(row.id, name, "failed", error=err["message"])
            out.state, out.error = "failed", err
            return out
        retries = self.destinations[name].retries if name in self.destinations else 0
        for attempt in range(retries + 1):
            out.attempts += 1
            self.manifest.set_upload(row.id, name, "uploading", attempt=True)
            try:
                crashpoint("upload.before_send")
                dest = self._destination(name)
                sent = dest.send(p.item, self.progress.advance)
                out.bytes_sent += sent.bytes_sent
                out.resumed_from = sent.resumed_from
                out.already_present = sent.already_present
                self.manifest.set_upload(row.id, name, "uploaded", remote_path=sent.remote_path)
                crashpoint("upload.after_send")
                check = dest.verify(p.item)
            except TemporaryError as exc:
                out.state, out.error, out.retryable = "failed", exc.as_dict(), True
                self.manifest.set_upload(row.id, name, "failed", error=exc.message)
                self._reconnect(name)
                if attempt < retries:
                    self.sleep(self._backoff(name, attempt))
                    continue
                return out
            except NcctlError as exc:
                out.state, out.error, out.retryable = "failed", exc.as_dict(), False
                self.manifest.set_upload(row.id, name, "failed", error=exc.message)
                self._reconnect(name)
                return out
            if not check.ok:
                message = f"verification by {check.method} failed: {check.detail}"
                out.state = "failed"
                out.error = {
                    "code": "upload.verify_failed",
                    "message": f"{name}: {p.item.name}: {message}",
                    "hint": "the remote file is not what was sent; inspect it before anything "
                    "else (it was not overwritten)",
                }
                self.manifest.set_upload(row.id, name, "failed", error=message)
                return out
            self.manifest.set_upload(row.id, name, "verified", verified_by=check.method)
            out.state, out.verified_by, out.error = "verified", check.method, None
            return out
        return out  # pragma: no cover - the loop always returns

    def run(self) -> list[UploadOutcome]:
        self.adopt_unknown()
        todo = self.pending()
        self.progress.start(sum(p.item.size for p in todo), len(todo))
        outcomes: list[UploadOutcome] = []
        try:
            for p in todo:
                self.progress.file(p)
                outcome = self._one(p)
                self.progress.done(outcome)
                outcomes.append(outcome)
        finally:
            self.close()
            self.progress.finish()
        return outcomes


def open_destination(name: str, config: DestinationConfig) -> Destination:
    """The destination a configuration describes (SFTP connections open lazily)."""
    if config.url.startswith("sftp://"):
        from ncctl.logs.sftp_destination import SftpDestination

        return SftpDestination(name, config)
    return FileDestination(name, config)
