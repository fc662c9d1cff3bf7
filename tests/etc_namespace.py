"""Run a command with a private /etc: a mount namespace where /etc is an overlay on a tmpfs.

Inside, the command may create or remove ``/etc/ncctl/config.toml`` as it likes; the host's
/etc is never changed and the mounts vanish with the namespace. Needs root and a kernel that
lets this account unshare a mount namespace and mount overlayfs; :func:`etc_namespace_unusable`
says why not, so that the caller can skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

SETUP_FAILED = 99
"""Exit status of the namespace when /etc could not be made private."""

_SETUP = f"""
mount -t tmpfs -o mode=0700 ncctl-test "$1" || exit {SETUP_FAILED}
mkdir "$1/up" "$1/work" || exit {SETUP_FAILED}
mount -t overlay ncctl-test -o "lowerdir=/etc,upperdir=$1/up,workdir=$1/work" /etc \\
    || exit {SETUP_FAILED}
rm -rf /etc/ncctl || exit {SETUP_FAILED}
shift
exec "$@"
"""


def etc_namespace_unusable() -> str | None:
    """Why a private /etc cannot be had here (None: it can)."""
    if os.geteuid() != 0:
        return "a private /etc needs root"
    if shutil.which("unshare") is None:
        return "unshare(1) is not installed"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        return f"unshare --mount is not permitted: {probe.stderr.decode(errors='replace')}"
    return None


def run_with_private_etc(
    argv: Sequence[str],
    scratch: Path,
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdin: str = "",
    timeout_s: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in a new mount namespace whose /etc is private and has no ``ncctl``
    directory; ``scratch`` (an empty directory) holds the overlay's tmpfs."""
    scratch.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            _SETUP,
            "sh",
            str(scratch),
            *argv,
        ],
        cwd=cwd,
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
