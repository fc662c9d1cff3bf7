"""What a journal line is: canonical JSON, its hashes, and the head of a chain."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
JOURNAL_NAME = "journal.jsonl"


def journal_path(state_dir: Path) -> Path:
    return state_dir / JOURNAL_NAME


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def iso_ns(ts_ns: int) -> str:
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    base = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{nanos:09d}Z"


@dataclass(frozen=True)
class Head:
    """Where a chain ends: how many lines, the SHA-256 of the last line's text (what the next
    line's ``prev`` holds; GENESIS for an empty journal) and the size in bytes."""

    lines: int
    hash: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"lines": self.lines, "hash": self.hash, "size": self.size}

    def after(self, line: bytes) -> Head:
        """The head once ``line`` (with its newline) is appended."""
        return Head(self.lines + 1, sha(line.rstrip(b"\n")), self.size + len(line))


EMPTY = Head(0, GENESIS, 0)
