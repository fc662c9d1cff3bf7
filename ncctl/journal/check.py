"""`verify`: the journal against its own chain and against every anchor outside it.

* chain: each line's own hash and its ``prev`` link to the line before (an edited, removed or
  reordered line);
* state DB: the head in ``journal.sqlite`` (a deleted last line, truncation, an emptied or
  deleted file, a line appended with a recomputed chain), and the anomalies writers recorded;
* exported heads: the head of each trade date, exported with that day's archives, as read from
  the copies this host can read (the archive, ``file://`` destinations) or as the manifest
  recorded it (SFTP): lines rewritten even with a recomputed chain and a rewritten state DB.

The file is read without a lock, then its tail again together with the anchor under a shared
lock, so a concurrent append is never mistaken for tampering. Nothing is created or changed.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ncctl.journal.anchor import Anchor, AnchorState
from ncctl.journal.files import lock, open_journal, os_error
from ncctl.journal.records import GENESIS, Head, canonical, iso_ns, sha

STATE_DB = "state DB"
CHAIN = "chain"


@dataclass(frozen=True)
class ExportedHead:
    """A head exported with a trade date's archives, as read from one place."""

    trade_date: str
    where: str
    lines: int
    hash: str
    size: int
    how: str = "read"

    @property
    def anchor(self) -> str:
        return f"exported head of trade date {self.trade_date} at {self.where}"


@dataclass(frozen=True)
class Problem:
    anchor: str
    line: int | None
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {"anchor": self.anchor, "line": self.line, "problem": self.problem}


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    lines: int
    broken_line: int | None = None
    problem: str = ""
    anchor: str | None = None
    head: Head | None = None
    problems: list[Problem] = field(default_factory=list)
    anchors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _line_problem(text: bytes, expected_prev: str) -> str | None:
    try:
        record = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "the line is not JSON"
    if not isinstance(record, dict) or "hash" not in record or "prev" not in record:
        return "the line has no hash or prev"
    if record["prev"] != expected_prev:
        return "prev does not match the previous line's SHA-256 (a line removed or reordered)"
    claimed = record.pop("hash")
    if claimed != sha(canonical(record)):
        return "the line's content does not match its hash (the line was edited)"
    return None


class _Scan:
    """The chain check and the exported heads' checkpoints, one line at a time."""

    def __init__(self, exported: Sequence[ExportedHead]) -> None:
        self.lines = 0
        self.offset = 0
        self.last = GENESIS
        self.chain: Problem | None = None
        self.points: dict[int, list[ExportedHead]] = {}
        for head in exported:
            self.points.setdefault(head.lines, []).append(head)
        self.exported: dict[ExportedHead, Problem | None] = {}

    def line(self, raw: bytes) -> None:
        self.lines += 1
        self.offset += len(raw)
        text = raw[:-1]
        if self.chain is None:
            problem = _line_problem(text, self.last)
            if problem is not None:
                self.chain = Problem(CHAIN, self.lines, problem)
        self.last = sha(text)
        for head in self.points.get(self.lines, ()):
            found = None
            if head.hash != self.last or head.size != self.offset:
                found = Problem(
                    head.anchor,
                    self.lines,
                    f"line {self.lines} is not the line exported as the head of "
                    f"{head.trade_date} (lines 1..{head.lines} were rewritten)",
                )
            self.exported[head] = found

    def consume(self, fh: IO[bytes]) -> None:
        """Every complete line from where the scan stands to the end of the file."""
        fh.seek(self.offset)
        for raw in iter(fh.readline, b""):
            if not raw.endswith(b"\n"):
                return
            self.line(raw)

    def finish(self) -> None:
        for points in self.points.values():
            for head in points:
                if head not in self.exported:
                    self.exported[head] = Problem(
                        head.anchor,
                        self.lines + 1,
                        f"the journal has {self.lines} lines; {head.lines} were exported "
                        f"with {head.trade_date} (lines deleted or the file truncated)",
                    )


def _against_state(actual: Head, state: AnchorState, exists: bool) -> list[Problem]:
    problems: list[Problem] = []
    want = state.committed
    if want is not None and actual not in (want, state.pending):
        e, a = want.lines, actual.lines
        if not exists:
            text = f"the journal is missing; the state DB anchor says {e} lines"
            line = 1
        elif a < e:
            text = (
                f"the journal has {a} lines, the state DB anchor says {e}: "
                f"{e - a} line(s) deleted or the file truncated or emptied"
            )
            line = a + 1
        elif a > e:
            text = (
                f"the journal has {a} lines, the state DB anchor says {e}: line(s) "
                f"{e + 1}..{a} were not appended by ncctl"
            )
            line = e + 1
        else:
            text = f"line {a} is not the line the state DB anchor holds as the head (rewritten)"
            line = a
        problems.append(Problem(STATE_DB, line, text))
    for anomaly in state.anomalies:
        found = json.loads(anomaly["found"])
        problems.append(
            Problem(
                STATE_DB,
                None,
                f"at {iso_ns(anomaly['found_ns'])} {anomaly['note']}: found "
                f"{found.get('lines')} lines where the anchor held {anomaly['expected']}",
            )
        )
    return problems


def verify(path: Path, exported: Sequence[ExportedHead] = ()) -> VerifyResult:
    """Check the chain, the state DB anchor next to ``path``, and ``exported`` heads."""
    scan = _Scan(exported)
    warnings: list[str] = []
    partial = 0
    anchor = Anchor.open_readonly(path.parent)
    try:
        fd = open_journal(path, write=False)
        state = AnchorState(None, None)
        if fd is None:
            if anchor is not None:
                state = anchor.state()
        else:
            try:
                with os.fdopen(fd, "rb") as fh:
                    scan.consume(fh)
                    lock(fh.fileno(), path, fcntl.LOCK_SH)
                    scan.consume(fh)
                    partial = os.fstat(fh.fileno()).st_size - scan.offset
                    if anchor is not None:
                        state = anchor.state()
            except OSError as exc:
                raise os_error(path, exc, "read", writing=False) from None
    finally:
        if anchor is not None:
            anchor.close()
    scan.finish()
    actual = Head(scan.lines, scan.last, scan.offset)
    problems: list[Problem] = [scan.chain] if scan.chain else []
    anchors: list[dict[str, Any]] = [
        {"anchor": CHAIN, "ok": scan.chain is None, "detail": f"{scan.lines} lines"}
    ]
    state_problems = _against_state(actual, state, fd is not None)
    problems += state_problems
    if state.committed is None:
        detail = "no anchor yet (the first append makes it)"
    elif actual == state.pending:
        detail = (
            f"matches the pending head ({actual.lines} lines) of an append interrupted "
            "before its commit; the next append settles it"
        )
    else:
        detail = f"head at {state.committed.lines} lines, {state.committed.size} bytes"
    anchors.append(
        {
            "anchor": STATE_DB,
            "where": str(path.parent / "journal.sqlite"),
            "ok": not state_problems if state.committed is not None else None,
            "detail": detail,
        }
    )
    if partial:
        if state.committed is None and scan.chain is None:
            problems.append(Problem(CHAIN, scan.lines + 1, "the last line is incomplete"))
        else:
            warnings.append(
                f"an incomplete last line ({partial} bytes at offset {scan.offset}) left by an "
                "interrupted write; the next append sets it aside"
            )
    for head, found in scan.exported.items():
        if found is not None:
            problems.append(found)
        anchors.append(
            {
                "anchor": head.anchor,
                "where": head.where,
                "ok": found is None,
                "detail": f"{head.lines} lines ({head.how})",
            }
        )
    warnings += [
        f"{p.name}: an incomplete line set aside by an earlier append"
        for p in sorted(path.parent.glob(f"{path.name}.partial-*"))
    ]
    first = min(problems, key=lambda p: p.line if p.line is not None else 1 << 62, default=None)
    return VerifyResult(
        ok=not problems,
        lines=scan.lines,
        broken_line=first.line if first else None,
        problem=first.problem if first else "",
        anchor=first.anchor if first else None,
        head=actual,
        problems=problems,
        anchors=anchors,
        warnings=warnings,
    )
