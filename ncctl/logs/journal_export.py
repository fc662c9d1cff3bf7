"""The journal, exported with each trade date's archives: a copy the host cannot rewrite.

After a trade date is rotated, :func:`export_journal` writes into ``archive_dir/journal/``

* ``journal.<YYYYMMDD>.jsonl``: the lines appended since the previous export (the segment),
* ``journal.<YYYYMMDD>.head.json``: the head at that point (line count, hash of the last line,
  size) and the previous export's head,

each with a ``.sha256`` sidecar, and queues both in the manifest (category ``journal``, state
``compressed``) for the audit category's destinations, so that ``ncctl logs upload`` delivers
them with the day's audit trail. Once per trade date; a day without new lines exports nothing.

:func:`exported_heads` reads those heads back for ``ncctl audit verify``: from the archive and
``file://`` destinations directly; for SFTP destinations, the local copy is used when its
SHA-256 is the one the manifest recorded as verified there (the output says so).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ncctl import floor
from ncctl.crashpoints import crashpoint
from ncctl.errors import CantCreateError, TemporaryError
from ncctl.journal import ExportedHead, Head, Journal, journal_path
from ncctl.journal.files import open_journal
from ncctl.journal.records import EMPTY
from ncctl.logs.destinations import sha256_of
from ncctl.logs.manifest import Manifest, manifest_path
from ncctl.logs.rotation_result import CategoryResult
from ncctl.logs.section import DestinationConfig, LogsConfig
from ncctl.statedb import open_readonly_if_present

CATEGORY = "journal"
HEAD_SUFFIX = ".head.json"
CHUNK = 1024 * 1024


def journal_archive_dir(logs: LogsConfig) -> Path:
    return logs.archive_dir / CATEGORY


def _read_bytes(path: Path) -> bytes | None:
    """A regular file's content, never through a symbolic link; None when unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks = []
        while block := os.read(fd, CHUNK):
            chunks.append(block)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _parse_head(data: bytes | None) -> dict[str, Any] | None:
    try:
        doc = json.loads(data) if data is not None else None
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    fields = (("lines", int), ("hash", str), ("size", int))
    if not all(isinstance(doc.get(k), t) for k, t in fields):
        return None
    return doc


def _read_head(path: Path) -> dict[str, Any] | None:
    return _parse_head(_read_bytes(path))


def _previous(manifest: Manifest, trade_date: str) -> Head:
    rows = manifest.files(
        "category = ? AND trade_date < ? AND final_path LIKE ?",
        (CATEGORY, trade_date, f"%{HEAD_SUFFIX}"),
    )
    doc = _read_head(Path(rows[-1].final_path)) if rows else None
    return EMPTY if doc is None else Head(doc["lines"], doc["hash"], doc["size"])


def _copy_segment(source: Path, start: int, end: int, target: Path) -> str:
    """Bytes ``start..end`` of the journal into ``target`` (temporary name, fsync, rename)."""
    digest = hashlib.sha256()
    fd = open_journal(source, write=False)
    try:
        with floor.atomic_writer(target, what="journal segment") as out:
            pos = start
            while pos < end and fd is not None:
                block = os.pread(fd, min(CHUNK, end - pos), pos)
                if not block:
                    break
                out.write(block)
                digest.update(block)
                pos += len(block)
    except OSError as exc:
        cls = TemporaryError if exc.errno in (28, 122) else CantCreateError
        raise cls(
            f"{target}: cannot write the journal's segment: {exc.strerror}",
            hint=f"check free space and permissions of {target.parent}; the next rotation "
            "exports it",
        ) from None
    finally:
        if fd is not None:
            os.close(fd)
    return digest.hexdigest()


def _export(
    logs: LogsConfig, state_dir: Path, manifest: Manifest, trade_date: str
) -> CategoryResult | None:
    """The export of one trade date; None (and nothing written) when no line was appended
    since the previous export."""
    source = journal_path(state_dir)
    head = Journal(source).head()
    prev = _previous(manifest, trade_date)
    if head == prev:
        with manifest.transaction():
            manifest.mark_rotated(CATEGORY, trade_date, 0)
        return None
    if prev.size > head.size:  # the journal shrank: export all of it
        prev = EMPTY
    directory = journal_archive_dir(logs)
    floor.ensure_dir(directory, "journal's archive directory")
    day = trade_date.replace("-", "")
    segment = directory / f"journal.{day}.jsonl"
    head_file = directory / f"journal.{day}{HEAD_SUFFIX}"
    seg_sha = _copy_segment(source, prev.size, head.size, segment)
    doc = {
        "trade_date": trade_date,
        "journal": str(source),
        **head.as_dict(),
        "first_line": prev.lines + 1,
        "previous": prev.as_dict(),
        "segment": segment.name,
        "segment_sha256": seg_sha,
        "segment_size": head.size - prev.size,
    }
    floor.write_text_atomic(head_file, json.dumps(doc, indent=1, sort_keys=True) + "\n", mode=0o640)
    crashpoint("journal_export.before_manifest")
    audit = logs.categories().get("audit")
    destinations = list(audit.destinations) if audit else []
    files: list[dict[str, Any]] = []
    with manifest.transaction():
        for label, final in (("segment", segment), ("head", head_file)):
            size, digest = final.stat().st_size, sha256_of(final)
            floor.write_text_atomic(
                final.with_name(final.name + ".sha256"), f"{digest}  {final.name}\n", mode=0o640
            )
            row = manifest.add_file(
                CATEGORY,
                trade_date=trade_date,
                live_path=f"{source}#{label}",
                archive_path=str(final),
                final_path=str(final),
                empty=size == 0,
            )
            manifest.set_file_state(row.id, "compressed", size=size, sha256=digest)
            manifest.ensure_uploads(row.id, destinations)
            files.append(
                {"live": str(source), "archive": str(final), "size": size, "sha256": digest}
            )
        manifest.mark_rotated(CATEGORY, trade_date, 2)
    return CategoryResult(
        CATEGORY,
        trade_date,
        "rotated",
        files=files,
        message=f"exported lines {prev.lines + 1}..{head.lines} and the head for {trade_date}",
    )


def export_journal(
    logs: LogsConfig, state_dir: Path, manifest: Manifest, results: Sequence[CategoryResult]
) -> list[CategoryResult]:
    """Export the journal of ``state_dir`` for every trade date ``results`` rotated (or found
    rotated by an earlier run) and not exported yet; called under the ``logs`` lock."""
    dates = {
        r.trade_date
        for r in results
        if r.trade_date
        and r.action in ("rotated", "already")
        and not manifest.rotated(CATEGORY, r.trade_date)
    }
    done = [_export(logs, state_dir, manifest, td) for td in sorted(dates)]
    return [r for r in done if r is not None]


# -- reading the exported heads back -----------------------------------------------------


def _exported(td: str, where: str, doc: dict[str, Any], how: str = "read") -> ExportedHead:
    return ExportedHead(td, where, doc["lines"], doc["hash"], doc["size"], how)


def _rows(state_dir: Path) -> list[tuple[str, Path, str | None, list[tuple[str, str]]]]:
    """(trade date, local head file, recorded sha256, [(destination, upload state)])."""
    db = open_readonly_if_present(
        manifest_path(state_dir),
        "SELECT 1 FROM files LIMIT 1",
        "move it aside and rebuild it from the archive's .sha256 sidecars",
    )
    if db is None:
        return []
    try:
        files = db.execute(
            "SELECT id, trade_date, final_path, sha256 FROM files WHERE category = ? "
            "AND final_path LIKE ? AND state != 'pruned' ORDER BY trade_date, id",
            (CATEGORY, f"%{HEAD_SUFFIX}"),
        ).fetchall()
        out = []
        for file_id, td, final, digest in files:
            ups = db.execute(
                "SELECT destination, state FROM uploads WHERE file_id = ? ORDER BY destination",
                (file_id,),
            ).fetchall()
            out.append((str(td), Path(final), digest, [(str(d), str(s)) for d, s in ups]))
        return out
    finally:
        db.close()


def exported_heads(
    logs: LogsConfig, destinations: dict[str, DestinationConfig], state_dir: Path
) -> tuple[list[ExportedHead], list[str]]:
    """Every exported head this host can check against (in the archive of ``logs``, at
    ``destinations``, as the manifest of ``state_dir`` records them), and notes on those it
    cannot."""
    from ncctl.logs.url import parse_destination_url

    heads: list[ExportedHead] = []
    notes: list[str] = []
    rows = _rows(state_dir)
    known = {str(r[1]) for r in rows}
    directory = journal_archive_dir(logs)
    if directory.is_dir():
        for extra in sorted(directory.glob(f"journal.*{HEAD_SUFFIX}")):
            doc = _read_head(extra)
            if str(extra) not in known and doc is not None:
                rows.append((str(doc.get("trade_date", "?")), extra, None, []))
    for td, local, recorded, uploads in rows:
        data = _read_bytes(local)
        doc = _parse_head(data)
        intact = data is not None and recorded in (None, hashlib.sha256(data).hexdigest())
        if doc is None:
            notes.append(f"{local}: the exported head of {td} is missing or unreadable here")
        else:
            heads.append(_exported(td, f"the archive ({local})", doc))
            if not intact:
                notes.append(f"{local}: differs from the SHA-256 the manifest recorded")
        for dest, state in uploads:
            cfg = destinations.get(dest)
            if cfg is None:
                continue
            if cfg.url.startswith("file://"):
                remote = Path(parse_destination_url(cfg.url).path) / local.name
                copy = _read_head(remote)
                if copy is not None:
                    heads.append(_exported(td, f"destination {dest} ({remote})", copy))
                elif state == "verified":
                    notes.append(f"destination {dest}: {remote} is missing, yet was verified")
            elif state == "verified" and doc is not None and intact:
                how = "the manifest's sha256 of the copy verified there; not read over SFTP"
                heads.append(_exported(td, f"destination {dest} ({cfg.url})", doc, how))
    return heads, notes
