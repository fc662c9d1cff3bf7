"""Fixtures of the upload tests: a real OpenSSH sshd on 127.0.0.1, archives, destinations.

``sshd`` is one server for the whole session (starting one takes about 0.05 s, but there is no
need); ``private_sshd`` is a server of the test's own, for tests that break it (freezing its
session processes). ``remote_dir`` is a fresh directory of the test account on the server.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ncctl.logs.destinations import Item
from ncctl.logs.section import DestinationConfig
from ncctl.logs.sftp_destination import SftpDestination
from tests.sshd import SshServer, running_sshd, sshd_unavailable

_counter = itertools.count()


def _server() -> Iterator[SshServer]:
    reason = sshd_unavailable()
    if reason is not None:
        pytest.skip(reason)
    with running_sshd() as server:
        yield server


@pytest.fixture(scope="session")
def sshd() -> Iterator[SshServer]:
    """A test sshd shared by every test that does not break it."""
    yield from _server()


@pytest.fixture
def private_sshd() -> Iterator[SshServer]:
    """A test sshd of this test alone (stopped, with all its sessions, afterwards)."""
    yield from _server()


@pytest.fixture
def remote_dir(sshd: SshServer) -> Path:
    """An empty directory of the test account on the shared server (a local path here)."""
    return sshd.make_remote_dir(f"t{next(_counter):04d}")


MakeItem = Callable[..., Item]


def item_for(path: Path, name: str | None = None) -> Item:
    data = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            data.update(block)
    return Item(
        local=path, name=name or path.name, size=path.stat().st_size, sha256=data.hexdigest()
    )


def write_random(path: Path, size: int) -> None:
    """``size`` bytes that never repeat at any offset (resume errors cannot hide)."""
    with path.open("wb") as fh:
        left = size
        while left > 0:
            block = os.urandom(min(left, 4 << 20))
            fh.write(block)
            left -= len(block)


@pytest.fixture
def make_item(tmp_path: Path) -> MakeItem:
    """``make_item(size, name=...)``: a local archive of random bytes and its Item."""

    def make(size: int, name: str | None = None) -> Item:
        path = tmp_path / "archive" / (name or f"audit.{next(_counter):04d}.csv.gz")
        path.parent.mkdir(exist_ok=True)
        write_random(path, size)
        return item_for(path)

    return make


OpenDestination = Callable[[DestinationConfig], SftpDestination]


@pytest.fixture
def open_destination() -> Iterator[OpenDestination]:
    """``open_destination(config)``: an SftpDestination closed at the end of the test."""
    made: list[SftpDestination] = []

    def make(config: DestinationConfig) -> SftpDestination:
        dest = SftpDestination("fcm", config)
        made.append(dest)
        return dest

    yield make
    for dest in made:
        dest.close()


def remote_sha256(path: Path) -> str:
    """The SHA-256 of a file on the (local) test server, read directly."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
