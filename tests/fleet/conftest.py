"""Fixtures of the fleet tests: the artifact, built once per run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fleet.artifact import build_bundle, unpack


@pytest.fixture(scope="session")
def bundle_tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bundle(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def bundle(bundle_tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack(bundle_tarball, tmp_path_factory.mktemp("bundle"))
