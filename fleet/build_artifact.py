"""Build ``dist/ncctl-<version>-bundle.tar.gz``: everything a host needs to install ncctl offline.

``python -m fleet.build_artifact [--dist DIR] [--repo DIR]`` (or ``scripts/build-artifact``)
runs pip on the build machine only: ``pip wheel`` builds ncctl's wheel and fetches every
dependency as a wheel from the package registry, ``pip download`` fetches pip's own wheel (the
host needs no pip). The bundle holds::

    ncctl-<version>/install.py         the installer (fleet/install.py, standard library only)
    ncctl-<version>/requirements.txt   every wheel pinned with its sha256 (--require-hashes)
    ncctl-<version>/MANIFEST.json      version, Python tag, sha256 of every file
    ncctl-<version>/wheels/*.whl       ncctl and its dependencies
    ncctl-<version>/tools/pip-*.whl    pip, run from its wheel on the host

The archive is reproducible from the same wheels: sorted entries, owner root, mtime 0, and the
ncctl wheel built with SOURCE_DATE_EPOCH (1980-01-01 unless set).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from fleet.install import sha256

REPO = Path(__file__).resolve().parents[1]
WHEEL_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)-.+\.whl$")


def pip(*args: str) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", "315532800")}
    argv = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    subprocess.run(argv, check=True, env=env)


def requirements(wheels: list[Path]) -> str:
    """``name==version --hash=sha256:...`` for every wheel, sorted by name."""
    lines = []
    for wheel in sorted(wheels, key=lambda p: p.name.lower()):
        match = WHEEL_NAME.match(wheel.name)
        if match is None:
            raise SystemExit(f"build-artifact: cannot read name and version of {wheel.name}")
        name = match["name"].replace("_", "-").lower()
        lines.append(f"{name}=={match['version']} --hash=sha256:{sha256(wheel)}\n")
    return "".join(lines)


def _reset(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 0
    info.mode = 0o755 if info.isdir() or info.name.endswith("install.py") else 0o644
    return info


def write_tarball(tree: Path, target: Path) -> None:
    """``tree`` as a gzipped tar with sorted entries, owner root and mtime 0."""
    partial = target.with_name(target.name + ".part")
    with (
        partial.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        tar.add(tree, arcname=tree.name, recursive=False, filter=_reset)
        for path in sorted(tree.rglob("*")):
            tar.add(
                path,
                arcname=f"{tree.name}/{path.relative_to(tree)}",
                recursive=False,
                filter=_reset,
            )
    partial.replace(target)


def build(repo: Path, dist: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="ncctl-bundle-") as scratch:
        work = Path(scratch)
        wheels = work / "wheels"
        pip("wheel", "--quiet", "--wheel-dir", str(wheels), str(repo))
        own = list(wheels.glob("ncctl-*.whl"))
        if len(own) != 1:
            raise SystemExit(f"build-artifact: expected one ncctl wheel, found {own}")
        match = WHEEL_NAME.match(own[0].name)
        assert match is not None
        version = match["version"]
        tree = work / f"ncctl-{version}"
        tree.mkdir()
        wheels.rename(tree / "wheels")
        pip(
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--dest",
            str(tree / "tools"),
            "pip",
        )
        shutil.copyfile(Path(__file__).with_name("install.py"), tree / "install.py")
        (tree / "requirements.txt").write_text(
            requirements(sorted((tree / "wheels").glob("*.whl"))), encoding="utf-8"
        )
        files = {
            str(p.relative_to(tree)): sha256(p) for p in sorted(tree.rglob("*")) if p.is_file()
        }
        manifest = {
            "version": version,
            "python": f"{sys.version_info.major}.{sys.version_info.minor}",
            "platform": sys.platform,
            "files": files,
        }
        (tree / "MANIFEST.json").write_text(
            json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        dist.mkdir(parents=True, exist_ok=True)
        target = dist / f"ncctl-{version}-bundle.tar.gz"
        write_tarball(tree, target)
        return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="build-artifact", description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, default=REPO, help="the ncctl source tree")
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="where to write it")
    args = parser.parse_args(argv)
    print(build(args.repo.resolve(), args.dist.resolve()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
