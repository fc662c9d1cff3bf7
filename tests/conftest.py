"""Settings for every test: ncctl's validated-schedule cache and the per-user state directory
of the embedded default live in the test's own folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_cache_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Never read or write the user's ~/.cache from a test (child processes inherit this)."""
    directory = tmp_path_factory.mktemp("ncctl-cache")
    monkeypatch.setenv("NCCTL_CACHE_DIR", str(directory))
    return directory


@pytest.fixture(autouse=True)
def private_state_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The per-user state directory of the embedded default (``$XDG_STATE_HOME/ncctl``) in
    the test's own folder: never the user's ~/.local/state (child processes inherit this)."""
    directory = tmp_path_factory.mktemp("xdg-state")
    monkeypatch.setenv("XDG_STATE_HOME", str(directory))
    umask = os.umask(0o022)  # loading the embedded default in-process tightens the umask
    os.umask(umask)
    yield directory / "ncctl"
    os.umask(umask)
