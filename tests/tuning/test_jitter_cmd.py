"""``ncctl tune jitter`` in-process: refusals, bad options, a missing cyclictest, and a real
cyclictest run on this machine's CPUs."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from ncctl.tuning.jitter_report import report_path
from tests.helpers import run_in_process
from tests.tuning.conftest import WEDNESDAY, Tune, envelope

CPU_KEYS = {
    "cpu",
    "role",
    "samples",
    "min_us",
    "avg_us",
    "percentiles_us",
    "max_us",
    "above_threshold",
    "overflows",
}
needs_cyclictest = pytest.mark.skipif(
    shutil.which("cyclictest") is None, reason="cyclictest (Debian package rt-tests) missing"
)


def journal(state_dir: Path) -> list[dict[str, object]]:
    path = state_dir / "journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_refused_inside_trading_hours_journaled_nothing_measured(
    tune: Tune, state_dir: Path
) -> None:
    tune.clock = WEDNESDAY
    result = tune("jitter", "--duration", "1")
    doc = envelope(result, "tune jitter")
    assert result.code == 1
    assert doc["error"]["code"] == "schedule.refused"
    assert "inside trading hours: the market is OPEN" in doc["error"]["message"]
    assert "--force --reason" in doc["error"]["hint"]
    assert not report_path(state_dir).exists()
    [record] = journal(state_dir)
    assert (record["command"], record["outcome"]) == ("tune jitter", "refused")


def test_missing_cyclictest_is_unavailable_naming_the_package(
    tune: Tune, state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = tune("jitter", "--duration", "1", json_mode=False)
    assert result.code == 69
    lines = result.err.strip().splitlines()
    expected = "cyclictest is not on PATH: install the Debian package rt-tests"
    assert lines[0] == f"ncctl: error: {expected}"
    assert lines[1].startswith("hint: apt-get install rt-tests")
    assert not report_path(state_dir).exists()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--cpus", "x"), "--cpus"),
        (("--cpus", "4096"), "--cpus"),
        (("--duration", "0"), "--duration"),
        (("--duration", "2h"), "--duration"),
        (("--interval", "10"), "--interval"),
        (("--threshold", "0"), "--threshold"),
        (("--threshold", "10000"), "--threshold"),
        (("--force",), "--force"),
    ],
)
def test_bad_options_exit_64_naming_the_option(
    tune: Tune, state_dir: Path, args: tuple[str, ...], option: str
) -> None:
    result = tune("jitter", *args)
    doc = envelope(result, "tune jitter")
    assert result.code == 64
    assert doc["error"]["message"].startswith(option)
    assert not state_dir.exists()


def test_simulated_clock_of_a_real_configuration_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fake_root: Path
) -> None:
    state = tmp_path / "state"
    config = tmp_path / "prod.toml"
    config.write_text(
        f'environment = "prod"\nstate_dir = "{state}"\n[tuning]\nroot = "{fake_root}"\n',
        encoding="utf-8",
    )
    argv = ("--config", config, "--clock", "2026-11-28T12:00", "tune", "jitter", "--json")
    result = run_in_process(capsys, *argv)
    doc = envelope(result, "tune jitter")
    assert result.code == 1
    assert doc["error"]["code"] == "clock.simulated"
    assert not report_path(state).exists()


@pytest.mark.slow
@needs_cyclictest
def test_real_run_on_every_cpu_then_verify_shows_it(tune: Tune, state_dir: Path) -> None:
    tune.clock = WEDNESDAY  # inside trading hours: forced, and the journal says why
    why = "measure the tuning"
    result = tune("jitter", "--duration", "2", "--force", "--reason", why)
    data = envelope(result, "tune jitter")["data"]
    assert result.code == 0
    usable = sorted(os.sched_getaffinity(0))
    assert [row["cpu"] for row in data["cpus"]] == usable  # housekeeping CPU 0 first
    for row in data["cpus"]:
        assert set(row) == CPU_KEYS
        assert row["role"] == ("housekeeping" if row["cpu"] == 0 else "isolated")
        assert row["samples"] > 0
        assert set(row["percentiles_us"]) == {"p50", "p99", "p99.9"}
        assert row["min_us"] <= row["max_us"]
        assert 0 <= row["above_threshold"] <= row["samples"]
    assert (data["duration_s"], data["threshold_us"], data["forced"]) == (2, 20, why)
    assert data["priority"] == (95 if os.geteuid() == 0 else None)
    stored = report_path(state_dir)
    assert data["stored"] == str(stored)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    record = journal(state_dir)[-1]
    assert (record["command"], record["outcome"], record["reason"]) == ("tune jitter", "ok", why)
    assert "inside trading hours" in str(record["details"])

    verify = envelope(tune("verify"), "tune verify")["data"]["jitter"]
    assert verify["measured"] is True
    assert verify["summary"].startswith("jitter measured 2026-11-25T10:00:00-06:00 for 2 s:")


@pytest.mark.slow
@needs_cyclictest
def test_real_run_text_table(tune: Tune) -> None:
    result = tune("jitter", "--duration", "1", "--cpus", "0", "--threshold", "50", json_mode=False)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("jitter of CPUs 0 for 1 s (interval 1000 µs")
    assert lines[1].split() == ["cpu", "role", "samples", "p50", "p99", "p99.9", "max", "above"]
    assert lines[2].split()[:2] == ["0", "housekeeping"]
    assert int(lines[2].split()[2]) > 0
    assert lines[3].startswith("kept as the last report in ")


def test_verify_says_when_jitter_was_never_measured(tune: Tune) -> None:
    data = envelope(tune("verify"), "tune verify")["data"]
    assert data["jitter"]["measured"] is False
    assert "never measured" in data["jitter"]["summary"]


FAILING = "#!/bin/sh\necho 'Unable to change scheduling policy!' >&2\nexit 1\n"
GARBAGE = '#!/bin/sh\nfor a; do case "$a" in --json=*) printf "{" > "${a#--json=}";; esac; done\n'
NO_THREADS = (
    '#!/bin/sh\nfor a; do case "$a" in --json=*) printf \'{"thread": {}}\' > "${a#--json=}";;'
    " esac; done\n"
)


@pytest.mark.parametrize(
    ("script", "code", "error", "message"),
    [
        (FAILING, 1, "jitter.failed", "Unable to change scheduling policy!"),
        (GARBAGE, 65, "jitter.output", "unreadable"),
        (NO_THREADS, 65, "jitter.output", "measured no thread on CPUs 0"),
    ],
    ids=["fails", "garbage", "no-threads"],
)
def test_a_cyclictest_that_fails_leaves_no_report_and_is_journaled(
    tune: Tune,
    state_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    script: str,
    code: int,
    error: str,
    message: str,
) -> None:
    fake = tmp_path / "bin" / "cyclictest"
    fake.parent.mkdir()
    fake.write_text(script, encoding="utf-8")
    fake.chmod(0o700)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    result = tune("jitter", "--duration", "1", "--cpus", "0")
    doc = envelope(result, "tune jitter")
    assert result.code == code
    assert doc["error"]["code"] == error
    assert message in doc["error"]["message"]
    assert not report_path(state_dir).exists()
    record = journal(state_dir)[-1]
    assert (record["command"], record["outcome"]) == ("tune jitter", "failed")
