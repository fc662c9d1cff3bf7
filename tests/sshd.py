"""A throwaway OpenSSH server on 127.0.0.1 for tests and benchmarks (docs/design.md §7).

:func:`start_sshd` writes a private ``sshd_config`` (its own host key, pid file, log file and
``authorized_keys``; public-key authentication only; ``Subsystem sftp internal-sftp``), checks
it with ``sshd -t``, starts ``sshd -D`` as a child on a free high port of 127.0.0.1 and waits,
for a bounded time, until the port accepts connections. Clients log in as a dedicated local
account, :data:`TEST_USER` (created when missing; its password field is ``*``, not ``!``,
which with ``UsePAM no`` would mean a locked account), with an ed25519 key made for the run,
and pin the server's key through a ``known_hosts`` line of their own.

Everything lives in one directory under the system temporary directory (not under pytest's
``tmp_path``, whose mode 0700 parents the test account could not traverse); ``stop()`` ends
the server and every session process it forked, by pid, and removes that directory.

Must run as root (sshd has to switch to the test account). ``sshd_unavailable()`` says why a
server cannot be started here, for ``pytest.skip``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ncctl.logs.section import DestinationConfig
from tests.helpers import holds_within

TEST_USER = "ncctltest"
LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


def sshd_binary() -> str | None:
    found = shutil.which("sshd")
    if found:
        return found
    return "/usr/sbin/sshd" if Path("/usr/sbin/sshd").is_file() else None


def sshd_unavailable() -> str | None:
    """Why no test sshd can be started on this machine, or None when one can."""
    if os.geteuid() != 0:
        return "the test sshd must run as root (it switches to the test account)"
    if sshd_binary() is None:
        return "OpenSSH sshd is not installed (scripts/test installs openssh-server)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen is not installed (scripts/test installs openssh-client)"
    return None


def ensure_test_user(name: str = TEST_USER) -> pwd.struct_passwd:
    """The local account sshd lets the tests in as; created (idempotently) when missing."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        proc = subprocess.run(
            ["useradd", "-M", "-s", "/bin/bash", name],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode not in (0, 9):  # 9: already exists (created concurrently)
            raise RuntimeError(f"useradd {name} failed: {proc.stderr.strip()}") from None
        entry = pwd.getpwnam(name)
    if _shadow_password(name) != "*":
        # '*': no password can match, but the account is not locked ('!' would lock it)
        subprocess.run(["usermod", "-p", "*", name], check=True, capture_output=True)
    return entry


def _shadow_password(name: str) -> str | None:
    try:
        lines = Path("/etc/shadow").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(":")
        if fields[0] == name and len(fields) > 1:
            return fields[1]
    return None


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def port_accepts(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def keygen(path: Path, comment: str) -> str:
    """A new unencrypted ed25519 key pair at ``path`` (mode 600); returns the public line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    path.chmod(0o600)
    return path.with_name(path.name + ".pub").read_text(encoding="ascii").strip()


def known_hosts_line(port: int, public_line: str, host: str = LOOPBACK) -> str:
    """``[host]:port type base64`` for a public key line ``type base64 [comment]``."""
    key_type, blob = public_line.split()[:2]
    name = host if port == 22 else f"[{host}]:{port}"
    return f"{name} {key_type} {blob}\n"


def parent_pid(pid: int) -> int | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return None


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children first, then theirs), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            ppid = parent_pid(int(entry.name))
            if ppid is not None:
                parents[int(entry.name)] = ppid
    found: list[int] = []
    frontier = [pid]
    while frontier:  # bounded: every pid is visited at most once
        current = frontier.pop(0)
        children = sorted(p for p, pp in parents.items() if pp == current and p not in found)
        found.extend(children)
        frontier.extend(children)
    return found


def process_state(pid: int) -> str | None:
    """The one-letter state of ``pid`` (R, S, T, Z, ...), or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()[0]


def _alive(pid: int) -> bool:
    state = process_state(pid)
    return state is not None and state != "Z"


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


SSHD_CONFIG = """\
# ncctl test server: loopback only, public keys only, one account
ListenAddress {host}
Port {port}
HostKey {host_key}
PidFile {pid_file}
AuthorizedKeysFile {authorized_keys}
AllowUsers {user}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
StrictModes no
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
PrintMotd no
UseDNS no
LogLevel {log_level}
Subsystem sftp internal-sftp
"""


WEAK_ONLY = """\
# only algorithms below ncctl's floor (OpenSSH still implements them, off by default)
Ciphers aes128-cbc
MACs hmac-sha1
KexAlgorithms diffie-hellman-group14-sha1
"""
"""``extra_config`` for a server that offers nothing but weak algorithms."""

WEAK_CIPHER_AND_MAC = """\
Ciphers aes128-cbc
MACs hmac-sha1
"""
"""``extra_config`` for a server with a modern key exchange but only CBC and HMAC-SHA1."""


@dataclass
class SshServer:
    """A running test sshd and what a client needs to reach it."""

    base: Path
    host: str
    port: int
    user: str
    uid: int
    gid: int
    client_key: Path
    known_hosts: Path
    host_public: str
    remote_root: Path
    log_file: Path
    config_file: Path
    process: subprocess.Popen[bytes]
    mounts: list[Path] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, remote_dir: Path | str) -> str:
        return f"sftp://{self.user}@{self.host}:{self.port}{remote_dir}"

    def destination_config(
        self,
        remote_dir: Path | str | None = None,
        *,
        port: int | None = None,
        timeout_s: float = 10.0,
        verify: Literal["size", "readback", "exec"] = "readback",
        key_file: Path | None = None,
        known_hosts: Path | None = None,
        retries: int = 0,
        allow_algorithms: list[str] | None = None,
    ) -> DestinationConfig:
        """A ``[destinations.NAME]`` for this server (``port`` to go through a proxy)."""
        directory = remote_dir if remote_dir is not None else self.remote_root
        url = f"sftp://{self.user}@{self.host}:{port or self.port}{directory}"
        return DestinationConfig.model_validate(
            {
                "url": url,
                "key_file": str(key_file or self.client_key),
                "known_hosts": str(known_hosts or self.known_hosts),
                "timeout_s": timeout_s,
                "retries": retries,
                "verify": verify,
                "allow_algorithms": allow_algorithms or [],
            }
        )

    def known_hosts_for(self, port: int, path: Path) -> Path:
        """A known_hosts file pinning this server's key under another port (a proxy's)."""
        path.write_text(known_hosts_line(port, self.host_public, self.host), encoding="ascii")
        return path

    def make_remote_dir(self, name: str, mode: int = 0o755) -> Path:
        """A fresh directory under the remote root, owned by the test account."""
        directory = self.remote_root / name
        directory.mkdir(mode=mode)
        os.chown(directory, self.uid, self.gid)
        directory.chmod(mode)
        return directory

    def mount_tmpfs(self, directory: Path, size: str) -> str | None:
        """Mount a tmpfs of ``size`` on ``directory`` owned by the test account.

        Returns None on success, or why mounting is not permitted here (for a skip).
        """
        directory.mkdir(exist_ok=True)
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(directory)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            return f"mount -t tmpfs is not permitted here: {proc.stderr.strip()}"
        self.mounts.append(directory)
        os.chown(directory, self.uid, self.gid)
        return None

    def unmount(self, directory: Path) -> None:
        if directory in self.mounts:
            subprocess.run(["umount", "-l", str(directory)], check=False, capture_output=True)
            self.mounts.remove(directory)

    def session_pids(self) -> list[int]:
        """The processes serving client connections: everything the listener forked."""
        return [pid for pid in descendants(self.pid) if _alive(pid)]

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """End sessions and the listener (by pid), unmount what was mounted, remove files."""
        sessions = descendants(self.pid)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        for pid in sessions:  # frozen ones too: SIGKILL works on stopped processes
            _signal(pid, signal.SIGCONT)
            _signal(pid, signal.SIGKILL)
        holds_within(lambda: not any(_alive(pid) for pid in sessions), STOP_TIMEOUT_S)
        for directory in list(self.mounts):
            self.unmount(directory)
        shutil.rmtree(self.base, ignore_errors=True)


class SessionFreezer:
    """A progress callback (bytes acknowledged) that freezes every session process of
    ``server`` with SIGSTOP once ``at_bytes`` were reported: the server goes silent mid-way.

    ``frozen_at`` is the monotonic time the processes were seen stopped; :meth:`thaw` lets them
    continue (call it in a ``finally``; SshServer.stop kills frozen ones too).
    """

    def __init__(self, server: SshServer, at_bytes: int) -> None:
        self.server = server
        self.at_bytes = at_bytes
        self.seen = 0
        self.frozen: list[int] = []
        self.frozen_at: float | None = None

    def __call__(self, nbytes: int) -> None:
        self.seen += nbytes
        if self.frozen or self.seen < self.at_bytes:
            return
        pids = self.server.session_pids()
        assert pids, "no session process found under the listening sshd"
        for pid in pids:
            _signal(pid, signal.SIGSTOP)
        self.frozen = pids
        assert holds_within(lambda: all(process_state(p) == "T" for p in pids), STOP_TIMEOUT_S)
        self.frozen_at = time.monotonic()

    def thaw(self) -> None:
        for pid in self.frozen:
            _signal(pid, signal.SIGCONT)


def start_sshd(
    *,
    user: str = TEST_USER,
    log_level: str = "VERBOSE",
    extra_config: str = "",
    parent: Path | None = None,
    attempts: int = 5,
) -> SshServer:
    """Start a test sshd; retry on another port when the chosen one is taken meanwhile.

    ``extra_config`` is appended to the generated sshd_config (``ForceCommand internal-sftp``
    to take the shell away, for example).
    """
    reason = sshd_unavailable()
    if reason is not None:
        raise RuntimeError(reason)
    binary = sshd_binary()
    assert binary is not None
    account = ensure_test_user(user)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)

    base = Path(tempfile.mkdtemp(prefix="ncctl-sshd-", dir=parent))
    base.chmod(0o755)  # the test account reads authorized_keys and enters remote/
    try:
        host_key = base / "ssh_host_ed25519_key"
        host_public = keygen(host_key, "ncctl-test-host")
        client_key = base / "client_ed25519"
        client_public = keygen(client_key, "ncctl-test-client")
        authorized_keys = base / "authorized_keys"
        authorized_keys.write_text(client_public + "\n", encoding="ascii")
        authorized_keys.chmod(0o644)
        remote_root = base / "remote"
        remote_root.mkdir()
        os.chown(remote_root, account.pw_uid, account.pw_gid)
        config_file = base / "sshd_config"
        log_file = base / "sshd.log"
        last_error = ""
        for _ in range(attempts):
            port = free_port()
            config_file.write_text(
                SSHD_CONFIG.format(
                    host=LOOPBACK,
                    port=port,
                    host_key=host_key,
                    pid_file=base / "sshd.pid",
                    authorized_keys=authorized_keys,
                    user=user,
                    log_level=log_level,
                )
                + extra_config,
                encoding="ascii",
            )
            check = subprocess.run(
                [binary, "-t", "-f", str(config_file)], capture_output=True, text=True, check=False
            )
            if check.returncode != 0:
                raise RuntimeError(f"sshd -t rejected {config_file}: {check.stderr.strip()}")
            process = subprocess.Popen(
                [binary, "-D", "-f", str(config_file), "-E", str(log_file)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

            def up(process: subprocess.Popen[bytes] = process, port: int = port) -> bool:
                return process.poll() is not None or port_accepts(port)

            if holds_within(up, START_TIMEOUT_S):
                if process.poll() is None:
                    known_hosts = base / "known_hosts"
                    known_hosts.write_text(known_hosts_line(port, host_public), encoding="ascii")
                    return SshServer(
                        base=base,
                        host=LOOPBACK,
                        port=port,
                        user=user,
                        uid=account.pw_uid,
                        gid=account.pw_gid,
                        client_key=client_key,
                        known_hosts=known_hosts,
                        host_public=host_public,
                        remote_root=remote_root,
                        log_file=log_file,
                        config_file=config_file,
                        process=process,
                    )
            else:
                process.kill()
            process.wait(STOP_TIMEOUT_S)
            last_error = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
        raise RuntimeError(f"sshd did not start in {attempts} attempts: {last_error}")
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise


@contextlib.contextmanager
def running_sshd(**kwargs: Any) -> Iterator[SshServer]:
    """``start_sshd(**kwargs)`` for the length of a ``with`` block."""
    server = start_sshd(**kwargs)
    try:
        yield server
    finally:
        server.stop()
