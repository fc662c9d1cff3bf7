"""The schedule-files variable the product sets and the feed-handler simulator reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ncctl.sim_interface import parse_schedule_files, schedule_files_value

#: any absolute path a configuration can name: ':' ',' '"' '[' spaces and non-ASCII included
names = st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1)
paths = st.builds(
    lambda parts: Path("/", *parts),
    st.lists(names.filter(lambda part: part not in (".", "..")), min_size=1, max_size=4),
)


@given(paths, st.lists(paths, max_size=5))
def test_every_list_of_paths_reads_back_as_written(template: Path, holidays: list[Path]) -> None:
    assert parse_schedule_files(schedule_files_value(template, holidays)) == (template, holidays)


@pytest.mark.parametrize(
    "value", ["", "/a.toml:/b.toml", "[]", '["/a.toml", 3]', '{"template": "/a.toml"}', '"x"']
)
def test_anything_but_a_non_empty_array_of_names_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="is not a JSON array of file names"):
        parse_schedule_files(value)
