"""Preflight's iLink checks against the gateway simulator (a real process on 127.0.0.1): the
secret's expiry as the last registration learnt it, counted down by the days since, and the
gateway's port; and ``config validate`` as a check."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from tests.helpers import run_in_process
from tests.ilink.conftest import ACCESS_KEY_ID, FIRM, SESSION, StartGateway, entry
from tests.preflight.conftest import preflight, write_config

REGISTERED_AT = "2026-11-22T13:00"
KEY_WRITTEN = dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp()
"""Key files are dated before the registration: the secret was not replaced since."""


def ilink_config(tmp_path: Path, port: int, key: Path) -> Path:
    os.utime(key, (KEY_WRITTEN, KEY_WRITTEN))
    ilink = (
        f'session = "{SESSION}"\nfirm = "{FIRM}"\naccess_key_id = "{ACCESS_KEY_ID}"\n'
        f'secret_key_file = "{key}"\nresponse_timeout_s = 2.0\nretry_delay_s = 0.0\n'
    )
    audit = f'\n[logs.audit]\npath = "{tmp_path / "audit" / "audit.csv"}"\nreopen = "self"\n'
    party = (
        audit
        + "\n[[party_details]]\n"
        + "".join(
            f"{k} = {json.dumps(v)}\n" for k, v in entry(1001).model_dump(exclude_none=True).items()
        )
    )
    return write_config(tmp_path, gateway_port=port, ilink=ilink, extra=party)


def register(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    got = run_in_process(
        capsys, "--config", config, "--clock", REGISTERED_AT, "party", "register", "--json"
    )
    assert got.code == 0, got


@pytest.mark.parametrize(
    ("expiry", "clock", "status", "detail"),
    [
        (
            "5",
            "2026-11-22T13:30",
            "warn",
            "the iLink secret key expires in 5 day(s) (the gateway said 5 on 2026-11-22)",
        ),
        (
            "90",
            "2026-11-29T13:30",
            "ok",
            "the iLink secret key expires in 83 day(s) (the gateway said 90 on 2026-11-22)",
        ),
        (
            "3",
            "2026-11-26T13:30",
            "fail",
            "the iLink secret key has expired (1 day(s) ago by the count the gateway gave on "
            "2026-11-22)",
        ),
    ],
)
def test_secret_expiry_as_the_gateway_reported_it(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    start_gateway: StartGateway,
    key_file: Path,
    expiry: str,
    clock: str,
    status: str,
    detail: str,
) -> None:
    gateway = start_gateway("--secret-expiry-days", expiry)
    config = ilink_config(tmp_path, gateway.port, key_file)
    register(capsys, config)
    run = preflight(capsys, config, clock)
    check = run.checks["ilink_secret"]
    assert (check["status"], check["detail"]) == (status, detail)
    if status != "ok":
        assert "CME Customer Center" in check["hint"] and str(key_file) in check["hint"]
    gw = run.checks["ilink_gateway"]
    assert (gw["status"], gw["detail"]) == (
        "ok",
        f"iLink gateway 127.0.0.1:{gateway.port} accepts connections",
    )
    assert run.status("config") == "ok", run.checks["config"]
    assert run.code == (1 if status == "fail" else 0), run.doc


def test_a_secret_replaced_after_the_registration_is_not_warned_about(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    start_gateway: StartGateway,
    key_file: Path,
) -> None:
    gateway = start_gateway("--secret-expiry-days", "2")
    config = ilink_config(tmp_path, gateway.port, key_file)
    register(capsys, config)
    later = dt.datetime(2026, 11, 22, 21, 0, tzinfo=dt.UTC).timestamp()  # 15:00 CST
    os.utime(key_file, (later, later))
    run = preflight(capsys, config, "2026-11-23T10:00")
    check = run.checks["ilink_secret"]
    assert check["status"] == "ok"
    assert "was replaced after the last registration" in check["detail"]


def test_before_any_registration_the_expiry_is_skipped_and_a_stopped_gateway_fails(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    start_gateway: StartGateway,
    key_file: Path,
) -> None:
    gateway = start_gateway()
    config = ilink_config(tmp_path, gateway.port, key_file)
    assert gateway.stop() is not None
    run = preflight(capsys, config)
    assert run.status("ilink_secret") == "skip"
    assert "`ncctl party register`" in run.checks["ilink_secret"]["hint"]
    gw = run.checks["ilink_gateway"]
    assert gw["status"] == "fail"
    assert gw["detail"].startswith(f"iLink gateway 127.0.0.1:{gateway.port}: cannot connect")
    assert run.code == 1
    assert run.doc["error"]["message"].startswith("preflight: 1 check(s) failed; ilink_gateway")


def test_config_problems_fail_the_config_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int, key_file: Path
) -> None:
    config = ilink_config(tmp_path, listener, key_file)
    key_file.chmod(0o644)
    run = preflight(capsys, config)
    check = run.checks["config"]
    assert check["status"] == "fail", check
    assert "ilink.secret_key_file" in check["detail"]
    assert "`ncctl config validate` lists every problem" in check["hint"]
    assert run.code == 1
