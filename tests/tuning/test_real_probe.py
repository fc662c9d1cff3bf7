"""A read-only probe of this real machine: ``tune plan --root /`` classifies every setting of
the ``isolated-cores`` profile and writes nothing (every value it reads is the same after)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ncctl.tuning.host import Host
from ncctl.tuning.kinds.boot import EFFECTS
from ncctl.tuning.kinds.boot_loader import DROPIN
from ncctl.tuning.persist import SYSCTL_FILE, TMPFILES_FILE
from ncctl.tuning.plan import expand
from ncctl.tuning.profiles import load_profile
from tests.helpers import run_in_process
from tests.tuning.conftest import envelope

VERDICTS = {"ok", "apply", "reboot", "host-only", "unsupported", "kernel-managed"}


def read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError as exc:
        return f"<{type(exc).__name__}>"


def listing(path: str) -> list[str] | None:
    try:
        return sorted(p.name for p in Path(path).iterdir())
    except OSError:
        return None


def test_plan_on_this_machine_classifies_everything_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    expansion = expand(load_profile("isolated-cores"), Host(Path("/")))
    watched = sorted(
        {s.path for s in expansion.settings}
        | {path for path, _ in EFFECTS.values()}
        | {"/proc/cmdline", SYSCTL_FILE, TMPFILES_FILE, DROPIN}
    )
    dirs = ["/etc/sysctl.d", "/etc/tmpfiles.d", "/etc/default"]
    before = ({p: read(p) for p in watched}, {d: listing(d) for d in dirs})
    state = tmp_path / "state"
    config = tmp_path / "c.toml"
    config.write_text(f'state_dir = "{state}"\n')

    result = run_in_process(
        capsys,
        "--config",
        config,
        "tune",
        "plan",
        "--root",
        "/",
        "--profile",
        "isolated-cores",
        "--json",
    )
    after = ({p: read(p) for p in watched}, {d: listing(d) for d in dirs})
    doc = envelope(result, "tune plan")
    assert result.code == 0
    assert after == before
    assert not state.exists()
    rows = {row["id"]: row for row in doc["data"]["settings"]}
    expected = {s.id for s in expansion.settings} | {p.id for p in expansion.boot}
    assert set(rows) == expected
    assert {row["verdict"] for row in rows.values()} <= VERDICTS
    assert all(row["reason"] for row in rows.values())
    assert sum(doc["data"]["summary"].values()) == len(expected)
