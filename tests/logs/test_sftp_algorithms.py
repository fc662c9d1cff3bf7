"""The SSH algorithm floor against real OpenSSH servers on 127.0.0.1 (tests/sshd.py).

A server configured to offer only weak algorithms is refused before authentication, with a
message naming what it offered and exit 69 (not 75: the next run would fail the same way);
``allow_algorithms`` lets a server through that needs CBC and HMAC-SHA1; the default server
still negotiates only strong algorithms. What was negotiated is read from the server's log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ncctl.errors import EXIT_CONFIG, EXIT_UNAVAILABLE, ConfigError
from ncctl.logs.destinations import Item
from ncctl.logs.section import DestinationConfig
from ncctl.logs.ssh_algorithms import WEAK, WEAK_NAMES, check_allowed, refused_offer
from ncctl.logs.ssh_connection import WeakAlgorithmsError
from tests.logs.conftest import MakeItem, OpenDestination, remote_sha256
from tests.logs.helpers import FORCED, run
from tests.logs.test_upload_sftp import config_with_sftp
from tests.sshd import (
    WEAK_CIPHER_AND_MAC,
    WEAK_ONLY,
    SshServer,
    running_sshd,
    sshd_unavailable,
)

pytestmark = pytest.mark.slow


def _server(extra: str) -> Iterator[SshServer]:
    reason = sshd_unavailable()
    if reason is not None:
        pytest.skip(reason)
    with running_sshd(extra_config=extra, log_level="DEBUG1") as server:
        yield server


@pytest.fixture(scope="module")
def weak_sshd() -> Iterator[SshServer]:
    yield from _server(WEAK_ONLY)


@pytest.fixture(scope="module")
def cbc_sshd() -> Iterator[SshServer]:
    yield from _server(WEAK_CIPHER_AND_MAC)


def _speaks(name: str) -> bool:
    """Whether the installed paramiko implements the key exchange ``name`` at all."""
    from ncctl.logs.ssh_connection import _recording_transport

    return name in getattr(_recording_transport(), "_kex_info", {})


def _remote(server: SshServer, name: str) -> Path:
    return server.make_remote_dir(name)


def _refused(
    server: SshServer, open_destination: OpenDestination, item: Item
) -> WeakAlgorithmsError:
    """Send ``item`` with the default floor: refused, nothing written, no login; the error."""
    remote = _remote(server, f"refused-{item.name}")
    with pytest.raises(WeakAlgorithmsError) as caught:
        open_destination(server.destination_config(remote)).send(item)
    assert list(remote.iterdir()) == []
    assert "Accepted publickey" not in server.log_file.read_text(errors="replace")
    return caught.value


def test_weak_only_server_is_refused_naming_its_algorithms(
    weak_sshd: SshServer, open_destination: OpenDestination, make_item: MakeItem
) -> None:
    err = _refused(weak_sshd, open_destination, make_item(1000))
    assert err.exit_code == EXIT_UNAVAILABLE
    assert err.code == "sftp.weak_algorithms"
    for name in ("diffie-hellman-group14-sha1", "aes128-cbc", "hmac-sha1"):
        assert name in err.message
    assert "\n" not in err.message
    assert "aes128-gcm@openssh.com" in err.hint
    suggested = (
        'allow_algorithms = ["diffie-hellman-group14-sha1", "aes128-cbc", "hmac-sha1"] '
        "in [destinations.fcm]"
    )
    assert suggested in err.hint


def test_allow_algorithms_lets_a_weak_only_server_through(
    weak_sshd: SshServer, open_destination: OpenDestination, make_item: MakeItem
) -> None:
    """What the hint above suggests works: SHA-1 key exchange, CBC and HMAC-SHA1 are spoken
    once named, and only then."""
    remote = _remote(weak_sshd, "allowed-weak")
    allowed = ["diffie-hellman-group14-sha1", "aes128-cbc", "hmac-sha1"]
    dest = open_destination(weak_sshd.destination_config(remote, allow_algorithms=allowed))
    item = make_item(200_000)
    assert not dest.send(item).already_present
    assert remote_sha256(remote / item.name) == item.sha256
    assert dest.verify(item).ok
    log = weak_sshd.log_file.read_text(errors="replace")
    assert "kex: algorithm: diffie-hellman-group14-sha1" in log, log[-2000:]


def test_allow_algorithms_lets_a_cbc_server_through(
    cbc_sshd: SshServer, open_destination: OpenDestination, make_item: MakeItem
) -> None:
    err = _refused(cbc_sshd, open_destination, make_item(1000))
    assert "cipher aes128-cbc" in err.message
    assert "mac hmac-sha1" in err.message
    assert "key exchange" not in err.message  # its key exchange is fine
    # the hint's suggestion is what lets it through below
    assert 'allow_algorithms = ["aes128-cbc", "hmac-sha1"] in [destinations.fcm]' in err.hint

    remote = _remote(cbc_sshd, "allowed")
    config = cbc_sshd.destination_config(remote, allow_algorithms=["aes128-cbc", "hmac-sha1"])
    dest = open_destination(config)
    item = make_item(300_000)
    result = dest.send(item)
    assert not result.already_present
    assert remote_sha256(remote / item.name) == item.sha256
    log = cbc_sshd.log_file.read_text(errors="replace")
    assert re.search(r"cipher: aes128-cbc MAC: hmac-sha1", log), log[-2000:]


def test_default_server_negotiates_no_weak_algorithm(
    sshd: SshServer, remote_dir: Path, open_destination: OpenDestination, make_item: MakeItem
) -> None:
    dest = open_destination(sshd.destination_config(remote_dir))
    item = make_item(10_000)
    dest.send(item)
    assert remote_sha256(remote_dir / item.name) == item.sha256
    transport: Any = dest._conn.transport if dest._conn else None
    assert transport is not None
    used = {
        transport.local_cipher,
        transport.remote_cipher,
        transport.local_mac,
        transport.remote_mac,
        transport.host_key_type,
    }
    assert not used & WEAK_NAMES
    options = transport.get_security_options()
    offered = {*options.kex, *options.ciphers, *options.digests, *options.key_types}
    assert offered
    assert not offered & WEAK_NAMES


def test_allowing_what_paramiko_cannot_speak_is_a_config_error(
    weak_sshd: SshServer, open_destination: OpenDestination, make_item: MakeItem
) -> None:
    if _speaks("diffie-hellman-group1-sha1"):
        pytest.skip("this paramiko still implements diffie-hellman-group1-sha1")
    remote = _remote(weak_sshd, "unsupported")
    config = weak_sshd.destination_config(remote, allow_algorithms=["diffie-hellman-group1-sha1"])
    with pytest.raises(ConfigError) as caught:
        open_destination(config).send(make_item(10))
    assert caught.value.exit_code == EXIT_CONFIG
    assert "destinations.fcm.allow_algorithms" in caught.value.message
    assert "diffie-hellman-group1-sha1" in caught.value.message


# --- configuration ----------------------------------------------------------------------


def _dest(allow: object) -> DestinationConfig:
    return DestinationConfig.model_validate(
        {
            "url": "sftp://u@h/d",
            "key_file": "/k",
            "known_hosts": "/kh",
            "allow_algorithms": allow,
        }
    )


@given(st.text(min_size=1, max_size=40).filter(lambda s: s not in WEAK_NAMES))
def test_unknown_algorithm_names_are_rejected(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _dest([name])
    assert "allow_algorithms" in str(caught.value)


@given(st.lists(st.sampled_from(sorted(WEAK_NAMES)), unique=True))
def test_every_weak_name_may_be_allowed(names: list[str]) -> None:
    assert _dest(names).allow_algorithms == names


def test_a_name_listed_twice_is_rejected() -> None:
    with pytest.raises(ValueError, match="twice"):
        check_allowed(["hmac-sha1", "hmac-sha1"])


def test_allow_algorithms_is_for_sftp_only() -> None:
    with pytest.raises(ValidationError, match="sftp destinations only"):
        DestinationConfig.model_validate({"url": "file:///x", "allow_algorithms": ["hmac-sha1"]})


@given(
    st.dictionaries(
        st.sampled_from(["kex_algo_list", "server_encrypt_algo_list", "server_mac_algo_list"]),
        st.lists(st.sampled_from([*sorted(WEAK_NAMES), "aes128-ctr", "hmac-sha2-256"])),
    ),
    st.lists(st.sampled_from(sorted(WEAK_NAMES))),
)
def test_refusal_names_only_weak_unallowed_algorithms(
    offer: dict[str, list[str]], allowed: list[str]
) -> None:
    found = refused_offer(offer, allowed)
    for kind, names in found.items():
        assert names
        assert all(n in WEAK[kind] and n not in allowed for n in names)


# --- through `ncctl logs upload` ---------------------------------------------------------


def test_logs_upload_refuses_a_weak_server_without_retrying(
    tmp_path: Path, weak_sshd: SshServer
) -> None:
    remote = _remote(weak_sshd, "cli-refused")
    config = config_with_sftp(tmp_path, weak_sshd, remote)
    (tmp_path / "live" / "audit.csv").write_text("row\n")
    assert run(config, "logs", "rotate", *FORCED)[0] == 0
    code, doc, stderr = run(config, "logs", "upload", *FORCED)
    assert code == 1  # refused, not 75: the next run would fail the same way
    assert "Traceback" not in stderr and "paramiko" not in stderr
    assert doc["error"]["code"] == "upload.failed"
    assert "aes128-gcm@openssh.com" in doc["error"]["hint"]
    [upload] = doc["data"]["uploads"]
    assert upload["error"]["code"] == "sftp.weak_algorithms"
    assert upload["retryable"] is False
    assert upload["attempts"] == 1
    for name in ("diffie-hellman-group14-sha1", "aes128-cbc", "hmac-sha1"):
        assert name in upload["error"]["message"]
    assert list(remote.iterdir()) == []


def test_logs_upload_through_allow_algorithms(tmp_path: Path, cbc_sshd: SshServer) -> None:
    remote = _remote(cbc_sshd, "cli-allowed")
    config = config_with_sftp(tmp_path, cbc_sshd, remote)
    text = config.read_text()
    config.write_text(
        text.replace(
            "[destinations.fcm]\n",
            '[destinations.fcm]\nallow_algorithms = ["aes128-cbc", "hmac-sha1"]\n',
        )
    )
    assert run(config, "config", "validate")[0] == 0
    (tmp_path / "live" / "audit.csv").write_text("row\n" * 1000)
    assert run(config, "logs", "rotate", *FORCED)[0] == 0
    code, doc, _ = run(config, "logs", "upload", *FORCED)
    assert code == 0, doc
    assert [u["state"] for u in doc["data"]["uploads"]] == ["verified"]


def test_an_unknown_name_in_allow_algorithms_is_exit_78_naming_the_key(
    tmp_path: Path, sshd: SshServer
) -> None:
    config = config_with_sftp(tmp_path, sshd, sshd.remote_root)
    before = config.read_text()
    config.write_text(
        before.replace(
            "[destinations.fcm]\n", '[destinations.fcm]\nallow_algorithms = ["aes128-cbcc"]\n'
        )
    )
    code, doc, _ = run(config, "config", "validate")
    assert code == 78
    assert "destinations.fcm.allow_algorithms" in doc["error"]["message"]
    assert "aes128-cbcc" in doc["error"]["message"]
