"""Every line of README.md's "Using it" block works as pasted, with the exit codes it states.

The block's lines are run AS WRITTEN, in order, by bash, with ``ncctl`` on PATH from this
virtualenv, ``HOME`` and ``XDG_STATE_HOME`` in the test's directory, ``NCCTL_*`` unset, in a
fresh working directory: what a newcomer has after the README's first command. A line passes
when its exit status is one of those its comment gives (``# exit 0, or 1 ...``: the whole
numbers of the comment up to its first colon); a line whose comment ends with ``runs until
stopped`` is started, awaited until it tells systemd it is ready (``READY=1`` on
``$NOTIFY_SOCKET``) or ends, then sent SIGTERM.

The README promises those codes at any hour of the week, and the machine's clock cannot be
set, so the block runs once on the machine's clock and again with ``--clock`` put after every
``ncctl`` of every line, at three instants: a trading weekday at midday, a Saturday, and the
Monday 16:10 maintenance window. ``ncctl demo --week`` lives the week it is given whatever the
clock (10 s of work), so it runs in the first pass only.

Each pass runs in a network namespace of its own (as root, with ``unshare``; skipped
otherwise), so the gateway simulator's port 29000 of the dev configuration is free and
private, and stops everything the lines started: at the end no process has its working
directory in the pass's directory.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ncctl.config.files import ETC_CONFIG
from tests.helpers import holds_within

REPO_ROOT = Path(__file__).resolve().parents[1]
README = REPO_ROOT / "README.md"
VENV_BIN = Path(sys.executable).parent
LINE_TIMEOUT_S = 60.0
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
FOREVER = "runs until stopped"
CLOCK_ONCE = ("ncctl demo ",)
"""Lines whose outcome does not depend on the clock, run in the machine-clock pass only."""
CLEANUP = "ncctl session stop; ncctl feed stop; ncctl dev down"
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
LO_UP = (
    "import fcntl, socket, struct\n"
    "s = socket.socket()\n"
    f"flags = struct.unpack('16sh14x', fcntl.ioctl(s, {SIOCGIFFLAGS}, "
    "struct.pack('16sh14x', b'lo', 0)))[1]\n"
    f"fcntl.ioctl(s, {SIOCSIFFLAGS}, struct.pack('16sh14x', b'lo', flags | {IFF_UP}))\n"
)
"""Bring up the loopback interface of a new network namespace (no iproute2 needed)."""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace of its own needs root"),
    pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)"),
    pytest.mark.skipif(
        ETC_CONFIG.exists(),
        reason=f"{ETC_CONFIG} exists on this host, so the README's configuration is not used",
    ),
]


@dataclass(frozen=True)
class UsageLine:
    command: str
    codes: frozenset[int]
    forever: bool


def usage_block(text: str) -> list[str]:
    """The lines of the first ``sh`` block under ``## Using it``."""
    section = text.split("\n## Using it\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("\n```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def parse_line(line: str) -> UsageLine:
    """A line ``COMMAND   # exit 0, or 1 ...: why``: its command and exit codes."""
    command, sep, comment = line.rpartition("# exit ")
    assert sep, f"README usage line without '# exit CODES': {line!r}"
    stated = comment.split(":", 1)[0]
    codes = frozenset(int(n) for n in re.findall(r"(?<![\w.-])\d+(?![\w.])", stated))
    assert codes, f"README usage line states no exit code: {line!r}"
    return UsageLine(command.strip(), codes, comment.rstrip().endswith(FOREVER))


def with_clock(command: str, instant: str) -> str:
    """``command`` with ``--clock instant`` after every ``ncctl`` that starts a command."""
    return re.sub(r"(^|&&\s*|;\s*|\|\|\s*)ncctl ", rf"\1ncctl --clock {instant} ", command)


def test_the_block_parses() -> None:
    lines = [parse_line(line) for line in usage_block(README.read_text(encoding="utf-8"))]
    assert len(lines) >= 20
    assert all(line.command.startswith("ncctl ") for line in lines)
    assert sum(line.forever for line in lines) == 1
    commands = "\n".join(line.command for line in lines)
    for needed in ("ncctl dev up", "ncctl party register", "config set", "ncctl tune plan"):
        assert needed in commands
    assert "--root /" not in commands  # the dev setup never tunes this machine
    assert with_clock("ncctl a && ncctl b; ncctl c", "T") == (
        "ncctl --clock T a && ncctl --clock T b; ncctl --clock T c"
    )
    assert parse_line("ncctl x   # exit 0, or 1 outside hours: 5 s").codes == {0, 1}


WORDS = st.sampled_from(["status", "logs rotate", "feed stop", "tune plan", "--json", "x"])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(WORDS, min_size=1, max_size=3), min_size=1, max_size=4),
    st.lists(st.sampled_from([" && ", "; ", " || "]), min_size=3, max_size=3),
)
def test_the_clock_goes_after_every_ncctl_and_nowhere_else(
    commands: list[list[str]], separators: list[str]
) -> None:
    parts = [" ".join(["ncctl", *words]) for words in commands]
    line = parts[0] + "".join(sep + part for sep, part in zip(separators, parts[1:], strict=False))
    clocked = with_clock(line, "2026-12-12T12:00")
    assert clocked.count("ncctl --clock 2026-12-12T12:00 ") == len(parts)
    assert clocked.replace("--clock 2026-12-12T12:00 ", "") == line


@contextlib.contextmanager
def network_namespace(path: Path) -> Iterator[list[str]]:
    """A new network namespace kept by a bind mount on ``path``, loopback up; yields the
    prefix that runs a command in it."""
    path.touch()
    subprocess.run(["unshare", f"--net={path}", "true"], check=True, timeout=30)
    prefix = ["nsenter", f"--net={path}"]
    try:
        subprocess.run([*prefix, sys.executable, "-c", LO_UP], check=True, timeout=30)
        yield prefix
    finally:
        subprocess.run(["umount", str(path)], check=False, timeout=30)


def processes_in(directory: Path) -> list[int]:
    """The processes whose working directory is ``directory`` or below it."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == str(directory) or cwd.startswith(f"{directory}/"):
            found.append(int(entry.name))
    return found


def run_forever_line(
    prefix: list[str], command: str, cwd: Path, env: dict[str, str], notify: Path
) -> tuple[int, str]:
    """Start ``command``; once it is ready (or has ended), SIGTERM; its status and output."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(notify))
        proc = subprocess.Popen(
            [*prefix, "bash", "-c", command],
            cwd=cwd,
            env={**env, "NOTIFY_SOCKET": str(notify)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            ready = False

            def settled() -> bool:
                nonlocal ready
                if select.select([sock], [], [], 0)[0]:
                    ready = ready or b"READY=1" in sock.recv(4096)
                return ready or proc.poll() is not None

            holds_within(settled, READY_TIMEOUT_S, 0.05)
            if proc.poll() is None:
                assert ready, f"{command!r} neither got ready nor ended in {READY_TIMEOUT_S} s"
                os.killpg(proc.pid, signal.SIGTERM)
            out, _ = proc.communicate(timeout=STOP_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        notify.unlink()
    return proc.returncode, out.decode(errors="replace")


PASSES = {
    "machine clock": None,
    "weekday midday": "2026-12-09T12:00",
    "saturday": "2026-12-12T12:00",
    "monday maintenance": "2026-12-07T16:10",
}


def run_line(
    prefix: list[str], command: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[bytes]:
    """``bash -c command`` in the pass's namespace and directory, bounded in time."""
    return subprocess.run(
        [*prefix, "bash", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=LINE_TIMEOUT_S,
        check=False,
    )


def run_pass(root: Path, instant: str | None) -> list[str]:
    """Run the block in ``root`` (on ``--clock instant`` unless None); what went wrong."""
    lines = [parse_line(line) for line in usage_block(README.read_text(encoding="utf-8"))]
    work = root / "work"
    work.mkdir(parents=True)
    (root / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NCCTL_")}
    env.pop("NOTIFY_SOCKET", None)
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
        HOME=str(root / "home"),
        XDG_STATE_HOME=str(root / "state"),
        COLUMNS="200",
    )
    wrong: list[str] = []
    with network_namespace(root / "netns") as prefix:
        try:
            for line in lines:
                if instant is not None and line.command.startswith(CLOCK_ONCE):
                    continue
                command = line.command if instant is None else with_clock(line.command, instant)
                if line.forever:
                    code, out = run_forever_line(prefix, command, work, env, root / "notify")
                else:
                    done = run_line(prefix, command, work, env)
                    code = done.returncode
                    out = (done.stdout + done.stderr).decode(errors="replace")
                if code not in line.codes or "Traceback" in out:
                    stated = sorted(line.codes)
                    wrong.append(f"{command!r} exited {code}, README says {stated}:\n{out}")
        finally:
            run_line(prefix, CLEANUP, work, env)
            if not holds_within(lambda: not processes_in(root), 10.0, 0.05):
                stray = processes_in(root)
                wrong.append(f"processes left running in {root}: {stray}")
                for pid in stray:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
    return wrong


def test_every_usage_line_exits_as_the_readme_says(tmp_path: Path) -> None:
    """The four passes run side by side (each in its own directory and network namespace):
    most of their time is spent waiting for processes to start and stop."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(PASSES)) as pool:
        futures = {
            name: pool.submit(run_pass, tmp_path / name.replace(" ", "-"), instant)
            for name, instant in PASSES.items()
        }
        wrong = {name: future.result() for name, future in futures.items()}
    problems = [f"[{name}] {p}" for name, found in wrong.items() for p in found]
    assert not problems, "\n".join(problems)
