"""The journal: an append-only, hash-chained record of every state-changing action.

One JSON line per action: UTC timestamp in nanoseconds, user, host, command, arguments,
outcome and reason. Each line holds ``prev``, the SHA-256 of the previous line's text, and
``hash``, the SHA-256 of its own content (every field but ``hash``, canonically serialised), so
that editing any line, the last one included, or removing or reordering lines is found by
:func:`verify`.

Writers take an exclusive ``flock`` on the journal for the read-last-line/append step, and
write each line with a single ``write`` on an ``O_APPEND`` descriptor followed by ``fsync``:
concurrent ncctl processes never interleave or lose lines.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import getpass
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ncctl.errors import CantCreateError, DataError

GENESIS = "0" * 64
JOURNAL_NAME = "journal.jsonl"


def journal_path(state_dir: Path) -> Path:
    return state_dir / JOURNAL_NAME


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


@dataclass(frozen=True)
class Entry:
    """One journal line, parsed."""

    number: int
    record: dict[str, Any]
    text: str

    @property
    def ts_ns(self) -> int:
        value = self.record.get("ts_ns", 0)
        return value if isinstance(value, int) else 0


class Journal:
    """The journal file of one state directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _open_append(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as exc:
            raise CantCreateError(
                f"{self.path}: cannot open the journal: {exc.strerror}",
                hint="check that the state directory is writable (state_dir in the config)",
            ) from None

    @staticmethod
    def _last_line(fd: int) -> bytes | None:
        size = os.lseek(fd, 0, os.SEEK_END)
        if size == 0:
            return None
        block = 4096
        pos = size
        tail = b""
        while pos > 0:
            step = min(block, pos)
            pos -= step
            tail = os.pread(fd, step, pos) + tail
            stripped = tail.rstrip(b"\n")
            if b"\n" in stripped:
                return stripped.rsplit(b"\n", 1)[1]
        stripped = tail.rstrip(b"\n")
        return stripped or None

    def append(
        self,
        command: str,
        args: Sequence[str] | dict[str, Any],
        outcome: str,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        now_ns: int | None = None,
    ) -> dict[str, Any]:
        """Append one action; return the record written."""
        fd = self._open_append()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            last = self._last_line(fd)
            ts_ns = time.time_ns() if now_ns is None else now_ns
            record: dict[str, Any] = {
                "ts_ns": ts_ns,
                "user": _user(),
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "command": command,
                "args": list(args) if not isinstance(args, dict) else args,
                "outcome": outcome,
                "reason": reason,
                "details": details or {},
                "prev": GENESIS if last is None else _sha(last),
            }
            record["time"] = _iso_ns(record["ts_ns"])
            record["hash"] = _sha(_canonical(record))
            line = _canonical(record) + b"\n"
            written = os.write(fd, line)
            if written != len(line):
                raise CantCreateError(
                    f"{self.path}: short write to the journal ({written} of {len(line)} bytes)",
                    hint="check free space on the state directory's file system",
                )
            os.fsync(fd)
            return record
        finally:
            os.close(fd)  # closing releases the lock

    def entries(self) -> Iterator[Entry]:
        """Every line of the journal, parsed; a line that is not JSON is a DataError."""
        try:
            fh = self.path.open("rb")
        except FileNotFoundError:
            return
        with fh:
            for number, raw in enumerate(fh, start=1):
                text = raw.rstrip(b"\n").decode("utf-8", errors="replace")
                try:
                    record = json.loads(text)
                except json.JSONDecodeError:
                    raise DataError(
                        f"{self.path}:{number}: journal line is not JSON",
                        hint="the journal was edited by hand; run `ncctl audit verify`",
                    ) from None
                if not isinstance(record, dict):
                    raise DataError(
                        f"{self.path}:{number}: journal line is not a JSON object",
                        hint="the journal was edited by hand; run `ncctl audit verify`",
                    )
                yield Entry(number, record, text)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    lines: int
    broken_line: int | None = None
    problem: str = ""


def verify(path: Path) -> VerifyResult:
    """Check every line's own hash and its link to the previous line."""
    prev_text: bytes | None = None
    count = 0
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return VerifyResult(True, 0)
    with fh:
        for number, raw in enumerate(fh, start=1):
            count = number
            if not raw.endswith(b"\n"):
                return VerifyResult(False, count, number, "the last line is incomplete")
            text = raw[:-1]
            try:
                record = json.loads(text)
            except (json.JSONDecodeError, UnicodeDecodeError):
                return VerifyResult(False, count, number, "the line is not JSON")
            if not isinstance(record, dict) or "hash" not in record or "prev" not in record:
                return VerifyResult(False, count, number, "the line has no hash or prev")
            expected_prev = GENESIS if prev_text is None else _sha(prev_text)
            if record["prev"] != expected_prev:
                return VerifyResult(
                    False, count, number, "prev does not match the previous line's SHA-256"
                )
            claimed = record.pop("hash")
            if claimed != _sha(_canonical(record)):
                return VerifyResult(
                    False, count, number, "the line's content does not match its hash"
                )
            prev_text = text
    return VerifyResult(True, count)


def _iso_ns(ts_ns: int) -> str:
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    base = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{nanos:09d}Z"
