"""The validated-schedule cache: a hit answers like a miss, and any edit is seen at once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ncctl.cli.main import main
from ncctl.schedule import cache
from tests.helpers import run_in_process

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    holidays = tmp_path / "cme-2026.toml"
    shutil.copy(REPO / "schedules" / "holidays" / "cme-2026.toml", holidays)
    path = tmp_path / "c.toml"
    path.write_text(
        "[schedule]\n"
        f'template = "{REPO / "schedules" / "cme-globex.toml"}"\n'
        f'holidays = ["{holidays}"]\n'
    )
    return path


def now(capsys: pytest.CaptureFixture[str], config: Path, at: str) -> dict[str, Any]:
    return run_in_process(
        capsys, "--config", config, "schedule", "now", "--json", "--at", at
    ).data()


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("schedule-*.json"))


def test_a_hit_answers_like_a_miss(
    capsys: pytest.CaptureFixture[str], config: Path, _private_cache_dir: Path
) -> None:
    assert entries(_private_cache_dir) == []
    first = now(capsys, config, "2026-11-27T12:20")
    assert len(entries(_private_cache_dir)) == 1
    second = now(capsys, config, "2026-11-27T12:20")
    assert first == second
    assert second["holiday"]["kind"] == "early_close"


def test_an_edited_holiday_file_is_seen_at_once(
    capsys: pytest.CaptureFixture[str], config: Path, _private_cache_dir: Path
) -> None:
    assert now(capsys, config, "2026-11-27T12:20")["market_state"] == "CLOSED"
    holidays = config.parent / "cme-2026.toml"
    holidays.write_text(holidays.read_text().replace('close = "12:15"', 'close = "12:45"'))
    assert now(capsys, config, "2026-11-27T12:20")["market_state"] == "OPEN"


def test_an_edited_config_is_validated_again(
    capsys: pytest.CaptureFixture[str], config: Path, _private_cache_dir: Path
) -> None:
    now(capsys, config, "2026-11-27T12:20")
    config.write_text(config.read_text() + "\n[schedule_typo]\n")
    code = main(["--config", str(config), "schedule", "now", "--json"])
    assert code == 78
    assert "schedule_typo" in json.loads(capsys.readouterr().out)["error"]["message"]


def test_a_corrupt_entry_falls_back_to_validation(
    capsys: pytest.CaptureFixture[str], config: Path, _private_cache_dir: Path
) -> None:
    first = now(capsys, config, "2026-11-26T13:00")
    for entry in entries(_private_cache_dir):
        entry.write_text("{not json")
    assert now(capsys, config, "2026-11-26T13:00") == first
    assert json.loads(entries(_private_cache_dir)[0].read_text())["format"] == cache.FORMAT


def test_cache_off_writes_nothing(
    capsys: pytest.CaptureFixture[str],
    config: Path,
    _private_cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NCCTL_CACHE_DIR", "off")
    now(capsys, config, "2026-11-26T13:00")
    assert entries(_private_cache_dir) == []
