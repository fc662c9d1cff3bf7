"""Bad input never crashes ncctl: it is a usage (64), parse (2) or configuration (78) error
that names the file, the key or the argument, with a hint, and it changes no file.

Property tests (hypothesis) feed random configuration documents, random bytes and random
argument vectors; a catalogue of explicit cases pins the message of each kind of mistake.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tomllib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from ncctl.appconfig.model import NcctlConfig
from ncctl.schedule.files import STATE_EVENTS
from tests.cli.conftest import DEV_TOML, TEMPLATE_TOML, Runner, snapshot, write_config

pytestmark = pytest.mark.slow

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- strategies ----------------------------------------------------------------------------


def model_keys(model: type[BaseModel]) -> set[str]:
    """Every field name of ``model`` and of the models nested in it."""
    keys: set[str] = set()
    todo: list[Any] = [model]
    seen: set[Any] = set()
    while todo:
        item = todo.pop()
        if item in seen:
            continue
        seen.add(item)
        if isinstance(item, type) and issubclass(item, BaseModel):
            for name, info in item.model_fields.items():
                keys.add(name)
                todo.append(info.annotation)
        else:
            todo.extend(typing.get_args(item))
            if isinstance(item, types.UnionType):
                todo.extend(item.__args__)
    return keys


REAL_KEYS = sorted(model_keys(NcctlConfig) | {"fcm", "client", "audit", "trade", "ion"})

TRICKY_TEXT = [
    "25:00",
    "24:00",
    "23:60",
    "Sun 15:00",
    "Fri 16:01",
    "Mon 25:00",
    "America/Chicago",
    "UTC",
    "Mars/Olympus",
    "../../etc/passwd",
    "cme-globex",
    "cme-2026",
    "cme-2027",
    "process",
    "systemd",
    "local",
    "sftp",
    "status_file",
    "tcp_port",
    "file",
    "x.toml",
    "/nonexistent/x.toml",
    "",
    " ",
    "../configs/dev",
    "holidays/cme-2026",
    "a\x00b",
    "2026-03-08T02:30",
]

scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(TRICKY_TEXT),
    st.booleans(),
    st.dates(),
    st.times(),
    st.datetimes(),
)
keys = st.one_of(st.sampled_from(REAL_KEYS), st.text(max_size=8))
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=16,
)
random_documents = st.dictionaries(keys, values, max_size=6)

DEV_DOC = tomllib.loads(DEV_TOML.read_text(encoding="utf-8"))


def table_paths(doc: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for key, item in doc.items():
        out.append((*prefix, key))
        if isinstance(item, dict):
            out.extend(table_paths(item, (*prefix, key)))
    return out


DEV_PATHS = table_paths(DEV_DOC)


def mutated(doc: dict[str, Any], changes: list[tuple[tuple[str, ...], Any]]) -> dict[str, Any]:
    """``doc`` with each (path, value) set, tables created or replaced on the way."""
    out: dict[str, Any] = tomllib.loads(tomli_w.dumps(doc))  # a deep copy
    for path, value in changes:
        node = out
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value
    return out


change_paths = st.one_of(
    st.sampled_from(DEV_PATHS),
    st.tuples(st.sampled_from(DEV_PATHS), keys).map(lambda pair: (*pair[0], pair[1])),
)
mutated_dev_documents = st.lists(st.tuples(change_paths, values), min_size=1, max_size=3).map(
    lambda changes: mutated(DEV_DOC, changes)
)

TOML_TOKENS = [
    "[",
    "]",
    "[[",
    "]]",
    "=",
    '"',
    "'",
    '"""',
    "{",
    "}",
    ",",
    ".",
    "#",
    "\n",
    " ",
    "a",
    "ilink",
    "port",
    "schedule",
    "template",
    "1",
    "-1",
    "1e400",
    "0x",
    "true",
    "nan",
    "2026-01-01",
    "T",
    "25:00",
    "Z",
    "\\",
    "\\u0000",
]
toml_ish_text = st.lists(st.sampled_from(TOML_TOKENS), max_size=40).map("".join)
raw_files = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda s: s.encode("utf-8")),
    toml_ish_text.map(lambda s: s.encode("utf-8")),
)

# -- (a) random configuration documents ----------------------------------------------------


@PROPERTY
@given(doc=st.one_of(random_documents, mutated_dev_documents))
def test_random_documents_validate_or_fail_cleanly(
    ncctl: Runner, tmp_path: Path, doc: dict[str, Any]
) -> None:
    path = tmp_path / "random.toml"
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    result = ncctl("config", "validate", path, "--json")
    event(f"exit {result.code}")
    assert result.code in {0, 78}, (result.code, result.out)
    assert result.doc()["command"] == "config validate"
    if result.code == 78:
        message = result.error()["message"]
        if not message.startswith(f"{path}"):
            # then it is about a schedule file the configuration names: that file comes first
            schedule = doc.get("schedule")
            assert isinstance(schedule, dict), message
            assert "template" in schedule or "holidays" in schedule, message
            assert message.split(": ", 1)[0].endswith(".toml"), message


@settings(PROPERTY, max_examples=100)
@given(raw=raw_files)
def test_random_bytes_fail_cleanly(ncctl: Runner, tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "raw.toml"
    path.write_bytes(raw)
    result = ncctl("config", "validate", path, "--json")
    event(f"exit {result.code}")
    assert result.code in {0, 78}, (result.code, result.out)
    if result.code == 78:
        message = result.error()["message"]
        # the file itself, or (rarely) a schedule file it names: a file comes first
        assert message.startswith(str(path)) or message.split(": ", 1)[0].endswith(".toml")
    else:
        assert result.data()["valid"] is True


# -- (b) random argument vectors -----------------------------------------------------------

fixed_offsets = st.timedeltas(
    min_value=dt.timedelta(hours=-23, minutes=-59), max_value=dt.timedelta(hours=23, minutes=59)
).map(lambda d: dt.timezone(dt.timedelta(minutes=d // dt.timedelta(minutes=1))))
iso_times = st.builds(
    lambda t, sep, spec, zulu: t.isoformat(sep=sep, timespec=spec).replace(
        "+00:00", "Z" if zulu else "+00:00"
    ),
    st.datetimes(timezones=st.one_of(st.none(), st.just(dt.UTC), fixed_offsets)),
    st.sampled_from(["T", " "]),
    st.sampled_from(["minutes", "seconds", "auto"]),
    st.booleans(),
)
time_values = st.one_of(
    iso_times,
    st.dates().map(dt.date.isoformat),
    st.text(max_size=20),
    st.sampled_from(["2026-03-08T02:30", "2026-11-01T01:30", "now", "", "2026-02-30"]),
)
zones = st.one_of(
    st.sampled_from(["UTC", "America/Chicago", "Europe/London", "Asia/Kolkata", "Etc/GMT+12"]),
    st.sampled_from(["", "utc", "Mars/Olympus", "../zoneinfo/UTC", "/etc/localtime"]),
    st.text(max_size=15),
)
counts = st.one_of(st.integers(min_value=-5, max_value=1200).map(str), st.text(max_size=5))
events = st.one_of(st.sampled_from([*STATE_EVENTS, "market.", "order", ""]), st.text(max_size=8))

OPTION_VALUES: dict[str, st.SearchStrategy[str]] = {
    "--at": time_values,
    "--from": time_values,
    "--to": time_values,
    "--week": st.one_of(st.dates().map(dt.date.isoformat), time_values),
    "--tz": zones,
    "--count": counts,
    "-n": counts,
    "--event": events,
}
COMMAND_OPTIONS = {
    "now": ["--at", "--tz", "--json"],
    "show": ["--week", "--from", "--to", "--tz", "--json"],
    "next": ["--count", "-n", "--event", "--at", "--tz", "--json"],
}


@st.composite
def schedule_argv(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(sorted(COMMAND_OPTIONS)))
    chosen = draw(st.lists(st.sampled_from(COMMAND_OPTIONS[command]), max_size=5))
    groups: list[list[str]] = []
    for option in chosen:
        if option == "--json":
            groups.append([option])
        else:
            value = draw(OPTION_VALUES[option].filter(lambda v: v != "--json"))
            groups.append([option, value])
    groups = draw(st.permutations(groups))
    return ["schedule", command, *(part for group in groups for part in group)]


@PROPERTY
@given(argv=schedule_argv())
def test_random_schedule_arguments_never_crash(ncctl: Runner, argv: list[str]) -> None:
    result = ncctl(*argv)
    event(f"exit {result.code}")
    assert result.code != 70, (argv, result.out, result.err)
    assert result.code in {0, 2, 64, 78}, (argv, result.code, result.out, result.err)
    assert "Traceback" not in result.err
    if "--json" in argv:
        doc = result.doc()
        assert doc["command"] == f"{argv[0]} {argv[1]}"
        assert doc["ok"] is (result.code == 0)
    elif result.code in {64, 78}:
        assert result.out == ""
        assert result.err.startswith("ncctl: error: ")
        assert "\nhint: " in result.err
    elif result.code == 2:
        assert "Error: " in result.err


# -- (c) the catalogue of bad input --------------------------------------------------------

TEMPLATE_TEXT = TEMPLATE_TOML.read_text(encoding="utf-8")
EXTRA_WINDOW = '\n[[windows]]\nname = "extra"\ndays = ["Tue"]\nstart = "16:10"\nend = "16:20"\n'
HOLIDAYS_HEAD = 'calendar = "cme"\nyear = 2026\nsource = "test"\n'


@dataclass(frozen=True)
class Bad:
    """One bad input: files to write under IN, the argv, the exit code and what it must name."""

    argv: tuple[str, ...]
    code: int
    names: tuple[str, ...]
    files: dict[str, bytes] = field(default_factory=dict)
    copy_dev: bool = False


def text(value: str) -> bytes:
    return value.encode("utf-8")


CATALOGUE: dict[str, Bad] = {
    "malformed TOML": Bad(
        ("config", "validate", "{in}/c.toml"),
        78,
        ("{in}/c.toml: malformed TOML", "line 1"),
        {"c.toml": text("[ilink\nport = 1\n")},
    ),
    "not UTF-8": Bad(
        ("config", "validate", "{in}/c.toml"),
        78,
        ("{in}/c.toml", "UTF-8"),
        {"c.toml": b'environment = "d\xe9v"\n'},
    ),
    "a directory": Bad(("config", "validate", "{in}"), 78, ("{in}: ", "directory")),
    "unknown key": Bad(
        ("config", "validate", "{in}/c.toml"),
        78,
        ("{in}/c.toml: colour: unknown key",),
        {"c.toml": text('colour = "blue"\n')},
    ),
    "unknown nested key": Bad(
        ("config", "validate", "{in}/c.toml"),
        78,
        ("{in}/c.toml: ilink.prot: unknown key",),
        {"c.toml": text("[ilink]\nprot = 29000\n")},
    ),
    "wrong type": Bad(
        ("config", "validate", "{in}/c.toml"),
        78,
        ("{in}/c.toml: ilink.port: ",),
        {"c.toml": text('[ilink]\nport = "high"\n')},
    ),
    "string for a list": Bad(
        ("config", "validate", "{in}/c.toml"),
        78,
        ("{in}/c.toml: schedule.holidays: ",),
        {"c.toml": text('[schedule]\nholidays = "cme-2026"\n')},
    ),
    "missing template": Bad(
        ("config", "validate", "{in}/c.toml"),
        78,
        ("{in}/none.toml", "not found"),
        {"c.toml": text('[schedule]\ntemplate = "{in}/none.toml"\n')},
    ),
    "25:00 in a window": Bad(
        ("schedule", "check", "{in}/t.toml"),
        78,
        ("{in}/t.toml: windows[0].start: ", "25:00"),
        {"t.toml": text(TEMPLATE_TEXT.replace('start = "16:01"', 'start = "25:00"'))},
    ),
    "25:00 in the week": Bad(
        ("schedule", "check", "{in}/t.toml"),
        78,
        ("{in}/t.toml: week.start: ", "25:00"),
        {"t.toml": text(TEMPLATE_TEXT.replace('start = "Sun 15:00"', 'start = "Sun 25:00"'))},
    ),
    "25:00 in a template named by the configuration": Bad(
        ("--config", "{in}/c.toml", "schedule", "now", "--at", "2026-11-27T12:20"),
        78,
        ("{in}/t.toml: windows[0].start: ",),
        {
            "c.toml": text('[schedule]\ntemplate = "{in}/t.toml"\nholidays = []\n'),
            "t.toml": text(TEMPLATE_TEXT.replace('start = "16:01"', 'start = "25:00"')),
        },
    ),
    "25:00 early close": Bad(
        ("schedule", "check", "{in}/h.toml"),
        78,
        ("{in}/h.toml: holidays[0].close: ", "25:00"),
        {
            "h.toml": text(
                HOLIDAYS_HEAD + '[[holidays]]\ndate = 2026-11-27\nkind = "early_close"\n'
                'close = "25:00"\nname = "n"\nnote = "n"\n'
            )
        },
    ),
    "overlapping windows": Bad(
        ("schedule", "check", "{in}/t.toml"),
        78,
        ("{in}/t.toml: windows", "'maintenance' and 'extra' overlap on Tue"),
        {"t.toml": text(TEMPLATE_TEXT + EXTRA_WINDOW)},
    ),
    "holiday in another year": Bad(
        ("schedule", "check", "{in}/h.toml"),
        78,
        ("{in}/h.toml: holidays", "2027-01-01"),
        {
            "h.toml": text(
                HOLIDAYS_HEAD + '[[holidays]]\ndate = 2027-01-01\nkind = "closed"\n'
                'name = "n"\nnote = "n"\n'
            )
        },
    ),
    "DST gap --at": Bad(
        ("schedule", "now", "--at", "2026-03-08T02:30"),
        64,
        ("--at '2026-03-08T02:30'", "does not exist"),
    ),
    "DST fold --from": Bad(
        ("schedule", "show", "--from", "2026-11-01T01:30", "--to", "2026-11-02T00:00"),
        64,
        ("--from '2026-11-01T01:30'", "ambiguous"),
    ),
    "unknown --tz": Bad(("schedule", "now", "--tz", "Chicago"), 64, ("--tz 'Chicago'",)),
    "bad --week": Bad(("schedule", "show", "--week", "next week"), 64, ("--week 'next week'",)),
    "config set to an invalid value": Bad(
        ("--config", "{in}/dev.toml", "config", "set", "schedule.display_tz", "25:00"),
        78,
        ("{in}/dev.toml", "schedule.display_tz"),
        copy_dev=True,
    ),
    # --- cases ncctl gets wrong today (see the report) ---
    "NUL in schedule.template": Bad(
        ("config", "validate", "{in}/c.toml"),
        78,
        ("{in}/c.toml", "schedule.template"),
        {"c.toml": text('[schedule]\ntemplate = "cme\\u0000globex"\n')},
    ),
    "NUL in schedule.holidays": Bad(
        ("--config", "{in}/c.toml", "schedule", "now"),
        78,
        ("{in}/c.toml", "schedule.holidays"),
        {"c.toml": text('[schedule]\nholidays = ["cme\\u00002026"]\n')},
    ),
    "deeply nested TOML": Bad(
        ("config", "validate", "{in}/c.toml"),
        78,
        ("{in}/c.toml",),
        {"c.toml": text("x = " + "[" * 3000 + "]" * 3000 + "\n")},
    ),
    "year 9999 --at": Bad(
        ("schedule", "now", "--at", "9999-12-31T23:59"), 64, ("--at '9999-12-31T23:59'",)
    ),
    "year 1 --at": Bad(
        ("schedule", "next", "--at", "0001-01-01T00:00Z"), 64, ("--at '0001-01-01T00:00Z'",)
    ),
    "year 9999 --week": Bad(
        ("schedule", "show", "--week", "9999-12-31"), 64, ("--week '9999-12-31'",)
    ),
    "the same holiday table twice (validate)": Bad(
        ("config", "validate", "{in}/c.toml"),
        78,
        ("{in}/c.toml", "schedule.holidays"),
        {"c.toml": text('[schedule]\nholidays = ["cme-2026", "cme-2026"]\n')},
    ),
    "the same holiday table twice (use)": Bad(
        ("--config", "{in}/c.toml", "schedule", "now"),
        78,
        ("{in}/c.toml", "schedule.holidays"),
        {"c.toml": text('[schedule]\nholidays = ["cme-2026", "cme-2026"]\n')},
    ),
}


@pytest.fixture
def bad_input_dir(tmp_path: Path) -> Path:
    target = tmp_path / "in"
    target.mkdir()
    return target


def prepare(case: Bad, where: Path) -> Callable[[str], str]:
    def fill(value: str) -> str:
        return value.replace("{in}", str(where))

    for name, content in case.files.items():
        (where / name).write_bytes(content.replace(b"{in}", str(where).encode()))
    if case.copy_dev:
        shutil.copyfile(DEV_TOML, where / "dev.toml")
    return fill


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_bad_input_catalogue(ncctl: Runner, tmp_path: Path, bad_input_dir: Path, name: str) -> None:
    case = CATALOGUE[name]
    fill = prepare(case, bad_input_dir)
    argv = [fill(a) for a in case.argv]
    names = [fill(n) for n in case.names]
    before = snapshot(tmp_path)

    text_run = ncctl(*argv)
    assert text_run.code == case.code, (text_run.code, text_run.out, text_run.err)
    assert text_run.out == ""
    lines = text_run.err.splitlines()
    assert lines[0].startswith("ncctl: error: "), text_run.err
    for fragment in names:
        assert fragment in lines[0], (fragment, lines[0])
    assert any(line.startswith("hint: ") and len(line) > 6 for line in lines[1:]), text_run.err

    json_run = ncctl(*argv, "--json")
    assert json_run.code == case.code
    err = json_run.error()
    assert err["message"] == lines[0].removeprefix("ncctl: error: ")
    assert f"hint: {err['hint']}" in lines

    assert snapshot(tmp_path) == before, "bad input changed a file"


def test_parse_errors_say_what_to_try(ncctl: Runner, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    result = ncctl("schedule", "next", "--count", "many")
    assert result.code == 2
    assert "'--count'" in result.err
    assert "Try 'ncctl schedule next -h' for help." in result.err
    assert snapshot(tmp_path) == before


def test_a_config_written_by_hand_with_25_00_never_reaches_the_engine(
    ncctl: Runner, tmp_path: Path
) -> None:
    template = write_config(
        tmp_path / "in" / "t.toml", TEMPLATE_TEXT.replace('end = "16:30"', 'end = "25:00"')
    )
    cfg = write_config(
        tmp_path / "in" / "c.toml", f'[schedule]\ntemplate = "{template}"\nholidays = []\n'
    )
    for argv in (
        ("status", "--json"),
        ("schedule", "show", "--week", "2026-11-22", "--json"),
        ("schedule", "next", "--json"),
    ):
        result = ncctl("--config", cfg, *argv)
        assert result.code == 78, (argv, result.out)
        assert result.error()["message"].startswith(f"{template}: windows[0].end: ")
