"""Party-details registration, listing and verification against the gateway simulator."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from pathlib import Path

import pytest

from ncctl.clock import CLOCK_FILE_ENV, SharedClock, SystemClock
from ncctl.errors import EXIT_FAILED, EXIT_NOPERM, EXIT_TEMPFAIL, ConfigError
from ncctl.ilink import (
    definitions,
    party_inputs,
    party_lookup,
    registration,
    registration_store,
    session_gate,
)
from ncctl.ilink.audit_trail import read_rows
from ncctl.ilink.errors import (
    ConnectionLostError,
    GatewayUnavailableError,
    KeyFilePermissionError,
    NegotiationRejectedError,
    ResponseTimeoutError,
    ReusedPartyIdError,
)
from ncctl.journal import Journal, journal_path

from .conftest import FIRM, SESSION, MakeInputs, StartGateway, entry, write_key_file

pytestmark = pytest.mark.slow

TRADE_DATE = dt.date(2026, 11, 23)  # a Monday
WEEK = dt.date(2026, 11, 22)
CLOCK = SystemClock()


def register(inputs: party_inputs.PartyInputs, **kwargs: object) -> registration.RegisterResult:
    return registration.register_all(inputs, clock=CLOCK, trade_date=TRADE_DATE, **kwargs)  # type: ignore[arg-type]


def statuses(result: registration.RegisterResult) -> dict[int, str]:
    return {o.entry.id: o.status for o in result.outcomes}


def audit_rows(inputs: party_inputs.PartyInputs) -> list[dict[str, str]]:
    assert inputs.audit_path is not None
    return list(read_rows(inputs.audit_path))


def test_week_of_a_trade_date_is_its_sunday() -> None:
    assert party_inputs.week_of(dt.date(2026, 11, 23)) == WEEK  # Monday
    assert party_inputs.week_of(dt.date(2026, 11, 27)) == WEEK  # Friday
    assert party_inputs.week_of(dt.date(2026, 11, 22)) == WEEK  # Sunday itself


def test_happy_path_register_list_verify(
    start_gateway: StartGateway, make_inputs: MakeInputs
) -> None:
    gateway = start_gateway()
    entries = [entry(1001), entry(1002, smp_id=77, smp_instruction="O", memo="desk B")]
    inputs = make_inputs(gateway.port, entries)
    assert not session_gate.order_session_allowed(inputs, TRADE_DATE)[0]

    result = register(inputs)
    assert result.ok and result.failure is None
    assert statuses(result) == {1001: "registered", 1002: "registered"}
    assert (result.attempts, result.secret_expires_in_days, result.warnings) == (1, 90, [])
    assert result.as_dict()["week"] == "2026-11-22"

    # the gateway holds each once
    state = gateway.state()
    assert state["definition_requests"] == {"1001": 1, "1002": 1}
    assert [r["roles"] for r in state["registrations"]] == [
        {"1": FIRM, "24": "ACC1001", "118": "NCCTL-OPS"},
        {"1": FIRM, "24": "ACC1002", "118": "NCCTL-OPS"},
    ]

    # the audit trail has every message, the registration with its party-details columns
    rows = audit_rows(inputs)
    types = [(r["Message Direction"], r["Message Type"]) for r in rows]
    assert types == [
        ("TO CME", "Negotiate"),
        ("FROM CME", "NegotiationResponse"),
        ("TO CME", "Establish"),
        ("FROM CME", "EstablishmentAck"),
        ("TO CME", "CF"),
        ("FROM CME", "CG"),
        ("TO CME", "CX"),
        ("FROM CME", "CY"),
        ("TO CME", "CX"),
        ("FROM CME", "CY"),
        ("TO CME", "Terminate"),
        ("FROM CME", "Terminate"),
    ]
    assert result.audit_rows == len(rows)
    cx = [r for r in rows if r["Message Type"] == "CX"][1]
    assert cx["Party Details List Request ID"] == "1002"
    assert cx["Session ID"] == SESSION
    assert cx["Operator ID"] == "NCCTL-OPS"
    assert cx["Executing Firm ID"] == FIRM
    assert cx["Account Number"] == "ACC1002"
    assert cx["Customer Type Indicator"] == "2"
    assert cx["Origin"] == "1"
    assert cx["Customer Handling Instruction"] == "H"
    assert cx["Self-Match Prevention ID"] == "77"
    assert cx["Self-Match Prevention Instruction"] == "O"
    assert cx["List Update Action"] == "A"
    assert cx["Country of Origin"] == "US,IL"
    assert all(r["Sending Timestamps"].startswith("2") for r in rows)

    # the week is recorded, the order session may come up, and the journal says so
    status = session_gate.week_status(inputs, TRADE_DATE)
    assert status.registered and status.last_run_ok and status.secret_expires_in_days == 90
    assert session_gate.order_session_allowed(inputs, TRADE_DATE)[0]
    assert not session_gate.order_session_allowed(inputs, TRADE_DATE + dt.timedelta(days=7))[0]
    last = list(Journal(journal_path(inputs.state_dir)).entries())[-1].record
    assert (last["command"], last["outcome"]) == ("party register", "ok")
    assert last["args"] == {"week": "2026-11-22", "ids": [1001, 1002]}

    listed = party_lookup.list_registrations(inputs, clock=CLOCK)
    assert [d.id for d in listed.definitions] == [1001, 1002]
    assert listed.definitions[1] == definitions.Definition.from_entry(entries[1])
    checked = party_lookup.verify(inputs, clock=CLOCK)
    assert checked.ok and checked.matching == [1001, 1002] and checked.failure() is None


def test_running_twice_in_a_week_sends_nothing_twice(
    start_gateway: StartGateway, make_inputs: MakeInputs
) -> None:
    gateway = start_gateway()
    inputs = make_inputs(gateway.port, [entry(1), entry(2)])
    register(inputs)
    again = register(inputs)
    assert again.ok
    assert statuses(again) == {1: "already_registered", 2: "already_registered"}
    assert gateway.state()["definition_requests"] == {"1": 1, "2": 1}
    assert gateway.state()["duplicate_id_rejects"] == []


def test_wrong_secret_fails_at_once_with_a_clear_error(
    start_gateway: StartGateway, make_inputs: MakeInputs, tmp_path: Path
) -> None:
    gateway = start_gateway()
    wrong = write_key_file(tmp_path / "wrong.key", secret="d3Jvbmc")
    inputs = make_inputs(gateway.port, [entry(1)], secret_key_file=wrong)
    with pytest.raises(NegotiationRejectedError) as info:
        register(inputs)
    assert info.value.exit_code == EXIT_NOPERM
    assert "negotiation rejected" in info.value.message
    assert "HMAC" in info.value.message
    assert gateway.state()["negotiation_rejects"] == 1  # not retried: retrying cannot help
    status = session_gate.week_status(inputs, TRADE_DATE)
    assert not status.registered and status.last_run_ok is False
    assert status.last_error is not None and "negotiation rejected" in status.last_error
    assert [r["Message Type"] for r in audit_rows(inputs)] == ["Negotiate", "NegotiationReject"]


def test_connection_dropped_mid_registration_retry_sends_no_id_twice(
    start_gateway: StartGateway, make_inputs: MakeInputs
) -> None:
    # received by the gateway: 1 Negotiate, 2 Establish, 3 list request, 4 the 518 of 1001,
    # 5 the 518 of 1002: applied, its 519 lost with the connection
    gateway = start_gateway("--drop-after", "5")
    inputs = make_inputs(gateway.port, [entry(1001), entry(1002), entry(1003)])
    result = register(inputs)
    assert result.ok, result.as_dict()
    assert result.attempts == 2
    assert statuses(result) == {
        1001: "registered",
        1002: "already_registered",  # found by the list request after reconnecting
        1003: "registered",
    }
    state = gateway.state()
    assert state["drops"] == 1
    assert state["definition_requests"] == {"1001": 1, "1002": 1, "1003": 1}
    assert state["duplicate_id_rejects"] == []
    assert sorted(r["id"] for r in state["registrations"]) == [1001, 1002, 1003]
    assert (state["negotiations"], state["establishments"]) == (1, 2)  # same UUID resumed
    sent = [
        r["Party Details List Request ID"] for r in audit_rows(inputs) if r["Message Type"] == "CX"
    ]
    assert sent == ["1001", "1002", "1003"]
    assert session_gate.week_status(inputs, TRADE_DATE).registered


def test_retries_exhausted_is_a_temporary_failure_with_progress_kept(
    start_gateway: StartGateway, make_inputs: MakeInputs
) -> None:
    gateway = start_gateway("--drop-after", "5")
    inputs = make_inputs(gateway.port, [entry(1), entry(2), entry(3)], registration_attempts=1)
    with pytest.raises(ConnectionLostError) as info:
        register(inputs)
    assert info.value.exit_code == EXIT_TEMPFAIL
    assert "(1 of 3 entries confirmed before)" in info.value.message
    status = session_gate.week_status(inputs, TRADE_DATE)
    assert status.missing == [2, 3] and not status.registered
    # the retry (the runner's, or by hand) completes without a duplicate
    retry = register(make_inputs(gateway.port, [entry(1), entry(2), entry(3)]))
    assert statuses(retry) == {1: "already_registered", 2: "already_registered", 3: "registered"}
    assert gateway.state()["definition_requests"] == {"1": 1, "2": 1, "3": 1}
    assert session_gate.week_status(inputs, TRADE_DATE).registered


def test_a_reused_id_with_other_details_is_a_clear_error(
    start_gateway: StartGateway, make_inputs: MakeInputs
) -> None:
    gateway = start_gateway()
    register(make_inputs(gateway.port, [entry(1001), entry(1002)]))
    changed = make_inputs(gateway.port, [entry(1001, account="NEWACC"), entry(1002)])
    result = register(changed)
    assert not result.ok
    assert statuses(result) == {1001: "rejected", 1002: "already_registered"}
    failure = result.failure
    assert isinstance(failure, ReusedPartyIdError)
    assert failure.code == "ilink.party.reused_id" and failure.exit_code == EXIT_FAILED
    assert "party details id 1001 is already registered at the gateway" in failure.message
    assert "account: config 'NEWACC', gateway 'ACC1001'" in failure.message
    assert "new id" in failure.hint
    assert gateway.state()["duplicate_id_rejects"] == [1001]
    assert not session_gate.week_status(changed, TRADE_DATE).registered
    rows = audit_rows(changed)
    reject = [r for r in rows if r["Message Type"] == "j"]
    assert len(reject) == 1 and reject[0]["Party Details List Request ID"] == "1001"
    assert reject[0]["Reject Reason"].startswith("108--1001 PartyDetailsListReqID 1001 is already")


def test_verify_detects_a_gateway_side_difference(
    start_gateway: StartGateway, make_inputs: MakeInputs
) -> None:
    gateway = start_gateway()
    # the gateway holds 1 (as then configured), 2 and 9; the configuration now says
    # 1 with another account, 2 unchanged, 3 new
    register(make_inputs(gateway.port, [entry(1, account="OLD"), entry(2), entry(9)]))
    inputs = make_inputs(gateway.port, [entry(1), entry(2), entry(3)])
    result = party_lookup.verify(inputs, clock=CLOCK)
    assert not result.ok
    assert result.matching == [2]
    assert result.missing == [3]
    assert result.different == {1: ["account: config 'ACC1', gateway 'OLD'"]}
    assert result.extra == [9]
    failure = result.failure()
    assert failure is not None and failure.code == "ilink.party.mismatch"
    assert failure.exit_code == EXIT_FAILED
    assert "not at the gateway: 3" in failure.message
    assert "at the gateway only: 9" in failure.message


def test_an_expiring_secret_is_a_warning_and_is_recorded(
    start_gateway: StartGateway, make_inputs: MakeInputs
) -> None:
    gateway = start_gateway("--secret-expiry-days", "6")
    inputs = make_inputs(gateway.port, [entry(5)])
    result = register(inputs)
    assert result.secret_expires_in_days == 6
    assert len(result.warnings) == 1 and "expires in 6 days" in result.warnings[0]
    assert session_gate.week_status(inputs, TRADE_DATE).secret_expires_in_days == 6
    assert party_lookup.list_registrations(inputs, clock=CLOCK).warnings == result.warnings


def test_a_gateway_that_stops_answering_times_out_within_bounds(
    start_gateway: StartGateway, make_inputs: MakeInputs
) -> None:
    gateway = start_gateway("--delay-ms", "2000")
    inputs = make_inputs(gateway.port, [entry(1)], response_timeout_s=0.2, registration_attempts=2)
    started = time.monotonic()
    with pytest.raises(ResponseTimeoutError) as info:
        register(inputs)
    assert time.monotonic() - started < 2.0
    assert info.value.code == "ilink.timeout"


def test_no_gateway_is_unavailable_after_the_retries(make_inputs: MakeInputs) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    delays: list[float] = []
    inputs = make_inputs(port, [entry(1)], registration_attempts=3, retry_delay_s=0.5)
    with pytest.raises(GatewayUnavailableError):
        registration.register_all(inputs, clock=CLOCK, trade_date=TRADE_DATE, sleep=delays.append)
    assert delays == [0.5, 0.5]
    with sqlite3.connect(inputs.state_dir / "party.sqlite") as db:
        rows = db.execute("SELECT ok, attempts, error_code FROM runs").fetchall()
    assert rows == [(0, 3, "ilink.connect_failed")]


def test_dry_run_contacts_nobody_but_checks_the_key_file(
    make_inputs: MakeInputs, key_file: Path
) -> None:
    inputs = make_inputs(1, [entry(1), entry(2, memo="m")])  # nothing listens on port 1
    result = register(inputs, dry_run=True)
    assert result.dry_run and not result.ok and result.failure is None
    assert [p["id"] for p in result.plan] == [1, 2]
    assert result.plan[0]["frame_bytes"] == 4 + 8 + 147 + 3 + 3 * 22 + 3
    assert not inputs.state_dir.exists()
    assert inputs.audit_path is not None and not inputs.audit_path.exists()
    key_file.chmod(0o644)
    with pytest.raises(KeyFilePermissionError):
        register(inputs, dry_run=True)


def test_the_gate_and_the_configuration_errors(make_inputs: MakeInputs) -> None:
    relaxed = make_inputs(1, [entry(1)], require_registration=False)
    assert session_gate.order_session_allowed(relaxed, TRADE_DATE) == (
        True,
        "ilink.require_registration is false",
    )
    with pytest.raises(ConfigError, match=r"no \[\[party_details\]\] entries"):
        register(make_inputs(1, []))
    no_audit = party_inputs.PartyInputs(
        relaxed.ilink, relaxed.entries, relaxed.state_dir, audit_path=None
    )
    with pytest.raises(ConfigError, match="no audit trail is configured"):
        register(no_audit)


def test_on_a_shared_simulated_clock_the_demo_way(
    start_gateway: StartGateway, make_inputs: MakeInputs, tmp_path: Path
) -> None:
    """``ncctl demo`` runs everything on a paused-and-stepped clock file: the week comes from
    the simulated trade date, but every stamp on the wire is the machine's own (a gateway that
    checks freshness, as CME does, accepts it), and running twice at the same paused instant
    still gets a fresh UUID."""
    clock_file = tmp_path / "clock.json"
    sunday = dt.datetime(2026, 11, 22, 21, 25, tzinfo=dt.UTC)  # Sunday 15:25 CST
    SharedClock(clock_file).set(sunday, speed=1.0, paused=True)
    gateway = start_gateway("--max-request-age-s", "5", env={CLOCK_FILE_ENV: str(clock_file)})
    inputs = make_inputs(gateway.port, [entry(1)])
    shared = SharedClock(clock_file)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(milliseconds=1)
    first = registration.register_all(inputs, clock=shared, trade_date=TRADE_DATE)
    again = registration.register_all(inputs, clock=shared, trade_date=TRADE_DATE)
    after = dt.datetime.now(dt.UTC) + dt.timedelta(milliseconds=1)
    assert statuses(first) == {1: "registered"} and statuses(again) == {1: "already_registered"}
    assert first.week == again.week == WEEK
    assert first.uuid is not None and again.uuid is not None and again.uuid > first.uuid
    sent = [  # what we put on the wire: RequestTimestamp or SendingTimeEpoch
        dt.datetime.strptime(r["Sending Timestamps"], "%Y%m%d-%H:%M:%S.%f").replace(tzinfo=dt.UTC)
        for r in audit_rows(inputs)
        if r["Message Direction"] == "TO CME"
    ]
    assert len(sent) == 9 and all(before <= t <= after for t in sent), sent
    assert gateway.state()["negotiation_rejects"] == 0
    assert session_gate.week_status(inputs, TRADE_DATE).registered


def test_a_database_of_the_previous_version_keeps_working_with_ids_above_2_63(
    start_gateway: StartGateway, make_inputs: MakeInputs
) -> None:
    """party.sqlite as the previous version left it (a run and a row for id 1001, written with
    plain SQL): the week still counts 1001, and ids 2**63 and 2**64-2 join it exactly."""
    old = entry(1001)
    big = [entry(2**63, account="BIG0"), entry(2**64 - 2, account="BIG1")]
    gateway = start_gateway()
    inputs = make_inputs(gateway.port, [old, *big])
    inputs.state_dir.mkdir(parents=True)
    definition = json.dumps(definitions.Definition.from_entry(old).as_dict(), sort_keys=True)
    db = sqlite3.connect(inputs.state_dir / registration_store.STATE_DB_NAME)
    try:
        db.executescript(registration_store._SCHEMA)
        with db:
            db.execute(
                "INSERT INTO runs (week, trade_date, started_at, finished_at, ok, gateway, "
                "attempts, registered, already_registered, rejected, not_sent) "
                "VALUES (?, ?, 'x', 'x', 1, 'g', 1, 1, 0, 0, 0)",
                (WEEK.isoformat(), TRADE_DATE.isoformat()),
            )
            db.execute(
                "INSERT INTO registrations VALUES (?, 1001, ?, 'registered', '', ?, 1, 'x')",
                (WEEK.isoformat(), TRADE_DATE.isoformat(), definition),
            )
    finally:
        db.close()
    status = session_gate.week_status(inputs, TRADE_DATE)
    assert (status.missing, status.changed) == ([2**63, 2**64 - 2], [])
    result = register(inputs)
    assert statuses(result) == {1001: "registered", 2**63: "registered", 2**64 - 2: "registered"}
    status = session_gate.week_status(inputs, TRADE_DATE)
    assert status.registered and (status.missing, status.changed) == ([], [])
    rows = registration_store.RegistrationStore(inputs.state_dir).registrations(WEEK)
    assert [r["id"] for r in rows] == [1001, 2**63, 2**64 - 2]
