"""Appending to the journal, all or nothing, and reading it back.

An append, under an exclusive ``flock`` on the journal:

1. takes the head (line count, last hash, size) from the anchor when the file's size matches
   it (committed, or pending from an append that died before committing), so that its cost
   does not depend on the journal's size; otherwise sets aside an incomplete last line left by
   a crash and re-derives the head by reading backward, recording the mismatch as an anomaly
   when it is not a crash's doing;
2. records the pending head in the anchor, writes the line with ``O_APPEND`` and fsyncs it;
   a short or failed write (full disk, quota, file-size limit) is cut back to the previous
   size, so nothing is ever glued onto half a line;
3. commits the head.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import getpass
import json
import os
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ncctl.crashpoints import crashpoint
from ncctl.errors import DataError, NcctlError
from ncctl.journal.files import (
    derive_head,
    lock,
    lstat_journal,
    open_journal,
    os_error,
    set_aside_partial,
)
from ncctl.journal.records import EMPTY, Head, canonical, iso_ns, sha
from ncctl.journal.runclock import clock_field

if TYPE_CHECKING:
    from ncctl.journal.anchor import Anchor, AnchorState


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def missing_error(path: Path, lines: int) -> DataError:
    return DataError(
        f"{path}: the journal is missing, but its anchor ({path.parent / 'journal.sqlite'}) "
        f"says it has {lines} lines",
        hint="restore it (the archive's journal/ directory and the destinations hold its "
        "exported segments) and run `ncctl audit verify`; to start a new journal on purpose, "
        "move journal.sqlite aside as well (keep both as evidence)",
        code="journal.missing",
    )


def _by_size(state: AnchorState, size: int) -> Head | None:
    if state.pending is not None and state.pending.size == size:
        return state.pending
    if state.committed is not None and state.committed.size == size:
        return state.committed
    if state.committed is None and size == 0:
        return EMPTY
    return None


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
    """The journal file of one state directory (its anchor lives next to it)."""

    def __init__(self, path: Path) -> None:
        """``path`` is checked at once: a journal that is a link, a directory, a FIFO or a
        device is refused here, before the action it would record is taken."""
        self.path = path
        self.state_dir = path.parent
        lstat_journal(path)

    # -- writing --------------------------------------------------------------------------

    def _settle(self, fd: int, anchor: Anchor) -> tuple[Head, dict[str, object] | None]:
        """The head to append after, the anchor brought in line with the file."""
        state = anchor.state()
        size = os.fstat(fd).st_size
        recovered = None
        head = _by_size(state, size)
        if head is None:
            recovered = set_aside_partial(fd, self.path, size)
            if recovered is not None:
                size = int(str(recovered["offset"]))
                head = _by_size(state, size)
        if head is None:
            head = derive_head(fd, size)
            if state.committed is not None:
                anchor.record_anomaly(
                    state,
                    head,
                    "an append found the journal different from its anchor (lines deleted, "
                    "the file truncated or emptied, or lines appended without ncctl)",
                )
        if head != state.committed or state.pending is not None:
            anchor.commit(head)
        return head, recovered

    def _write(self, fd: int, line: bytes, start: int) -> None:
        view = memoryview(line)
        done = 0
        try:
            while done < len(line):
                written = os.write(fd, view[done:])
                if written <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                done += written
                crashpoint("journal.mid_write")
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
                os.fsync(fd)
            err = os_error(self.path, exc, "append to", writing=True)
            err.message += f"; the journal was cut back to its previous {start} bytes"
            raise err from None

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
        """Append one action; return the record written. A failure says which action's
        record is missing (the action itself was done or refused already)."""
        try:
            return self._append(
                command, args, outcome, reason=reason, details=details, now_ns=now_ns
            )
        except NcctlError as exc:
            exc.message += f"; `{command}` (outcome {outcome}) is not in the journal"
            raise

    def _append(
        self,
        command: str,
        args: Sequence[str] | dict[str, Any],
        outcome: str,
        *,
        reason: str | None,
        details: dict[str, Any] | None,
        now_ns: int | None,
    ) -> dict[str, Any]:
        from ncctl.journal.anchor import Anchor
        from ncctl.journal.client import client_field

        clock = clock_field()  # read before the lock: a shared clock is a file to read
        if reason is None and clock.get("override"):
            reason = str(clock["override"])
        anchor = Anchor.open(self.state_dir)
        try:
            committed = anchor.state().committed
            if lstat_journal(self.path) is None and committed is not None and committed.lines:
                raise missing_error(self.path, committed.lines)
            fd = open_journal(self.path, write=True)
            assert fd is not None
            try:
                lock(fd, self.path, fcntl.LOCK_EX)
                head, recovered = self._settle(fd, anchor)
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
                    "seq": head.lines + 1,
                    "prev": head.hash,
                    "time": iso_ns(ts_ns),
                    "clock": clock,
                    "client": client_field(),
                }
                if recovered is not None:
                    record["recovered"] = recovered
                record["hash"] = sha(canonical(record))
                line = canonical(record) + b"\n"
                new = head.after(line)
                anchor.set_pending(head, new)
                crashpoint("journal.after_pending")
                try:
                    self._write(fd, line, head.size)
                except NcctlError:
                    with contextlib.suppress(NcctlError):
                        anchor.commit(head)
                    raise
                crashpoint("journal.after_write")
                # the line is durable and matches the pending head: a commit that fails (a
                # full disk) is settled by the next append or verify, like a crash here
                with contextlib.suppress(NcctlError):
                    anchor.commit(new)
                return record
            finally:
                os.close(fd)  # closing releases the lock
        finally:
            anchor.close()

    def head(self) -> Head:
        """The head, settled (an interrupted append finished or set aside) under the lock."""
        from ncctl.journal.anchor import Anchor

        anchor = Anchor.open(self.state_dir)
        try:
            committed = anchor.state().committed
            if lstat_journal(self.path) is None:
                if committed is not None and committed.lines:
                    raise missing_error(self.path, committed.lines)
                return EMPTY
            fd = open_journal(self.path, write=True)
            assert fd is not None
            try:
                lock(fd, self.path, fcntl.LOCK_EX)
                return self._settle(fd, anchor)[0]
            finally:
                os.close(fd)
        finally:
            anchor.close()

    # -- reading --------------------------------------------------------------------------

    def entries(self) -> Iterator[Entry]:
        """Every complete line of the journal, parsed; a line that is not JSON is a DataError.
        An incomplete last line (an interrupted write) is not an entry."""
        fd = open_journal(self.path, write=False)
        if fd is None:
            from ncctl.journal.anchor import Anchor

            anchor = Anchor.open_readonly(self.state_dir)
            if anchor is not None:
                try:
                    committed = anchor.state().committed
                finally:
                    anchor.close()
                if committed is not None and committed.lines:
                    raise missing_error(self.path, committed.lines)
            return
        with os.fdopen(fd, "rb") as fh:
            yield from self._parse(fh)

    def _parse(self, fh: IO[bytes]) -> Iterator[Entry]:
        try:
            lines = list(enumerate(iter(fh.readline, b""), start=1))
        except OSError as exc:
            raise os_error(self.path, exc, "read", writing=False) from None
        for number, raw in lines:
            if not raw.endswith(b"\n"):
                return
            text = raw[:-1].decode("utf-8", errors="replace")
            try:
                record = json.loads(text)
            except json.JSONDecodeError:
                record = None
            if not isinstance(record, dict):
                raise DataError(
                    f"{self.path}:{number}: journal line is not a JSON object",
                    hint="the journal was edited by hand; run `ncctl audit verify`",
                )
            yield Entry(number, record, text)
