"""``ncctl party …`` through ``ncctl.cli.main.main``, against the gateway simulator.

The first tests hand the command its inputs directly (a gateway on a free port, a key file
in the test's directory); the last ones run everything from a configuration file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ncctl.cli import app as app_module
from ncctl.cli import party_cmd
from ncctl.cli.docs import missing_help, render_cli_reference
from ncctl.cli.main import main
from ncctl.ilink.party import PartyInputs
from ncctl.ilink.settings import PartyDetails

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
        monkeypatch.setattr(party_cmd, "party_inputs", lambda: inputs)

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
