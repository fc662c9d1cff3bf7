"""The bundle the fleet tests install: built once per run by fleet.build_artifact, unpacked."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from fleet.build_artifact import build

INSTALL_TIMEOUT_S = 300.0


def build_bundle(workdir: Path) -> Path:
    """Build the artifact of this source tree into ``workdir``; returns the tarball."""
    return build(Path(__file__).resolve().parents[2], workdir)


def unpack(tarball: Path, into: Path) -> Path:
    """Unpack ``tarball`` into ``into``; returns the bundle directory (ncctl-<version>)."""
    with tarfile.open(tarball) as tar:
        tar.extractall(into, filter="data")
    (found,) = into.glob("ncctl-*")
    return found


def relabelled(bundle: Path, version: str, into: Path) -> Path:
    """A copy of ``bundle`` that installs as ``version`` (same wheels): a second release."""
    copy = into / f"ncctl-{version}"
    shutil.copytree(bundle, copy)
    manifest = json.loads((copy / "MANIFEST.json").read_text())
    manifest["version"] = version
    (copy / "MANIFEST.json").write_text(json.dumps(manifest))
    return copy


def run_installer(bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python install.py ARGS --json`` of ``bundle``, with the Python the bundle is for."""
    return subprocess.run(
        [sys.executable, str(bundle / "install.py"), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )
