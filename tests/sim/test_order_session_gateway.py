"""The order-session simulator holding a real FIXP session with the gateway simulator.

Both are real processes on 127.0.0.1; every wait is bounded, and every process a test starts
is stopped at its end (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ncctl.clock import CLOCK_FILE_ENV, SharedClock
from ncctl.errors import DataError
from ncctl.ilink.audit_trail import FROM_CME, TO_CME, read_rows
from ncctl.sim.order_session import audit_row_seq, gateway_address, is_session_row
from ncctl.sim_interface import (
    GATEWAY_ACCESS_KEY_ENV,
    GATEWAY_ENV,
    GATEWAY_SECRET_ENV,
    TRADING_SYSTEM_NAME,
)
from tests.helpers import wait_for
from tests.ilink.conftest import ACCESS_KEY_ID, FIRM, SECRET, SESSION

pytestmark = pytest.mark.slow

SECRET_VAR = "NCCTL_TEST_ILINK_SECRET"
WRONG_SECRET = "d3Jvbmctc2VjcmV0LWZvci10aGUtc2ltdWxhdG9y"
#: variables of the test's own environment that must not leak into the children
_SCRUBBED = (GATEWAY_ENV, GATEWAY_SECRET_ENV, GATEWAY_ACCESS_KEY_ENV, CLOCK_FILE_ENV, SECRET_VAR)


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update(extra or {})
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Gateway:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, root: Path) -> None:
        self.proc = proc
        self.port = port
        self.state_file = root / "state.json"
        self.log_file = root / "gateway.log"

    def state(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        assert isinstance(doc, dict)
        return doc

    def established(self) -> int:
        """Sessions the order-session simulator established."""
        count = (self.state().get("establishments_by_system") or {}).get(TRADING_SYSTEM_NAME, 0)
        assert isinstance(count, int)
        return count


class Session:
    def __init__(self, proc: subprocess.Popen[bytes], root: Path) -> None:
        self.proc = proc
        self.audit = root / "data" / "audit.csv"
        self.ready = root / "run" / "order_session.ready"
        self.out = root / "order_session.out"

    def rows(self) -> list[dict[str, str]]:
        try:
            return list(read_rows(self.audit)) if self.audit.exists() else []
        except DataError:  # a line being written: read again
            return []

    def session_rows(self) -> list[tuple[str, str]]:
        return [
            (r["Message Direction"], r["Message Type"]) for r in self.rows() if is_session_row(r)
        ]

    def traffic_rows(self) -> list[dict[str, str]]:
        return [r for r in self.rows() if not is_session_row(r)]

    def log(self) -> str:
        return self.out.read_text(errors="replace") if self.out.exists() else ""

    def stop(self) -> tuple[int, float]:
        """SIGTERM; the exit status and the seconds it took."""
        sent = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=10)
        return code, time.monotonic() - sent


class Procs:
    """The processes of one test, stopped at its end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[subprocess.Popen[bytes]] = []
        self.gateways = 0
        self.sessions = 0

    def _popen(
        self, args: list[str], out: Path, env: dict[str, str], cwd: Path
    ) -> subprocess.Popen[bytes]:
        with out.open("ab") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", *args],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        self.started.append(proc)
        return proc

    def gateway(self, *extra: str, port: int = 0) -> Gateway:
        """The gateway simulator on the machine's clock, secret in $SECRET_VAR."""
        self.gateways += 1
        root = self.root / f"gateway{self.gateways}"
        root.mkdir()
        ready = root / "ready.json"
        args = [
            "ncctl.sim.cme_gateway",
            "--port",
            str(port),
            "--secret-env",
            SECRET_VAR,
            "--access-key-id",
            ACCESS_KEY_ID,
            "--session",
            SESSION,
            "--firm",
            FIRM,
            "--ready-file",
            str(ready),
            "--state-file",
            str(root / "state.json"),
            *extra,
        ]
        proc = self._popen(args, root / "gateway.log", _env({SECRET_VAR: SECRET}), root)
        wait_for(lambda: ready.exists() or proc.poll() is not None, 10, "the gateway's ready file")
        assert proc.poll() is None, (root / "gateway.log").read_text()
        return Gateway(proc, int(json.loads(ready.read_text())["port"]), root)

    def session(
        self, *extra: str, env: dict[str, str] | None = None, secret: str = SECRET
    ) -> Session:
        """The order-session simulator, 50 rows/s, keepalive 1 s, secret in $SECRET_VAR
        (``env`` is added to its environment)."""
        self.sessions += 1
        root = self.root / f"session{self.sessions}"
        root.mkdir()
        args = [
            "ncctl.sim.order_session",
            "--audit-file",
            str(root / "data" / "audit.csv"),
            "--trade-file",
            str(root / "data" / "trade.log"),
            "--ion-file",
            str(root / "data" / "session.ion"),
            "--ready-file",
            str(root / "run" / "order_session.ready"),
            "--rate",
            "50",
            "--keepalive-ms",
            "1000",
            *extra,
        ]
        proc = self._popen(
            args, root / "order_session.out", _env({SECRET_VAR: secret, **(env or {})}), root
        )
        return Session(proc, root)

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.started:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    started = Procs(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


def secret_args(port: int) -> list[str]:
    return [
        "--gateway",
        f"127.0.0.1:{port}",
        "--secret-env",
        SECRET_VAR,
        "--access-key-id",
        ACCESS_KEY_ID,
        "--session",
        SESSION,
        "--firm",
        FIRM,
    ]


def assert_traffic_intact(session: Session) -> None:
    """The simulated traffic is whole and in sequence around the session rows."""
    seqs = [audit_row_seq(r) for r in session.traffic_rows()]
    assert seqs == list(range(1, len(seqs) + 1)) and seqs


# -- the session up, kept alive, terminated ----------------------------------------------------


def test_session_established_kept_alive_and_terminated_on_sigterm(procs: Procs) -> None:
    gateway = procs.gateway()
    session = procs.session(*secret_args(gateway.port))

    wait_for(lambda: gateway.established() == 1, 10, "the order session's Establish")
    state = gateway.state()
    assert (state["negotiations"], state["establishments"]) == (1, 1)
    [(uuid, held)] = state["uuids"].items()
    assert (held["session"], held["firm"]) == (SESSION, FIRM)
    wait_for(
        lambda: (
            session.session_rows()[:4]
            == [
                (TO_CME, "Negotiate"),
                (FROM_CME, "NegotiationResponse"),
                (TO_CME, "Establish"),
                (FROM_CME, "EstablishmentAck"),
            ]
        ),
        5,
        "the session rows of the audit trail",
    )
    # keepalives at the negotiated interval (1 s): two within about 2 s
    wait_for(
        lambda: session.session_rows().count((TO_CME, "Sequence")) >= 2,
        5,
        "two keepalives",
    )
    assert f"session up: UUID {uuid} negotiated and established" in session.log()
    assert "keepalive: Sequence (506) sent" in session.log()
    assert SECRET not in session.log()

    code, took = session.stop()
    assert code == 0
    assert took < 2.0, f"SIGTERM took {took:.2f} s"
    assert gateway.state()["terminates_received"] == 1
    assert gateway.state()["terminations"] == 0  # the gateway never ended it
    assert session.session_rows()[-2:] == [(TO_CME, "Terminate"), (FROM_CME, "Terminate")]
    assert "Terminate (507) sent" in session.log()
    assert "stopping (SIGTERM)" in session.log()
    assert_traffic_intact(session)
    rows = [r for r in session.rows() if is_session_row(r)]
    assert all(r["Session ID"] == SESSION and r["Operator ID"] for r in rows)
    assert all(not r["Party Details List Request ID"] for r in rows)
    ready = json.loads(session.ready.read_text())
    assert ready["gateway"] == f"127.0.0.1:{gateway.port}"


def test_max_rows_ends_with_terminate_too(procs: Procs) -> None:
    gateway = procs.gateway()
    session = procs.session(*secret_args(gateway.port), "--rate", "20", "--max-rows", "30")
    assert session.proc.wait(timeout=10) == 0
    assert gateway.established() == 1
    assert gateway.state()["terminates_received"] == 1
    assert len(session.traffic_rows()) == 30


# -- no gateway, a late gateway, a dropping gateway ---------------------------------------------


def test_no_gateway_listening_traffic_goes_on_and_sigterm_is_prompt(procs: Procs) -> None:
    port = free_port()
    session = procs.session(*secret_args(port), "--retry-max-s", "0.5")
    wait_for(lambda: len(session.traffic_rows()) >= 20, 10, "20 rows without a gateway")
    wait_for(lambda: "no session" in session.log(), 5, "the failed attempt in the log")
    assert "cannot connect" in session.log()
    code, took = session.stop()
    assert code == 0
    assert took < 2.0, f"SIGTERM took {took:.2f} s"
    assert session.session_rows() == []
    assert_traffic_intact(session)


def test_a_gateway_that_comes_up_later_is_connected_to(procs: Procs) -> None:
    port = free_port()
    session = procs.session(*secret_args(port), "--retry-max-s", "0.5")
    wait_for(lambda: "no session" in session.log(), 10, "a failed attempt")
    gateway = procs.gateway(port=port)
    wait_for(lambda: gateway.established() == 1, 10, "the session once the gateway is up")
    assert session.proc.poll() is None
    code, _ = session.stop()
    assert code == 0
    assert gateway.state()["terminates_received"] == 1
    assert_traffic_intact(session)


def test_a_dropped_connection_is_reestablished(procs: Procs) -> None:
    # messages 1 Negotiate, 2 Establish, 3 the first keepalive: the gateway drops there
    gateway = procs.gateway("--drop-after", "3")
    session = procs.session(*secret_args(gateway.port))
    wait_for(lambda: gateway.established() == 2, 10, "the second Establish")
    state = gateway.state()
    assert state["drops"] == 1 and state["connections"] == 2
    assert state["negotiations"] == 1, "the same UUID is re-established (recoverable flow)"
    # the gateway counts the Establish before the simulator has read its acknowledgement
    wait_for(lambda: "re-established" in session.log(), 10, "the simulator's re-established")
    assert "session lost after 1 keepalive(s)" in session.log()
    rows_before = len(session.traffic_rows())
    wait_for(lambda: len(session.traffic_rows()) > rows_before + 10, 5, "traffic going on")

    code, took = session.stop()
    assert code == 0 and took < 2.0
    assert gateway.state()["terminates_received"] == 1
    assert session.session_rows().count((FROM_CME, "EstablishmentAck")) == 2
    assert_traffic_intact(session)


def test_a_rejected_negotiation_is_retried_without_stopping_the_traffic(procs: Procs) -> None:
    gateway = procs.gateway()
    session = procs.session(*secret_args(gateway.port), "--retry-max-s", "0.5", secret=WRONG_SECRET)
    wait_for(lambda: gateway.state().get("negotiation_rejects", 0) >= 2, 10, "two rejects")
    assert "HMAC signature does not match" in session.log()
    assert session.proc.poll() is None
    assert (FROM_CME, "NegotiationReject") in session.session_rows()
    code, took = session.stop()
    assert code == 0 and took < 2.0
    assert gateway.established() == 0
    assert_traffic_intact(session)


# -- where the settings come from --------------------------------------------------------------


def test_credentials_and_gateway_from_the_environment_real_time_stamps(
    procs: Procs, tmp_path: Path
) -> None:
    """``$NCCTL_GATEWAY_SECRET``/``$NCCTL_GATEWAY_ACCESS_KEY_ID`` (what ncctl sets for a dev
    configuration) and ``$NCCTL_GATEWAY``; a simulated clock in ``$NCCTL_CLOCK_FILE`` years
    away is not used for the RequestTimestamp the gateway checks against its (real) clock
    within 5 s."""
    gateway = procs.gateway()
    clock = SharedClock(tmp_path / "clock.json")
    clock.set(dt.datetime(2020, 3, 8, 21, tzinfo=dt.UTC), speed=10000.0, paused=False)
    session = procs.session(
        "--session",
        SESSION,
        "--firm",
        FIRM,
        env={
            GATEWAY_SECRET_ENV: SECRET,
            GATEWAY_ACCESS_KEY_ENV: ACCESS_KEY_ID,
            GATEWAY_ENV: f"127.0.0.1:{gateway.port}",
            CLOCK_FILE_ENV: str(clock.path),
        },
    )
    wait_for(lambda: gateway.established() == 1, 10, "the session from the environment")
    assert gateway.state()["negotiation_rejects"] == 0
    ready = json.loads(session.ready.read_text())
    assert (ready["session"], ready["firm"]) == (SESSION, FIRM)
    # the gateway counts the Establish before the simulator has read its acknowledgement
    wait_for(
        lambda: f"credentials from ${GATEWAY_SECRET_ENV}" in session.log(),
        10,
        "the simulator's session-up line",
    )
    assert SECRET not in session.log()
    code, _ = session.stop()
    assert code == 0


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, f"${GATEWAY_ACCESS_KEY_ENV} is not 1 to 20"),
        ({GATEWAY_ACCESS_KEY_ENV: ACCESS_KEY_ID}, f"${GATEWAY_SECRET_ENV} is not set"),
    ],
    ids=["no-access-key-id", "no-secret"],
)
def test_a_gateway_without_credentials_exits_78_before_anything_is_written(
    procs: Procs, env: dict[str, str], named: str
) -> None:
    session = procs.session("--gateway", "127.0.0.1:1", env=env)
    assert session.proc.wait(timeout=10) == 78
    assert named in session.log()
    assert not session.ready.exists() and not session.audit.exists()


def test_without_a_gateway_nothing_is_connected(procs: Procs) -> None:
    session = procs.session("--max-rows", "5")
    assert session.proc.wait(timeout=10) == 0
    assert "FIXP" not in session.log()
    assert "gateway" not in json.loads(session.ready.read_text())
    assert session.session_rows() == []
    assert [r["Session ID"] for r in session.rows()] == ["SIM"] * 5


def test_unreadable_credentials_exit_78_before_anything_is_written(procs: Procs) -> None:
    session = procs.session(
        "--gateway", "127.0.0.1:1", "--secret-env", "NCCTL_TEST_UNSET", "--access-key-id", "K"
    )
    assert session.proc.wait(timeout=10) == 78
    assert "$NCCTL_TEST_UNSET is not set" in session.log()
    assert not session.ready.exists() and not session.audit.exists()


def test_a_bad_gateway_variable_is_a_usage_error(procs: Procs) -> None:
    session = procs.session(env={GATEWAY_ENV: "localhost"})
    assert session.proc.wait(timeout=10) == 2
    assert f"${GATEWAY_ENV}: 'localhost' is not HOST:PORT" in session.log()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:29000", ("127.0.0.1", 29000)),
        ("gw.example:1", ("gw.example", 1)),
        ("[::1]:65535", ("::1", 65535)),
    ],
)
def test_gateway_address(text: str, expected: tuple[str, int]) -> None:
    assert gateway_address(text) == expected


@pytest.mark.parametrize("text", ["", "host", ":29000", "host:", "host:0", "host:65536", "h:x"])
def test_gateway_address_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        gateway_address(text)
