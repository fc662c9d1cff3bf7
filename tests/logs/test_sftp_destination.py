"""SftpDestination against a real OpenSSH sshd on 127.0.0.1 (tests/sshd.py).

The server's files are local paths here, so every test checks the remote side directly: what
exists under the final name, its bytes, and that nothing else was written. Interruptions are
real: a loopback proxy owned by the test cuts the TCP connection after N bytes, the server's
session processes are frozen with SIGSTOP, and a 4 MiB tmpfs fills up under an upload.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ncctl.errors import ConfigError, PermissionDeniedError, TemporaryError, UnavailableError
from ncctl.logs.destinations import RESUME_MARGIN, Item, UploadConflict
from ncctl.logs.sftp_destination import SftpDestination
from ncctl.logs.ssh_connection import HostKeyError
from tests.helpers import holds_within
from tests.logs.conftest import (
    MakeItem,
    OpenDestination,
    item_for,
    remote_sha256,
    write_random,
)
from tests.logs.proxy import LoopbackProxy, stopped_afterwards
from tests.sshd import (
    SessionFreezer,
    SshServer,
    keygen,
    known_hosts_line,
    running_sshd,
    sshd_unavailable,
)

pytestmark = pytest.mark.slow

MiB = 1024 * 1024


def server_fingerprint(server: SshServer) -> str:
    """The host key's fingerprint as ``ssh-keygen -l`` prints it (an independent oracle)."""
    pub = server.base / "ssh_host_ed25519_key.pub"
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fingerprint = out.split()[1]
    assert fingerprint.startswith("SHA256:")
    return fingerprint


def accepted_logins(server: SshServer) -> int:
    return server.log_file.read_text(errors="replace").count("Accepted publickey for")


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --- a loopback proxy that cuts connections --------------------------------------------------


class CuttingProxy(LoopbackProxy):
    """A TCP proxy on 127.0.0.1 to the test sshd; connection i is cut after ``cuts[i]`` bytes
    from the client, later connections are passed through whole.

    At a cut the client's socket is closed at once; the server's side gets exactly the bytes
    before the cut, then end-of-file (not a reset, which would make it drop what it has
    received but not processed), so the remote ``.part`` grows by a predictable amount.
    """

    def __init__(self, target_port: int, cuts: list[int]) -> None:
        self.cuts = list(cuts)
        self.cut_done: list[int] = []
        super().__init__(target_port)

    def pump(self, client: socket.socket, number: int) -> None:
        limit = self.cuts[number] if number < len(self.cuts) else None
        # generous: a timeout here (a loaded machine) would be a cut the test did not ask for
        upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
        for sock in (client, upstream):
            sock.settimeout(30)
        forwarded = 0

        def from_client(data: bytes) -> str | None:
            nonlocal forwarded
            if limit is not None and forwarded + len(data) >= limit:
                upstream.sendall(data[: limit - forwarded])
                with self.lock:
                    self.cut_done.append(limit)
                return "cut"
            upstream.sendall(data)
            forwarded += len(data)
            return None

        def from_server(data: bytes) -> None:
            client.sendall(data)

        graceful_end = False
        try:
            graceful_end = self.relay(client, upstream, from_client, from_server) == "cut"
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()
            if graceful_end:
                self._finish(upstream)
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_RDWR)
            upstream.close()

    def _finish(self, upstream: socket.socket) -> None:
        """End-of-file to the server, then read (and drop) what it sends until it closes."""
        deadline = time.monotonic() + 5
        with contextlib.suppress(OSError):
            upstream.shutdown(socket.SHUT_WR)
            upstream.settimeout(0.1)
            while time.monotonic() < deadline and not self.stopping.is_set():
                try:
                    if not upstream.recv(256 * 1024):
                        return
                except TimeoutError:
                    continue


class FinalNameWatcher:
    """Polls the final name during a test: records any moment it holds a partial file."""

    def __init__(self, path: Path, item: Item) -> None:
        self.path = path
        self.item = item
        self.bad_sizes: list[int] = []
        self.checks = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.checks += 1
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                size = None
            if size is not None and size != self.item.size:
                self.bad_sizes.append(size)
            self.stopping.wait(0.002)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)


@pytest.fixture
def proxy_factory(sshd: SshServer) -> Iterator[list[CuttingProxy]]:
    yield from stopped_afterwards()


# --- plain uploads and verification -----------------------------------------------------------


def test_upload_then_verify_by_size_readback_and_exec(
    sshd: SshServer, remote_dir: Path, make_item: MakeItem, open_destination: OpenDestination
) -> None:
    item = make_item(3 * MiB + 12345)
    progress: list[int] = []
    dest = open_destination(sshd.destination_config(remote_dir))
    sent = dest.send(item, progress.append)
    final = remote_dir / item.name
    assert sent.remote_path == str(final)
    assert (sent.bytes_sent, sent.resumed_from, sent.already_present) == (item.size, 0, False)
    assert sum(progress) == item.size and all(n > 0 for n in progress)
    assert remote_sha256(final) == item.sha256
    assert listing(remote_dir) == [item.name]  # no .part left behind
    assert final.stat().st_mode & 0o777 == 0o640
    for method in ("size", "readback", "exec"):
        checker = open_destination(sshd.destination_config(remote_dir, verify=method))
        outcome = checker.verify(item)
        assert (outcome.ok, outcome.method) == (True, method), outcome


def test_verify_detects_a_changed_remote_file(
    sshd: SshServer, remote_dir: Path, make_item: MakeItem, open_destination: OpenDestination
) -> None:
    item = make_item(MiB)
    open_destination(sshd.destination_config(remote_dir)).send(item)
    final = remote_dir / item.name
    with final.open("r+b") as fh:  # same size, one byte different
        fh.seek(item.size // 2)
        byte = fh.read(1)
        fh.seek(item.size // 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    by_size = open_destination(sshd.destination_config(remote_dir, verify="size")).verify(item)
    assert by_size.ok  # size alone cannot see it: that is why readback is the default
    for method in ("readback", "exec"):
        outcome = open_destination(sshd.destination_config(remote_dir, verify=method)).verify(item)
        assert not outcome.ok and outcome.method == method and item.sha256 in outcome.detail
    with final.open("r+b") as fh:
        fh.truncate(item.size - 1)
    short = open_destination(sshd.destination_config(remote_dir)).verify(item)
    assert not short.ok and short.method == "size" and str(item.size) in short.detail
    final.unlink()
    missing = open_destination(sshd.destination_config(remote_dir)).verify(item)
    assert not missing.ok and "does not exist" in missing.detail


def test_resend_is_idempotent(
    sshd: SshServer, remote_dir: Path, make_item: MakeItem, open_destination: OpenDestination
) -> None:
    item = make_item(700_000)
    dest = open_destination(sshd.destination_config(remote_dir))
    first = dest.send(item)
    mtime = (remote_dir / item.name).stat().st_mtime_ns
    again = dest.send(item)
    assert not first.already_present
    assert again.already_present and again.bytes_sent == 0
    assert (remote_dir / item.name).stat().st_mtime_ns == mtime
    assert listing(remote_dir) == [item.name]


def test_empty_file_and_missing_remote_directories(
    sshd: SshServer, remote_dir: Path, make_item: MakeItem, open_destination: OpenDestination
) -> None:
    item = make_item(0)
    target = remote_dir / "fcm" / "2026" / "11"
    dest = open_destination(sshd.destination_config(target))
    assert dest.send(item).bytes_sent == 0
    assert (target / item.name).stat().st_size == 0
    assert dest.verify(item).ok


@pytest.mark.parametrize("same_size", [True, False])
def test_final_name_with_other_content_is_a_conflict(
    sshd: SshServer,
    remote_dir: Path,
    make_item: MakeItem,
    open_destination: OpenDestination,
    same_size: bool,
) -> None:
    item = make_item(400_000)
    final = remote_dir / item.name
    write_random(final, item.size if same_size else item.size + 1)
    before = remote_sha256(final)
    dest = open_destination(sshd.destination_config(remote_dir))
    with pytest.raises(UploadConflict) as caught:
        dest.send(item)
    assert caught.value.code == "upload.conflict"
    assert str(final) in caught.value.message and "overwritten" in caught.value.hint
    assert remote_sha256(final) == before
    assert listing(remote_dir) == [item.name]  # no .part either


def test_stale_part_with_other_content_is_rewritten_and_a_good_one_resumed(
    sshd: SshServer, remote_dir: Path, make_item: MakeItem, open_destination: OpenDestination
) -> None:
    item = make_item(3 * MiB)
    part = remote_dir / f"{item.name}.part"
    write_random(part, 2 * MiB)  # left by an upload of something else under the same name
    os.chown(part, sshd.uid, sshd.gid)
    dest = open_destination(sshd.destination_config(remote_dir))
    sent = dest.send(item)
    assert sent.resumed_from == 0 and sent.bytes_sent == item.size
    assert remote_sha256(remote_dir / item.name) == item.sha256

    other = make_item(3 * MiB)
    part = remote_dir / f"{other.name}.part"
    with other.local.open("rb") as src, part.open("wb") as out:
        out.write(src.read(2 * MiB))  # a genuine interrupted upload, 2 MiB in
    os.chown(part, sshd.uid, sshd.gid)
    resumed = dest.send(other)
    assert resumed.resumed_from == 2 * MiB - RESUME_MARGIN
    assert resumed.bytes_sent == other.size - resumed.resumed_from
    assert remote_sha256(remote_dir / other.name) == other.sha256
    assert dest.verify(other).ok


def test_a_local_file_shorter_than_its_record_is_refused(
    sshd: SshServer, remote_dir: Path, make_item: MakeItem, open_destination: OpenDestination
) -> None:
    item = make_item(MiB)
    grown = Item(item.local, item.name, item.size + 1000, item.sha256)
    dest = open_destination(sshd.destination_config(remote_dir))
    with pytest.raises(Exception) as caught:
        dest.send(grown)
    assert getattr(caught.value, "code", None) == "upload.local_file"
    assert not (remote_dir / item.name).exists()


def test_a_final_name_appearing_during_the_upload_is_not_replaced(
    sshd: SshServer, remote_dir: Path, make_item: MakeItem, open_destination: OpenDestination
) -> None:
    item = make_item(4 * MiB)
    final = remote_dir / item.name
    planted = b"written by someone else meanwhile\n"

    def plant_once(_n: int) -> None:
        if not final.exists():
            final.write_bytes(planted)

    dest = open_destination(sshd.destination_config(remote_dir))
    with pytest.raises(UploadConflict) as caught:
        dest.send(item, plant_once)
    assert "appeared during the upload" in caught.value.message
    assert final.read_bytes() == planted
    assert (remote_dir / f"{item.name}.part").stat().st_size == item.size  # kept, complete


def test_a_final_name_created_right_after_the_last_check_is_not_replaced(
    sshd: SshServer, remote_dir: Path, make_item: MakeItem, open_destination: OpenDestination
) -> None:
    """The race a rename would lose: another writer creates the final name between ncctl's
    last look and the publication. hardlink@openssh.com refuses to replace it."""
    item = make_item(1 * MiB)
    final = remote_dir / item.name
    planted = b"created by someone else after the last check\n"
    dest = open_destination(sshd.destination_config(remote_dir))
    conn = dest._connect()
    assert conn.sftp.has("hardlink@openssh.com")
    real_stat = conn.sftp.stat
    looks: list[str] = []

    def racing_stat(path: str) -> Any:
        found = real_stat(path)
        if path.endswith("/" + item.name):
            looks.append(path)
            if len(looks) == 2:  # the check just before publishing: now the other writer
                final.write_bytes(planted)
        return found

    conn.sftp.stat = racing_stat  # type: ignore[method-assign]
    with pytest.raises(UploadConflict) as caught:
        dest.send(item)
    assert "appeared during the upload" in caught.value.message
    assert final.read_bytes() == planted
    assert (remote_dir / f"{item.name}.part").stat().st_size == item.size  # kept


def test_exec_verify_without_a_shell_is_a_clear_error(
    make_item: MakeItem, open_destination: OpenDestination
) -> None:
    reason = sshd_unavailable()
    if reason is not None:
        pytest.skip(reason)
    with running_sshd(extra_config="ForceCommand internal-sftp\n") as server:
        remote_dir = server.make_remote_dir("noshell")
        item = make_item(100_000)
        dest = open_destination(server.destination_config(remote_dir, verify="exec", timeout_s=5))
        dest.send(item)
        started = time.monotonic()
        with pytest.raises(UnavailableError) as caught:
            dest.verify(item)
        assert time.monotonic() - started < 5
        assert caught.value.code == "verify.exec_unavailable"
        assert 'verify = "readback"' in caught.value.hint
        assert open_destination(server.destination_config(remote_dir)).verify(item).ok


def test_a_server_that_never_answers_times_out(
    make_item: MakeItem, open_destination: OpenDestination, sshd: SshServer, remote_dir: Path
) -> None:
    with socket.create_server(("127.0.0.1", 0), backlog=4) as silent:  # accepts, never speaks
        port = silent.getsockname()[1]
        dest = open_destination(sshd.destination_config(remote_dir, port=port, timeout_s=1))
        started = time.monotonic()
        with pytest.raises(TemporaryError) as caught:
            dest.send(make_item(1000))
        waited = time.monotonic() - started
    assert caught.value.code == "upload.network"
    assert waited < 1 + 3.0, f"blocked {waited:.1f} s on a silent server"


# --- interruptions ----------------------------------------------------------------------------


def test_connection_cut_at_several_offsets_resumes_without_a_partial_final_file(
    sshd: SshServer,
    remote_dir: Path,
    make_item: MakeItem,
    open_destination: OpenDestination,
    proxy_factory: list[CuttingProxy],
    tmp_path: Path,
) -> None:
    item = make_item(8 * MiB)
    # every connection gets at most its cut's worth further than the previous ones, so with
    # cuts adding up to less than the file, each cut falls inside the file
    cuts = [1 * MiB, 1 * MiB + 512 * 1024 + 4321, 1 * MiB + 777, 2 * MiB + 99, 640 * 1024]
    assert sum(cuts) < item.size
    proxy = CuttingProxy(sshd.port, cuts)
    proxy_factory.append(proxy)
    known = sshd.known_hosts_for(proxy.port, tmp_path / "known_hosts_proxy")
    config = sshd.destination_config(remote_dir, port=proxy.port, known_hosts=known, timeout_s=5)
    final = remote_dir / item.name
    watcher = FinalNameWatcher(final, item)
    resumed: list[int] = []
    try:
        for attempt in range(len(cuts) + 2):  # bounded: one cut per connection, then whole
            dest = open_destination(config)
            try:
                sent = dest.send(item)
            except TemporaryError as exc:
                assert exc.code == "upload.network", exc.as_dict()
                assert exc.exit_code == 75
                assert not final.exists(), f"final name visible after cut {attempt}"
                continue
            finally:
                dest.close()
            resumed.append(sent.resumed_from)
            break
        else:
            pytest.fail("the upload never completed")
    finally:
        watcher.stop()
    assert proxy.cut_done == cuts, "every planned cut happened inside the file"
    assert resumed and resumed[0] > 0  # the last send resumed
    assert remote_sha256(final) == item.sha256
    assert listing(remote_dir) == [item.name]
    assert watcher.checks > 10 and watcher.bad_sizes == []
    assert open_destination(sshd.destination_config(remote_dir)).verify(item).ok


def test_every_cut_send_resumes_further(
    sshd: SshServer,
    remote_dir: Path,
    make_item: MakeItem,
    open_destination: OpenDestination,
    proxy_factory: list[CuttingProxy],
    tmp_path: Path,
) -> None:
    item = make_item(6 * MiB)
    proxy = CuttingProxy(sshd.port, [2 * MiB, 2 * MiB])  # adding up to less than the file
    proxy_factory.append(proxy)
    known = sshd.known_hosts_for(proxy.port, tmp_path / "known_hosts_proxy")
    # the cuts end each send at once; the timeout only bounds a hang on a loaded machine
    config = sshd.destination_config(remote_dir, port=proxy.port, known_hosts=known, timeout_s=30)
    part = remote_dir / f"{item.name}.part"
    sizes: list[int] = []
    for i in range(2):
        with pytest.raises(TemporaryError):
            open_destination(config).send(item)
        assert proxy.cut_done == [2 * MiB] * (i + 1)  # ended by the cut, not by a timeout
        # the server may still be writing what it received before the cut
        assert holds_within(lambda: not sshd.session_pids(), 30)
        sizes.append(part.stat().st_size)
    assert 0 < sizes[0] < sizes[1] < item.size
    sent = open_destination(config).send(item)
    assert sizes[1] - RESUME_MARGIN <= sent.resumed_from <= sizes[1]
    assert remote_sha256(remote_dir / item.name) == item.sha256


def test_frozen_server_times_out_and_the_next_send_resumes(
    private_sshd: SshServer,
    make_item: MakeItem,
    open_destination: OpenDestination,
) -> None:
    server = private_sshd
    remote_dir = server.make_remote_dir("frozen")
    item = make_item(16 * MiB)
    timeout_s = 2.0
    dest = open_destination(server.destination_config(remote_dir, timeout_s=timeout_s))
    freezer = SessionFreezer(server, at_bytes=3 * MiB)
    try:
        with pytest.raises(TemporaryError) as caught:
            dest.send(item, freezer)
        assert freezer.frozen_at is not None
        waited = time.monotonic() - freezer.frozen_at
        assert caught.value.code == "upload.network"
        assert f"{timeout_s:g} s" in caught.value.message
        assert waited <= timeout_s + 1.0, f"blocked {waited:.1f} s on a frozen server"
        assert not (remote_dir / item.name).exists()
    finally:
        freezer.thaw()
    sent = dest.send(item)  # a new connection: the frozen one was dropped
    assert sent.resumed_from > 0
    assert remote_sha256(remote_dir / item.name) == item.sha256
    assert dest.verify(item).ok


def test_remote_disk_filling_up_near_the_end_is_a_failure(
    sshd: SshServer,
    remote_dir: Path,
    make_item: MakeItem,
    open_destination: OpenDestination,
) -> None:
    small = remote_dir / "small-fs"
    reason = sshd.mount_tmpfs(small, "4m")
    if reason is not None:
        pytest.skip(reason)
    try:
        item = make_item(6 * MiB)
        dest = open_destination(sshd.destination_config(small))
        with pytest.raises(TemporaryError) as caught:
            dest.send(item)
        assert caught.value.code == "upload.no_space", caught.value.as_dict()
        assert "full" in caught.value.message
        assert not (small / item.name).exists()
        outcome = dest.verify(item)
        assert not outcome.ok
        with pytest.raises(TemporaryError):  # again, on the same connection: still full
            dest.send(item)
        assert not (small / item.name).exists()
    finally:
        sshd.unmount(small)


# --- refusals ---------------------------------------------------------------------------------


def test_unknown_host_key_is_refused_with_its_fingerprint(
    sshd: SshServer,
    remote_dir: Path,
    make_item: MakeItem,
    open_destination: OpenDestination,
    tmp_path: Path,
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    item = make_item(1000)
    dest = open_destination(sshd.destination_config(remote_dir, known_hosts=empty))
    with pytest.raises(HostKeyError) as caught:
        dest.send(item)
    err = caught.value
    assert (err.code, err.exit_code) == ("sftp.host_key", 69)
    assert f"ssh-ed25519 {server_fingerprint(sshd)}" in err.message
    assert "not in" in err.message and "never adds" in err.hint
    with pytest.raises(HostKeyError):
        dest.verify(item)
    assert empty.read_text() == ""  # nothing added
    assert listing(remote_dir) == []


def test_changed_host_key_is_refused_with_both_fingerprints(
    sshd: SshServer,
    remote_dir: Path,
    make_item: MakeItem,
    open_destination: OpenDestination,
    tmp_path: Path,
) -> None:
    other_public = keygen(tmp_path / "impostor", "impostor")
    other_fp = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(tmp_path / "impostor.pub")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]
    pinned = tmp_path / "known_hosts"
    pinned.write_text(known_hosts_line(sshd.port, other_public))
    dest = open_destination(sshd.destination_config(remote_dir, known_hosts=pinned))
    with pytest.raises(HostKeyError) as caught:
        dest.send(make_item(1000))
    message = caught.value.message
    assert "CHANGED" in message
    assert server_fingerprint(sshd) in message and other_fp in message
    assert listing(remote_dir) == []


def test_permission_denied_on_the_remote_directory(
    sshd: SshServer, make_item: MakeItem, open_destination: OpenDestination
) -> None:
    locked = sshd.remote_root / f"locked-{os.getpid()}"
    locked.mkdir(mode=0o555)  # owned by root: the test account cannot write there
    locked.chmod(0o555)
    try:
        item = make_item(1000)
        dest = open_destination(sshd.destination_config(locked))
        with pytest.raises(PermissionDeniedError) as caught:
            dest.send(item)
        err = caught.value
        assert (err.code, err.exit_code) == ("upload.permission", 77)
        assert "permission denied" in err.message and str(locked) in err.message
        assert sshd.user in err.hint
        below = open_destination(sshd.destination_config(locked / "sub"))
        with pytest.raises(PermissionDeniedError) as caught:
            below.send(item)
        assert "cannot create directory" in caught.value.message
        assert listing(locked) == []
    finally:
        shutil.rmtree(locked)


def test_group_readable_key_file_is_refused(
    sshd: SshServer,
    remote_dir: Path,
    make_item: MakeItem,
    open_destination: OpenDestination,
    tmp_path: Path,
) -> None:
    key = tmp_path / "id_ed25519"
    shutil.copy(sshd.client_key, key)
    key.chmod(0o644)
    logins = accepted_logins(sshd)
    dest = open_destination(sshd.destination_config(remote_dir, key_file=key))
    with pytest.raises(ConfigError) as caught:
        dest.send(make_item(1000))
    assert caught.value.code == "sftp.key_file"
    assert "0644" in caught.value.message and f"chmod 600 {key}" in caught.value.hint
    assert accepted_logins(sshd) == logins
    assert listing(remote_dir) == []


def test_a_key_the_server_does_not_know_is_refused(
    sshd: SshServer,
    remote_dir: Path,
    make_item: MakeItem,
    open_destination: OpenDestination,
    tmp_path: Path,
) -> None:
    stranger = tmp_path / "stranger"
    keygen(stranger, "stranger")
    dest = open_destination(sshd.destination_config(remote_dir, key_file=stranger))
    with pytest.raises(PermissionDeniedError) as caught:
        dest.send(make_item(1000))
    assert caught.value.code == "sftp.auth"
    assert "authorized_keys" in caught.value.hint


def test_unreachable_server_is_a_temporary_error(
    sshd: SshServer, remote_dir: Path, make_item: MakeItem, open_destination: OpenDestination
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed_port_holder:
        port = closed_port_holder.getsockname()[1]
    dest = open_destination(sshd.destination_config(remote_dir, port=port, timeout_s=2))
    with pytest.raises(TemporaryError) as caught:
        dest.send(make_item(1000))
    assert caught.value.code == "upload.network"


# --- volume -----------------------------------------------------------------------------------


def test_a_thousand_small_files_through_one_connection(
    sshd: SshServer, remote_dir: Path, tmp_path: Path, open_destination: OpenDestination
) -> None:
    local = tmp_path / "many"
    local.mkdir()
    items = []
    for i in range(1000):
        path = local / f"ion.{i:04d}.log"
        path.write_bytes(os.urandom(64 + i))
        items.append(item_for(path))
    logins = accepted_logins(sshd)
    dest = open_destination(sshd.destination_config(remote_dir, verify="size"))
    started = time.monotonic()
    for item in items:
        assert not dest.send(item).already_present
        assert dest.verify(item).ok
    elapsed = time.monotonic() - started
    assert accepted_logins(sshd) == logins + 1
    assert elapsed < 30, f"1,000 small files took {elapsed:.1f} s"
    assert len(listing(remote_dir)) == 1000
    for item in items[::97]:
        assert remote_sha256(remote_dir / item.name) == item.sha256


def test_one_512_mib_file(
    sshd: SshServer, remote_dir: Path, tmp_path: Path, open_destination: OpenDestination
) -> None:
    path = tmp_path / "audit.20261125.csv"
    write_random(path, 512 * MiB)
    try:
        item = item_for(path)
        dest = open_destination(sshd.destination_config(remote_dir, timeout_s=30))
        sent = dest.send(item)
        assert sent.bytes_sent == item.size
        assert dest.verify(item).ok  # readback: the whole file hashed again remotely
        assert remote_sha256(remote_dir / item.name) == item.sha256
    finally:
        path.unlink(missing_ok=True)
        (remote_dir / path.name).unlink(missing_ok=True)


def test_destination_module_does_not_import_paramiko_until_used() -> None:
    code = (
        "import sys, ncctl.logs.sftp_destination, ncctl.logs.upload\n"
        "assert 'paramiko' not in sys.modules, 'paramiko imported at module load'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sftp_destination_satisfies_the_protocol(sshd: SshServer, remote_dir: Path) -> None:
    from ncctl.logs.destinations import Destination
    from ncctl.logs.upload import open_destination

    config = sshd.destination_config(remote_dir)
    dest: Destination = open_destination("fcm", config)
    assert isinstance(dest, SftpDestination)
    assert (dest.name, dest.url) == ("fcm", config.url)
    dest.close()
    dest.close()  # idempotent, and a no-op before any connection


@pytest.mark.parametrize(("mode", "uid"), [(0o666, 0), (0o620, 0), (0o644, 65534)])
def test_a_known_hosts_others_can_change_is_refused(
    sshd: SshServer,
    remote_dir: Path,
    make_item: MakeItem,
    open_destination: OpenDestination,
    tmp_path: Path,
    mode: int,
    uid: int,
) -> None:
    pinned = tmp_path / "known_hosts"
    pinned.write_text(known_hosts_line(sshd.port, sshd.host_public))
    pinned.chmod(mode)
    os.chown(pinned, uid, -1)
    dest = open_destination(sshd.destination_config(remote_dir, known_hosts=pinned))
    with pytest.raises(ConfigError) as caught:
        dest.send(make_item(1000))
    assert caught.value.code == "sftp.known_hosts"
    assert str(pinned) in caught.value.message and f"{mode:04o}" in caught.value.message
    assert listing(remote_dir) == []
