"""Shared pieces of the journal tests (no tests here): journals built line by line, forged
lines, a tmpfs mount, snapshots of a state directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ncctl.journal import Journal
from ncctl.journal.anchor import Anchor
from ncctl.journal.records import GENESIS, Head, canonical, sha
from tests.logs.helpers import run

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mount, mknod)")


def journal_with(state_dir: Path, lines: int) -> Journal:
    journal = Journal(state_dir / "journal.jsonl")
    for i in range(lines):
        journal.append("feed start", [f"i={i}"], "ok")
    return journal


def rechain(texts: list[bytes]) -> list[bytes]:
    """The lines with ``prev``, ``seq`` and ``hash`` recomputed: what a forger does."""
    out: list[bytes] = []
    prev = GENESIS
    for n, text in enumerate(texts, start=1):
        record: dict[str, Any] = json.loads(text)
        record.pop("hash", None)
        record["prev"], record["seq"] = prev, n
        record["hash"] = sha(canonical(record))
        line = canonical(record)
        out.append(line)
        prev = sha(line)
    return out


def write_lines(path: Path, texts: list[bytes]) -> None:
    path.write_bytes(b"".join(t + b"\n" for t in texts))


def reanchor(state_dir: Path) -> None:
    """Rewrite journal.sqlite to agree with the file as it is (an intruder with root)."""
    data = (state_dir / "journal.jsonl").read_bytes()
    texts = data.splitlines()
    anchor = Anchor.open(state_dir)
    try:
        anchor.commit(Head(len(texts), sha(texts[-1]) if texts else GENESIS, len(data)))
    finally:
        anchor.close()


def rewrite_with_recomputed_anchors(state_dir: Path, index: int, old: bytes, new: bytes) -> None:
    """Edit line ``index`` (0-based), recompute the chain and the state DB's head: only an
    exported head can tell."""
    path = state_dir / "journal.jsonl"
    texts = path.read_bytes().splitlines()
    texts[index] = texts[index].replace(old, new)
    write_lines(path, rechain(texts))
    reanchor(state_dir)


def anchors_that_caught(config: Path) -> set[str]:
    """Run `ncctl audit verify`; it must fail; the anchors its problems name."""
    code, doc, _ = run(config, "audit", "verify")
    assert code == 1, doc
    return {p["anchor"] for p in doc["data"]["problems"]}


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``root`` (mode and content), SQLite's -wal/-shm aside."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): (p.lstat().st_mode, p.read_bytes() if p.is_file() else b"")
        for p in sorted(root.rglob("*"))
        if not p.name.endswith(("-wal", "-shm")) and not p.is_fifo()
    }


@contextmanager
def tmpfs(mountpoint: Path, size: str) -> Iterator[Path]:
    mountpoint.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mountpoint)],
        check=True,
        capture_output=True,
    )
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False, capture_output=True)


def fill(directory: Path) -> Path:
    """A file that takes every free byte of ``directory``'s file system."""
    filler = directory / "filler"
    block = b"\0" * (64 * 1024)
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(1 << 20):  # bounded: far more than any test file system holds
            try:
                if os.write(fd, block) < len(block):
                    break
            except OSError:
                break
        for _ in range(64 * 1024):
            try:
                if os.write(fd, b"\0") < 1:
                    break
            except OSError:
                break
    finally:
        os.close(fd)
    return filler


APPEND_CHILD = """
import sys
from pathlib import Path
from ncctl.errors import NcctlError
from ncctl.journal import Journal
try:
    pad = {"pad": "x" * int(sys.argv[2])}
    Journal(Path(sys.argv[1])).append("feed stop", [], "ok", details=pad)
except NcctlError as exc:
    print(exc.code, exc.message, file=sys.stderr)
    sys.exit(exc.exit_code)
"""


def append_in_child(
    path: Path, pad: int, env: dict[str, str] | None = None, preexec: Any = None
) -> subprocess.CompletedProcess[str]:
    """One append by a real child process; exit code as the CLI maps the error."""
    return subprocess.run(
        [sys.executable, "-c", APPEND_CHILD, str(path), str(pad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
        preexec_fn=preexec,
    )
