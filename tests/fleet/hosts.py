"""A fleet of "hosts" on 127.0.0.1: one OpenSSH sshd per host, each in its own mount and PID
namespaces, as a container is.

:func:`start_host` runs ``unshare --mount --pid --fork --mount-proc`` with a small sh script
that mounts a tmpfs on the host's scratch directory and, on it, an overlay over each of
:data:`PRIVATE` (/etc, /opt, /usr/local/bin, /var/lib, /var/tmp): writes go to that host's
tmpfs only, so /etc/ncctl, /opt/ncctl and the state directory /var/lib/ncctl of one host are
its own, and the machine's are never changed. Every host uses the same paths (its
configuration names /var/lib/ncctl), as the containers of a fleet do: each host has its own
process table and its own /proc, so ncctl on one host sees (and can stop) only that host's
processes. The script then execs ``sshd -D``, which is PID 1 of the host (root may log in
with the fleet's key only; root's account is unlocked in the private /etc/shadow if it is
locked), so every SSH session, and everything it starts, sees that host's files and
processes.

:meth:`FleetHost.stop` kills ``unshare`` by pid; ``--kill-child`` makes the kernel kill the
host's PID 1 with it, and with PID 1 every process of the host (sessions, components an ncctl
command started). It waits for them within a bounded time and removes the scratch directory;
the namespaces and their mounts vanish with their last process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.etc_namespace import etc_namespace_unusable
from tests.helpers import holds_within
from tests.sshd import (
    LOOPBACK,
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    free_port,
    keygen,
    known_hosts_line,
    port_accepts,
    sshd_binary,
    sshd_unavailable,
)

UNSHARE = (
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "--pid",
    "--fork",
    "--kill-child=SIGKILL",
    "--mount-proc",
)
"""A mount and a PID namespace per host, with the host's own /proc; the host's PID 1 (its
sshd) is killed when ``unshare`` dies."""

PRIVATE = ("/etc", "/opt", "/usr/local/bin", "/var/lib", "/var/tmp")
"""Directories each host sees as its own (overlays on its tmpfs)."""

SETUP_FAILED = 99

_SETUP = f"""
scratch=$1; shift
mount -t tmpfs -o mode=0700 ncctl-fleet "$scratch" || exit {SETUP_FAILED}
n=0
for dir in {" ".join(PRIVATE)}; do
    n=$((n + 1))
    mkdir -p "$scratch/up$n" "$scratch/work$n" || exit {SETUP_FAILED}
    mount -t overlay ncctl-fleet \\
        -o "lowerdir=$dir,upperdir=$scratch/up$n,workdir=$scratch/work$n" \\
        "$dir" || exit {SETUP_FAILED}
done
rm -rf /etc/ncctl /opt/ncctl /var/lib/ncctl /usr/local/bin/ncctl || exit {SETUP_FAILED}
sed -i 's/^root:![^:]*:/root:*:/' /etc/shadow || exit {SETUP_FAILED}
exec "$@"
"""

SSHD_CONFIG = """\
# ncctl fleet test host: loopback only, root with the fleet's key only
ListenAddress {host}
Port {port}
HostKey {host_key}
PidFile none
AuthorizedKeysFile {authorized_keys}
AllowUsers root
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
UseDNS no
MaxStartups 100
MaxSessions 100
LogLevel ERROR
Subsystem sftp internal-sftp
"""


def fleet_unavailable() -> str | None:
    """Why no fleet host can be started here (None: it can)."""
    reason = sshd_unavailable() or etc_namespace_unusable()
    if reason is not None:
        return reason
    probe = subprocess.run([*UNSHARE, "true"], capture_output=True, timeout=30, check=False)
    if probe.returncode != 0:
        return f"unshare --pid is not permitted: {probe.stderr.decode(errors='replace')}"
    return None


def mount_namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def pids_in_namespace(namespace: str) -> list[int]:
    """Every process whose mount namespace is ``namespace``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and mount_namespace(int(entry.name)) == namespace:
            found.append(int(entry.name))
    return found


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (by the kernel's list of them)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    except OSError:
        return []
    return [int(p) for p in text.split()]


@dataclass
class FleetHost:
    """One host of the fleet: its name, sshd port and namespaces.

    ``process`` is ``unshare``; ``init`` its child, the host's PID 1 (sshd), as this
    machine numbers it."""

    name: str
    port: int
    base: Path
    process: subprocess.Popen[bytes]
    init: int
    namespace: str
    known_hosts_line: str

    def argv(self, *argv: str) -> list[str]:
        """``argv`` as run inside this host's namespaces (as an SSH session would run it)."""
        return ["nsenter", "--target", str(self.init), "--mount", "--pid", "--", *argv]

    def run(
        self, *argv: str, stdin: str = "", timeout_s: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside this host's namespaces (``stdin`` its input) and wait for it."""
        return subprocess.run(
            self.argv(*argv),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def spawn(self, *argv: str, stderr: Path) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside this host's namespaces, its stderr to ``stderr`` (a file of
        this machine), without waiting for it: :func:`terminate` stops it."""
        with stderr.open("wb") as errors:
            return subprocess.Popen(
                self.argv(*argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors
            )

    def stop(self) -> None:
        """Kill ``unshare`` by pid (its PID 1, and with it every process of the host, go
        too), wait for them within a bounded time, then remove the files."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(STOP_TIMEOUT_S)
        holds_within(lambda: not pids_in_namespace(self.namespace), STOP_TIMEOUT_S)
        shutil.rmtree(self.base, ignore_errors=True)


def start_host(name: str, client_public: str, host_key: Path, host_public: str) -> FleetHost:
    """Start host ``name``: its namespace and its sshd on a free port (bounded wait)."""
    binary = sshd_binary()
    assert binary is not None
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix=f"ncctl-fleet-{name}-"))
    try:
        (base / "authorized_keys").write_text(client_public + "\n", encoding="ascii")
        (base / "scratch").mkdir()
        port = free_port()
        config = base / "sshd_config"
        config.write_text(
            SSHD_CONFIG.format(
                host=LOOPBACK,
                port=port,
                host_key=host_key,
                authorized_keys=base / "authorized_keys",
            ),
            encoding="ascii",
        )
        argv = [binary, "-D", "-f", str(config), "-E", str(base / "sshd.log")]
        with (base / "setup.err").open("wb") as errors:
            process = subprocess.Popen(
                [*UNSHARE, "sh", "-c", _SETUP, "sh", str(base / "scratch"), *argv],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )

        def up() -> bool:
            return process.poll() is not None or port_accepts(port)

        if not holds_within(up, START_TIMEOUT_S) or process.poll() is not None:
            if process.poll() is None:
                process.kill()
            process.wait(STOP_TIMEOUT_S)
            logs = [base / "setup.err", base / "sshd.log"]
            text = " ".join(f.read_text(errors="replace") for f in logs if f.exists())
            raise RuntimeError(
                f"fleet host {name} did not start (exit {process.returncode}): {text}"
            )
        init = children(process.pid)
        namespace = mount_namespace(process.pid)
        assert len(init) == 1 and namespace is not None
        assert namespace != mount_namespace(os.getpid())
        return FleetHost(
            name, port, base, process, init[0], namespace, known_hosts_line(port, host_public)
        )
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise


@dataclass
class Keys:
    """The fleet's client key and the host key every host serves (one per fleet: fast)."""

    client_key: Path
    client_public: str
    host_key: Path
    host_public: str


def make_keys(directory: Path) -> Keys:
    client = directory / "fleet_ed25519"
    host = directory / "host_ed25519"
    return Keys(client, keygen(client, "ncctl-fleet"), host, keygen(host, "ncctl-fleet-host"))


def terminate(process: subprocess.Popen[bytes], timeout_s: float) -> int | None:
    """Send SIGTERM, by its pid, to the program that :meth:`FleetHost.spawn` started (the
    child of ``nsenter``, which forks into the PID namespace) and wait for it within
    ``timeout_s``: its exit code (``nsenter`` passes it on), or None when it did not stop in
    time (it is killed then)."""
    for pid in children(process.pid):
        with contextlib.suppress(ProcessLookupError):  # it has just exited
            os.kill(pid, signal.SIGTERM)
    try:
        return process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()  # nsenter; the program goes with its host
        process.wait(STOP_TIMEOUT_S)
        return None
