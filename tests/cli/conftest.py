"""Fixtures and data of the CLI tests (running ncctl: tests/helpers.py), and snapshots.

Every test runs in an empty working directory with
``$NCCTL_CONFIG`` and ``$NCCTL_ENV`` unset, so that the configuration resolves to the embedded
default (or to /etc/ncctl/config.toml on a host that has one: see ``needs_embedded``), whose
state is in ``$XDG_STATE_HOME/ncctl``, in the test's own folder (tests/conftest.py).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ncctl.config.files import ETC_CONFIG
from tests.helpers import REPO_ROOT, Outcome, run_in_process

DEV_TOML = REPO_ROOT / "configs" / "dev.toml"
TEMPLATE_TOML = REPO_ROOT / "schedules" / "cme-globex.toml"
DEV_SECRET = "ZGV2LW9ubHktc2VjcmV0LWZvci10aGUtc2ltdWxhdG9y"
"""ilink.secret_key of configs/dev.toml: it must never be printed."""

needs_embedded = pytest.mark.skipif(
    ETC_CONFIG.exists(),
    reason=f"{ETC_CONFIG} exists on this host, so the embedded default is not what resolves",
)


Runner = Callable[..., Outcome]


@pytest.fixture
def ncctl(capsys: pytest.CaptureFixture[str]) -> Runner:
    """``ncctl(*argv) -> Outcome``, in-process."""

    def run(*argv: str | Path) -> Outcome:
        return run_in_process(capsys, *argv)

    return run


@pytest.fixture(autouse=True)
def isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working directory and no NCCTL_* variables, for every CLI test."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("NCCTL_CONFIG", raising=False)
    monkeypatch.delenv("NCCTL_ENV", raising=False)
    yield cwd


@pytest.fixture
def dev_copy(tmp_path: Path) -> Path:
    """A private copy of configs/dev.toml (mode 0600) that a test may change."""
    target = tmp_path / "cfg" / "dev.toml"
    target.parent.mkdir()
    shutil.copyfile(DEV_TOML, target)
    target.chmod(0o600)
    return target


FileState = tuple[bytes, int, int, int]


def snapshot(root: Path) -> dict[str, FileState]:
    """Every file under ``root``: (content, mode, mtime_ns, inode), by relative path."""
    out: dict[str, FileState] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            st = path.stat()
            out[str(path.relative_to(root))] = (
                path.read_bytes(),
                st.st_mode,
                st.st_mtime_ns,
                st.st_ino,
            )
    return out


def write_config(path: Path, text: str) -> Path:
    """Write a configuration (or schedule) file, creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
