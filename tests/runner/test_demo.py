"""`ncctl demo`: whole simulated weeks with the real simulators on configs/dev.toml."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ncctl.schedule import load_engine
from tests.helpers import run_process

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CT = ZoneInfo("America/Chicago")


@pytest.mark.parametrize(
    ("week", "last_day"),
    [
        ("2026-03-08", "2026-03-13"),  # the first CDT week: the switch is that Sunday 02:00
        ("2026-12-20", "2026-12-24"),  # Christmas: Friday closed, the week ends on Thursday
    ],
)
def test_a_whole_simulated_week(
    tmp_path: Path, private_state_home: Path, week: str, last_day: str
) -> None:
    done = run_process(
        *("--config", REPO / "configs" / "dev.toml", "demo", "--week", week),
        *("--minutes", "0.3", "--json"),
        cwd=tmp_path,
        timeout_s=300,
    )
    doc = done.json()
    assert done.code == 0, (doc["error"], done.err[-2000:])
    data = doc["data"]
    assert data["ok"] is True and data["journal_intact"] is True
    assert data["uploads_verified"] > 0 and data["uploads_missing"] == []

    engine = load_engine(
        REPO / "schedules" / "cme-globex.toml",
        [REPO / "schedules" / "holidays" / "cme-2026.toml"],
    )
    sunday = dt.date.fromisoformat(week)
    start = dt.datetime.combine(sunday, dt.time(14, 55), tzinfo=CT)
    end = dt.datetime.combine(sunday + dt.timedelta(days=5), dt.time(16, 5), tzinfo=CT)
    expected = [(t.at.isoformat(), t.event) for t in engine.transitions(start, end)]
    fired = [(e["at"], name) for e in data["events"] for name in e["events"]]
    assert fired == expected  # every event fired, in order
    for e in data["events"]:
        assert abs(e["lateness_s"]) <= 1.0
        assert e["problems"] == []
    last = data["events"][-1]
    assert last["at"].startswith(last_day) and last["events"] == ["rotation.weekly"]
    assert last["jobs"] == ["rotate: done", "upload: done"]
    # the CDT week is on UTC-5, the Christmas week on UTC-6
    offsets = {e["at"][-6:] for e in data["events"]}
    assert offsets == ({"-05:00"} if week == "2026-03-08" else {"-06:00"})
    # nothing left running, and the demo's files stayed in its own directory of the state
    # directory (the embedded default's: $XDG_STATE_HOME/ncctl), nothing in the working one
    demo = private_state_home / "demo"
    assert (demo / "journal.jsonl").is_file()
    assert not list((demo / "run").glob("*.pid"))
    assert sorted(p.name for p in private_state_home.iterdir()) == ["demo"]
    assert list(tmp_path.iterdir()) == []
