"""Preflight's destination and free-space checks against a real sshd on 127.0.0.1 (pinned
host key, key login, a probe file, statvfs@openssh.com), a tmpfs mounted nearly full as the
SFTP directory, and ``file:`` destinations."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from tests.helpers import run_in_process
from tests.logs.helpers import add_archive
from tests.preflight.conftest import preflight, snapshot_tree, write_config
from tests.sshd import SshServer, keygen, known_hosts_line

_counter = itertools.count()


def destination(
    name: str, server: SshServer, directory: Path, known_hosts: Path | None = None
) -> str:
    return f"""
[destinations.{name}]
url = "{server.url(directory)}"
key_file = "{server.client_key}"
known_hosts = "{known_hosts or server.known_hosts}"
timeout_s = 10.0
"""


def fresh_dir(server: SshServer) -> Path:
    return server.make_remote_dir(f"p{os.getpid()}-{next(_counter):04d}")


def test_a_good_sftp_destination_is_ok_and_the_probe_is_gone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int, sshd: SshServer
) -> None:
    remote = fresh_dir(sshd)
    config = write_config(tmp_path, gateway_port=listener, extra=destination("fcm", sshd, remote))
    run = preflight(capsys, config)
    check = run.checks["destination.fcm"]
    assert check["status"] == "ok", check
    assert "host key as pinned, probe written" in check["detail"]
    assert "MiB free" in check["detail"]
    assert run.code == 0, run.doc
    assert list(remote.iterdir()) == []  # the probe file was removed
    assert (tmp_path / "state" / "preflight.json").stat().st_mode & 0o077 == 0
    text = run_in_process(capsys, "--config", config, "--clock", "2026-11-22T13:30", "preflight")
    assert text.code == 0
    assert any(line.startswith("ok   destination.fcm: ") for line in text.out.splitlines())


def test_a_changed_host_key_fails_naming_the_destination(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int, sshd: SshServer
) -> None:
    remote = fresh_dir(sshd)
    other = keygen(tmp_path / "other_host_key", "another-host")
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_line(sshd.port, other), encoding="ascii")
    extra = destination("fcm", sshd, remote, known_hosts=known)
    run = preflight(capsys, write_config(tmp_path, gateway_port=listener, extra=extra))
    check = run.checks["destination.fcm"]
    assert check["status"] == "fail"
    assert check["detail"].startswith("destination fcm (")
    assert "HOST KEY CHANGED" in check["detail"]
    assert "confirm the new fingerprint with the server's owner" in check["hint"]
    assert run.code == 1
    assert "destination.fcm" in run.doc["error"]["message"]
    assert list(remote.iterdir()) == []


def test_a_nearly_full_tmpfs_fails_free_space(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int, sshd: SshServer
) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    remote = sshd.remote_root / f"full{next(_counter)}"
    reason = sshd.mount_tmpfs(remote, "4m")
    if reason is not None:
        pytest.skip(reason)
    try:
        with (remote / "ballast").open("wb") as fh:
            fh.write(b"\0" * (3 * 1024 * 1024 + 512 * 1024))
        extra = destination("fcm", sshd, remote)
        run = preflight(capsys, write_config(tmp_path, gateway_port=listener, extra=extra))
        check = run.checks["destination.fcm"]
        assert check["status"] == "fail", check
        assert "needs 1.0 MiB" in check["detail"]
        assert "free space on destination fcm" in check["hint"]
        assert run.code == 1
        assert sorted(p.name for p in remote.iterdir()) == ["ballast"]
    finally:
        sshd.unmount(remote)


def test_a_simulated_clock_on_a_production_config_reaches_no_wire(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int, sshd: SshServer
) -> None:
    remote = fresh_dir(sshd)
    outbox = tmp_path / "outbox"
    outbox.mkdir(mode=0o750)
    outbox_mtime = outbox.stat().st_mtime_ns
    extra = destination("fcm", sshd, remote) + f'\n[destinations.local]\nurl = "file://{outbox}"\n'
    config = write_config(tmp_path, gateway_port=listener, environment="prod", extra=extra)
    log_before = sshd.log_file.read_text(errors="replace").count("Accepted publickey")
    run = preflight(capsys, config)
    for name in ("destination.fcm", "ilink_gateway"):
        check = run.checks[name]
        assert check["status"] == "skip", check
        assert "a simulated clock never reaches a wire" in check["detail"]
    local = run.checks["destination.local"]
    assert local["status"] == "ok" and "no probe written (simulated clock)" in local["detail"]
    assert outbox.stat().st_mtime_ns == outbox_mtime
    assert run.doc["data"]["recorded"] is False
    assert not (tmp_path / "state" / "preflight.json").exists()
    assert list(remote.iterdir()) == []
    log_after = sshd.log_file.read_text(errors="replace").count("Accepted publickey")
    assert log_after == log_before


def test_file_destinations(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int
) -> None:
    """A directory: ok, probe gone; a missing one: fail; a symbolic link: refused."""
    good = tmp_path / "outbox" / "good"
    good.mkdir(parents=True, mode=0o750)
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o750)
    (tmp_path / "outbox" / "link").symlink_to(target)
    extra = "".join(
        f'\n[destinations.{name}]\nurl = "file://{tmp_path / "outbox" / name}"\n'
        for name in ("good", "missing", "link")
    )
    names = sorted(snapshot_tree(tmp_path / "outbox"))
    behind_link = snapshot_tree(target), target.stat().st_mtime_ns
    run = preflight(capsys, write_config(tmp_path, gateway_port=listener, extra=extra))
    assert run.status("destination.good") == "ok"
    assert "writable" in run.checks["destination.good"]["detail"]
    missing = run.checks["destination.missing"]
    assert (missing["status"], missing["detail"]) == (
        "fail",
        f"destination missing ({tmp_path / 'outbox' / 'missing'}): the directory does not exist",
    )
    link = run.checks["destination.link"]
    assert link["status"] == "fail" and "follows no links" in link["detail"], link
    assert run.code == 1
    # the probe came and went (the directory's mtime moved); nothing through the link
    assert sorted(snapshot_tree(tmp_path / "outbox")) == names == ["good", "link"]
    assert (snapshot_tree(target), target.stat().st_mtime_ns) == behind_link


def test_local_space_fails_below_the_minimum(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int
) -> None:
    config = write_config(tmp_path, gateway_port=listener)
    text = config.read_text()  # a minimum (1 PiB) that no disk here has
    config.write_text(text.replace("min_free_mb = 1\n", "min_free_mb = 1073741824\n"))
    run = preflight(capsys, config)
    check = run.checks["local_space"]
    assert check["status"] == "fail"
    assert check["detail"].startswith("less than 1073741824.0 MiB free")
    assert str(tmp_path) in check["detail"]
    assert run.code == 1


def test_free_space_needs_twice_the_newest_day_bound_for_each_destination(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int
) -> None:
    """The newest trade date's archives for ``fcm`` (recorded in the upload manifest) are
    larger than any disk: fcm and the local file systems fail; ``other``, which gets none of
    them, needs only the minimum. An older, larger day does not count."""
    from contextlib import closing

    from ncctl.logs.manifest import Manifest, manifest_path

    outboxes = {name: tmp_path / "outbox" / name for name in ("fcm", "other")}
    for directory in outboxes.values():
        directory.mkdir(parents=True, mode=0o750)
    extra = "".join(
        f'\n[destinations.{name}]\nurl = "file://{path}"\n' for name, path in outboxes.items()
    )
    config = write_config(tmp_path, gateway_port=listener, extra=extra)
    pib = 1 << 50
    manifest = Manifest(manifest_path(tmp_path / "state"))
    with closing(manifest):
        for trade_date, size in (("20261119", 4 * pib), ("20261120", pib)):
            add_archive(manifest, tmp_path, trade_date, size, ["fcm"])
    run = preflight(capsys, config)
    fcm = run.checks["destination.fcm"]
    assert fcm["status"] == "fail"
    assert "needs 2147483648.0 MiB (newest day's archives 1073741824.0 MiB)" in fcm["detail"]
    other = run.checks["destination.other"]
    assert other["status"] == "ok"
    assert "needs 1.0 MiB (newest day's archives 0.0 MiB)" in other["detail"]
    local = run.checks["local_space"]
    assert local["status"] == "fail"
    assert local["detail"].startswith("less than 2147483648.0 MiB free")
    assert run.code == 1
