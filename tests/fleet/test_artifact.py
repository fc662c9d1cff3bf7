"""The artifact's installer on a private root: versioned virtualenvs, atomic links, rollback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.artifact import relabelled, run_installer

pytestmark = pytest.mark.slow


def result(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    doc = json.loads(done.stdout)
    assert isinstance(doc, dict)
    return doc


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every path under ``root`` with its mode and (for links) target."""
    found = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        target = os.readlink(path) if stat.S_ISLNK(info.st_mode) else ""
        found[str(path.relative_to(root))] = (info.st_mode, target)
    return found


def test_install_is_idempotent_upgrade_keeps_previous_and_rollback_flips(
    bundle: Path, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    first = result(run_installer(bundle, "install", "--prefix", str(root)))
    assert first["data"]["state"] == "installed" and first["data"]["changed"] is True
    opt = root / "opt" / "ncctl"
    assert os.readlink(opt / "current") == "0.1.0"
    link = root / "usr" / "local" / "bin" / "ncctl"
    assert os.readlink(link) == str(opt / "current" / "bin" / "ncctl")
    version = subprocess.run([str(link), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == "ncctl 0.1.0"
    loose = [
        p for p in (opt / "0.1.0").rglob("*") if not p.is_symlink() and p.lstat().st_mode & 0o022
    ]
    assert loose == []
    before = snapshot(root)

    again = result(run_installer(bundle, "install", "--prefix", str(root)))
    assert again["data"]["state"] == "unchanged" and again["data"]["changed"] is False
    assert snapshot(root) == before

    second = relabelled(bundle, "0.1.1", tmp_path)
    dry = result(run_installer(second, "install", "--prefix", str(root), "--dry-run"))
    assert dry["data"]["changed"] is True and snapshot(root) == before
    upgraded = result(run_installer(second, "install", "--prefix", str(root)))
    assert upgraded["data"]["previous"] == "0.1.0"
    assert (os.readlink(opt / "current"), os.readlink(opt / "previous")) == ("0.1.1", "0.1.0")

    back = result(run_installer(second, "rollback", "--prefix", str(root)))
    assert back["data"]["current"] == "0.1.0"
    assert (os.readlink(opt / "current"), os.readlink(opt / "previous")) == ("0.1.0", "0.1.1")
    status = result(run_installer(bundle, "status", "--prefix", str(root)))
    assert status["data"]["installed"] == ["0.1.0", "0.1.1"]


def test_a_tampered_wheel_is_refused_and_nothing_is_created(bundle: Path, tmp_path: Path) -> None:
    copy = relabelled(bundle, "0.1.0", tmp_path / "copy")
    wheel = sorted((copy / "wheels").glob("rich-*.whl"))[0]
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    root = tmp_path / "root"
    root.mkdir()
    done = run_installer(copy, "install", "--prefix", str(root))
    assert done.returncode == 65, done.stderr
    assert str(wheel) in result(done)["error"]["message"]
    assert list(root.iterdir()) == []


def test_a_planted_link_on_the_way_is_refused_and_not_followed(
    bundle: Path, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    elsewhere = tmp_path / "elsewhere"
    (root / "opt").mkdir(parents=True)
    elsewhere.mkdir()
    (root / "opt" / "ncctl").symlink_to(elsewhere)
    done = run_installer(bundle, "install", "--prefix", str(root))
    assert done.returncode == 1, done.stderr
    assert "opt/ncctl is not a directory" in result(done)["error"]["message"]
    assert list(elsewhere.iterdir()) == []


def test_rollback_without_a_previous_version_is_refused(bundle: Path, tmp_path: Path) -> None:
    done = run_installer(bundle, "rollback", "--prefix", str(tmp_path))
    assert done.returncode == 1
    assert "no previous version" in result(done)["error"]["message"]
