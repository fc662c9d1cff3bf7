"""Bad schedule and holiday files are rejected with a ConfigError naming the file and key path.

Messages have the form ``FILE: KEY.PATH: problem`` (docs/design.md §4.3).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from ncctl.errors import EXIT_CONFIG, ConfigError
from ncctl.schedule.files import HolidayTable, WeeklyTemplate, load_holiday_table, load_template

TEMPLATE = """\
name = "test-week"
tz = "America/Chicago"

[week]
start = "Sun 15:00"
end = "Fri 16:00"

[[sessions]]
trade_day = "Mon"
pre_open = "Sun 16:00"
open = "Sun 17:00"
close = "Mon 16:00"

[[sessions]]
trade_day = "Tue"
pre_open = "Mon 16:45"
open = "Mon 17:00"
close = "Tue 16:00"

[[events]]
event = "feed_handler.on"
at = "Sun 15:00"

[[events]]
event = "feed_handler.off"
at = "Fri 16:00"
anchor = "week_end"

[[windows]]
name = "maintenance"
days = ["Mon", "Tue"]
start = "16:01"
end = "16:30"
on_start = ["maintenance.start"]
on_end = ["maintenance.end"]
"""

HOLIDAYS = """\
calendar = "cme"
year = 2026
source = "test"

[[holidays]]
date = 2026-11-26
kind = "early_close"
close = "12:00"
name = "Thanksgiving Day"
note = "test"

[[holidays]]
date = 2026-12-25
kind = "closed"
name = "Christmas Day"
note = "test"
"""


def edit(text: str, old: str, new: str) -> str:
    """Replace exactly one occurrence, so that a case cannot silently test the valid file."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


class Case(NamedTuple):
    id: str
    text: str
    key_path: str  # the key path the message must name, between "FILE: " and ": "
    says: str  # a fragment of the problem the message must state


TEMPLATE_CASES = [
    Case(
        "unknown key",
        edit(TEMPLATE, 'end = "Fri 16:00"\n', 'end = "Fri 16:00"\nstop = "Fri 17:00"\n'),
        "week.stop",
        "unknown key",
    ),
    Case(
        "unknown key in a list entry",
        edit(TEMPLATE, 'trade_day = "Tue"\n', 'trade_day = "Tue"\nsettle = "Tue 15:00"\n'),
        "sessions[1].settle",
        "unknown key",
    ),
    Case(
        "wrong type: string for a list",
        edit(TEMPLATE, 'days = ["Mon", "Tue"]', 'days = "Mon"'),
        "windows[0].days",
        "valid list",
    ),
    Case(
        "wrong type: number for a string",
        edit(TEMPLATE, 'tz = "America/Chicago"', "tz = 6"),
        "tz",
        "valid string",
    ),
    Case(
        "missing key",
        edit(TEMPLATE, 'open = "Mon 17:00"\n', ""),
        "sessions[1].open",
        "missing",
    ),
    Case(
        "time 25:00",
        edit(TEMPLATE, 'start = "16:01"', 'start = "25:00"'),
        "windows[0].start",
        "25:00",
    ),
    Case(
        "Sun 24:00",
        edit(TEMPLATE, 'pre_open = "Sun 16:00"', 'pre_open = "Sun 24:00"'),
        "sessions[0].pre_open",
        "24:00",
    ),
    Case(
        "unknown day",
        edit(TEMPLATE, 'start = "Sun 15:00"', 'start = "Sunday 15:00"'),
        "week.start",
        "Sunday",
    ),
    Case(
        "unknown event",
        edit(TEMPLATE, 'event = "feed_handler.on"', 'event = "feed_handler.start"'),
        "events[0].event",
        "feed_handler.start",
    ),
    Case(
        "unknown time zone",
        edit(TEMPLATE, 'tz = "America/Chicago"', 'tz = "America/Chicagoo"'),
        "tz",
        "America/Chicagoo",
    ),
    Case(
        "overlapping windows",
        TEMPLATE
        + '\n[[windows]]\nname = "upload"\ndays = ["Tue"]\nstart = "16:20"\nend = "16:40"\n',
        "windows",
        "overlap",
    ),
    Case(
        "overlapping sessions",
        edit(TEMPLATE, 'pre_open = "Mon 16:45"', 'pre_open = "Mon 15:00"'),
        "sessions",
        "overlap",
    ),
]

HOLIDAY_CASES = [
    Case(
        "early_close without close",
        edit(HOLIDAYS, 'close = "12:00"\n', ""),
        "holidays[0]",
        "close",
    ),
    Case(
        "holiday date outside its table's year",
        edit(HOLIDAYS, "date = 2026-12-25", "date = 2027-12-24"),
        "holidays",
        "2027-12-24",
    ),
    Case(
        "unknown key",
        edit(HOLIDAYS, 'name = "Christmas Day"\n', 'name = "Christmas Day"\nopen = "17:00"\n'),
        "holidays[1].open",
        "unknown key",
    ),
    Case(
        "wrong type: year",
        edit(HOLIDAYS, "year = 2026", 'year = "this year"'),
        "year",
        "valid integer",
    ),
    Case(
        "wrong type: date-time for a date",
        edit(HOLIDAYS, "date = 2026-11-26", "date = 2026-11-26T12:00:00"),
        "holidays[0].date",
        "date-time",
    ),
    Case(
        "close 25:00",
        edit(HOLIDAYS, 'close = "12:00"', 'close = "25:00"'),
        "holidays[0].close",
        "25:00",
    ),
    Case(
        "unknown kind",
        edit(HOLIDAYS, 'kind = "closed"', 'kind = "half_day"'),
        "holidays[1].kind",
        "closed",
    ),
]


def key_path_of(message: str, path: Path) -> str:
    """The key path of a ``FILE: KEY.PATH: problem`` message."""
    prefix = f"{path}: "
    assert message.startswith(prefix), f"message does not start with the file: {message!r}"
    return message[len(prefix) :].split(": ", 1)[0]


def names_key(actual: str, expected: str) -> bool:
    """``actual`` is ``expected`` or a key below it (``windows`` < ``windows[1].start``)."""
    return actual == expected or actual.startswith((f"{expected}.", f"{expected}["))


def test_base_documents_are_valid(tmp_path: Path) -> None:
    template_file = tmp_path / "week.toml"
    template_file.write_text(TEMPLATE)
    assert isinstance(load_template(template_file), WeeklyTemplate)
    holiday_file = tmp_path / "holidays.toml"
    holiday_file.write_text(HOLIDAYS)
    table = load_holiday_table(holiday_file)
    assert isinstance(table, HolidayTable)
    assert [h.kind for h in table.holidays] == ["early_close", "closed"]


@pytest.mark.parametrize("case", TEMPLATE_CASES, ids=lambda c: c.id)
def test_bad_template_is_rejected(tmp_path: Path, case: Case) -> None:
    path = tmp_path / "bad-week.toml"
    path.write_text(case.text)
    with pytest.raises(ConfigError) as info:
        load_template(path)
    err = info.value
    assert err.exit_code == EXIT_CONFIG
    assert err.code == "config.invalid"
    key = key_path_of(err.message, path)
    assert names_key(key, case.key_path), f"key path {key!r} in {err.message!r}"
    assert case.says in err.message
    assert err.hint


@pytest.mark.parametrize("case", HOLIDAY_CASES, ids=lambda c: c.id)
def test_bad_holiday_table_is_rejected(tmp_path: Path, case: Case) -> None:
    path = tmp_path / "bad-holidays.toml"
    path.write_text(case.text)
    with pytest.raises(ConfigError) as info:
        load_holiday_table(path)
    err = info.value
    key = key_path_of(err.message, path)
    assert names_key(key, case.key_path), f"key path {key!r} in {err.message!r}"
    assert case.says in err.message
    assert err.hint


@pytest.mark.parametrize("loader", [load_template, load_holiday_table], ids=lambda f: f.__name__)
def test_malformed_toml_names_file_and_line(
    tmp_path: Path, loader: Callable[[Path], object]
) -> None:
    path = tmp_path / "broken.toml"
    # an unterminated string on line 2
    path.write_text('name = "test-week"\ntz = "America/Chicago\n[week]\n')
    with pytest.raises(ConfigError) as info:
        loader(path)
    message = info.value.message
    assert message.startswith(f"{path}: ")
    assert "malformed TOML" in message
    assert "line 2" in message


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError) as info:
        load_holiday_table(path)
    assert info.value.message.startswith(f"{path}: ")
    assert "not found" in info.value.message
