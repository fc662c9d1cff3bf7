"""``ncctl party …`` through ``ncctl.cli.main.main``, against the gateway simulator.

The first tests hand the command its inputs directly (a gateway on a free port, a key file
in the test's directory); the last ones run everything from a configuration file.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ncctl.cli import app as app_module
from ncctl.cli import party_cmd
from ncctl.cli.docs import missing_help, render_cli_reference
from ncctl.cli.main import main
from ncctl.ilink.party_inputs import PartyInputs
from ncctl.ilink.section import PartyDetails

from .conftest import (
    ACCESS_KEY_ID,
    FIRM,
    SECRET,
    SESSION,
    MakeInputs,
    StartGateway,
    entry,
    write_key_file,
)

pytestmark = pytest.mark.slow


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    """Run ncctl in-process; (exit code, the one JSON document or {}, stderr)."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    assert SECRET not in out + err
    doc: dict[str, Any] = {}
    if "--json" in argv:
        assert out.count("\n") == 1, out
        doc = json.loads(out)
        assert set(doc) == {"ok", "command", "data", "error"}
    return code, doc, out + err


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "ncctl.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n')
    return path


@pytest.fixture
def use_inputs(monkeypatch: pytest.MonkeyPatch) -> Any:
    def use(inputs: PartyInputs) -> None:
        monkeypatch.setattr(party_cmd, "party_inputs", lambda ctx: inputs)

    return use


def test_register_list_verify_json(
    capsys: pytest.CaptureFixture[str],
    start_gateway: StartGateway,
    make_inputs: MakeInputs,
    use_inputs: Any,
    config_file: Path,
) -> None:
    gateway = start_gateway()
    use_inputs(make_inputs(gateway.port, [entry(1001), entry(1002)]))
    cfg = ("--config", str(config_file))

    code, doc, _ = run(capsys, *cfg, "party", "register", "--json")
    assert code == 0 and doc["ok"] is True and doc["error"] is None
    assert doc["command"] == "party register"
    data = doc["data"]
    assert data["counts"] == {
        "registered": 2,
        "already_registered": 0,
        "rejected": 0,
        "not_sent": 0,
    }
    assert [e["status"] for e in data["entries"]] == ["registered", "registered"]
    assert data["secret_expires_in_days"] == 90
    assert data["audit_rows"] == 12

    code, doc, _ = run(capsys, *cfg, "party", "list", "--json")
    assert code == 0 and doc["command"] == "party list"
    assert [d["id"] for d in doc["data"]["definitions"]] == [1001, 1002]
    assert doc["data"]["definitions"][0]["account"] == "ACC1001"

    code, doc, _ = run(capsys, *cfg, "party", "verify", "--json")
    assert code == 0 and doc["data"]["ok"] is True and doc["data"]["matching"] == [1001, 1002]


def test_verify_exits_1_on_a_difference_with_data_and_error(
    capsys: pytest.CaptureFixture[str],
    start_gateway: StartGateway,
    make_inputs: MakeInputs,
    use_inputs: Any,
    config_file: Path,
) -> None:
    gateway = start_gateway()
    use_inputs(make_inputs(gateway.port, [entry(1, account="OLD")]))
    run(capsys, "--config", str(config_file), "party", "register", "--json")
    use_inputs(make_inputs(gateway.port, [entry(1), entry(2)]))
    code, doc, _ = run(capsys, "--config", str(config_file), "party", "verify", "--json")
    assert code == 1
    assert doc["ok"] is False
    assert doc["error"]["code"] == "ilink.party.mismatch"
    assert doc["data"]["missing"] == [2]
    assert doc["data"]["different"] == {"1": ["account: config 'ACC1', gateway 'OLD'"]}
    code, _, text = run(capsys, "--config", str(config_file), "party", "verify")
    assert code == 1
    assert "DIFFERENT" in text and "2: configured, not at the gateway" in text


def test_register_text_output_and_reused_id_failure(
    capsys: pytest.CaptureFixture[str],
    start_gateway: StartGateway,
    make_inputs: MakeInputs,
    use_inputs: Any,
    config_file: Path,
) -> None:
    gateway = start_gateway("--secret-expiry-days", "3")
    use_inputs(make_inputs(gateway.port, [entry(7)]))
    code, _, text = run(capsys, "--config", str(config_file), "party", "register")
    assert code == 0
    assert "ok party details for the week of" in text and "1 registered" in text
    assert "warning: the iLink secret key expires in 3 days" in text
    use_inputs(make_inputs(gateway.port, [entry(7, operator="SOMEONE-ELSE")]))
    code, doc, _ = run(capsys, "--config", str(config_file), "party", "register", "--json")
    assert code == 1
    assert doc["ok"] is False and doc["error"]["code"] == "ilink.party.reused_id"
    assert doc["data"]["entries"][0]["status"] == "rejected"
    assert "operator: config 'SOMEONE-ELSE', gateway 'NCCTL-OPS'" in doc["error"]["message"]
    assert doc["data"]["warnings"] == [
        "the iLink secret key expires in 3 days "
        "(SecretKeySecureIDExpiration): request a new one in "
        "CME Customer Center and update "
        f"{make_inputs(1, []).ilink.secret_key_file}"
    ]


def test_dry_run_and_wrong_secret(
    capsys: pytest.CaptureFixture[str],
    start_gateway: StartGateway,
    make_inputs: MakeInputs,
    use_inputs: Any,
    config_file: Path,
    tmp_path: Path,
) -> None:
    use_inputs(make_inputs(1, [entry(3)]))
    code, doc, _ = run(
        capsys, "--config", str(config_file), "party", "register", "--dry-run", "--json"
    )
    assert code == 0 and doc["ok"] is True
    assert doc["data"]["dry_run"] is True and [p["id"] for p in doc["data"]["plan"]] == [3]
    code, _, text = run(capsys, "--config", str(config_file), "party", "register", "--dry-run")
    assert code == 0 and "dry run: would register 1 party-details entry" in text

    gateway = start_gateway()
    wrong = write_key_file(tmp_path / "wrong.key", secret="d3Jvbmc")
    use_inputs(make_inputs(gateway.port, [entry(3)], secret_key_file=wrong))
    code, doc, _ = run(capsys, "--config", str(config_file), "party", "register", "--json")
    assert code == 77
    assert doc["ok"] is False and doc["data"] is None
    assert doc["error"]["code"] == "ilink.negotiation_rejected"
    assert "HMAC" in doc["error"]["message"]


def test_every_party_command_and_option_has_help() -> None:
    missing = [m for m in missing_help(app_module.build_app()) if "party" in m]
    assert missing == []
    commands = {c.name for c in party_cmd.app.registered_commands}
    assert commands == {"register", "list", "verify"}
    reference = render_cli_reference()
    section = reference[reference.index("### ncctl party register") :]
    assert "every party_details entry of the configuration" in section
    assert "[]" not in section and "()" not in section  # no help text eaten as markup


# -- the real configuration path --------------------------------------------------------


def _config(tmp_path: Path, port: int, key: Path, entries: list[PartyDetails]) -> Path:
    lines = [
        f'state_dir = "{tmp_path / "state"}"',
        "[logs.audit]",
        f'path = "{tmp_path / "audit" / "audit.csv"}"',
        'reopen = "self"',
        "[ilink]",
        f"port = {port}",
        f'session = "{SESSION}"',
        f'firm = "{FIRM}"',
        f'access_key_id = "{ACCESS_KEY_ID}"',
        f'secret_key_file = "{key}"',
        "response_timeout_s = 2.0",
        "retry_delay_s = 0.0",
        "[tuning]",  # a development setup: --clock may act
        f'root = "{tmp_path / "tuning-root"}"',
    ]
    for e in entries:
        lines.append("[[party_details]]")
        for k, v in e.model_dump(exclude_none=True).items():
            lines.append(f"{k} = {json.dumps(v)}")
    path = tmp_path / "ncctl.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_wired_register_list_verify_from_the_configuration(
    capsys: pytest.CaptureFixture[str],
    start_gateway: StartGateway,
    key_file: Path,
    tmp_path: Path,
) -> None:
    gateway = start_gateway()
    cfg = _config(tmp_path, gateway.port, key_file, [entry(1001), entry(1002, smp_id=5)])
    code, doc, _ = run(capsys, "--config", str(cfg), "party", "register", "--json")
    assert code == 0, doc
    assert doc["data"]["counts"]["registered"] == 2
    code, doc, _ = run(capsys, "--config", str(cfg), "party", "list", "--json")
    assert code == 0 and doc["data"]["count"] == 2
    code, doc, _ = run(capsys, "--config", str(cfg), "party", "verify", "--json")
    assert code == 0 and doc["data"]["ok"] is True
    changed = _config(tmp_path, gateway.port, key_file, [entry(1001, account="X")])
    code, doc, _ = run(capsys, "--config", str(changed), "party", "verify", "--json")
    assert code == 1 and doc["error"]["code"] == "ilink.party.mismatch"
    assert doc["data"]["extra"] == [1002]


def test_wired_configuration_rejects_duplicate_ids(
    capsys: pytest.CaptureFixture[str], key_file: Path, tmp_path: Path
) -> None:
    cfg = _config(tmp_path, 1, key_file, [entry(5), entry(5)])
    code, doc, _ = run(capsys, "--config", str(cfg), "party", "register", "--json")
    assert code == 78
    assert "party_details" in doc["error"]["message"]
    assert "used by an earlier entry" in doc["error"]["message"]


# -- the whole uInt64 id range ----------------------------------------------------------

BIG_IDS = (2**63, 2**64 - 2)


def test_ids_above_2_63_register_list_and_verify(
    capsys: pytest.CaptureFixture[str],
    start_gateway: StartGateway,
    key_file: Path,
    tmp_path: Path,
) -> None:
    """PartyDetailsListReqID is a uInt64: 2**63 and 2**64-2 (2**64-1 is the null) are stored
    exactly in party.sqlite next to an id registered before, and the week counts as done."""
    from ncctl.ilink.registration_store import RegistrationStore, id_from_sql, id_to_sql

    gateway = start_gateway()
    small = _config(tmp_path, gateway.port, key_file, [entry(7)])
    code, doc, _ = run(capsys, "--config", str(small), "party", "register", "--json")
    assert code == 0, doc
    week = dt.date.fromisoformat(doc["data"]["week"])
    cfg = _config(
        tmp_path,
        gateway.port,
        key_file,
        [entry(7), *(entry(i, account=f"BIG{n}") for n, i in enumerate(BIG_IDS))],
    )
    code, doc, _ = run(capsys, "--config", str(cfg), "party", "register", "--json")
    assert code == 0, doc
    assert [(e["id"], e["status"]) for e in doc["data"]["entries"]] == [
        (7, "already_registered"),
        (BIG_IDS[0], "registered"),
        (BIG_IDS[1], "registered"),
    ]
    code, doc, text = run(capsys, "--config", str(cfg), "party", "register")
    assert code == 0 and "0 registered, 3 already registered" in text
    code, doc, _ = run(capsys, "--config", str(cfg), "party", "list", "--json")
    assert code == 0 and [d["id"] for d in doc["data"]["definitions"]] == [7, *BIG_IDS]
    code, doc, _ = run(capsys, "--config", str(cfg), "party", "verify", "--json")
    assert code == 0 and doc["data"]["matching"] == [7, *BIG_IDS], doc
    rows = RegistrationStore(tmp_path / "state").registrations(week)
    assert [(r["id"], r["status"]) for r in rows] == [
        (7, "already_registered"),
        (BIG_IDS[0], "already_registered"),
        (BIG_IDS[1], "already_registered"),
    ]
    assert [r["definition"]["id"] for r in rows] == [7, *BIG_IDS]
    stored = sqlite3.connect(tmp_path / "state" / "party.sqlite")
    try:
        raw = sorted(r[0] for r in stored.execute("SELECT id FROM registrations"))
    finally:
        stored.close()
    assert raw == sorted(id_to_sql(i) for i in (7, *BIG_IDS))
    assert [id_from_sql(v) for v in sorted(raw, key=id_from_sql)] == [7, *BIG_IDS]


@given(st.integers(0, 2**64 - 2))
def test_stored_ids_round_trip_exactly_in_64_signed_bits(ident: int) -> None:
    from ncctl.ilink.registration_store import id_from_sql, id_to_sql

    stored = id_to_sql(ident)
    assert -(2**63) <= stored < 2**63
    assert id_from_sql(stored) == ident
    assert (stored == ident) == (ident < 2**63)  # ids earlier versions stored are unchanged


# -- exit codes: what the help says is what happens ------------------------------------


def _help_exit_code(phrase: str) -> int:
    """The exit code ``party register --help`` (and docs/cli.md) gives for ``phrase``."""
    command = next(c for c in party_cmd.app.registered_commands if c.name == "register")
    text = " ".join(str(command.help).split())
    match = re.search(rf"(\d+) when {re.escape(phrase)}", text)
    assert match, f"`party register --help` names no exit code for {phrase!r}: {text}"
    docs = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
    assert match.group(0) in " ".join(docs.read_text(encoding="utf-8").split())
    return int(match.group(1))


def test_register_exit_codes_are_the_ones_its_help_and_docs_give(
    capsys: pytest.CaptureFixture[str],
    start_gateway: StartGateway,
    make_inputs: MakeInputs,
    use_inputs: Any,
    config_file: Path,
    tmp_path: Path,
) -> None:
    cfg = ("--config", str(config_file))
    with socket.create_server(("127.0.0.1", 0)) as holder:
        closed_port = holder.getsockname()[1]
    use_inputs(make_inputs(closed_port, [entry(1)], registration_attempts=1))
    code, doc, _ = run(capsys, *cfg, "party", "register", "--json")
    assert doc["error"]["code"] == "ilink.connect_failed"
    assert code == _help_exit_code("the gateway cannot be reached") == 69

    dropping = start_gateway("--drop-after", "1")
    use_inputs(make_inputs(dropping.port, [entry(1)], registration_attempts=1))
    code, doc, _ = run(capsys, *cfg, "party", "register", "--json")
    assert doc["error"]["code"] == "ilink.connection_lost"
    assert code == _help_exit_code("it stops answering, drops the connection") == 75

    gateway = start_gateway()
    wrong = write_key_file(tmp_path / "wrong.key", secret="d3Jvbmc")
    use_inputs(make_inputs(gateway.port, [entry(1)], secret_key_file=wrong))
    code, doc, _ = run(capsys, *cfg, "party", "register", "--json")
    assert doc["error"]["code"] == "ilink.negotiation_rejected"
    assert code == _help_exit_code("it refuses the credentials") == 77

    use_inputs(make_inputs(gateway.port, [entry(1)]))
    assert run(capsys, *cfg, "party", "register", "--json")[0] == 0
    use_inputs(make_inputs(gateway.port, [entry(1, account="OTHER")]))
    code, doc, _ = run(capsys, *cfg, "party", "register", "--json")
    assert doc["error"]["code"] == "ilink.party.reused_id"
    assert code == _help_exit_code("an entry is rejected") == 1


# -- only the machine's clock reaches the wire -------------------------------------------


def test_register_under_a_clock_far_in_the_past_stamps_the_wire_with_real_time(
    capsys: pytest.CaptureFixture[str],
    start_gateway: StartGateway,
    key_file: Path,
    tmp_path: Path,
) -> None:
    """``--clock`` years back picks the week; the gateway (rejecting Negotiates more than 5 s
    from its clock, as CME does) sees RequestTimestamp, SendingTimeEpoch and UUID of now."""
    gateway = start_gateway("--max-request-age-s", "5")
    cfg = _config(tmp_path, gateway.port, key_file, [entry(41)])
    before = time.time_ns()
    code, doc, _ = run(
        capsys, "--clock", "2021-03-07T15:25", "--config", str(cfg), "party", "register", "--json"
    )
    after = time.time_ns()
    assert code == 0, doc
    assert doc["data"]["week"] == "2021-03-07"
    stamps = gateway.state()["wire_stamps"]
    assert [(s["message"], s["field"]) for s in stamps] == [
        ("Negotiate", "request_timestamp"),
        ("Establish", "request_timestamp"),
        ("PartyDetailsListRequest", "sending_time_epoch"),
        ("PartyDetailsDefinitionRequest", "sending_time_epoch"),
        ("Terminate", "request_timestamp"),
    ]
    assert all(before <= s["value"] <= after for s in stamps), stamps
    assert all(abs(s["received_ns"] - s["value"]) < 5 * 10**9 for s in stamps)
    assert before // 1000 <= doc["data"]["uuid"] <= after // 1000
    assert gateway.state()["negotiation_rejects"] == 0
