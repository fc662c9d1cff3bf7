"""The FIXP client against the gateway simulator, a real process on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ncctl.clock import FixedClock, SystemClock
from ncctl.errors import EXIT_NOPERM, EXIT_TEMPFAIL, EXIT_UNAVAILABLE
from ncctl.ilink import fixp, fixp_signatures, sbe
from ncctl.ilink.credentials import Credentials
from ncctl.ilink.definitions import definition_request
from ncctl.ilink.errors import (
    ConnectionLostError,
    EstablishmentRejectedError,
    GatewayUnavailableError,
    NegotiationRejectedError,
    ResponseTimeoutError,
    TerminatedError,
)

from .conftest import (
    FIRM,
    SECRET,
    SESSION,
    WRONG_SECRET,
    StartGateway,
    credentials,
    entry,
)

Seen = list[tuple[str, sbe.Message]]


def params(port: int, **changes: object) -> fixp.SessionParams:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "session": SESSION,
        "firm": FIRM,
        "connect_timeout_s": 2.0,
        "response_timeout_s": 2.0,
    }
    values.update(changes)
    return fixp.SessionParams(**values)  # type: ignore[arg-type]


@pytest.fixture
def seen() -> Seen:
    return []


def client_for(
    port: int, seen: Seen, creds: Credentials | None = None, **changes: object
) -> fixp.FixpClient:
    return fixp.FixpClient(
        params(port, **changes),
        creds or credentials(),
        clock=SystemClock(),
        observer=lambda direction, msg, _at: seen.append((direction, msg)),
    )


@pytest.mark.slow
def test_negotiate_establish_terminate(start_gateway: StartGateway, seen: Seen) -> None:
    gateway = start_gateway()
    client = client_for(gateway.port, seen)
    up = client.connect()
    assert up.negotiated is True
    assert up.next_seq_no == 1
    assert up.secret_expires_in_days == 90
    client.terminate()
    assert not client.connected
    assert [(d, m.template_id) for d, m in seen] == [
        ("TO CME", 500),
        ("FROM CME", 501),
        ("TO CME", 503),
        ("FROM CME", 504),
        ("TO CME", 507),
        ("FROM CME", 507),
    ]
    state = gateway.state()
    assert (state["negotiations"], state["establishments"]) == (1, 1)


def test_wrong_secret_is_a_clear_negotiation_reject(start_gateway: StartGateway) -> None:
    gateway = start_gateway()
    client = client_for(gateway.port, [], credentials(WRONG_SECRET))
    with pytest.raises(NegotiationRejectedError) as info:
        client.connect()
    err = info.value
    assert err.code == "ilink.negotiation_rejected"
    assert err.exit_code == EXIT_NOPERM
    assert f"session {SESSION} firm {FIRM}" in err.message
    assert "HMAC signature does not match (code 0: HMAC not authenticated" in err.message
    assert "secret_key_file" in err.hint
    assert SECRET not in err.message + err.hint and WRONG_SECRET not in err.message + err.hint
    assert not client.connected
    assert gateway.state()["negotiation_rejects"] == 1


@pytest.mark.slow
def test_wrong_access_key_stale_clock_and_forced_reject(start_gateway: StartGateway) -> None:
    gateway = start_gateway()
    other = Credentials("OTHERKEY", credentials().secret)
    with pytest.raises(NegotiationRejectedError, match="unknown AccessKeyID"):
        client_for(gateway.port, [], other).connect()
    refusing = start_gateway("--reject-negotiation", "10")
    with pytest.raises(NegotiationRejectedError) as info:
        client_for(refusing.port, []).connect()
    assert "code 10: session blocked: session and firm not authorized for this port" in (
        info.value.message
    )


def _negotiate_raw(port: int, request_timestamp: int) -> sbe.Message:
    """Send one signed Negotiate with the given RequestTimestamp; the gateway's answer."""
    msg = fixp_signatures.negotiate_message(
        credentials(),
        uuid=fixp.wire_time_ns() // 1000,
        request_timestamp=request_timestamp,
        session=SESSION,
        firm=FIRM,
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(sbe.encode(msg))
        reader = sbe.FrameReader()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            data = sock.recv(4096)
            assert data, "the gateway closed without answering"
            reader.feed(data)
            frame = reader.next_frame()
            if frame is not None:
                return sbe.decode(frame)
    raise AssertionError("no answer to Negotiate within 5 s")


def test_the_gateway_rejects_a_stale_negotiate_like_cme(start_gateway: StartGateway) -> None:
    gateway = start_gateway("--max-request-age-s", "5")
    stale = _negotiate_raw(gateway.port, fixp.wire_time_ns() - 60 * 10**9)
    assert isinstance(stale, sbe.NegotiationReject502) and stale.error_codes == 3
    fresh = _negotiate_raw(gateway.port, fixp.wire_time_ns())
    assert isinstance(fresh, sbe.NegotiationResponse501)


@pytest.mark.slow
def test_a_simulated_clock_never_reaches_the_wire(start_gateway: StartGateway, seen: Seen) -> None:
    """A session clock a year in the past: the stamps sent are the machine's own."""
    gateway = start_gateway("--max-request-age-s", "5")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=365)
    client = fixp.FixpClient(
        params(gateway.port),
        credentials(),
        clock=FixedClock(past),
        observer=lambda direction, msg, _at: seen.append((direction, msg)),
    )
    before = fixp.wire_time_ns()
    client.connect()  # a stale stamp would be rejected (code 3)
    client.send(lambda seq, ns: definition_request(entry(16), seq, ns))
    assert isinstance(client.receive(), sbe.PartyDetailsDefinitionRequestAck519)
    client.terminate()
    after = fixp.wire_time_ns()
    stamps = [
        getattr(m, "request_timestamp", None) or getattr(m, "sending_time_epoch", None)
        for d, m in seen
        if d == fixp.TO_CME
    ]
    assert len(stamps) == 4  # Negotiate, Establish, 518, Terminate
    assert all(isinstance(t, int) and before <= t <= after for t in stamps), stamps
    assert client.uuid is not None and before // 1000 <= client.uuid <= after // 1000
    received = [s["value"] for s in gateway.state()["wire_stamps"]]
    assert received == stamps


@pytest.mark.slow
def test_a_lost_connection_re_establishes_the_same_uuid(
    start_gateway: StartGateway, seen: Seen
) -> None:
    gateway = start_gateway()
    client = client_for(gateway.port, seen)
    first = client.connect()
    sent = client.send(lambda seq, ns: definition_request(entry(11), seq, ns))
    assert sent.seq_num == 1
    assert isinstance(client.receive(), sbe.PartyDetailsDefinitionRequestAck519)
    client.close()  # the connection is lost, the session (UUID) is not
    again = client.connect()
    assert (again.negotiated, again.uuid) == (False, first.uuid)
    assert again.next_seq_no == 2  # the gateway's next: one 519 went out before
    sent = client.send(lambda seq, ns: definition_request(entry(12), seq, ns))
    assert sent.seq_num == 2
    ack = client.receive()
    assert isinstance(ack, sbe.PartyDetailsDefinitionRequestAck519) and ack.seq_num == 2
    client.terminate()
    state = gateway.state()
    assert (state["negotiations"], state["establishments"]) == (1, 2)
    assert client.gaps == 0


@pytest.mark.slow
def test_a_sequence_gap_from_us_terminates_the_session(start_gateway: StartGateway) -> None:
    gateway = start_gateway()
    client = client_for(gateway.port, [])
    client.connect()
    client.next_seq_no = 5  # skip 1-4
    client.send(lambda seq, ns: definition_request(entry(13), seq, ns))
    with pytest.raises(TerminatedError) as info:
        client.receive()
    assert info.value.exit_code == EXIT_TEMPFAIL
    assert "SeqNum 5 but expected 1" in info.value.message
    assert "code 23: other error" in info.value.message
    assert gateway.state()["registrations"] == []


def test_establishing_below_the_expected_sequence_is_rejected(
    start_gateway: StartGateway,
) -> None:
    gateway = start_gateway()
    client = client_for(gateway.port, [])
    client.connect()
    client.send(lambda seq, ns: definition_request(entry(14), seq, ns))
    client.receive()
    client.close()
    client.next_seq_no = 1  # as if we forgot that 1 was used
    with pytest.raises(TerminatedError) as info:
        client.connect()
    assert "NextSeqNo 1 lower than 2 (code 10: invalid NextSeqNo" in info.value.message
    assert client.uuid is None  # the sequence state is lost: the next connect negotiates
    again = client.connect()
    assert again.negotiated is True
    client.terminate()
    assert gateway.state()["negotiations"] == 2


@pytest.mark.slow
def test_an_establishment_reject_is_read_from_its_own_table(start_gateway: StartGateway) -> None:
    """EstablishmentReject 11 is an invalid KeepAliveInterval (Terminate 11 means something
    else): the code is explained from the EstablishmentReject table."""
    gateway = start_gateway()
    client = client_for(gateway.port, [], keepalive_ms=500)
    with pytest.raises(EstablishmentRejectedError) as info:
        client.connect()
    assert "(code 11: invalid KeepAliveInterval: out of range)" in info.value.message
    assert info.value.exit_code == 1
    assert "ilink.keepalive_ms" in info.value.hint
    assert gateway.state()["establishment_rejects"] == 1


def test_a_reused_id_gets_a_business_reject(start_gateway: StartGateway) -> None:
    gateway = start_gateway()
    client = client_for(gateway.port, [])
    client.connect()
    client.send(lambda seq, ns: definition_request(entry(15), seq, ns))
    assert isinstance(client.receive(), sbe.PartyDetailsDefinitionRequestAck519)
    client.send(lambda seq, ns: definition_request(entry(15, account="OTHER"), seq, ns))
    reject = client.receive()
    assert isinstance(reject, sbe.BusinessReject521)
    assert reject.business_reject_reason == 108
    assert (reject.ref_tag_id, reject.ref_msg_type, reject.party_details_list_req_id) == (
        1505,
        "CX",
        15,
    )
    assert "already in use" in reject.text
    client.terminate()
    state = gateway.state()
    assert state["duplicate_id_rejects"] == [15]
    assert [r["roles"]["24"] for r in state["registrations"]] == ["ACC15"]


def test_bad_framing_is_answered_with_terminate(start_gateway: StartGateway) -> None:
    gateway = start_gateway()
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=2) as sock:
        sock.sendall(struct.pack("<HH", 16, 0xBEEF) + b"\0" * 12)
        reader = sbe.FrameReader()
        deadline = time.monotonic() + 5
        frame = None
        while frame is None and time.monotonic() < deadline:
            data = sock.recv(4096)
            if not data:
                break
            reader.feed(data)
            frame = reader.next_frame()
        assert frame is not None
        msg = sbe.decode(frame)
        assert isinstance(msg, sbe.Terminate507) and msg.error_codes == 18  # invalid SOFH
        assert sock.recv(4096) == b""  # then the gateway closes


@pytest.mark.slow
def test_keepalives_flow_both_ways_while_waiting(start_gateway: StartGateway, seen: Seen) -> None:
    gateway = start_gateway()
    client = client_for(gateway.port, seen, keepalive_ms=1000)
    client.connect()
    with pytest.raises(ResponseTimeoutError):
        client.receive(timeout_s=1.3, what="nothing")
    sequences = [d for d, m in seen if isinstance(m, sbe.Sequence506)]
    assert "TO CME" in sequences  # we spoke after a keepalive interval of silence
    client.terminate()
    assert gateway.state()["terminations"] == 0  # the gateway never gave up on us


@pytest.mark.slow
def test_a_slow_gateway_is_a_timeout_and_a_patient_client_gets_through(
    start_gateway: StartGateway, seen: Seen
) -> None:
    gateway = start_gateway("--delay-ms", "1100")
    started = time.monotonic()
    with pytest.raises(ResponseTimeoutError) as info:
        client_for(gateway.port, [], response_timeout_s=0.15).connect()
    assert time.monotonic() - started < 1.0
    assert info.value.code == "ilink.timeout"
    assert "no answer to Negotiate within 0.15 s" in info.value.message
    # each answer comes after more than the keepalive interval: no Sequence may be sent
    # before the session is established
    client = client_for(gateway.port, seen, response_timeout_s=3.0, keepalive_ms=1000)
    assert client.connect().negotiated
    assert [m.template_id for _, m in seen] == [500, 501, 503, 504]
    client.close()


def test_no_gateway_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(GatewayUnavailableError) as info:
        client_for(port, []).connect()
    assert info.value.exit_code == EXIT_UNAVAILABLE
    assert f"127.0.0.1:{port}" in info.value.message


def test_the_simulator_stops_at_once_on_sigterm_with_a_client_connected(
    start_gateway: StartGateway,
) -> None:
    gateway = start_gateway()
    client = client_for(gateway.port, [])
    client.connect()
    started = time.monotonic()
    assert gateway.stop() == 0
    assert time.monotonic() - started < 2
    with pytest.raises(ConnectionLostError):
        client.receive(timeout_s=2)
    assert "stopping (signal 15)" in gateway.log()
    assert SECRET not in gateway.log()


def test_the_secret_may_come_from_an_environment_variable(start_gateway: StartGateway) -> None:
    gateway = start_gateway(
        "--access-key-id",
        "ENVKEY",
        secret=("--secret-env", "NCCTL_TEST_GATEWAY_SECRET"),
        env={"NCCTL_TEST_GATEWAY_SECRET": SECRET},
    )
    creds = Credentials("ENVKEY", credentials().secret)
    client = client_for(gateway.port, [], creds)
    assert client.connect().negotiated
    client.terminate()
    assert SECRET not in gateway.log()


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["--port", "0", "--secret-env", "NCCTL_TEST_UNSET_VARIABLE"], 78, "is not set"),
        (["--port", "0", "--secret-env", "NCCTL_TEST_BAD_SECRET"], 78, "not base64url"),
        (["--port", "0"], 2, "--secret-file"),
        (["--port", "70000", "--secret-env", "X"], 2, "not a port number"),
        (["--port", "0", "--secret-env", "X", "--drop-after", "0"], 2, "at least 1"),
    ],
)
def test_the_simulator_refuses_bad_settings(
    tmp_path: Path, argv: list[str], code: int, words: str
) -> None:
    env = {**os.environ, "NCCTL_TEST_BAD_SECRET": "not base64!"}
    env.pop("NCCTL_TEST_UNSET_VARIABLE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "ncctl.sim.cme_gateway", *argv],
        capture_output=True,
        text=True,
        timeout=20,
        env=env,
        check=False,
    )
    assert proc.returncode == code, proc.stderr
    assert words in proc.stderr


@pytest.mark.slow
def test_a_port_in_use_is_exit_69(start_gateway: StartGateway, key_file: Path) -> None:
    gateway = start_gateway()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ncctl.sim.cme_gateway",
            "--port",
            str(gateway.port),
            "--secret-file",
            str(key_file),
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert proc.returncode == 69
    assert f"cannot listen on 127.0.0.1:{gateway.port}" in proc.stderr
