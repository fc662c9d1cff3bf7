"""Shared parts of the iLink tests: a key file, the gateway simulator as a real process on
127.0.0.1, and party-details inputs pointing at it.

Every gateway is started with ``--port 0`` (the port it got is read from its ready file),
waited for with a deadline, and stopped (SIGTERM, then SIGKILL) at teardown.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ncctl.ilink.credentials import Credentials, decode_secret
from ncctl.ilink.party_inputs import PartyInputs
from ncctl.ilink.section import IlinkConfig, PartyDetails
from tests.helpers import wait_for

SECRET = "ZGV2LW9ubHktc2VjcmV0LWZvci10aGUtc2ltdWxhdG9y"
WRONG_SECRET = "d3Jvbmctc2VjcmV0LWZvci10aGUtc2ltdWxhdG9y"
ACCESS_KEY_ID = "TESTKEY01"
SESSION = "TST"
FIRM = "T01"


def write_key_file(path: Path, secret: str = SECRET, access_key_id: str = ACCESS_KEY_ID) -> Path:
    path.write_text(f'access_key_id = "{access_key_id}"\nsecret_key = "{secret}"\n')
    path.chmod(0o600)
    return path


def credentials(secret: str = SECRET) -> Credentials:
    return Credentials(ACCESS_KEY_ID, decode_secret(secret, "test"))


@dataclass
class GatewayProcess:
    """One running simulator."""

    proc: subprocess.Popen[bytes]
    port: int
    state_file: Path
    log_file: Path

    def state(self) -> dict[str, Any]:
        doc = json.loads(self.state_file.read_text())
        assert isinstance(doc, dict)
        return doc

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def stop(self, timeout_s: float = 5.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout_s)


StartGateway = Callable[..., GatewayProcess]


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return write_key_file(tmp_path / "ilink.key")


@pytest.fixture
def start_gateway(tmp_path: Path, key_file: Path) -> Iterator[StartGateway]:
    """``start_gateway(*extra_args) -> GatewayProcess``; all are stopped at teardown."""
    started: list[GatewayProcess] = []

    def start(
        *extra: str, secret: tuple[str, ...] | None = None, env: dict[str, str] | None = None
    ) -> GatewayProcess:
        """Start one; ``secret`` replaces ``--secret-file KEY_FILE``, ``env`` is added."""
        n = len(started)
        ready = tmp_path / f"gateway{n}.ready"
        state = tmp_path / f"gateway{n}.state.json"
        log = tmp_path / f"gateway{n}.log"
        argv = [
            sys.executable,
            "-m",
            "ncctl.sim.cme_gateway",
            "--port",
            "0",
            *(secret if secret is not None else ("--secret-file", str(key_file))),
            "--session",
            SESSION,
            "--firm",
            FIRM,
            "--ready-file",
            str(ready),
            "--state-file",
            str(state),
            *extra,
        ]
        with log.open("ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )
        gateway = GatewayProcess(proc, 0, state, log)
        started.append(gateway)
        wait_for(lambda: ready.exists() or proc.poll() is not None, 10, "the gateway's ready file")
        assert proc.poll() is None, f"gateway exited {proc.returncode}:\n{gateway.log()}"
        gateway.port = int(json.loads(ready.read_text())["port"])
        return gateway

    yield start
    for gateway in started:
        if gateway.proc.poll() is None:
            gateway.proc.send_signal(signal.SIGTERM)
            try:
                gateway.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                gateway.proc.kill()
                gateway.proc.wait(timeout=5)


def entry(ident: int, **changes: Any) -> PartyDetails:
    """A valid party-details entry; ``changes`` override its fields."""
    values: dict[str, Any] = {
        "id": ident,
        "executing_firm": FIRM,
        "operator": "NCCTL-OPS",
        "account": f"ACC{ident}",
        "location": "US,IL",
        "customer_type_indicator": 2,
        "clearing_account_type": 1,
        "customer_order_handling": "H",
    }
    values.update(changes)
    return PartyDetails.model_validate(values)


def ilink_config(port: int, key: Path, **changes: Any) -> IlinkConfig:
    values: dict[str, Any] = {
        "port": port,
        "session": SESSION,
        "firm": FIRM,
        "access_key_id": ACCESS_KEY_ID,
        "secret_key_file": key,
        "connect_timeout_s": 2.0,
        "response_timeout_s": 2.0,
        "registration_attempts": 3,
        "retry_delay_s": 0.0,
    }
    values.update(changes)
    return IlinkConfig.model_validate(values)


MakeInputs = Callable[..., PartyInputs]


@pytest.fixture
def make_inputs(tmp_path: Path, key_file: Path) -> MakeInputs:
    """``make_inputs(port, entries, **ilink_changes) -> PartyInputs`` in this test's folder."""

    def make(port: int, entries: list[PartyDetails], **changes: Any) -> PartyInputs:
        return PartyInputs(
            ilink=ilink_config(port, key_file, **changes),
            entries=tuple(entries),
            state_dir=tmp_path / "state",
            audit_path=tmp_path / "audit" / "audit.csv",
        )

    return make
