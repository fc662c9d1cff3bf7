"""The record the metrics read (``state_dir/preflight.json``): private, never written through
a planted link, and a damaged one fails only its metrics source."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_in_process
from tests.preflight.conftest import SUNDAY, write_config


@pytest.fixture
def config(tmp_path: Path, listener: int) -> Path:
    """A configuration whose state directory exists (and is empty)."""
    (tmp_path / "state").mkdir(mode=0o750)
    return write_config(tmp_path, gateway_port=listener)


def test_a_planted_link_is_refused_and_its_target_untouched(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path
) -> None:
    state = tmp_path / "state"
    target = tmp_path / "elsewhere.txt"
    target.write_text("not ncctl's\n")
    (state / "preflight.json").symlink_to(target)
    got = run_in_process(capsys, "--config", config, "--clock", SUNDAY, "preflight", "--json")
    assert got.code == 65, got
    err = got.error()
    assert str(state / "preflight.json") in err["message"]
    assert target.read_text() == "not ncctl's\n"
    assert (state / "preflight.json").is_symlink()


def test_a_damaged_record_fails_only_the_preflight_metrics(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path
) -> None:
    (tmp_path / "state" / "preflight.json").write_text('{"at": "yesterday"')
    got = run_in_process(capsys, "--config", config, "--clock", SUNDAY, "metrics", "--json")
    data = got.data()
    assert list(data["collector_errors"]) == ["preflight"]
    assert "not a preflight record" in data["collector_errors"]["preflight"]
    assert not any(s["name"].startswith("ncctl_preflight_") for s in data["samples"])
    # the next run replaces it
    run = run_in_process(capsys, "--config", config, "--clock", SUNDAY, "preflight", "--json")
    assert run.code == 0, run
    again = run_in_process(capsys, "--config", config, "--clock", SUNDAY, "metrics", "--json")
    assert again.data()["collector_errors"] == {}
