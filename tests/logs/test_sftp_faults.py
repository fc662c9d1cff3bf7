"""Stalls and drops at the SSH level against a real OpenSSH sshd on 127.0.0.1 (tests/sshd.py).

A loopback proxy owned by the test passes the connection through until a chosen point, then
stops forwarding (the server looks frozen: both sockets stay open) or closes the client's
side (end of file):

* during key exchange: after the client's KEXINIT;
* during authentication: after the client's NEWKEYS (the SSH packets before it are plain
  text, so the proxy finds the message type; everything after is encrypted: the service
  request and the public-key request never reach the server);
* during read-back verification: after a number of bytes from the server.

And a server whose session process is frozen (SIGSTOP) once every WRITE was acknowledged,
when the truncate, fsync and rename are due.

Every stall must be noticed within ``timeout_s`` of its start (the one timing bound these
tests assert, with 1 s to spare), be a network fault (``upload.network``, exit 75) and never a
refused key; the connection is dropped without another round trip.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ncctl.errors import EXIT_TEMPFAIL, TemporaryError
from ncctl.logs.section import DestinationConfig
from tests.helpers import holds_within
from tests.logs.conftest import MakeItem, OpenDestination
from tests.logs.helpers import FORCED, TRADE_DATE, run, write_config
from tests.logs.proxy import LoopbackProxy, stopped_afterwards
from tests.sshd import SessionFreezer, SshServer

pytestmark = pytest.mark.slow

MiB = 1024 * 1024
TIMEOUT_S = 2.0
SLACK_S = 1.0
MSG_KEXINIT = 20
MSG_NEWKEYS = 21


class StallingProxy(LoopbackProxy):
    """A TCP proxy on 127.0.0.1 to the test sshd.

    The first ``stalls`` connections are stalled at the trigger: after the client's plain-text
    SSH packet of type ``after_client_msg`` was forwarded, or once ``after_server_bytes``
    bytes from the server were forwarded. ``eof`` closes the client's socket there instead of
    holding it. Later connections pass through whole. ``stalled_at`` holds the monotonic time
    of each stall.
    """

    def __init__(
        self,
        target_port: int,
        *,
        after_client_msg: int | None = None,
        after_server_bytes: int | None = None,
        eof: bool = False,
        stalls: int = 1,
    ) -> None:
        self.after_client_msg = after_client_msg
        self.after_server_bytes = after_server_bytes
        self.eof = eof
        self.stalls = stalls
        self.stalled_at: list[float] = []
        super().__init__(target_port)

    def _stall(self) -> None:
        with self.lock:
            self.stalled_at.append(time.monotonic())

    def pump(self, client: socket.socket, number: int) -> None:
        stall = number < self.stalls
        upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        pending = bytearray()  # client bytes not yet parsed into whole SSH packets
        banner_done = False
        served = 0

        def from_server(data: bytes) -> str | None:
            nonlocal served
            client.sendall(data)
            served += len(data)
            limit = self.after_server_bytes
            return "stall" if stall and limit is not None and served >= limit else None

        def from_client(data: bytes) -> str | None:
            nonlocal banner_done
            if not stall or self.after_client_msg is None:
                upstream.sendall(data)
                return None
            pending.extend(data)
            banner_done, stalled = self._forward_packets(pending, upstream, banner_done)
            return "stall" if stalled else None

        try:
            if self.relay(client, upstream, from_client, from_server) == "stall":
                self._stall()
                if not self.eof:  # hold both sockets open, silent: a frozen server
                    self.stopping.wait(60)
        except OSError:
            return
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _forward_packets(
        self, pending: bytearray, upstream: socket.socket, banner_done: bool
    ) -> tuple[bool, bool]:
        """Forward the whole plain-text packets in ``pending``; (banner seen, stalled)."""
        if not banner_done:
            end = pending.find(b"\n")
            if end < 0:
                return False, False
            upstream.sendall(pending[: end + 1])
            del pending[: end + 1]
        while len(pending) >= 6:
            size = 4 + struct.unpack_from(">I", pending)[0]
            if len(pending) < size:
                break
            msg_type = pending[5]
            upstream.sendall(pending[:size])
            del pending[:size]
            if msg_type == self.after_client_msg:
                return True, True
        return True, False


@pytest.fixture
def proxies() -> Iterator[list[StallingProxy]]:
    yield from stopped_afterwards()


def through(
    sshd: SshServer, remote_dir: Path, proxy: StallingProxy, tmp_path: Path
) -> DestinationConfig:
    """The destination config of ``remote_dir`` through ``proxy`` (read-back verification)."""
    known = sshd.known_hosts_for(proxy.port, tmp_path / f"known_hosts_{proxy.port}")
    return sshd.destination_config(
        remote_dir, port=proxy.port, known_hosts=known, timeout_s=TIMEOUT_S, verify="readback"
    )


def assert_network_fault(exc: TemporaryError, proxy: StallingProxy, ended: float) -> None:
    assert exc.code == "upload.network", exc.as_dict()
    assert exc.exit_code == EXIT_TEMPFAIL
    assert "authorized_keys" not in exc.hint + exc.message
    assert len(proxy.stalled_at) == 1, "the proxy never stalled the connection"
    noticed = ended - proxy.stalled_at[0]
    assert noticed <= TIMEOUT_S + SLACK_S, f"noticed {noticed:.2f} s after the stall"


@pytest.mark.parametrize(
    ("trigger", "eof", "detail"),
    [
        (MSG_KEXINIT, False, f"no answer within {TIMEOUT_S:g} s during key exchange"),
        (MSG_NEWKEYS, False, f"no answer within {TIMEOUT_S:g} s during authentication"),
        (MSG_NEWKEYS, True, "closed"),  # during authentication, or its key exchange ending
    ],
    ids=["key-exchange-stall", "authentication-stall", "authentication-eof"],
)
def test_a_stall_or_eof_before_login_is_a_network_fault(
    sshd: SshServer,
    remote_dir: Path,
    make_item: MakeItem,
    open_destination: OpenDestination,
    proxies: list[StallingProxy],
    tmp_path: Path,
    trigger: int,
    eof: bool,
    detail: str,
) -> None:
    proxy = StallingProxy(sshd.port, after_client_msg=trigger, eof=eof)
    proxies.append(proxy)
    dest = open_destination(through(sshd, remote_dir, proxy, tmp_path))
    item = make_item(1000)
    with pytest.raises(TemporaryError) as caught:
        dest.send(item)
    assert_network_fault(caught.value, proxy, time.monotonic())
    assert detail in caught.value.message, caught.value.message
    assert list(remote_dir.iterdir()) == []
    sent = dest.send(item)  # the next attempt gets through
    assert sent.bytes_sent == item.size and dest.verify(item).ok
    assert proxy.connections == 2


def test_a_frozen_read_back_is_noticed_within_the_timeout(
    sshd: SshServer,
    remote_dir: Path,
    make_item: MakeItem,
    open_destination: OpenDestination,
    proxies: list[StallingProxy],
    tmp_path: Path,
) -> None:
    item = make_item(8 * MiB)
    assert open_destination(sshd.destination_config(remote_dir)).send(item).bytes_sent
    proxy = StallingProxy(sshd.port, after_server_bytes=2 * MiB)  # mid-way through the hash
    proxies.append(proxy)
    dest = open_destination(through(sshd, remote_dir, proxy, tmp_path))
    with pytest.raises(TemporaryError) as caught:
        dest.verify(item)
    assert_network_fault(caught.value, proxy, time.monotonic())
    assert "cannot read back" in caught.value.message
    outcome = dest.verify(item)  # a new connection: the frozen one was dropped
    assert (outcome.ok, outcome.method) == (True, "readback")


def test_an_authentication_stall_makes_logs_upload_exit_75_and_the_next_run_uploads(
    sshd: SshServer, remote_dir: Path, proxies: list[StallingProxy], tmp_path: Path
) -> None:
    proxy = StallingProxy(sshd.port, after_client_msg=MSG_NEWKEYS)
    proxies.append(proxy)
    dest = through(sshd, remote_dir, proxy, tmp_path)
    extra = (
        "[destinations.fcm]\n"
        f'url = "{dest.url}"\n'
        f'key_file = "{dest.key_file}"\n'
        f'known_hosts = "{dest.known_hosts}"\n'
        f"timeout_s = {TIMEOUT_S}\nretries = 0\nbackoff_s = 0\n"
    )
    config = write_config(tmp_path, destinations={"client": "outbox/client"}, extra=extra)
    text = config.read_text().replace('destinations = ["client"]', 'destinations = ["fcm"]')
    config.write_text(text)
    (tmp_path / "live" / "audit.csv").write_bytes(b"row\n" * 1000)
    assert run(config, "logs", "rotate", *FORCED)[0] == 0
    code, doc, _ = run(config, "logs", "upload", *FORCED)
    assert code == EXIT_TEMPFAIL, doc
    assert doc["error"]["code"] == "upload.retry"
    [upload] = doc["data"]["uploads"]
    assert (upload["state"], upload["retryable"]) == ("failed", True)
    assert upload["error"]["code"] == "upload.network"
    code, doc, _ = run(config, "logs", "upload", *FORCED)
    assert code == 0, doc
    assert [u["state"] for u in doc["data"]["uploads"]] == ["verified"]
    assert (remote_dir / f"audit.{TRADE_DATE}.csv.gz").is_file()
    assert holds_within(lambda: proxy.connections == 2, 5)


def test_a_server_frozen_after_the_last_write_is_noticed_within_the_timeout(
    private_sshd: SshServer, make_item: MakeItem, open_destination: OpenDestination
) -> None:
    """Frozen (SIGSTOP) once every WRITE was acknowledged: the truncate/fsync that follow get
    no answer; noticed within timeout_s, nothing published, and the next send completes."""
    server = private_sshd
    remote_dir = server.make_remote_dir("finish")
    item = make_item(3 * MiB)
    dest = open_destination(server.destination_config(remote_dir, timeout_s=TIMEOUT_S))
    freezer = SessionFreezer(server, at_bytes=item.size)  # when the last WRITE is acknowledged
    try:
        with pytest.raises(TemporaryError) as caught:
            dest.send(item, freezer)
        assert freezer.frozen_at is not None
        noticed = time.monotonic() - freezer.frozen_at
    finally:
        freezer.thaw()
    assert caught.value.code == "upload.network", caught.value.as_dict()
    assert f"cannot finish {remote_dir / item.name}.part" in caught.value.message
    assert noticed <= TIMEOUT_S + SLACK_S, f"noticed {noticed:.2f} s after the freeze"
    assert not (remote_dir / item.name).exists()
    sent = dest.send(item)  # a new connection: the frozen one was dropped
    assert sent.bytes_sent + sent.resumed_from == item.size
    assert dest.verify(item).ok
