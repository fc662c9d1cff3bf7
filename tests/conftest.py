"""Settings for every test: ncctl's validated-schedule cache lives in the test's own folder."""

from __future__ import annotations

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
