"""SFTP upload throughput: ``SftpDestination.send`` against OpenSSH's ``sftp -b``, same sshd.

Run: ``.venv/bin/python benchmarks/upload.py [--size-mib 512] [--rounds 3] [--study]``
(as root: it starts a throwaway sshd on 127.0.0.1 with tests/sshd.py, as the tests do).

One file of random bytes (512 MiB by default) is uploaded, in one run and to the same server,
with the same client key and known_hosts, by:

* ``ncctl size``: ``SftpDestination.send`` then ``verify`` with ``verify = "size"``: the upload
  alone (connection set-up included, as for sftp);
* ``ncctl readback``: the same with the default ``verify = "readback"``: the upload, then the
  whole file read back over SFTP and hashed;
* ``sftp put``: ``sftp -b BATCH`` with ``put FILE REMOTE`` (OpenSSH's defaults: its cipher,
  32 KiB requests, 64 in flight): the baseline of the upload alone;
* ``sftp put+get``: one ``sftp -b`` session doing ``put`` then ``get REMOTE /dev/null``: the
  same bytes moved both ways, the baseline of upload + read-back (it hashes nothing).

The variants run interleaved (round 1 in order, round 2 reversed, ...) and the medians are
compared. Printed: MiB/s of each, the ratios ncctl/sftp for upload alone (target >= 0.8) and
for upload + read-back, and the client CPU seconds per GiB (this process for ncctl, the sftp
and ssh child processes for OpenSSH), which shows the Python cost per byte more steadily than
wall time on a shared machine. The remote directory is on tmpfs (``/dev/shm``) unless
``--remote-on-disk`` is given, so that the server's disk does not blur the comparison.

``--study`` also uploads with one setting changed at a time and prints what each costs: the
request size (paramiko's 32 KiB instead of 255 KiB), the cipher (paramiko's default aes128-ctr
+ hmac-sha2-256 instead of aes128-gcm), requests in flight, and hashing the local file while
sending. Those figures are what chose the constants at the top of ncctl/logs/sftp_protocol.py and
ncctl/logs/ssh_connection.py.

Reports and exits 0 whether the target is met or not; 1 only when a measurement failed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 0.8
MiB = 1024 * 1024

if TYPE_CHECKING:
    from ncctl.logs.destinations import Item
    from tests.sshd import SshServer


class MeasurementError(Exception):
    pass


@dataclass
class Samples:
    label: str
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def mibs(self, size: int) -> float:
        return size / statistics.median(self.seconds) / MiB

    def cpu_per_gib(self, size: int) -> float:
        return statistics.median(self.cpu) / (size / (1024 * MiB))

    def line(self, size: int) -> str:
        low = size / max(self.seconds) / MiB
        high = size / min(self.seconds) / MiB
        return (
            f"{self.label:<16}{self.mibs(size):7.1f} MiB/s  (min {low:.1f}, max {high:.1f}; "
            f"client CPU {self.cpu_per_gib(size):.2f} s/GiB)"
        )


def make_file(path: Path, size: int) -> None:
    with path.open("wb") as fh:
        left = size
        while left > 0:
            block = os.urandom(min(left, 8 * MiB))
            fh.write(block)
            left -= len(block)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sftp_command(server: SshServer, batch: Path) -> list[str]:
    return [
        "sftp",
        "-q",
        "-b",
        str(batch),
        "-i",
        str(server.client_key),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "IdentityAgent=none",
        "-o",
        f"UserKnownHostsFile={server.known_hosts}",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-P",
        str(server.port),
        f"{server.user}@{server.host}",
    ]


def run_sftp(server: SshServer, work: Path, lines: list[str]) -> tuple[float, float]:
    batch = work / "batch"
    batch.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    cpu = children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(sftp_command(server, batch), capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise MeasurementError(f"sftp -b exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return elapsed, children_cpu() - cpu


Verify = Literal["size", "readback", "exec"]


def run_ncctl(server: SshServer, remote: Path, item: Item, verify: Verify) -> tuple[float, float]:
    from ncctl.logs.sftp_destination import SftpDestination

    config = server.destination_config(remote, verify=verify, timeout_s=60)
    dest = SftpDestination("bench", config)
    cpu = time.process_time()
    started = time.perf_counter()
    try:
        sent = dest.send(item)
        outcome = dest.verify(item)
    finally:
        dest.close()
    elapsed = time.perf_counter() - started
    if sent.bytes_sent != item.size or not outcome.ok:
        raise MeasurementError(f"ncctl upload failed: {sent}, {outcome}")
    return elapsed, time.process_time() - cpu


@contextlib.contextmanager
def remote_directory(server: SshServer, on_disk: bool) -> Iterator[Path]:
    if on_disk or not Path("/dev/shm").is_dir():
        yield server.make_remote_dir("bench")
        return
    directory = Path(tempfile.mkdtemp(prefix="ncctl-bench-", dir="/dev/shm"))
    try:
        os.chown(directory, server.uid, server.gid)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def patched(modules: tuple[Any, ...], **values: Any) -> Iterator[None]:
    """Each name set to its value in whichever of ``modules`` defines it."""
    saved = [(m, name, getattr(m, name)) for name in values for m in modules if hasattr(m, name)]
    for module, name, _ in saved:
        setattr(module, name, values[name])
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def hashing_reader(original: Callable[..., int]) -> Callable[..., int]:
    """``read_exactly`` that also hashes what it reads (the hash-while-sending variant)."""
    digest = hashlib.sha256()

    def read(source: Any, into: memoryview, position: int) -> int:
        got = original(source, into, position)
        digest.update(into[:got])
        return got

    return read


def measure(server: SshServer, item: Item, work: Path, remote: Path, rounds: int) -> list[Samples]:
    put = Samples("sftp put")
    put_get = Samples("sftp put+get")
    size_only = Samples("ncctl size")
    readback = Samples("ncctl readback")
    target = remote / item.name

    def clean() -> None:
        for path in remote.iterdir():
            path.unlink()

    def sftp_put() -> tuple[float, float]:
        return run_sftp(server, work, [f"put {item.local} {target}"])

    def sftp_put_get() -> tuple[float, float]:
        return run_sftp(server, work, [f"put {item.local} {target}", f"get {target} /dev/null"])

    def ncctl_size() -> tuple[float, float]:
        return run_ncctl(server, remote, item, "size")

    def ncctl_readback() -> tuple[float, float]:
        return run_ncctl(server, remote, item, "readback")

    order: list[tuple[Samples, Callable[[], tuple[float, float]]]] = [
        (put, sftp_put),
        (size_only, ncctl_size),
        (put_get, sftp_put_get),
        (readback, ncctl_readback),
    ]
    for n in range(rounds):
        for samples, run in order if n % 2 == 0 else list(reversed(order)):
            clean()
            seconds, cpu = run()
            samples.seconds.append(seconds)
            samples.cpu.append(cpu)
    clean()
    return [put, size_only, put_get, readback]


def study(server: SshServer, item: Item, remote: Path, rounds: int) -> list[Samples]:
    """Upload alone with one setting changed at a time (interleaved with the default)."""
    import ncctl.logs.sftp_protocol as protocol
    import ncctl.logs.ssh_connection as connection

    variants: list[tuple[str, dict[str, Any]]] = [
        ("default", {}),
        ("32 KiB requests", {"IO_SIZE": 32 * 1024, "WRITES_IN_FLIGHT": 64}),
        ("aes128-ctr+hmac", {"PREFERRED_CIPHERS": ()}),
        ("4 in flight", {"WRITES_IN_FLIGHT": 4}),
        ("16 in flight", {"WRITES_IN_FLIGHT": 16}),
        ("hash while send", {"read_exactly": hashing_reader(protocol.read_exactly)}),
    ]
    results = {label: Samples(label) for label, _ in variants}
    for n in range(rounds):
        for label, values in variants if n % 2 == 0 else list(reversed(variants)):
            for path in remote.iterdir():
                path.unlink()
            with patched((protocol, connection), **values):
                seconds, cpu = run_ncctl(server, remote, item, "size")
            results[label].seconds.append(seconds)
            results[label].cpu.append(cpu)
    return list(results.values())


def ciphers(server: SshServer, work: Path) -> tuple[str, str]:
    """The ciphers each client negotiates with this sshd (from ssh -v and paramiko)."""
    import paramiko

    batch = work / "noop"
    batch.write_text("pwd\n", encoding="utf-8")
    command = sftp_command(server, batch)  # without its -q, which silences -v
    proc = subprocess.run(
        [command[0], "-v", *command[2:]], capture_output=True, text=True, check=False
    )
    openssh = "?"
    for line in proc.stderr.splitlines():
        if "kex: client->server cipher:" in line:
            openssh = line.split("cipher:")[1].split()[0]
            break
    from ncctl.logs.ssh_connection import PREFERRED_CIPHERS

    transport = paramiko.Transport(("127.0.0.1", server.port))
    try:
        options = transport.get_security_options()
        available = tuple(options.ciphers)
        options.ciphers = tuple(c for c in PREFERRED_CIPHERS if c in available) + available
        transport.start_client(timeout=10)
        ours = transport.local_cipher
    finally:
        transport.close()
    return openssh, ours


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=512, help="file size (default: 512)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each (default: 3)")
    parser.add_argument("--study", action="store_true", help="also measure single changes")
    parser.add_argument("--remote-on-disk", action="store_true", help="remote dir not on tmpfs")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.size_mib < 1:
        parser.error("--rounds and --size-mib must be at least 1")

    sys.path.insert(0, str(REPO))
    from ncctl.logs.destinations import Item
    from tests.sshd import running_sshd, sshd_unavailable

    reason = sshd_unavailable() or (None if shutil.which("sftp") else "no sftp client")
    if reason is not None:
        print(f"upload: cannot measure: {reason}", file=sys.stderr)
        return 1
    size = args.size_mib * MiB
    try:
        with (
            tempfile.TemporaryDirectory(prefix="ncctl-bench-") as tmp,
            running_sshd(log_level="INFO") as server,
            remote_directory(server, args.remote_on_disk) as remote,
        ):
            work = Path(tmp)
            local = work / "audit.20261125.csv"
            make_file(local, size)
            item = Item(local, local.name, size, sha256_file(local))  # also warms the cache
            openssh_cipher, our_cipher = ciphers(server, work)
            results = measure(server, item, work, remote, args.rounds)
            studied = study(server, item, remote, args.rounds) if args.study else []
    except (MeasurementError, OSError, RuntimeError) as exc:
        print(f"upload: measurement failed: {exc}", file=sys.stderr)
        return 1

    put, size_only, put_get, readback = results
    print(f"python      {sys.executable} ({sys.version.split()[0]}), {os.cpu_count()} CPUs")
    print(
        f"file        {args.size_mib} MiB of random bytes, {args.rounds} rounds interleaved, "
        f"remote on {'disk' if args.remote_on_disk else 'tmpfs'}"
    )
    print(f"ciphers     sftp: {openssh_cipher}; ncctl (paramiko): {our_cipher}")
    for samples in results:
        print(samples.line(size))
    upload_ratio = size_only.mibs(size) / put.mibs(size)
    verify_ratio = readback.mibs(size) / put_get.mibs(size)
    verdict = "PASS" if upload_ratio >= TARGET_RATIO else "FAIL"
    print(f"ratio       upload alone   ncctl/sftp {upload_ratio:.2f}  (target >= 0.8)  {verdict}")
    print(f"ratio       with readback  ncctl/sftp {verify_ratio:.2f}  (baseline: put + get)")
    print(
        f"            readback costs {readback.mibs(size) / size_only.mibs(size):.2f}x the "
        "upload-alone throughput"
    )
    if studied:
        default = studied[0]
        print("study       upload alone (verify=size), one change at a time:")
        for samples in studied:
            change = samples.mibs(size) / default.mibs(size)
            print(f"  {samples.line(size)}  x{change:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
