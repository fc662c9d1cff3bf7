"""ncctl as its dedicated non-root user, the way the generated systemd units run it.

A real system account and group (``ncctl-test-<random>``, no home directory, nologin shell) are
created for the module and removed afterwards, also when a test fails. The layout follows
docs/runbook.md (the dedicated user): the configuration and ``known_hosts`` are root's, readable
by the group (0640); the key files are root's alone (0600) and reach ncctl as copies in
``$CREDENTIALS_DIRECTORY`` (what ``LoadCredential=`` does); the state, live log, archive and
outbox directories belong to the account (0750). Every command is the real CLI in a child
process, run through ``setpriv`` as that account with no ``$HOME`` and no ``$XDG_CACHE_HOME``.

When the interpreter lives under a directory the account cannot traverse (a pyenv build under
``/root``), the child runs in a private mount namespace (``unshare``) where that directory is
replaced by one showing only the interpreter's tree: the account gets no other access.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.conftest import DEV_SECRET
from tests.cli.conftest import DEV_TOML as DEV
from tests.helpers import REPO_ROOT as REPO
from tests.helpers import Outcome, run_process, wait_for
from tests.ilink.conftest import (  # noqa: F401 (fixtures)
    ACCESS_KEY_ID,
    FIRM,
    SESSION,
    StartGateway,
    key_file,
    start_gateway,
)
from tests.logs.conftest import remote_dir, sshd  # noqa: F401 (fixtures)
from tests.sshd import SshServer
from tests.tuning import fakeroot

TRADING = "2026-11-25T10:00"  # Wednesday, market open, order entry up
AFTER_CLOSE = "2026-11-25T16:05"  # Wednesday's maintenance window
WEEKEND = "2026-11-28T12:00"  # Saturday: everything off
NCCTL_TIMEOUT_S = 90.0
"""As the account, ncctl runs from an interpreter behind bind mounts: a slower start."""
TOOLS = ("useradd", "userdel", "groupadd", "groupdel", "setpriv", "unshare", "mount")


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root (creates a system account)"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    return f"not installed: {', '.join(missing)}" if missing else None


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(_unavailable() is not None, reason=str(_unavailable())),
]


def _nologin() -> str:
    return shutil.which("nologin") or "/usr/sbin/nologin"


def _exists(database: str, name: str) -> bool:
    done = subprocess.run(["getent", database, name], capture_output=True, check=False)
    return done.returncode == 0


def _uid_of(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _kill_processes_of(uid: int) -> None:
    """SIGKILL every process left running as ``uid`` (each by its pid), and wait for them."""
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _uid_of(p) == uid]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(_uid_of(str(pid)) == uid for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.01)


def _blocked_dirs(paths: list[Path]) -> dict[Path, set[str]]:
    """Directories on the way to ``paths`` that others cannot traverse, each with the names
    under it that must stay reachable."""
    blocked: dict[Path, set[str]] = {}
    for path in paths:
        parts = path.parts
        for depth in range(1, len(parts) - 1):
            directory = Path(*parts[:depth])
            if not os.stat(directory).st_mode & stat.S_IXOTH:
                blocked.setdefault(directory, set()).add(parts[depth])
    return blocked


@dataclass(frozen=True)
class Account:
    """The test's dedicated user: how to run a command as it."""

    name: str
    uid: int
    gid: int
    base: Path
    """A directory under /tmp (root's, 0711) holding everything of this module."""
    binds: tuple[tuple[Path, Path], ...]
    """(source, target) bind mounts that make the interpreter reachable, in order."""

    def argv(self, command: list[str], *, uid: int | None = None) -> list[str]:
        """``command`` as this account (or as a bare ``uid`` with no passwd entry)."""
        if uid is None:
            drop = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups"]
        else:
            drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        drop.append("--")
        if not self.binds:
            return [*drop, *command]
        mounts = [
            f"mount {'--rbind' if n == len(self.binds) - 1 else '--bind'} "
            f"{shlex.quote(str(src))} {shlex.quote(str(dst))}"
            for n, (src, dst) in enumerate(self.binds)
        ]
        script = " && ".join([*mounts, "exec " + shlex.join([*drop, *command])])
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]

    def own(self, path: Path, mode: int = 0o750) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, self.uid, self.gid)
        path.chmod(mode)
        return path


def _interpreter_binds(base: Path) -> tuple[tuple[Path, Path], ...]:
    needed = [
        Path(sys.executable).resolve(),
        Path(sys.base_prefix).resolve() / "lib",
        Path(sys.prefix).resolve() / "lib",
        REPO / "ncctl",
    ]
    blocked = _blocked_dirs(needed)
    if not blocked:
        return ()
    if len(blocked) > 1:
        pytest.skip(f"the interpreter is behind more than one closed directory: {sorted(blocked)}")
    [(directory, names)] = blocked.items()
    shadow = base / "shadow"
    shadow.mkdir(mode=0o755)
    binds = []
    for name in sorted(names):
        (shadow / name).mkdir()
        binds.append((directory / name, shadow / name))
    binds.append((shadow, directory))
    return tuple(binds)


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    """A new system user and group, removed (with anything still running as it) afterwards."""
    name = f"ncctl-test-{secrets.token_hex(4)}"
    base = Path(tempfile.mkdtemp(prefix="ncctl-nonroot-", dir="/tmp"))
    base.chmod(0o711)
    uid = None
    try:
        subprocess.run(["groupadd", "--system", name], check=True, capture_output=True)
        subprocess.run(
            [
                *("useradd", "--system", "--gid", name, "--no-create-home"),
                *("--home-dir", str(base / "no-home"), "--shell", _nologin(), name),
            ],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(name)
        uid = entry.pw_uid
        yield Account(name, uid, entry.pw_gid, base, _interpreter_binds(base))
    finally:
        if uid is not None:
            _kill_processes_of(uid)
        if _exists("passwd", name):
            subprocess.run(["userdel", name], check=False, capture_output=True)
        if _exists("group", name):
            subprocess.run(["groupdel", name], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
        assert not _exists("passwd", name) and not _exists("group", name)


@dataclass(frozen=True)
class Host:
    """A host set up for the account: configuration, credentials, directories."""

    account: Account
    root: Path
    config: Path
    credentials: Path
    fake_root: Path

    def run(
        self,
        *args: str,
        clock: str | None = TRADING,
        config: Path | None = None,
        forced: bool = False,
        env: dict[str, str] | None = None,
    ) -> Outcome:
        """``ncctl --config CONFIG [--clock CLOCK] ARGS --json`` as the account, with ``env``
        added to a bare environment; ``forced``: with ``--force --reason`` (the host's SFTP
        destination makes it more than a development setup: a state-changing command refuses
        a simulated clock without them)."""
        argv: tuple[str, ...] = ("--config", str(config or self.config))
        argv += ("--clock", clock) if clock else ()
        argv += (*args, *(("--force", "--reason", "rehearsal as the account") if forced else ()))
        argv += ("--json",)
        environ = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "COLUMNS": "200",
            **(env or {}),
        }
        if config is None:
            environ["CREDENTIALS_DIRECTORY"] = str(self.credentials)
        return run_process(
            *argv,
            cwd=self.root / "work",
            base_env=environ,
            wrapper=self.account.argv,
            module=True,
            timeout_s=NCCTL_TIMEOUT_S,
        )


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"configs/dev.toml no longer has {old!r}"
    return text.replace(old, new)


def _config_text(root: Path, gateway_port: int, server: SshServer, remote: Path) -> str:
    """configs/dev.toml with absolute directories, the fcm destination on the test sshd and
    the iLink session on the gateway simulator."""
    etc = root / "etc"
    sftp = server.destination_config(remote)
    text = DEV.read_text(encoding="utf-8")
    for old, new in (
        ('state_dir = "."', f'state_dir = "{root / "state"}"'),
        ('"run/', f'"{root / "state" / "run"}/'),
        ('"log/', f'"{root / "log"}/'),
        ('"{state_dir}/data/', f'"{root / "log"}/'),
        ('"data/', f'"{root / "log"}/'),
        ('archive_dir = "archive"', f'archive_dir = "{root / "archive"}"'),
        (
            'url = "file:outbox/fcm"',
            f'url = "{sftp.url}"\nkey_file = "{etc / "keys" / "fcm"}"\n'
            f'known_hosts = "{etc / "known_hosts"}"\ntimeout_s = 10\nretries = 0\nbackoff_s = 0',
        ),
        ('url = "file:outbox/client"', f'url = "file://{root / "outbox" / "client"}"'),
        ('root = "fakeroot"', f'root = "{root / "fakeroot"}"'),
        ("port = 29000", f"port = {gateway_port}"),
        ('session = "DEV"\nfirm = "D01"', f'session = "{SESSION}"\nfirm = "{FIRM}"'),
        ('executing_firm = "D01"', f'executing_firm = "{FIRM}"'),
        ('access_key_id = "dev-access-key"', f'access_key_id = "{ACCESS_KEY_ID}"'),
        (f'secret_key = "{DEV_SECRET}"', f'secret_key_file = "{etc / "keys" / "ilink"}"'),
    ):
        text = _replace(text, old, new)
    return text


def _install(source: Path, target: Path, mode: int, uid: int = 0, gid: int = 0) -> Path:
    shutil.copyfile(source, target)
    os.chown(target, uid, gid)
    target.chmod(mode)
    return target


@pytest.fixture
def host(
    account: Account,
    start_gateway: StartGateway,  # noqa: F811
    key_file: Path,  # noqa: F811
    sshd: SshServer,  # noqa: F811
    remote_dir: Path,  # noqa: F811
) -> Iterator[Host]:
    """The account's host (a fresh directory per test); its components stopped afterwards."""
    root = account.base / secrets.token_hex(4)
    root.mkdir(mode=0o711)
    etc = root / "etc"
    etc.mkdir(mode=0o750)
    os.chown(etc, 0, account.gid)
    (etc / "keys").mkdir(mode=0o700)
    _install(sshd.client_key, etc / "keys" / "fcm", 0o600)
    _install(key_file, etc / "keys" / "ilink", 0o600)
    _install(sshd.known_hosts, etc / "known_hosts", 0o640, gid=account.gid)
    gateway = start_gateway()
    config = etc / "config.toml"
    config.write_text(_config_text(root, gateway.port, sshd, remote_dir), encoding="utf-8")
    os.chown(config, 0, account.gid)
    config.chmod(0o640)
    # what LoadCredential= hands the service: copies only its user can read
    credentials = account.own(root / "credentials", 0o500)
    _install(sshd.client_key, credentials / "ncctl-sftp-fcm", 0o400, account.uid, account.gid)
    _install(key_file, credentials / "ncctl-ilink-secret", 0o400, account.uid, account.gid)
    for name in ("state", "log", "archive", "outbox", "work"):
        account.own(root / name)
    account.own(root / "outbox" / "client")
    fake_root = fakeroot.build(root / "fakeroot")
    made = Host(account, root, config, credentials, fake_root)
    yield made
    for group in ("session", "feed"):
        made.run(group, "stop", clock=WEEKEND, forced=True)
    _kill_processes_of(account.uid)


def _owners(root: Path) -> set[tuple[int, int]]:
    return {(p.lstat().st_uid, p.lstat().st_gid) for p in root.rglob("*")}


def test_operations_as_the_dedicated_user(host: Host, remote_dir: Path) -> None:  # noqa: F811
    account = host.account
    data = host.run("config", "validate").data()
    assert data["valid"] is True
    assert host.run("schedule", "now").data()["market_state"] == "OPEN"
    assert host.run("schedule", "check").code == 0

    # components start as the account and show as running
    for group in ("feed", "session"):
        data = host.run(group, "start", forced=True).data()
        assert data["status"]["state"] == "running", data
        assert _uid_of(str(data["status"]["pid"])) == account.uid
    for group in ("feed", "session"):
        assert host.run(group, "status").data()["actual"] == "running"
    data = host.run("status").data()
    assert data["drift"] is False
    assert [c["actual"] for c in data["components"]] == ["running", "running"]

    # party details against the gateway simulator (the secret comes from the credential)
    data = host.run("party", "register", forced=True).data()
    assert data["counts"]["registered"] == 1
    assert host.run("party", "list", forced=True).data()["count"] == 1
    assert host.run("party", "verify", forced=True).data()["ok"] is True

    # rotation of the previous trade date while the session writes, then uploads to the
    # test sshd (SFTP) and a local outbox, both verified
    audit = host.root / "log" / "audit" / "audit.csv"
    wait_for(lambda: audit.is_file() and audit.stat().st_size > 0, 10, "audit rows")
    data = host.run("logs", "rotate", forced=True).data()
    actions = {c["category"]: c["action"] for c in data["categories"]}
    assert actions["audit"] == "rotated", data
    data = host.run("logs", "upload", forced=True).data()
    states = {(u["destination"], u["state"]) for u in data["uploads"]}
    assert states == {("fcm", "verified"), ("client", "verified")}, data
    uploaded = {u["file"] for u in data["uploads"] if u["destination"] == "fcm"}
    assert uploaded <= {p.name for p in remote_dir.iterdir()}
    assert "audit.20261124.csv.gz" in uploaded
    data = host.run("logs", "status").data()
    assert all(
        d["state"] == "verified" for f in data["files"] for d in f["destinations"].values()
    ), data
    assert host.run("logs", "prune", forced=True).data()["removed"] == []

    textfile = host.root / "state" / "metrics" / "ncctl.prom"
    account.own(textfile.parent)
    assert host.run("metrics", "--textfile", str(textfile), clock=None).code == 0
    assert "ncctl_info{" in textfile.read_text(encoding="utf-8")

    # the maintenance window: order entry stops, the day's files rotate and upload
    data = host.run("maintenance", "run", clock=AFTER_CLOSE, forced=True).data()
    assert data["errors"] == []
    assert [(a["component"], a["action"]) for a in data["actions"]] == [("order_session", "stop")]
    jobs = {j["job"]: j["state"] for j in data["jobs"]}
    assert jobs["rotate"] == "done" and jobs["upload"] == "done", data

    data = host.run("feed", "stop", clock=WEEKEND, forced=True).data()
    assert data["changed"] is True and "exit status 0" in data["message"]
    assert host.run("session", "stop", clock=WEEKEND, forced=True).data()["changed"] is False
    assert host.run("status", clock=WEEKEND).data()["drift"] is False

    # tuning: plan and verify read a fake root and see what root would (drift, exit 1);
    # host tuning itself is root's and is refused before anything is written
    fake = ("--root", str(host.fake_root))
    plan = host.run("tune", "plan", *fake).data()
    assert plan["profile"]["name"] == "dev"
    assert {(s["verdict"], s["access"]) for s in plan["settings"]} == {
        ("apply", "writable by root only")
    }
    verify = host.run("tune", "verify", *fake)
    assert verify.code == 1 and verify.error()["code"] == "tune.drift", verify
    before = fakeroot.tree(host.fake_root)
    refused = host.run("tune", "host", *fake, clock=WEEKEND, forced=True)
    assert refused.code == 77 and refused.error()["code"] == "tune.needs_root", refused
    assert fakeroot.tree(host.fake_root) == before
    assert not (host.root / "state" / "tuning").exists()

    # the journal: every entry by the account, the chain intact
    entries = host.run("audit", "log").data()["entries"]
    assert {e["user"] for e in entries} == {account.name}
    assert {"feed start", "session start", "logs rotate", "logs upload", "feed stop"} <= {
        e["command"] for e in entries
    }
    data = host.run("audit", "verify").data()
    assert data["intact"] is True and data["lines"] == len(entries)

    # everything ncctl made belongs to the account: nothing root's in its directories
    for name in ("state", "log", "archive", "outbox"):
        assert _owners(host.root / name) == {(account.uid, account.gid)}, name


def test_config_and_schedule_commands_as_the_dedicated_user(host: Host) -> None:
    shown = host.run("config", "show").data()
    assert shown["source"] == "--config" and shown["path"] == str(host.config)
    assert host.run("schedule", "show").code == 0
    assert host.run("schedule", "next").code == 0
    work = host.root / "work"
    made = host.run("config", "init", "--env", "dev", "--dir", str(work), clock=None)
    assert made.code == 0, made
    created = work / "configs" / "dev.toml"
    assert created.stat().st_uid == host.account.uid
    key = ("runner.reconcile_interval_s", "30")
    assert host.run("config", "set", *key, config=created, clock=None).code == 0
    assert "reconcile_interval_s = 30" in created.read_text(encoding="utf-8")
    assert created.stat().st_uid == host.account.uid


def test_clock_set_as_the_dedicated_user(host: Host) -> None:
    clock_file = host.root / "state" / "clock.json"
    config = host.root / "work" / "clock.toml"
    config.write_text(
        host.config.read_text(encoding="utf-8") + f'\n[clock]\nfile = "{clock_file}"\n'
    )
    config.chmod(0o644)
    done = host.run("clock", "set", "2026-11-25T16:44:40", "--paused", config=config, clock=None)
    assert done.data()["paused"] is True
    assert clock_file.stat().st_uid == host.account.uid
    data = host.run("schedule", "now", config=config, clock=None).data()
    assert data["at"] == "2026-11-25T16:44:40-06:00"


def test_demo_as_the_dedicated_user(host: Host) -> None:
    # the embedded default keeps its state in $XDG_STATE_HOME/ncctl: the account has no home
    xdg = {"XDG_STATE_HOME": str(host.root / "work" / "xdg")}
    args = ("demo", "--week", "2026-12-20", "--minutes", "0.1")
    done = host.run(*args, config=DEV, clock=None, env=xdg)
    assert done.code == 0, (done.out[-2000:], done.err[-2000:])
    result = done.data()
    assert result["ok"] is True and result["journal_intact"] is True
    assert result["uploads_verified"] > 0 and result["uploads_missing"] == []
    demo = host.root / "work" / "xdg" / "ncctl" / "demo"
    assert (demo / "journal.jsonl").is_file()
    assert not list((demo / "run").glob("*.pid"))
    assert stat.S_IMODE(demo.parent.stat().st_mode) == 0o700


def test_a_uid_without_a_passwd_entry_and_no_home(account: Account) -> None:
    """No $HOME and no passwd entry: the schedule cache is skipped, not an internal error."""
    uid = next(n for n in range(61000, 62000) if not _has_uid(n))
    work = account.base / f"bare-{secrets.token_hex(4)}"
    work.mkdir(mode=0o750)
    os.chown(work, uid, uid)
    argv = ("--config", str(DEV), "--clock", TRADING, "schedule", "now", "--json")
    done = run_process(
        *argv,
        cwd=work,
        base_env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        columns=None,
        wrapper=lambda command: account.argv(command, uid=uid),
        module=True,
        timeout_s=NCCTL_TIMEOUT_S,
    )
    assert done.data()["market_state"] == "OPEN"


def _has_uid(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True
