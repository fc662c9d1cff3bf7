"""The systemd backend against a recording ``systemctl`` stub, and ``ncctl systemd units``.

No systemd runs here, so ``systemctl`` is the one stub this project allows: a small Python
script written into the test's directory that appends its arguments as one JSON line to
``systemctl.calls`` and answers from ``systemctl.state.json`` the way the real one does
(``is-active`` prints the state and exits 0 or 3, ``show`` prints KEY=VALUE lines, ``start`` and
``stop`` change the state, ``Unit X not found.`` for a unit it does not know).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ncctl.appconfig.model import NcctlConfig
from ncctl.cli.main import main
from ncctl.components.lifecycle import backend_for
from ncctl.components.section import ComponentConfig
from ncctl.components.systemd import SystemdBackend, parse_properties, parse_timestamp
from ncctl.errors import TemporaryError, UnavailableError
from tests.helpers import run_in_process

REPO_ROOT = Path(__file__).resolve().parents[2]
DEV_TOML = REPO_ROOT / "configs" / "dev.toml"
UNIT = "ncctl-feed-handler.service"
SHOW = (
    "--property=ActiveState,SubState,MainPID,ExecMainStartTimestamp,ExecMainStatus,Result,LoadState"
)
STARTED = "Thu 2024-05-02 15:11:12 UTC"

STUB = """#!{python} -S
import json, select, sys
from pathlib import Path

here = Path(__file__).resolve().parent
args = sys.argv[1:]
with open(here / "systemctl.calls", "a", encoding="utf-8") as fh:
    fh.write(json.dumps(args) + "\\n")
state_file = here / "systemctl.state.json"
doc = json.loads(state_file.read_text(encoding="utf-8"))
mode = doc.get("mode", "")
if mode == "hang":
    select.select([], [], [])  # blocks until the caller's timeout kills it
if mode == "no-bus":
    print("System has not been booted with systemd as init system (PID 1). Can't operate.",
          file=sys.stderr)
    print("Failed to connect to bus: Host is down", file=sys.stderr)
    sys.exit(1)
verb, unit = args[0], args[1]
u = doc["units"].get(unit)

def save():
    state_file.write_text(json.dumps(doc), encoding="utf-8")

if verb == "is-active":
    state = u["state"] if u else "inactive"
    print(state)
    sys.exit(0 if state == "active" else 3)
if verb == "show":
    state = u["state"] if u else "inactive"
    sub = {{"active": "running", "inactive": "dead", "failed": "failed",
           "activating": "start", "deactivating": "stop-sigterm", "reloading": "reload"}}
    values = {{
        "LoadState": "loaded" if u else "not-found",
        "ActiveState": state,
        "SubState": sub.get(state, state),
        "MainPID": str(u.get("pid", 0)) if u and state != "inactive" else "0",
        "ExecMainStartTimestamp": u.get("started", "") if u else "",
        "ExecMainStatus": str(u.get("exit_status", 0)) if u else "0",
        "Result": u.get("result", "success") if u else "success",
    }}
    for prop in args[2].removeprefix("--property=").split(","):
        print(f"{{prop}}={{values[prop]}}")
    sys.exit(0)
if u is None:
    print(f"Failed to {{verb}} {{unit}}: Unit {{unit}} not found.", file=sys.stderr)
    sys.exit(5)
if verb == "start":
    if mode == "fail-start":
        print(f"Job for {{unit}} failed because the control process exited with error code.",
              file=sys.stderr)
        print(f'See "systemctl status {{unit}}" and "journalctl -xeu {{unit}}" for details.',
              file=sys.stderr)
        u.update(state="failed", pid=0, result="exit-code", exit_status=1)
        save()
        sys.exit(1)
    u.update(state="active", pid=4242, started="{started}", result="success", exit_status=0)
    save()
    sys.exit(0)
if verb == "stop":
    u.update(state="inactive", pid=0)
    save()
    sys.exit(0)
if verb == "reset-failed":
    if u["state"] == "failed":
        u.update(state="inactive", result="success")
        save()
    sys.exit(0)
print(f"Unknown command verb {{verb}}.", file=sys.stderr)
sys.exit(1)
"""


class SystemctlStub:
    """The recording ``systemctl``: its path, its state and the calls it received."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir()
        self.dir = directory
        self.path = directory / "systemctl"
        self.path.write_text(STUB.format(python=sys.executable, started=STARTED), "utf-8")
        self.path.chmod(0o755)
        self._doc: dict[str, Any] = {"mode": "", "units": {}}
        self._save()

    def _save(self) -> None:
        (self.dir / "systemctl.state.json").write_text(json.dumps(self._doc), "utf-8")

    def unit(self, name: str, **fields: Any) -> None:
        self._doc["units"][name] = fields
        self._save()

    def mode(self, mode: str) -> None:
        self._doc["mode"] = mode
        self._save()

    def calls(self) -> list[list[str]]:
        log = self.dir / "systemctl.calls"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text("utf-8").splitlines()]

    def state(self, name: str) -> str:
        doc = json.loads((self.dir / "systemctl.state.json").read_text("utf-8"))
        state: str = doc["units"][name]["state"]
        return state


@pytest.fixture
def stub(tmp_path: Path) -> SystemctlStub:
    return SystemctlStub(tmp_path / "stub-bin")


def backend(stub: SystemctlStub, **kwargs: Any) -> SystemdBackend:
    config = ComponentConfig(backend="systemd", unit=UNIT, stop_timeout_s=5)
    return SystemdBackend("feed_handler", config, systemctl=str(stub.path), **kwargs)


# -- start ---------------------------------------------------------------------------------------


def test_start_an_inactive_unit(stub: SystemctlStub) -> None:
    stub.unit(UNIT, state="inactive")
    result = backend(stub).start()

    assert stub.calls() == [["is-active", UNIT], ["start", UNIT], ["show", UNIT, SHOW]]
    assert result.changed is True
    assert result.action == "start"
    assert result.message == f"started {UNIT} (pid 4242)"
    assert result.status.state == "running"
    assert result.status.backend == "systemd"
    assert result.status.pid == 4242
    assert result.status.since == dt.datetime(2024, 5, 2, 15, 11, 12, tzinfo=dt.UTC)
    assert stub.state(UNIT) == "active"


def test_start_an_active_unit_is_a_no_op(stub: SystemctlStub) -> None:
    stub.unit(UNIT, state="active", pid=777, started=STARTED)
    result = backend(stub).start()

    assert stub.calls() == [["is-active", UNIT], ["show", UNIT, SHOW]]
    assert result.changed is False
    assert result.message == f"already running ({UNIT}, pid 777)"
    assert result.status.pid == 777


def test_a_failing_start_names_the_unit_and_the_journal(stub: SystemctlStub) -> None:
    stub.unit(UNIT, state="inactive")
    stub.mode("fail-start")
    with pytest.raises(UnavailableError) as err:
        backend(stub).start()

    assert stub.calls() == [["is-active", UNIT], ["start", UNIT]]
    assert err.value.exit_code == 69
    assert err.value.message == (
        f"systemctl start {UNIT} failed: Job for {UNIT} failed because the control process "
        "exited with error code."
    )
    assert f"journalctl -u {UNIT}" in err.value.hint


def test_starting_a_unit_that_is_not_installed(stub: SystemctlStub) -> None:
    with pytest.raises(UnavailableError) as err:
        backend(stub).start()
    assert err.value.code == "systemd.unit_not_found"
    assert f"Unit {UNIT} not found." in err.value.message
    assert "ncctl systemd units" in err.value.hint

    status = backend(stub).status()
    assert status.state == "stopped"
    assert status.detail == f"{UNIT} is not installed (LoadState=not-found)"


# -- stop ----------------------------------------------------------------------------------------


def test_stop_an_active_unit(stub: SystemctlStub) -> None:
    stub.unit(UNIT, state="active", pid=777, started=STARTED)
    result = backend(stub).stop()

    assert stub.calls() == [["is-active", UNIT], ["stop", UNIT], ["show", UNIT, SHOW]]
    assert result.changed is True
    assert result.message == f"stopped {UNIT}"
    assert result.status.state == "stopped"
    assert stub.state(UNIT) == "inactive"


def test_stop_an_inactive_unit_is_a_no_op(stub: SystemctlStub) -> None:
    stub.unit(UNIT, state="inactive")
    result = backend(stub).stop()

    assert stub.calls() == [["is-active", UNIT]]
    assert result.changed is False
    assert result.message == f"already stopped ({UNIT})"
    assert result.status.state == "stopped"


def test_stop_a_failed_unit_clears_its_failed_state(stub: SystemctlStub) -> None:
    stub.unit(UNIT, state="failed", result="exit-code", exit_status=3, started=STARTED)
    result = backend(stub).stop()

    assert stub.calls() == [["is-active", UNIT], ["show", UNIT, SHOW], ["reset-failed", UNIT]]
    assert result.changed is False
    assert "exited with status 3" in result.message
    assert stub.state(UNIT) == "inactive"
    assert backend(stub).status().state == "stopped"


# -- status --------------------------------------------------------------------------------------


def test_a_failed_unit_is_crashed_with_its_exit_code(stub: SystemctlStub) -> None:
    stub.unit(UNIT, state="failed", result="exit-code", exit_status=3, started=STARTED)
    status = backend(stub).status()

    assert stub.calls() == [["show", UNIT, SHOW]]
    assert status.state == "crashed"
    assert status.exit_code == 3
    assert status.pid is None
    assert status.detail == "exited with status 3 (Result=exit-code)"
    assert status.as_dict()["since"] == "2024-05-02T15:11:12+00:00"


def test_a_unit_killed_by_a_signal(stub: SystemctlStub) -> None:
    stub.unit(UNIT, state="failed", result="signal", exit_status=9)
    status = backend(stub).status()
    assert (status.state, status.exit_code) == ("crashed", 9)
    assert status.detail == "killed by signal 9 (Result=signal)"


@pytest.mark.parametrize(
    ("state", "detail"),
    [
        ("activating", "activating (start)"),
        ("deactivating", "deactivating (stop-sigterm)"),
        ("reloading", "reloading (reload)"),
    ],
)
def test_transitional_states_are_unknown(stub: SystemctlStub, state: str, detail: str) -> None:
    stub.unit(UNIT, state=state, pid=555)
    status = backend(stub).status()
    assert (status.state, status.detail, status.pid) == ("unknown", detail, 555)
    assert not status.running


def test_an_active_unit_is_running(stub: SystemctlStub) -> None:
    stub.unit(UNIT, state="active", pid=777, started=STARTED)
    status = backend(stub).status()
    assert (status.state, status.pid, status.detail) == ("running", 777, "")
    assert status.running


# -- systemctl itself ----------------------------------------------------------------------------


def test_lifecycle_uses_the_systemctl_on_path(
    stub: SystemctlStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{stub.dir}{os.pathsep}{os.environ['PATH']}")
    stub.unit(UNIT, state="active", pid=777, started=STARTED)
    config = NcctlConfig.model_validate(
        {"components": {"feed_handler": {"backend": "systemd", "unit": UNIT}}}
    )
    found = backend_for("feed_handler", config.components, config.state_dir)

    assert isinstance(found, SystemdBackend)
    assert found.kind == "systemd"
    assert found.status().pid == 777
    assert stub.calls() == [["show", UNIT, SHOW]]


def test_no_systemctl_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    config = ComponentConfig(backend="systemd", unit=UNIT)
    for systemd in (SystemdBackend("feed_handler", config), backend_at(tmp_path / "nope")):
        with pytest.raises(UnavailableError) as err:
            systemd.start()
        assert err.value.exit_code == 69
        assert err.value.code == "systemd.no_systemctl"
        assert "systemctl not found" in err.value.message
        assert 'backend = "process"' in err.value.hint


def backend_at(systemctl: Path) -> SystemdBackend:
    config = ComponentConfig(backend="systemd", unit=UNIT)
    return SystemdBackend("feed_handler", config, systemctl=str(systemctl))


def test_a_host_without_systemd_as_init(stub: SystemctlStub) -> None:
    stub.unit(UNIT, state="inactive")
    stub.mode("no-bus")
    with pytest.raises(UnavailableError) as err:
        backend(stub).status()
    assert err.value.exit_code == 69
    assert "System has not been booted with systemd" in err.value.message
    with pytest.raises(UnavailableError):
        backend(stub).stop()


@pytest.mark.slow
def test_a_systemctl_that_does_not_answer_is_temporary(stub: SystemctlStub) -> None:
    stub.unit(UNIT, state="inactive")
    stub.mode("hang")
    with pytest.raises(TemporaryError) as err:
        backend(stub, timeout_s=0.5).status()
    assert err.value.exit_code == 75
    assert err.value.code == "systemd.timeout"
    assert f"`systemctl show {UNIT}` did not answer within 0.5 s" == err.value.message


# -- parsing -------------------------------------------------------------------------------------


def test_parse_properties_and_timestamps() -> None:
    props = parse_properties("ActiveState=active\nEnvironment=A=1 B=2\nnoise\n=x\nMainPID=7\n")
    assert props == {"ActiveState": "active", "Environment": "A=1 B=2", "MainPID": "7"}

    utc = dt.UTC
    assert parse_timestamp(STARTED) == dt.datetime(2024, 5, 2, 15, 11, 12, tzinfo=utc)
    assert parse_timestamp("Thu 2024-05-02 15:11:12.250000 UTC") == dt.datetime(
        2024, 5, 2, 15, 11, 12, 250000, tzinfo=utc
    )
    assert parse_timestamp("@1714662672") == dt.datetime(2024, 5, 2, 15, 11, 12, tzinfo=utc)
    for unparseable in ("", "n/a", "Thu 2024-05-02 10:11:12 CDT", "soon"):
        assert parse_timestamp(unparseable) is None


# -- ncctl systemd units -------------------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("NCCTL_CONFIG", raising=False)
    monkeypatch.delenv("NCCTL_ENV", raising=False)
    yield work


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    done = run_in_process(capsys, "--config", DEV_TOML, *argv, "--json")
    data = done.data()
    assert done.doc()["command"] == "systemd units"
    return data


def test_systemd_units_command(
    workdir: Path, capsys: pytest.CaptureFixture[str], private_state_home: Path
) -> None:
    out = workdir / "units"
    names = [
        UNIT,
        "ncctl-order-session.service",
        "ncctl-scheduler.service",
        "ncctl-maintenance.service",
        "ncctl-maintenance.timer",
        "ncctl-tune.service",
        "ncctl-tune-boot.service",
    ]

    dry = run_json(capsys, "systemd", "units", "--dir", str(out), "--dry-run")
    assert [f["changed"] for f in dry["files"]] == [True] * 7
    assert not out.exists()

    first = run_json(capsys, "systemd", "units", "--dir", str(out))
    assert first["directory"] == str(out)
    assert first["files"] == [{"name": n, "path": str(out / n), "changed": True} for n in names]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    scheduler = (out / "ncctl-scheduler.service").read_text("utf-8")
    # the embedded default's paths are absolute (its state directory): the units run there
    assert f"WorkingDirectory={private_state_home}\n" in scheduler
    assert f"--config {DEV_TOML} scheduler run\n" in scheduler

    again = run_json(capsys, "systemd", "units", "--dir", str(out))
    assert [f["changed"] for f in again["files"]] == [False] * 7

    code = main(["--config", str(DEV_TOML), "systemd", "units", "--dir", str(out)])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.count("unchanged") == 7
    assert 'backend is "process"' in captured.err


def test_systemd_units_default_directory(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "systemd", "units")
    assert data["directory"] == str(workdir / "systemd-units")
    assert (workdir / "systemd-units" / "ncctl-maintenance.timer").is_file()
