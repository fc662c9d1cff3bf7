"""Property tests of the state-file readers: whatever the bytes, a clock file either parses to
a usable clock or is refused with a ValueError; a pidfile is either a usable record or refused;
a database file that is not one is refused before SQLite sees it."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ncctl.clock import MAX_SPEED, SharedClock, parse_clock
from ncctl.components.pidfile import parse_pidfile
from ncctl.errors import DataError
from ncctl.statedb import check_db_file

pytestmark = pytest.mark.slow

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(
        ["2026-11-25T16:05:00-06:00", "2026-11-25T16:05:00", "9999-12-31T23:59:59+14:00"]
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children)
    ),
    max_leaves=8,
)
clock_docs = st.fixed_dictionaries(
    {},
    optional={"sim": json_values, "wall": json_values, "speed": json_values, "paused": json_values},
)


def _check_clock(raw: bytes) -> None:
    try:
        sim, wall, speed, paused = parse_clock(raw)
    except ValueError:
        return
    assert sim.utcoffset() is not None
    assert math.isfinite(wall) and wall > 0
    assert math.isfinite(speed) and 0 < speed <= MAX_SPEED
    assert isinstance(paused, bool)


@PROPERTY
@given(raw=st.binary(max_size=200))
def test_random_bytes_never_make_a_clock_that_breaks(raw: bytes) -> None:
    _check_clock(raw)


@PROPERTY
@given(doc=clock_docs)
def test_random_clock_documents_parse_or_are_refused(doc: dict[str, object]) -> None:
    _check_clock(json.dumps(doc, allow_nan=True).encode())


@PROPERTY
@given(doc=clock_docs)
def test_a_clock_file_reads_or_fails_as_exit_65(tmp_path: Path, doc: dict[str, object]) -> None:
    path = tmp_path / "clock.json"
    path.write_text(json.dumps(doc, allow_nan=True))
    try:
        SharedClock(path).now()
    except DataError as err:
        assert err.exit_code == 65
        assert err.message.startswith(f"{path}: ") and "\n" not in err.message


@PROPERTY
@given(
    doc=st.fixed_dictionaries(
        {},
        optional={
            "pid": json_values,
            "start_ticks": json_values,
            "supervisor": json_values,
            "started_at": json_values,
        },
    )
)
def test_a_pidfile_parses_or_is_refused(doc: dict[str, object]) -> None:
    try:
        rec = parse_pidfile(json.dumps(doc, allow_nan=True).encode())
    except ValueError:
        return
    assert isinstance(rec.pid, int) and 0 < rec.pid <= 2**22
    assert isinstance(rec.start_ticks, int) and rec.start_ticks > 0


@pytest.mark.parametrize(
    "content",
    [b"", b"SQLite format 2\x00" + b"\x00" * 100, b"\x00" * 4096, b"SQLite"],
    ids=["empty", "older header", "zeros", "short"],
)
def test_a_file_without_the_sqlite_header_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.sqlite"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        check_db_file(path, what="the test database", hint="move it aside", writable=False)
    assert str(path) in info.value.message
    assert path.read_bytes() == content


def test_an_older_database_is_read_without_being_changed(tmp_path: Path) -> None:
    """A database made before a table was added reads that table as empty, read-only,
    without writing to the file (the manifest's ``holds`` table, for one)."""
    import hashlib

    from ncctl.logs.manifest import SCHEMA, Manifest, manifest_path
    from ncctl.statedb import open_state_db

    path = manifest_path(tmp_path)
    Manifest(path).close()
    writer = open_state_db(path, SCHEMA, what="the upload manifest", rebuild_hint="-")
    writer.execute("DROP TABLE holds")
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    reader = open_state_db(
        path, SCHEMA, what="the upload manifest", rebuild_hint="-", read_only=True
    )
    try:
        assert reader.execute("SELECT COUNT(*) FROM holds").fetchone() == (0,)
        assert reader.execute("SELECT COUNT(*) FROM files").fetchone() == (0,)
    finally:
        reader.close()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert "holds" not in {
        r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")
    }


def test_a_database_with_none_of_its_tables_is_refused(tmp_path: Path) -> None:
    from ncctl.logs.manifest import SCHEMA, manifest_path
    from ncctl.statedb import open_state_db

    path = manifest_path(tmp_path)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE other (x)")
    conn.close()
    with pytest.raises(DataError, match="not a database ncctl made"):
        open_state_db(path, SCHEMA, what="the upload manifest", rebuild_hint="-", read_only=True)
