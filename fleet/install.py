#!/usr/bin/env python3
"""Install ncctl from this bundle into /opt/ncctl/<version>; flip /opt/ncctl/current; roll back.

Runs on the host with Python's standard library only and no network::

    python3 install.py install  [--prefix DIR] [--dry-run] [--json]
    python3 install.py rollback [--prefix DIR] [--dry-run] [--json]
    python3 install.py status   [--prefix DIR] [--json]

``install`` checks every file of the bundle against MANIFEST.json, creates a virtualenv at
``/opt/ncctl/<version>`` and installs the wheels into it with pip (run from its own wheel in
tools/) ``--no-index --require-hashes``, then replaces ``/opt/ncctl/current`` (a link to the
version) by renaming a new link over it, keeps the version it pointed to as
``/opt/ncctl/previous``, and links ``/usr/local/bin/ncctl`` to ``/opt/ncctl/current/bin/ncctl``.
Installing the version that is already current changes nothing and says "unchanged".
``rollback`` swaps ``current`` and ``previous``. Directories are 0755, files 0644 (programs
0755), owned by root when run as root; a directory on the way that is a symbolic link, or not
root's, is refused, and no link is followed but the ones this installer made.
``--prefix`` puts the whole tree under another root (tests, images being built).

Exit codes: 0 ok, 1 refused, 64 bad command line, 65 bad bundle, 69 Python missing or of the
wrong version, 73 cannot create.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

BUNDLE = Path(__file__).resolve().parent
MARKER = ".ncctl-bundle"
"""File in a version directory, written last: the sha256 of the requirements it was made from."""


class Failure(Exception):
    def __init__(self, code: int, message: str, hint: str) -> None:
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest() -> dict[str, object]:
    try:
        data = json.loads((BUNDLE / "MANIFEST.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Failure(65, f"{BUNDLE}/MANIFEST.json: {exc}", "unpack the bundle again") from None
    files = data.get("files", {})
    for name, digest in sorted(files.items()):
        path = BUNDLE / name
        if not path.is_file() or path.is_symlink() or sha256(path) != digest:
            raise Failure(
                65,
                f"{path}: missing or not the file the bundle was built with",
                "unpack the bundle again from its archive (scripts/build-artifact)",
            )
    return dict(data)


class Tree:
    """The paths of an installation under ``prefix``."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.opt = prefix / "opt" / "ncctl"
        self.current = self.opt / "current"
        self.previous = self.opt / "previous"
        self.bin_dir = prefix / "usr" / "local" / "bin"
        self.bin_link = self.bin_dir / "ncctl"
        self.bin_target = str(self.current / "bin" / "ncctl")

    def version_dir(self, version: str) -> Path:
        return self.opt / version


def _is_root() -> bool:
    return os.geteuid() == 0


def safe_dir(path: Path, prefix: Path, *, create: bool) -> None:
    """``path`` and every directory between ``prefix`` and it: real directories (never links),
    root's when running as root; missing ones created 0755 when ``create``."""
    parts = path.relative_to(prefix).parts
    current = prefix
    for part in parts:
        current = current / part
        try:
            info = current.lstat()
        except FileNotFoundError:
            if not create:
                return
            try:
                current.mkdir(mode=0o755)
                current.chmod(0o755)
            except OSError as exc:
                raise Failure(
                    73,
                    f"cannot create {current}: {exc.strerror}",
                    "check the file system and the prefix",
                ) from None
            continue
        if not stat.S_ISDIR(info.st_mode):
            raise Failure(
                1,
                f"{current} is not a directory (a link or a file)",
                f"remove or move {current}, then install again",
            )
        if _is_root() and info.st_uid != 0:
            raise Failure(
                1,
                f"{current} is owned by uid {info.st_uid}, not root",
                f"chown root:root {current} if it is meant to hold ncctl",
            )


def read_link(path: Path) -> str | None:
    """The target of the link ``path`` (None when absent); refuses anything but a link."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISLNK(info.st_mode):
        raise Failure(1, f"{path} is not a symbolic link", f"move {path} away, then run again")
    return str(path.readlink())


def point(link: Path, target: str, *, dry_run: bool) -> bool:
    """Make ``link`` point to ``target`` by renaming a new link over it; True if it changed."""
    if read_link(link) == target:
        return False
    if dry_run:
        return True
    fresh = link.with_name(f".{link.name}.new-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISLNK(fresh.lstat().st_mode):
            fresh.unlink()
    try:
        fresh.symlink_to(target)
        if _is_root():
            os.lchown(fresh, 0, 0)
        fresh.replace(link)
    except OSError as exc:
        raise Failure(
            73,
            f"cannot link {link} -> {target}: {exc.strerror}",
            "check the file system and the prefix",
        ) from None
    return True


def installed(directory: Path, fingerprint: str) -> bool:
    marker = directory / MARKER
    try:
        info = directory.lstat()
        return stat.S_ISDIR(info.st_mode) and marker.read_text(encoding="utf-8") == fingerprint
    except OSError:
        return False


def normalise_modes(directory: Path) -> None:
    """0755 directories and programs, 0644 other files, root's when run as root; links kept."""
    for root, dirs, files in os.walk(directory):
        for name in [*dirs, *files]:
            path = Path(root) / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                if _is_root():
                    os.lchown(path, 0, 0)
                continue
            executable = stat.S_ISDIR(info.st_mode) or info.st_mode & 0o100
            path.chmod(0o755 if executable else 0o644)
            if _is_root():
                os.chown(path, 0, 0)
    directory.chmod(0o755)
    if _is_root():
        os.chown(directory, 0, 0)


def python_version(python: str) -> str:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise Failure(
            69,
            f"cannot run Python {python}: {exc}",
            "install python3 on the host or pass --python PATH",
        ) from None
    return done.stdout.strip()


def build_venv(target: Path, python: str) -> None:
    pip_wheels = sorted((BUNDLE / "tools").glob("pip-*.whl"))
    if not pip_wheels:
        raise Failure(65, f"{BUNDLE}/tools holds no pip wheel", "rebuild the bundle")
    steps = [
        [python, "-m", "venv", "--without-pip", str(target)],
        [
            str(target / "bin" / "python"),
            f"{pip_wheels[-1]}/pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            str(BUNDLE / "wheels"),
            "--require-hashes",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "-r",
            str(BUNDLE / "requirements.txt"),
        ],
    ]
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise Failure(
                73,
                f"{argv[0]} failed building {target}: {tail[0]}",
                "fix what the message names, then install again",
            )


def install(tree: Tree, python: str, *, dry_run: bool) -> dict[str, object]:
    data = manifest()
    version = str(data["version"])
    want = str(data["python"])
    have = python_version(python)
    if have != want:
        raise Failure(
            69,
            f"the bundle is built for Python {want}, {python} is {have}",
            f"pass --python with a Python {want}, or build the bundle on one",
        )
    fingerprint = sha256(BUNDLE / "requirements.txt")
    for directory in (tree.opt, tree.bin_dir):
        safe_dir(directory, tree.prefix, create=not dry_run)
    target = tree.version_dir(version)
    before = read_link(tree.current)
    built = False
    if not installed(target, fingerprint):
        built = True
        if not dry_run:
            with contextlib.suppress(FileNotFoundError):
                if not stat.S_ISDIR(target.lstat().st_mode):
                    raise Failure(1, f"{target} is not a directory", f"remove {target}")
                shutil.rmtree(target)  # an interrupted or different build of this version
            old_umask = os.umask(0o022)
            try:
                build_venv(target, python)
                normalise_modes(target)
            finally:
                os.umask(old_umask)
            (target / MARKER).write_text(fingerprint, encoding="utf-8")
            (target / MARKER).chmod(0o644)
    flipped = False
    if before != version:
        if before is not None:
            point(tree.previous, before, dry_run=dry_run)
        flipped = point(tree.current, version, dry_run=dry_run)
    linked = point(tree.bin_link, tree.bin_target, dry_run=dry_run)
    changed = built or flipped or linked
    return {
        "action": "install",
        "version": version,
        "changed": changed,
        "dry_run": dry_run,
        "current": version,
        "previous": before if before != version else read_link(tree.previous),
        "state": "installed" if changed else "unchanged",
    }


def rollback(tree: Tree, *, dry_run: bool) -> dict[str, object]:
    safe_dir(tree.opt, tree.prefix, create=False)
    current = read_link(tree.current)
    previous = read_link(tree.previous)
    if previous is None or current is None:
        raise Failure(
            1,
            f"no previous version to roll back to under {tree.opt}",
            "install the version you want with its own bundle",
        )
    target = tree.version_dir(previous)
    if not (target / MARKER).is_file() or target.is_symlink():
        raise Failure(
            1,
            f"previous version {previous} is not installed completely ({target})",
            "install that version again from its bundle",
        )
    point(tree.current, previous, dry_run=dry_run)
    point(tree.previous, current, dry_run=dry_run)
    point(tree.bin_link, tree.bin_target, dry_run=dry_run)
    return {
        "action": "rollback",
        "version": previous,
        "changed": True,
        "dry_run": dry_run,
        "current": previous,
        "previous": current,
        "state": "rolled back",
    }


def status(tree: Tree) -> dict[str, object]:
    versions = []
    if tree.opt.is_dir() and not tree.opt.is_symlink():
        versions = sorted(
            p.name for p in tree.opt.iterdir() if not p.is_symlink() and (p / MARKER).is_file()
        )
    current = read_link(tree.current)
    return {
        "action": "status",
        "version": current,
        "changed": False,
        "dry_run": False,
        "current": current,
        "previous": read_link(tree.previous),
        "installed": versions,
        "state": "installed" if current else "absent",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="install.py", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["install", "rollback", "status"])
    parser.add_argument("--prefix", type=Path, default=Path("/"), help="root of the tree")
    parser.add_argument("--python", default=sys.executable, help="Python for the virtualenv")
    parser.add_argument("--dry-run", action="store_true", help="change nothing")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    tree = Tree(args.prefix.absolute())
    try:
        if not tree.prefix.is_dir():
            raise Failure(64, f"--prefix {tree.prefix} is not a directory", "create it first")
        if args.action == "install":
            result = install(tree, args.python, dry_run=args.dry_run)
        elif args.action == "rollback":
            result = rollback(tree, dry_run=args.dry_run)
        else:
            result = status(tree)
    except Failure as exc:
        if args.json:
            print(
                json.dumps(
                    {
                        "ok": False,
                        "data": None,
                        "error": {"code": exc.code, "message": exc.message, "hint": exc.hint},
                    }
                )
            )
        print(f"install.py: error: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
        return exc.code
    if args.json:
        print(json.dumps({"ok": True, "data": result, "error": None}, sort_keys=True))
    else:
        note = " (dry run)" if result["dry_run"] else ""
        print(f"ncctl {result['version']}: {result['state']}{note}; previous: {result['previous']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
