"""A simulated clock never changes real state; guarded stops; the context of every change.

Through the CLI: real ncctl processes on a production-like configuration built in the test
directory that cannot reach anything (systemd units behind a recording ``systemctl`` that
fails, SFTP to a port nobody listens on), in-process runs on development configurations
(simulators, local directories, a fake tuning root).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ncctl.appconfig.development import development_problem, is_development
from ncctl.appconfig.model import NcctlConfig
from ncctl.clock import CLOCK_FILE_ENV, SharedClock
from ncctl.journal.records import GENESIS, canonical, sha
from ncctl.schedule.timeparse import parse_instant
from tests.cli.conftest import DEV_TOML, Runner, snapshot, write_config
from tests.helpers import run_process

SIM_AT = "2026-12-07T10:00"  # a Monday in trading hours, days after "today" in these tests
FRIDAY_OPEN = "2026-12-04T10:46"  # Friday, market OPEN, order entry up
IDLE = '["{python}", "-m", "ncctl.sim.idle"]'
FORCED = ("--force", "--reason", "rehearsal on the simulated clock")


# -- a production-like site ----------------------------------------------------------------


@pytest.fixture
def prod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A production-like configuration (environment prod, systemd, SFTP) under ``tmp_path``
    whose wires go nowhere: ``systemctl`` on $PATH records its calls and fails."""
    stub = tmp_path / "bin" / "systemctl"
    stub.parent.mkdir()
    stub.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "systemctl.calls"}\nexit 1\n')
    stub.chmod(0o755)
    monkeypatch.setenv("PATH", f"{stub.parent}:{os.environ['PATH']}")
    live = tmp_path / "live"
    live.mkdir()
    (live / "audit.csv").write_text("row\n")
    (tmp_path / "tuning-root").mkdir()
    return write_config(
        tmp_path / "etc" / "prod.toml",
        'environment = "prod"\n'
        f'state_dir = "{tmp_path / "state"}"\n'
        "[components.feed_handler]\n"
        'backend = "systemd"\nunit = "ncctl-feed-handler.service"\n'
        "[components.order_session]\n"
        'backend = "systemd"\nunit = "ncctl-order-session.service"\n'
        f'[logs]\narchive_dir = "{tmp_path / "archive"}"\n'
        "[logs.audit]\n"
        f'path = "{live / "audit.csv"}"\nreopen = "self"\ndestinations = ["fcm"]\n'
        "[destinations.fcm]\n"
        'url = "sftp://ncctl@127.0.0.1:1/incoming"\n'
        f'key_file = "{tmp_path / "keys" / "fcm"}"\nknown_hosts = "{tmp_path / "known_hosts"}"\n'
        f'[tuning]\nprofile = "dev"\nroot = "{tmp_path / "tuning-root"}"\n'
        '[ilink]\nhost = "127.0.0.1"\nport = 1\nsession = "PRD"\nfirm = "P01"\n'
        'access_key_id = "k"\nsecret_key = "c2VjcmV0"\n'
        '[[party_details]]\nid = 7\nexecuting_firm = "P01"\naccount = "A1"\n'
        'operator = "OP"\nlocation = "US,IL"\ncustomer_type_indicator = 2\n'
        'clearing_account_type = 1\ncustomer_order_handling = "H"\n',
    )


STATE_CHANGING = [
    ("feed", "start"),
    ("feed", "stop"),
    ("feed", "restart"),
    ("session", "start"),
    ("session", "stop"),
    ("session", "restart"),
    ("logs", "rotate"),
    ("logs", "upload"),
    ("logs", "prune"),
    ("party", "register"),
    ("party", "list"),
    ("party", "verify"),
    ("tune", "host"),
    ("tune", "rollback"),
    ("config", "set", "schedule.display_tz", "UTC"),
    ("maintenance", "run"),
    ("scheduler", "run"),
    ("metrics", "--textfile", "ncctl.prom"),
]


@pytest.mark.slow
@pytest.mark.parametrize("command", STATE_CHANGING, ids=" ".join)
def test_a_simulated_clock_is_refused_on_a_production_configuration(
    prod: Path, tmp_path: Path, isolated_cwd: Path, command: tuple[str, ...]
) -> None:
    before = snapshot(tmp_path)
    json_flag = () if command == ("scheduler", "run") else ("--json",)
    done = run_process("--config", prod, "--clock", SIM_AT, *command, *json_flag, cwd=isolated_cwd)
    assert done.code == 1, (done.out, done.err)
    if json_flag:
        error = done.error()
        assert error["code"] == "clock.simulated"
        message = error["message"]
        assert "--clock" in error["hint"]
        assert ("--force --reason" in error["hint"]) is (command[0] != "metrics")
    else:
        lines = done.err.splitlines()
        assert len(lines) == 2 and lines[1].startswith("hint: "), done.err
        message = lines[0].removeprefix("ncctl: error: ")
    assert message.startswith(f"{' '.join(command[:2])} refused: a simulated clock")
    assert not (isolated_cwd / "ncctl.prom").exists()
    assert "2026-12-07T10:00" in message and str(prod) in message
    assert 'environment is "prod"' in message
    assert snapshot(tmp_path) == before  # nothing written: no journal, no state, no archive
    assert not (tmp_path / "systemctl.calls").exists()  # systemctl never ran


READ_ONLY = [
    ("schedule", "now"),
    ("schedule", "next"),
    ("audit", "log"),
    ("audit", "verify"),
    ("config", "show"),
    ("logs", "status"),
    ("tune", "plan"),
    ("metrics",),
]


@pytest.mark.slow
@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_commands_take_a_simulated_clock_anywhere(
    prod: Path, tmp_path: Path, isolated_cwd: Path, command: tuple[str, ...]
) -> None:
    before = snapshot(tmp_path)
    done = run_process("--config", prod, "--clock", SIM_AT, *command, "--json", cwd=isolated_cwd)
    assert done.code == 0, (done.out, done.err)
    # they change nothing, so they announce nothing (tune plan's context is the host's)
    assert "state_dir" not in done.data().get("context", {})
    after = snapshot(tmp_path)
    after.pop("systemctl.calls", None)  # `systemctl show` is looking, not changing
    assert after == before


def test_a_forced_action_reaches_systemd_and_is_journaled(
    prod: Path, tmp_path: Path, isolated_cwd: Path
) -> None:
    args = ("--config", prod, "--clock", SIM_AT, "feed", "start", *FORCED, "--json")
    done = run_process(*args, cwd=isolated_cwd)
    assert done.code == 69 and done.error()["code"] != "clock.simulated"  # the stub fails
    assert (tmp_path / "systemctl.calls").read_text().splitlines()[0].startswith("is-active")
    [entry] = journal(tmp_path / "state")
    assert (entry["command"], entry["outcome"], entry["reason"]) == (
        "feed start",
        "failed",
        FORCED[2],
    )
    assert entry["clock"]["source"] == "--clock" and entry["clock"]["override"] == FORCED[2]


@pytest.mark.slow
def test_the_refusal_is_one_line_in_text_mode(prod: Path, isolated_cwd: Path) -> None:
    done = run_process("--config", prod, "--clock", SIM_AT, "session", "start", cwd=isolated_cwd)
    assert done.code == 1 and done.out == ""
    first, hint = done.err.splitlines()
    assert first.startswith("ncctl: error: session start refused: a simulated clock (")
    assert hint == (
        "hint: rehearse on a development configuration, or drop --clock to act on the "
        "machine's clock; --force --reason TEXT acts on the simulated clock all the same"
    )


def test_the_demo_is_refused_on_a_production_configuration(
    prod: Path, tmp_path: Path, isolated_cwd: Path
) -> None:
    before = snapshot(tmp_path)
    error = run_process("--config", prod, "demo", "--json", cwd=isolated_cwd).error()
    assert error["code"] == "clock.simulated" and "development configuration" in error["hint"]
    assert snapshot(tmp_path) == before


@pytest.mark.slow
@pytest.mark.parametrize("source", ["clock.file", CLOCK_FILE_ENV])
def test_a_shared_simulated_clock_is_refused_too(
    prod: Path,
    tmp_path: Path,
    isolated_cwd: Path,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
) -> None:
    clock = tmp_path / "clock.json"
    at = parse_instant(SIM_AT, ZoneInfo("America/Chicago"), "at")
    SharedClock(clock).set(at, speed=1.0, paused=True)
    if source == "clock.file":
        prod.write_text(
            prod.read_text().replace("[logs]\n", f'[clock]\nfile = "{clock}"\n[logs]\n')
        )
    else:
        monkeypatch.setenv(CLOCK_FILE_ENV, str(clock))
    before = snapshot(tmp_path)
    error = run_process("--config", prod, "logs", "rotate", "--json", cwd=isolated_cwd).error()
    assert error["code"] == "clock.simulated"
    assert f"from {'$' + source if source == CLOCK_FILE_ENV else source}" in error["message"]
    assert snapshot(tmp_path) == before


def test_force_without_reason_is_a_usage_error(prod: Path, isolated_cwd: Path) -> None:
    done = run_process(
        "--config", prod, "--clock", SIM_AT, "logs", "upload", "--force", "--json", cwd=isolated_cwd
    )
    assert done.code == 64 and "--reason" in done.error()["message"]


def journal(state_dir: Path) -> list[dict[str, Any]]:
    lines = (state_dir / "journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.slow
def test_force_with_reason_acts_and_the_journal_says_so(
    prod: Path, tmp_path: Path, isolated_cwd: Path
) -> None:
    args = ("--config", prod, "--clock", SIM_AT)
    done = run_process(
        *args,
        "config",
        "set",
        "runner.reconcile_interval_s",
        "20",
        *FORCED,
        "--json",
        cwd=isolated_cwd,
    )
    context = done.data()["context"]
    assert context == {
        "config": str(prod),
        "source": "--config",
        "state_dir": str(tmp_path / "state"),
        "clock": {
            "kind": "simulated",
            "at": "2026-12-07T10:00:00-06:00",
            "speed": 1.0,
            "source": "--clock",
        },
    }
    [entry] = journal(tmp_path / "state")
    assert entry["command"] == "config set" and entry["reason"] == FORCED[2]
    assert entry["clock"] == {**context["clock"], "override": FORCED[2]}
    assert "reconcile_interval_s = 20" in prod.read_text()
    log = run_process(*args, "audit", "log", cwd=isolated_cwd)
    assert log.code == 0 and "sim! 2026-12-07T10:00" in log.out, log.out
    assert run_process(*args, "audit", "verify", "--json", cwd=isolated_cwd).data()["intact"]


# -- development configurations ------------------------------------------------------------


def dev_site(root: Path, extra: str = "") -> Path:
    """A development configuration under ``root``: idle simulators, local directories, a
    fake tuning root."""
    (root / "live").mkdir(parents=True, exist_ok=True)
    return write_config(
        root / "dev.toml",
        f'state_dir = "{root / "state"}"\n'
        f"[components.feed_handler]\ncommand = {IDLE}\nstop_timeout_s = 5.0\n"
        f"[components.order_session]\ncommand = {IDLE}\nstop_timeout_s = 5.0\n"
        f'[logs]\narchive_dir = "{root / "archive"}"\n'
        f'[logs.audit]\npath = "{root / "live" / "audit.csv"}"\nreopen = "self"\n'
        'destinations = ["fcm"]\n'
        f'[destinations.fcm]\nurl = "file://{root / "outbox"}"\n'
        f'[tuning]\nroot = "{root / "tuning-root"}"\n' + extra,
    )


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Path]:
    config = dev_site(tmp_path / "site")
    yield config
    for group in ("session", "feed"):
        run_process("--config", config, group, "stop", *FORCED, cwd=tmp_path)


@pytest.mark.slow
def test_a_development_configuration_takes_a_simulated_clock(ncctl: Runner, dev: Path) -> None:
    (dev.parent / "live" / "audit.csv").write_text("row\n")
    done = ncctl("--config", dev, "--clock", "2026-11-25T16:05", "logs", "rotate")
    assert done.code == 0, done.err
    assert done.err.splitlines()[0] == (
        f"ncctl: config {dev} (--config), state {dev.parent / 'state'}, simulated clock "
        "2026-11-25T16:05:00-06:00"
    )
    assert (dev.parent / "archive" / "audit" / "audit.20261125.csv.gz").is_file()
    [entry] = journal(dev.parent / "state")
    assert entry["clock"]["kind"] == "simulated" and entry["clock"]["source"] == "--clock"
    assert "override" not in entry["clock"] and entry["reason"] is None


@pytest.mark.slow
def test_tune_on_the_machine_root_is_not_a_development_setup(
    ncctl: Runner, dev: Path, tmp_path: Path
) -> None:
    """``--root /`` overrides the configuration's fake tuning root: the guard judges the root
    the command would act on (rollback, which has nothing to restore here anyway)."""
    before = snapshot(tmp_path)
    done = ncctl("--config", dev, "--clock", SIM_AT, "tune", "rollback", "--root", "/", "--json")
    error = done.error()
    assert done.code == 1 and error["code"] == "clock.simulated"
    assert "tuning.root is the machine's /" in error["message"]
    assert snapshot(tmp_path) == before


@pytest.mark.slow
def test_the_machine_clock_is_journaled_as_real(ncctl: Runner, dev: Path) -> None:
    data = ncctl("--config", dev, "config", "set", "ilink.port", "29001", "--json").data()
    assert data["context"]["clock"] == {"kind": "real"}
    assert journal(dev.parent / "state")[-1]["clock"] == {"kind": "real"}


@pytest.mark.slow
def test_a_stop_in_scheduled_hours_needs_force(ncctl: Runner, dev: Path) -> None:
    args = ("--config", dev, "--clock", FRIDAY_OPEN)
    assert ncctl(*args, "feed", "start", "--json").data()["changed"] is True
    for verb in ("stop", "restart"):
        refused = ncctl(*args, "feed", verb, "--json")
        assert refused.code == 1
        error = refused.error()
        assert error["code"] == "schedule.refused" and "--force --reason" in error["hint"]
        assert "market OPEN" in error["message"]
        assert "2026-12-04T16:00:00-06:00" in error["message"]  # when it is scheduled down
    assert ncctl(*args, "feed", "status", "--json").data()["actual"] == "running"
    stopped = ncctl(*args, "feed", "stop", *FORCED, "--json").data()
    assert stopped["changed"] is True
    entries = journal(dev.parent / "state")
    outcomes = [(e["command"], e["outcome"]) for e in entries]
    assert outcomes == [
        ("feed start", "ok"),
        ("feed stop", "refused"),
        ("feed restart", "refused"),
        ("feed stop", "ok"),
    ]
    last = entries[-1]
    assert last["reason"] == FORCED[2] and "market OPEN" in last["details"]["overrides_stop"]
    assert last["clock"]["at"] == "2026-12-04T10:46:00-06:00"
    # a stopped component may be "stopped" again, and restarted, without force
    assert ncctl(*args, "feed", "stop", "--json").data()["changed"] is False
    assert ncctl(*args, "feed", "restart", "--json").code == 0


@pytest.mark.slow
def test_a_stop_outside_scheduled_hours_needs_no_force(ncctl: Runner, dev: Path) -> None:
    maintenance = ("--config", dev, "--clock", "2026-11-25T16:10")  # order entry down
    assert ncctl(*maintenance, "session", "start", *FORCED, "--json").code == 0
    assert ncctl(*maintenance, "session", "stop", "--json").data()["changed"] is True


PARTY = "[ilink]" + DEV_TOML.read_text().split("[ilink]", 1)[1]
"""The [ilink] and [[party_details]] of configs/dev.toml."""


@pytest.mark.slow
def test_a_manual_session_start_applies_the_registration_gate(
    ncctl: Runner, tmp_path: Path
) -> None:
    config = dev_site(tmp_path / "site", extra=PARTY)
    args = ("--config", config, "--clock", FRIDAY_OPEN)
    try:
        for verb in ("start", "restart"):
            refused = ncctl(*args, "session", verb, "--json")
            error = refused.error()
            assert refused.code == 1 and error["code"] == "registration.missing"
            assert "week of 2026-11-29" in error["message"] and "1001" in error["message"]
            assert "ncctl party register" in error["hint"]
        status = ncctl(*args, "session", "status", "--json").doc()["data"]
        assert status["actual"] == "stopped"
        started = ncctl(*args, "session", "start", *FORCED, "--json").data()
        assert started["changed"] is True
        entries = journal(tmp_path / "site" / "state")
        assert [e["outcome"] for e in entries] == ["refused", "refused", "ok"]
        assert "not registered: 1001" in entries[-1]["details"]["overrides_registration"]
        # the feed handler has no registration gate
        assert ncctl(*args, "feed", "start", "--json").code == 0
    finally:
        for group in ("session", "feed"):
            ncctl("--config", config, group, "stop", *FORCED)


# -- the journal ---------------------------------------------------------------------------


@pytest.mark.slow
def test_older_lines_without_a_clock_still_verify(ncctl: Runner, dev: Path) -> None:
    state = dev.parent / "state"
    state.mkdir(mode=0o700)
    old: dict[str, Any] = {
        "ts_ns": 1_700_000_000_000_000_000,
        "user": "root",
        "host": "h",
        "pid": 1,
        "command": "feed start",
        "args": {"component": "feed_handler"},
        "outcome": "ok",
        "reason": None,
        "details": {},
        "seq": 1,
        "prev": GENESIS,
        "time": "2023-11-14T22:13:20.000000000Z",
    }
    old["hash"] = sha(canonical(old))
    (state / "journal.jsonl").write_bytes(canonical(old) + b"\n")
    (state / "journal.jsonl").chmod(0o600)
    assert ncctl("--config", dev, "config", "set", "ilink.port", "29002").code == 0
    verified = ncctl("--config", dev, "audit", "verify", "--json").data()
    assert verified["intact"] is True and verified["lines"] == 2
    log = ncctl("--config", dev, "audit", "log", "--json").data()
    assert ["clock" in e for e in log["entries"]] == [False, True]


# -- the predicate ---------------------------------------------------------------------------

SIMULATOR = ["{python}", "-m", "ncctl.sim.feed_handler"]
BREAKERS: dict[str, dict[str, Any]] = {
    "environment": {"environment": "staging"},
    "systemd": {"components": {"feed_handler": {"backend": "systemd", "unit": "f.service"}}},
    "not a simulator": {"components": {"order_session": {"command": ["/opt/cme/order"]}}},
    "a shell": {"components": {"feed_handler": {"command": ["sh", "-m", "ncctl.sim.x"]}}},
    "sftp": {
        "destinations": {"fcm": {"url": "sftp://u@h/dir", "key_file": "/k", "known_hosts": "/kh"}}
    },
    "root": {"tuning": {"root": "/"}},
    "root in disguise": {"tuning": {"root": "/tmp/../"}},
}


def dev_document(python: str, module: str, dests: list[str], root: str) -> dict[str, Any]:
    return {
        "environment": "dev",
        "components": {
            name: {"command": [python, "-m", f"ncctl.sim.{module}"]}
            for name in ("feed_handler", "order_session")
        },
        "destinations": {name: {"url": f"file:out/{name}"} for name in dests},
        "tuning": {"root": root},
    }


def merged(doc: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(
    python=st.sampled_from(["{python}", "python3", "/usr/bin/python3.11", "python"]),
    module=st.sampled_from(["feed_handler", "order_session", "idle"]),
    dests=st.lists(st.sampled_from(["fcm", "client", "bank"]), unique=True, max_size=3),
    root=st.sampled_from([".ncctl/fakeroot", "/srv/fake", "fake"]),
    breaker=st.sampled_from([None, *BREAKERS]),
)
def test_any_one_real_part_makes_a_configuration_more_than_development(
    python: str, module: str, dests: list[str], root: str, breaker: str | None
) -> None:
    doc = dev_document(python, module, dests, root)
    if breaker is not None:
        doc = merged(doc, BREAKERS[breaker])
    config = NcctlConfig.model_validate(doc)
    assert is_development(config) is (breaker is None), development_problem(config)


def test_the_shipped_configurations() -> None:
    from ncctl.appconfig.load import load_file

    repo = DEV_TOML.parent
    assert is_development(load_file(repo / "dev.toml")[0])
    for name in ("staging", "prod"):
        assert not is_development(load_file(repo / f"{name}.toml")[0])
