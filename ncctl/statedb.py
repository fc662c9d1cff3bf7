"""The SQLite databases of the state directory: opened the same way, failing the same way."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ncctl.errors import CantCreateError, DataError


def open_state_db(path: Path, schema: str, *, what: str, rebuild_hint: str) -> sqlite3.Connection:
    """Open (creating if needed) the database at ``path`` in autocommit mode, WAL journal,
    full fsync, with ``schema`` applied. A file that is not a usable database is a DataError
    (exit 65) with ``rebuild_hint``; one that cannot be opened at all is a CantCreateError."""
    cant_open = CantCreateError(
        f"{path}: cannot open {what}",
        hint="check state_dir in the configuration and its permissions",
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        cant_open.message += f": {exc}"
        raise cant_open from None
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(schema)
    except sqlite3.OperationalError as exc:
        db.close()
        if "unable to open" in str(exc) or "readonly" in str(exc):
            cant_open.message += f": {exc}"
            raise cant_open from None
        raise DataError(
            f"{path}: {what} is not a usable SQLite database: {exc}", hint=rebuild_hint
        ) from None
    except sqlite3.DatabaseError as exc:
        db.close()
        raise DataError(
            f"{path}: {what} is not a usable SQLite database: {exc}", hint=rebuild_hint
        ) from None
    return db
