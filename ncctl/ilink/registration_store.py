"""``STATE_DIR/party.sqlite``: every registration run, and each id's latest outcome per week."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ncctl.errors import NcctlError
from ncctl.ilink.definitions import Definition
from ncctl.ilink.section import PartyDetails

STATE_DB_NAME = "party.sqlite"


class RecordedOutcome(Protocol):
    """What the store keeps of one entry's outcome."""

    @property
    def entry(self) -> PartyDetails: ...
    @property
    def status(self) -> str: ...
    @property
    def detail(self) -> str: ...


class RecordedRun(Protocol):
    """What the store keeps of a registration run."""

    @property
    def week(self) -> dt.date: ...
    @property
    def trade_date(self) -> dt.date: ...
    @property
    def gateway(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def uuid(self) -> int | None: ...
    @property
    def secret_expires_in_days(self) -> int | None: ...
    @property
    def outcomes(self) -> Sequence[RecordedOutcome]: ...
    @property
    def ok(self) -> bool: ...
    def counts(self) -> dict[str, int]: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    week TEXT NOT NULL,
    trade_date TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    ok INTEGER NOT NULL,
    gateway TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    uuid INTEGER,
    registered INTEGER NOT NULL,
    already_registered INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    not_sent INTEGER NOT NULL,
    secret_expires_in_days INTEGER,
    error_code TEXT,
    error_message TEXT
);
CREATE TABLE IF NOT EXISTS registrations (
    week TEXT NOT NULL,
    id INTEGER NOT NULL,
    trade_date TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL,
    definition TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (week, id)
);
"""


_U64 = 1 << 64
_I64_MAX = (1 << 63) - 1


def id_to_sql(ident: int) -> int:
    """A PartyDetailsListReqID (uInt64, 0..2**64-2) as SQLite's signed 64-bit INTEGER.

    SQLite integers are signed: an id above 2**63-1 is stored as its two's-complement
    reinterpretation (``id - 2**64``, a negative number), exactly and reversibly. Ids below
    2**63, all that earlier versions could store, are unchanged, so an existing database needs
    no migration. Every id written to or read from ``registrations.id`` goes through this pair.
    """
    return ident - _U64 if ident > _I64_MAX else ident


def id_from_sql(value: int) -> int:
    """The PartyDetailsListReqID of a stored ``registrations.id`` (inverse of id_to_sql)."""
    return value + _U64 if value < 0 else value


@dataclass(frozen=True)
class WeekStatus:
    """Whether the week's registration is done for the configured entries."""

    week: dt.date
    registered: bool
    missing: list[int]
    changed: list[int]
    last_run_ok: bool | None
    last_error: str | None
    secret_expires_in_days: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "week": self.week.isoformat(),
            "registered": self.registered,
            "missing": self.missing,
            "changed": self.changed,
            "last_run_ok": self.last_run_ok,
            "last_error": self.last_error,
            "secret_expires_in_days": self.secret_expires_in_days,
        }


class RegistrationStore:
    """``STATE_DIR/party.sqlite``: every run, and each id's latest outcome per week."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / STATE_DB_NAME

    def _connect(self, read_only: bool = False) -> sqlite3.Connection:
        """The database, checked (a damaged one is a one-line error naming it, exit 65);
        ``read_only``: opened ``mode=ro``, a missing one reads as empty (nothing created)."""
        from ncctl.statedb import open_state_db

        conn = open_state_db(
            self.path,
            _SCHEMA,
            what="the party-registration database",
            rebuild_hint=f"move it aside (mv {self.path} {self.path}.damaged); the next "
            "`ncctl party register` records the week's registrations again",
            read_only=read_only,
            wal=False,
        )
        conn.isolation_level = "DEFERRED"  # `with conn:` makes one transaction of a run
        return conn

    def record(
        self,
        result: RecordedRun,
        started: dt.datetime,
        finished: dt.datetime,
        failure: NcctlError | None,
    ) -> None:
        counts = result.counts()
        week = result.week.isoformat()
        with closing(self._connect()) as conn, conn:
            cur = conn.execute(
                "INSERT INTO runs (week, trade_date, started_at, finished_at, ok, gateway, "
                "attempts, uuid, registered, already_registered, rejected, not_sent, "
                "secret_expires_in_days, error_code, error_message) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    week,
                    result.trade_date.isoformat(),
                    started.isoformat(),
                    finished.isoformat(),
                    int(failure is None and result.ok),
                    result.gateway,
                    result.attempts,
                    result.uuid,
                    counts["registered"],
                    counts["already_registered"],
                    counts["rejected"],
                    counts["not_sent"],
                    result.secret_expires_in_days,
                    failure.code if failure is not None else None,
                    failure.message if failure is not None else None,
                ),
            )
            run_id = cur.lastrowid
            for o in result.outcomes:
                if o.status == "not_sent":
                    continue
                conn.execute(
                    "INSERT INTO registrations (week, id, trade_date, status, detail, "
                    "definition, run_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (week, id) DO UPDATE SET trade_date = excluded.trade_date, "
                    "status = excluded.status, detail = excluded.detail, "
                    "definition = excluded.definition, run_id = excluded.run_id, "
                    "updated_at = excluded.updated_at",
                    (
                        week,
                        id_to_sql(o.entry.id),
                        result.trade_date.isoformat(),
                        o.status,
                        o.detail,
                        json.dumps(Definition.from_entry(o.entry).as_dict(), sort_keys=True),
                        run_id,
                        finished.isoformat(),
                    ),
                )

    def registrations(self, week: dt.date) -> list[dict[str, Any]]:
        """The week's rows: id, status, detail, definition, trade_date, updated_at."""
        with closing(self._connect(read_only=True)) as conn:
            rows = conn.execute(
                "SELECT id, status, detail, definition, trade_date, updated_at "
                "FROM registrations WHERE week = ?",
                (week.isoformat(),),
            ).fetchall()
        out = [
            {
                "id": id_from_sql(r[0]),
                "status": r[1],
                "detail": r[2],
                "definition": json.loads(r[3]),
                "trade_date": r[4],
                "updated_at": r[5],
            }
            for r in rows
        ]
        return sorted(out, key=lambda row: int(row["id"]))

    def _latest_run(self, columns: str, where: str, *args: object) -> tuple[Any, ...] | None:
        """``columns`` of the latest run matching ``where`` (fixed SQL fragments of this
        class, never input), read-only."""
        with closing(self._connect(read_only=True)) as conn:
            row: tuple[Any, ...] | None = conn.execute(
                f"SELECT {columns} FROM runs WHERE {where} ORDER BY run_id DESC LIMIT 1",  # noqa: S608
                args,
            ).fetchone()
        return row

    def latest_run(self) -> tuple[bool, str | None, int | None] | None:
        """(ok, finished_at, secret_expires_in_days) of the latest run, or None; opened
        read-only (a missing database reads as empty and is not created)."""
        row = self._latest_run("ok, finished_at, secret_expires_in_days", "1")
        return None if row is None else (bool(row[0]), row[1], row[2])

    def last_known_expiry(self) -> tuple[int, str] | None:
        """(secret_expires_in_days, finished_at) of the latest run that learnt the expiry,
        or None; opened read-only, nothing created."""
        row = self._latest_run(
            "secret_expires_in_days, finished_at", "secret_expires_in_days IS NOT NULL"
        )
        if row is None or row[1] is None:
            return None
        return int(row[0]), str(row[1])

    def week_status(self, week: dt.date, entries: Sequence[PartyDetails]) -> WeekStatus:
        rows = {r["id"]: r for r in self.registrations(week)}
        missing: list[int] = []
        changed: list[int] = []
        for entry in entries:
            row = rows.get(entry.id)
            if row is None or row["status"] not in ("registered", "already_registered"):
                missing.append(entry.id)
            elif row["definition"] != json.loads(
                json.dumps(Definition.from_entry(entry).as_dict(), sort_keys=True)
            ):
                changed.append(entry.id)
        last_ok: bool | None = None
        last_error: str | None = None
        expiry: int | None = None
        last = self._latest_run(
            "ok, error_message, secret_expires_in_days", "week = ?", week.isoformat()
        )
        if last is not None:
            last_ok, last_error, expiry = bool(last[0]), last[1], last[2]
        return WeekStatus(
            week=week,
            registered=bool(entries) and not missing and not changed,
            missing=missing,
            changed=changed,
            last_run_ok=last_ok,
            last_error=last_error,
            secret_expires_in_days=expiry,
        )
