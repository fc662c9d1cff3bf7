"""Damaged state files fail loud and clear: one line naming the file, the right exit code, a
hint, and every file left as it was. Never exit 70, never a hang, never a silent fresh start.

The databases (upload manifest, job records, party registrations), the shared clock file and
the configuration file are each replaced by an empty file, garbage, a directory, a FIFO, a
dangling symbolic link, an unreadable file (as root without CAP_DAC_OVERRIDE) or a file too
large, and real ncctl processes are run against them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ncctl.clock import CLOCK_FILE_LIMIT
from ncctl.errors import EXIT_CONFIG, EXIT_DATAERR, EXIT_NOPERM, DataError
from ncctl.ilink.registration_store import RegistrationStore
from ncctl.jobs.records import JobStore, job_store_path
from ncctl.logs.manifest import Manifest, manifest_path
from ncctl.validation import TOML_LIMIT
from tests.helpers import run_process
from tests.logs.helpers import NO_DAC_OVERRIDE, write_config

AT = "2026-11-25T16:05"
SATURDAY = "2026-11-28T10:00"
VALID_CLOCK = (
    '{"sim": "2026-11-25T16:05:00-06:00", "wall": 1764108300.0, "speed": 1.0, "paused": true}'
)

needs_root_and_setpriv = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="an unreadable file needs root without CAP_DAC_OVERRIDE (setpriv)",
)


def ncctl(
    root: Path, config: Path, *args: str, wrapper: tuple[str, ...] = (), clock: bool = True
) -> tuple[int, str, str]:
    """Run ncctl as a real process (bounded in time), no ``NCCTL_*`` variable, its cache under
    ``root``: (exit code, stdout, stderr)."""
    pinned = ["--clock", AT] if clock else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("NCCTL_")}
    env["XDG_CACHE_HOME"] = str(root / "cache")
    done = run_process("--config", config, *pinned, *args, cwd=root, base_env=env, wrapper=wrapper)
    return done.code, done.out, done.err


def assert_one_line_error(code: int, err: str, want_code: int, names: Path | str) -> None:
    """Exit ``want_code``; stderr is ``ncctl: error: …`` naming ``names`` on one line, then
    one hint line."""
    assert code == want_code, (code, err)
    lines = err.rstrip("\n").split("\n")
    assert len(lines) == 2, err
    assert lines[0].startswith("ncctl: error: "), err
    assert str(names) in lines[0], err
    assert lines[1].startswith("hint: ") and len(lines[1]) > len("hint: "), err


def digest(*roots: Path, locks: bool = True) -> dict[str, tuple[str, int, int, bytes]]:
    """Every entry under ``roots`` but SQLite's -wal/-shm (and the lock files of commands
    that change state unless ``locks``): (kind, mode, size, content)."""
    out: dict[str, tuple[str, int, int, bytes]] = {}
    for root in roots:
        if not root.exists():
            continue
        for path in sorted(root.rglob("*")):
            if path.name.endswith(("-wal", "-shm")):
                continue
            if not locks and "locks" in path.relative_to(root).parts:
                continue
            st = path.lstat()
            if path.is_symlink():
                entry = ("link", st.st_mode, 0, os.readlink(path).encode())
            elif path.is_dir():
                entry = ("dir", st.st_mode, 0, b"")
            elif path.is_file():
                entry = ("file", st.st_mode, st.st_size, path.read_bytes())
            else:
                entry = ("other", st.st_mode, 0, b"")
            out[str(path)] = entry
    return out


# -- the damage ----------------------------------------------------------------------------


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not what ncctl wrote\x00\xff" * 64)


def _directory(path: Path) -> None:
    path.mkdir()


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dangling(path: Path) -> None:
    path.symlink_to(path.parent / "nowhere")


Damage = Callable[[Path], None]

WRONG_TYPES: dict[str, tuple[Damage, str]] = {
    "empty": (_empty, "empty"),
    "garbage": (_garbage, ""),
    "directory": (_directory, "directory"),
    "FIFO": (_fifo, "FIFO"),
    "dangling symlink": (_dangling, "symbolic link"),
}


@pytest.fixture
def env(tmp_path: Path) -> tuple[Path, Path]:
    """(root, config): one audit category, local destinations, state under root/state."""
    root = tmp_path / "site"
    root.mkdir()
    config = write_config(root)
    (root / "state").mkdir()
    return root, config


def _damage(path: Path, how: Damage) -> None:
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    how(path)


# -- databases -----------------------------------------------------------------------------

DB_COMMANDS = {
    "manifest": (("logs", "status"), ("logs", "upload"), ("logs", "rotate", "--dry-run")),
    "runner": (("maintenance", "run"),),
}


def _db_path(root: Path, db: str) -> Path:
    state = root / "state"
    return manifest_path(state) if db == "manifest" else job_store_path(state)


@pytest.mark.slow
@pytest.mark.parametrize("damage", list(WRONG_TYPES))
@pytest.mark.parametrize("db", list(DB_COMMANDS))
def test_a_damaged_database_is_a_one_line_error_naming_it(
    env: tuple[Path, Path], db: str, damage: str
) -> None:
    root, config = env
    path = _db_path(root, db)
    how, word = WRONG_TYPES[damage]
    _damage(path, how)
    before = digest(root / "state", root / "archive", locks=False)
    for command in DB_COMMANDS[db]:
        # (maintenance run shares a --clock with what it starts: run it on the real clock)
        code, _, err = ncctl(root, config, *command, clock=db != "runner")
        assert_one_line_error(code, err, EXIT_DATAERR, path)
        assert word in err.split("\n")[0], err
        assert "mv " in err.split("\n")[1], err  # the hint says how to move it aside
        assert digest(root / "state", root / "archive", locks=False) == before, command


def _valid_with_bad_text(path: Path, db: str) -> None:
    """A database ncctl made, then a TEXT column holding bytes that are not UTF-8."""
    if db == "manifest":
        Manifest(path).close()
        sql = (
            "INSERT INTO files (category, trade_date, live_path, archive_path, final_path, "
            "state, created_ns, updated_ns) VALUES ('audit', '2026-11-20', "
            "CAST(x'ff80' AS TEXT), 'a', 'b', 'compressed', 0, 0)"
        )
    else:  # the records a pass made (see the test), each state no longer UTF-8
        sql = "UPDATE job_runs SET state = CAST(x'ff' AS TEXT)"
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(sql)
    conn.close()


def _valid_with_bad_pages(path: Path, db: str) -> None:
    """A database ncctl made whose pages after the header are overwritten."""
    (Manifest(path) if db == "manifest" else JobStore(path)).close()
    with path.open("r+b") as fh:
        fh.seek(100)
        fh.write(b"\xa5" * 3000)


@pytest.mark.slow
@pytest.mark.parametrize("db", list(DB_COMMANDS))
@pytest.mark.parametrize("make", [_valid_with_bad_text, _valid_with_bad_pages])
def test_bad_content_in_a_database_is_exit_65_naming_it(
    env: tuple[Path, Path], db: str, make: Callable[[Path, str], None]
) -> None:
    root, config = env
    path = _db_path(root, db)
    if db == "runner" and make is _valid_with_bad_text:
        # a Saturday: the week's rotation and upload are due, no component should run
        code, _, err = ncctl(root, config, "--clock", SATURDAY, "maintenance", "run", clock=False)
        assert code == 0, err
        assert len(JobStore(path, read_only=True).runs()) > 0
    make(path, db)
    code, _, err = ncctl(root, config, "--clock", SATURDAY, *DB_COMMANDS[db][0], clock=False)
    assert_one_line_error(code, err, EXIT_DATAERR, path)


@pytest.mark.slow
@needs_root_and_setpriv
@pytest.mark.parametrize("db", list(DB_COMMANDS))
def test_an_unreadable_database_is_exit_77(env: tuple[Path, Path], db: str) -> None:
    root, config = env
    path = _db_path(root, db)
    (Manifest(path) if db == "manifest" else JobStore(path)).close()
    path.chmod(0)
    code, _, err = ncctl(root, config, *DB_COMMANDS[db][0], wrapper=NO_DAC_OVERRIDE)
    assert_one_line_error(code, err, EXIT_NOPERM, path)


@pytest.mark.slow
def test_a_missing_manifest_while_archives_have_sidecars_is_not_a_fresh_start(
    env: tuple[Path, Path],
) -> None:
    root, config = env
    code, _, err = ncctl(root, config, "logs", "rotate")
    assert code == 0, err
    path = manifest_path(root / "state")
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    before = digest(root / "state", root / "archive", locks=False)
    for command in (("logs", "status"), ("logs", "rotate"), ("logs", "upload"), ("logs", "prune")):
        code, _, err = ncctl(root, config, *command)
        assert_one_line_error(code, err, EXIT_DATAERR, path)
        assert "missing" in err and ".sha256" in err, err
        assert digest(root / "state", root / "archive", locks=False) == before, command
    # the hint's way out: a new manifest that adopts the archives, which are then uploaded
    code, out, err = ncctl(root, config, "logs", "upload", "--rebuild", "--json")
    assert code == 0, (out, err)
    data = json.loads(out)["data"]
    assert [Path(a["file"]).name for a in data["adopted"]] == ["audit.20261125.csv.gz"]
    assert (data["verified"], data["failed"], data["not_adopted"]) == (2, 0, [])
    for dest in ("fcm", "client"):
        assert sorted(p.name for p in (root / "outbox" / dest).iterdir()) == [
            "audit.20261125.csv.gz"
        ]


@pytest.mark.slow
def test_missing_job_records_while_the_journal_has_runs_are_not_a_fresh_start(
    env: tuple[Path, Path],
) -> None:
    root, config = env
    saturday = ("--clock", SATURDAY)
    code, _, err = ncctl(root, config, *saturday, "maintenance", "run", clock=False)
    assert code == 0, err
    path = job_store_path(root / "state")
    done = len(JobStore(path, read_only=True).runs())
    assert done > 0
    path.rename(path.with_name("runner.sqlite.damaged"))
    before = digest(root / "state", locks=False)
    code, _, err = ncctl(root, config, *saturday, "maintenance", "run", clock=False)
    assert_one_line_error(code, err, EXIT_DATAERR, path)
    assert "missing" in err and "journal" in err and "--rebuild" in err, err
    assert digest(root / "state", locks=False) == before
    code, _, err = ncctl(root, config, *saturday, "maintenance", "run", "--rebuild", clock=False)
    assert code == 0, err
    assert len(JobStore(path, read_only=True).runs()) == done


@pytest.mark.parametrize("damage", list(WRONG_TYPES))
@pytest.mark.parametrize("read", ["registrations", "week_status"])
def test_a_damaged_party_database_is_exit_65_naming_it(
    tmp_path: Path, damage: str, read: str
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    db = RegistrationStore(state)
    WRONG_TYPES[damage][0](db.path)
    week = dt.date(2026, 11, 22)
    with pytest.raises(DataError) as info:
        if read == "registrations":
            db.registrations(week)
        else:
            db.week_status(week, [])
    assert info.value.exit_code == EXIT_DATAERR
    assert str(db.path) in info.value.message and "\n" not in info.value.message
    assert f"mv {db.path}" in info.value.hint


def test_a_party_database_with_bad_text_is_exit_65(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    db = RegistrationStore(state)
    db._connect().close()
    conn = sqlite3.connect(db.path)
    with conn:
        conn.execute(
            "INSERT INTO runs (week, trade_date, started_at, finished_at, ok, gateway, attempts, "
            "registered, already_registered, rejected, not_sent) "
            "VALUES ('2026-11-22', '2026-11-23', 'x', CAST(x'ff' AS TEXT), 1, 'g', 1, 0, 0, 0, 0)"
        )
        conn.execute(
            "INSERT INTO registrations (week, id, trade_date, status, detail, definition, "
            "run_id, updated_at) VALUES ('2026-11-22', 1, '2026-11-23', CAST(x'ff' AS TEXT), "
            "'', '{}', 1, '')"
        )
    conn.close()
    with pytest.raises(DataError) as info:
        db.registrations(dt.date(2026, 11, 22))
    assert str(db.path) in info.value.message


@pytest.mark.slow
def test_a_first_run_on_an_empty_state_directory_is_not_an_error(env: tuple[Path, Path]) -> None:
    root, config = env
    for command in (("logs", "rotate"), ("logs", "upload"), ("logs", "status")):
        code, _, err = ncctl(root, config, *command)
        assert code == 0, (command, err)
    assert manifest_path(root / "state").stat().st_mode & 0o077 == 0  # not readable by others


# -- the shared clock file -----------------------------------------------------------------

FAR_FUTURE = (
    VALID_CLOCK.replace("2026-11-25T16:05:00-06:00", "9999-12-31T23:59:59+00:00")
    .replace('"paused": true', '"paused": false')
    .replace('"speed": 1.0', '"speed": 1000000')
)
CLOCK_VARIANTS: dict[str, str] = {
    "not JSON": "sim=now",
    "truncated JSON": '{"sim": "2026-11-25T16:05:00-06:00", "wall": 17',
    "a list": "[1, 2]",
    "a string": '"2026-11-25T16:05:00-06:00"',
    "null": "null",
    "a number": "42",
    "empty object": "{}",
    "no sim": '{"wall": 1764108300.0, "speed": 1.0, "paused": true}',
    "no wall": '{"sim": "2026-11-25T16:05:00-06:00", "speed": 1.0, "paused": true}',
    "no speed": '{"sim": "2026-11-25T16:05:00-06:00", "wall": 1764108300.0, "paused": true}',
    "no paused": '{"sim": "2026-11-25T16:05:00-06:00", "wall": 1764108300.0, "speed": 1.0}',
    "sim a number": VALID_CLOCK.replace('"2026-11-25T16:05:00-06:00"', "20261125"),
    "sim not a time": VALID_CLOCK.replace("2026-11-25T16:05:00-06:00", "next tuesday"),
    "sim 25:00": VALID_CLOCK.replace("16:05:00", "25:00:00"),
    "sim without offset": VALID_CLOCK.replace("-06:00", ""),
    "wall a string": VALID_CLOCK.replace("1764108300.0", '"1764108300"'),
    "wall true": VALID_CLOCK.replace("1764108300.0", "true"),
    "wall negative": VALID_CLOCK.replace("1764108300.0", "-5"),
    "wall huge": VALID_CLOCK.replace("1764108300.0", "1e300"),
    "wall infinite": VALID_CLOCK.replace("1764108300.0", "1e999"),
    "speed a string": VALID_CLOCK.replace('"speed": 1.0', '"speed": "fast"'),
    "speed zero": VALID_CLOCK.replace('"speed": 1.0', '"speed": 0'),
    "speed negative": VALID_CLOCK.replace('"speed": 1.0', '"speed": -2.5'),
    "speed NaN": VALID_CLOCK.replace('"speed": 1.0', '"speed": NaN'),
    "speed Infinity": VALID_CLOCK.replace('"speed": 1.0', '"speed": Infinity'),
    "speed huge": VALID_CLOCK.replace('"speed": 1.0', '"speed": 1e300'),
    "paused a string": VALID_CLOCK.replace('"paused": true', '"paused": "yes"'),
    "paused a number": VALID_CLOCK.replace('"paused": true', '"paused": 1'),
    "not UTF-8": VALID_CLOCK.replace("2026", "\udcff026"),
    "nested deeply": "[" * 100_000 + "]" * 100_000,
    "out of the calendar": FAR_FUTURE,
}


def _clock_env(root: Path) -> tuple[Path, Path]:
    """A configuration whose [clock] file is state/run/clock.json; (config, clock file)."""
    clock = root / "state" / "run" / "clock.json"
    clock.parent.mkdir(parents=True, exist_ok=True)
    config = write_config(root, extra=f'[clock]\nfile = "{clock}"\n')
    return config, clock


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(CLOCK_VARIANTS))
def test_a_malformed_clock_file_is_exit_65_naming_it(env: tuple[Path, Path], variant: str) -> None:
    root, _ = env
    config, clock = _clock_env(root)
    clock.write_bytes(CLOCK_VARIANTS[variant].encode("utf-8", errors="surrogateescape"))
    before = digest(root / "state")
    code, _, err = ncctl(root, config, "schedule", "now", clock=False)
    assert_one_line_error(code, err, EXIT_DATAERR, clock)
    assert digest(root / "state") == before


def test_a_valid_clock_file_is_read(env: tuple[Path, Path]) -> None:
    root, _ = env
    config, clock = _clock_env(root)
    clock.write_text(VALID_CLOCK)
    code, out, err = ncctl(root, config, "schedule", "now", "--json", clock=False)
    assert code == 0, err
    assert '"2026-11-25T16:05:00-06:00"' in out


@pytest.mark.slow
@pytest.mark.parametrize("command", [("status",), ("maintenance", "run"), ("feed", "status")])
def test_every_command_on_the_clock_reports_it_damaged(
    env: tuple[Path, Path], command: tuple[str, ...]
) -> None:
    root, _ = env
    config, clock = _clock_env(root)
    clock.write_text(CLOCK_VARIANTS["speed negative"])
    code, _, err = ncctl(root, config, *command, clock=False)
    assert_one_line_error(code, err, EXIT_DATAERR, clock)


@pytest.mark.slow
@pytest.mark.parametrize("damage", [*WRONG_TYPES, "too large"])
def test_a_clock_file_of_the_wrong_kind_is_an_error_naming_it(
    env: tuple[Path, Path], damage: str
) -> None:
    root, _ = env
    config, clock = _clock_env(root)
    if damage == "too large":
        clock.write_bytes(b" " * (CLOCK_FILE_LIMIT + 1))
    else:
        WRONG_TYPES[damage][0](clock)
    code, _, err = ncctl(root, config, "schedule", "now", clock=False)
    assert_one_line_error(code, err, EXIT_DATAERR, clock)


@needs_root_and_setpriv
def test_an_unreadable_clock_file_is_exit_77(env: tuple[Path, Path]) -> None:
    root, _ = env
    config, clock = _clock_env(root)
    clock.write_text(VALID_CLOCK)
    clock.chmod(0)
    code, _, err = ncctl(root, config, "schedule", "now", clock=False, wrapper=NO_DAC_OVERRIDE)
    assert_one_line_error(code, err, EXIT_NOPERM, clock)


@pytest.mark.parametrize("speed", ["0", "-1", "nan", "inf", "-inf", "1e12"])
def test_a_bad_speed_on_the_command_line_is_a_usage_error(
    env: tuple[Path, Path], speed: str
) -> None:
    root, config = env
    before = digest(root)
    code, out, err = ncctl(root, config, "--speed", speed, "feed", "status", "--json")
    assert code == 2, (code, out, err)
    assert "--speed" in json.loads(out)["error"]["message"]
    assert digest(root) == before


# -- the configuration file ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("damage", [*WRONG_TYPES, "device", "too large", "symlink"])
def test_a_configuration_file_of_the_wrong_kind_is_exit_78(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "ncctl.toml"
    if damage == "device":
        path = Path("/dev/zero")
    elif damage == "too large":
        path.write_bytes(b"#" * (TOML_LIMIT + 1))
    elif damage == "symlink":
        real = write_config(tmp_path)
        path = tmp_path / "link.toml"
        path.symlink_to(real)
    else:
        WRONG_TYPES[damage][0](path)
    for command in (("schedule", "now"), ("logs", "status")):
        code, _, err = ncctl(tmp_path, path, *command)
        assert_one_line_error(code, err, EXIT_CONFIG, path)


@needs_root_and_setpriv
def test_an_unreadable_configuration_file_is_exit_78(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    config.chmod(0)
    code, _, err = ncctl(tmp_path, config, "schedule", "now", wrapper=NO_DAC_OVERRIDE)
    assert_one_line_error(code, err, EXIT_CONFIG, config)


# -- pidfiles ------------------------------------------------------------------------------

PIDFILES: dict[str, bytes] = {
    "empty": b"",
    "garbage": b"\x00\xffnot json",
    "not an object": b"[12]",
    "no pid": b'{"start_ticks": 5}',
    "pid zero": b'{"pid": 0, "start_ticks": 5}',
    "pid negative": b'{"pid": -4, "start_ticks": 5}',
    "pid a string": b'{"pid": "12", "start_ticks": 5}',
    "no start time": b'{"pid": 1}',
    "another process's pid": b'{"pid": 1, "start_ticks": 999999999999, "started_at": "x"}',
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(PIDFILES))
@pytest.mark.parametrize("group", ["feed", "session"])
def test_a_damaged_pidfile_is_named_and_not_trusted(
    env: tuple[Path, Path], group: str, variant: str
) -> None:
    root, config = env
    name = {"feed": "feed_handler", "session": "order_session"}[group]
    pidfile = root / "state" / "run" / f"{name}.pid"
    pidfile.parent.mkdir(parents=True)
    pidfile.write_bytes(PIDFILES[variant])
    before = digest(root / "state")
    code, out, err = ncctl(root, config, group, "status", "--json")
    assert code in (0, 1), err
    doc: dict[str, Any] = json.loads(out)["data"]
    assert doc["actual"] != "running"
    assert doc["pid"] in (None, 1)
    assert [w for w in doc["warnings"] if str(pidfile) in w] == [f"{name}: {doc['detail']}"]
    assert digest(root / "state") == before


@pytest.mark.slow
def test_a_damaged_pidfile_is_a_warning_line_in_text(env: tuple[Path, Path]) -> None:
    root, config = env
    pidfile = root / "state" / "run" / "feed_handler.pid"
    pidfile.parent.mkdir(parents=True)
    pidfile.write_bytes(PIDFILES["garbage"])
    _, out, _ = ncctl(root, config, "status")
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1, out
    assert str(pidfile) in warnings[0] and "not trusted" in warnings[0]


# -- read-only commands change nothing -----------------------------------------------------

READ_ONLY: list[tuple[tuple[str, ...], bool]] = [
    (("logs", "status"), True),
    (("logs", "rotate", "--dry-run"), True),
    (("logs", "prune", "--dry-run"), True),
    (("feed", "status"), True),
    (("feed", "status"), False),
    (("session", "status"), True),
    (("session", "status"), False),
    (("schedule", "now"), True),
    (("schedule", "show"), True),
    (("schedule", "next"), True),
    (("status",), True),
    (("status",), False),
    (("config", "show"), True),
    (("config", "validate"), True),
    (("audit", "log"), True),
    (("audit", "verify"), True),
    (("party", "list"), True),
    (("metrics",), True),
]
"""Each read-only command, with (True) or without (False) --clock."""


def _populate(root: Path, config: Path) -> None:
    """State as a working site has it: archives rotated and uploaded, job records, party
    records, a journal."""
    for command in (("logs", "rotate"), ("logs", "upload")):
        code, _, err = ncctl(root, config, *command)
        assert code == 0, err
    JobStore(job_store_path(root / "state")).close()
    RegistrationStore(root / "state")._connect().close()


@pytest.mark.slow
@pytest.mark.parametrize("populated", [True, False], ids=["populated", "empty"])
def test_read_only_commands_create_and_change_nothing(
    env: tuple[Path, Path], populated: bool
) -> None:
    root, config = env
    state, archive = root / "state", root / "archive"
    if populated:
        _populate(root, config)
    else:
        state.rmdir()  # a first run: not even the state directory exists
    before = digest(state, archive)
    assert before or not populated
    codes = {}
    for command, clock in READ_ONLY:
        code, out, err = ncctl(root, config, *command, "--json", clock=clock)
        codes[command, clock] = code
        assert code in (0, 1, 69, 78), (command, code, out, err)
        assert digest(state, archive) == before, command
        assert state.exists() is populated, command
    # the site has state to show: the commands did their work rather than fail
    assert codes[("logs", "status"), True] == 0
    assert codes[("metrics",), True] == 0


# -- archives the manifest does not know ---------------------------------------------------


@pytest.mark.slow
def test_unknown_archives_are_reported_then_adopted_or_left_alone(env: tuple[Path, Path]) -> None:
    import hashlib

    root, config = env
    code, _, err = ncctl(root, config, "logs", "rotate")
    assert code == 0, err
    directory = root / "archive" / "audit"
    payload = b"2026-11-23 audit rows\n"
    good, bad, bare = (directory / f"audit.202611{d}.csv.gz" for d in ("23", "24", "20"))
    for path in (good, bad, bare):
        path.write_bytes(payload)
    digest_hex = hashlib.sha256(payload).hexdigest()
    (directory / f"{good.name}.sha256").write_text(f"{digest_hex}  {good.name}\n")
    (directory / f"{bad.name}.sha256").write_text(f"{'0' * 64}  {bad.name}\n")

    code, out, err = ncctl(root, config, "logs", "status", "--json")
    assert code == 1, err
    doc = json.loads(out)
    unknown = {Path(u["file"]).name: u for u in doc["data"]["unknown"]}
    assert set(unknown) == {good.name, bad.name, bare.name}
    assert [n for n, u in unknown.items() if u["adoptable"]] == [good.name]
    assert "does not match" in unknown[bad.name]["problem"]
    assert "no sidecar" in unknown[bare.name]["problem"]
    assert doc["error"]["code"] == "logs.unknown"
    code, out, _ = ncctl(root, config, "logs", "status")
    assert sum("not in the manifest" in line for line in out.splitlines()) == 3

    code, out, err = ncctl(root, config, "logs", "upload", "--json")
    assert code == 1, err  # two archives are left for the operator
    data = json.loads(out)["data"]
    assert [Path(a["file"]).name for a in data["adopted"]] == [good.name]
    assert sorted(Path(a["file"]).name for a in data["not_adopted"]) == [bare.name, bad.name]
    for dest in ("fcm", "client"):
        sent = sorted(p.name for p in (root / "outbox" / dest).iterdir())
        assert sent == ["audit.20261123.csv.gz", "audit.20261125.csv.gz"], sent
        assert (root / "outbox" / dest / good.name).read_bytes() == payload

    code, out, _ = ncctl(root, config, "--clock", "2026-11-26T16:05", "logs", "status", "--json")
    data = json.loads(out)["data"]
    adopted = [f for f in data["files"] if f["file"] == str(good)]
    assert len(adopted) == 1
    assert adopted[0]["trade_date"] == "2026-11-23" and adopted[0]["sha256"] == digest_hex
    assert {d["state"] for d in adopted[0]["destinations"].values()} == {"verified"}
    assert len(data["unknown"]) == 2
