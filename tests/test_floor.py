"""The rules of :mod:`ncctl.floor`, over every case: which directories ncctl writes into, what
an atomic replace leaves behind, that a planted name is never used, that waits are bounded."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ncctl import floor
from ncctl.errors import (
    EXIT_CANTCREAT,
    CantCreateError,
    DataError,
    NcctlError,
    PermissionDeniedError,
)

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="chown to other users needs root")


@pytest.mark.slow
@root_only
@settings(max_examples=150, deadline=None)
@given(mode=st.integers(0, 0o7777), uid=st.sampled_from([0, 65534]))
def test_a_directory_is_used_only_when_nobody_else_can_plant_files_in_it(
    mode: int, uid: int
) -> None:
    with tempfile.TemporaryDirectory() as top:
        d = Path(top) / "d"
        d.mkdir()
        os.chown(d, uid, -1)
        d.chmod(mode)
        others_write = mode & 0o022 and not (mode & stat.S_ISVTX and uid == 0)
        safe = uid in (0, os.geteuid()) and not others_write
        if safe:
            floor.check_dir(d)
        else:
            with pytest.raises(PermissionDeniedError) as info:
                floor.check_dir(d)
            assert str(d) in info.value.message


def test_a_linked_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(DataError) as info:
        floor.check_dir(tmp_path / "link", "archive directory")
    assert "symbolic link" in info.value.message and str(tmp_path / "link") in info.value.message


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=4096), mode=st.sampled_from([0o600, 0o640, 0o644]))
def test_an_atomic_write_leaves_exactly_the_file_with_its_mode(data: bytes, mode: int) -> None:
    with tempfile.TemporaryDirectory() as top:
        target = Path(top) / "f"
        target.write_bytes(b"old")
        old_umask = os.umask(0o077)  # the mode is exact, whatever the umask
        try:
            floor.atomic_write(target, data, what="file", mode=mode)
        finally:
            os.umask(old_umask)
        assert target.read_bytes() == data
        assert stat.S_IMODE(target.stat().st_mode) == mode
        assert sorted(p.name for p in Path(top).iterdir()) == ["f"]


def test_write_text_atomic_uses_the_given_mode_for_new_files(tmp_path: Path) -> None:
    target = tmp_path / "new.toml"
    floor.write_text_atomic(target, 'environment = "x"\n', mode=0o640)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_text(encoding="utf-8") == 'environment = "x"\n'


def test_write_text_atomic_keeps_an_existing_files_mode_at_most_0640(tmp_path: Path) -> None:
    target = tmp_path / "old.toml"
    target.write_text("x = 0\n", encoding="utf-8")
    target.chmod(0o604)
    floor.write_text_atomic(target, "x = 1\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text(encoding="utf-8") == "x = 1\n"


def test_write_text_atomic_into_a_missing_directory_is_cant_create(tmp_path: Path) -> None:
    with pytest.raises(CantCreateError) as info:
        floor.write_text_atomic(tmp_path / "no" / "such" / "dir.toml", "x = 1\n")
    assert info.value.exit_code == EXIT_CANTCREAT
    assert str(tmp_path / "no" / "such" / "dir.toml") in info.value.message


@pytest.mark.parametrize(
    "name", ["f", ".f.tmp", f".f.{os.getpid()}.tmp"], ids=["target", "tmp", "pid-tmp"]
)
def test_a_planted_link_is_never_written_through(tmp_path: Path, name: str) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"secret")
    secret.chmod(0o600)
    d = tmp_path / "d"
    d.mkdir(mode=0o750)
    (d / name).symlink_to(secret)
    try:
        floor.atomic_write(d / "f", b"new", what="file")
    except NcctlError as err:
        assert name == "f" and str(d / "f") in err.message  # the target itself: refused
    else:
        assert (d / "f").read_bytes() == b"new" and not (d / "f").is_symlink()
    assert secret.read_bytes() == b"secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert (d / name).is_symlink()
    if name == "f":  # neither read nor written through by any open
        for flags in (os.O_RDONLY, os.O_WRONLY | os.O_APPEND | os.O_CREAT, os.O_RDWR):
            with pytest.raises(DataError):
                floor.open_fd(d / name, flags, what="file")


def test_a_wait_is_bounded_in_count() -> None:
    calls = []

    def never() -> bool:
        calls.append(1)
        return False

    assert floor.wait_until(never, 0.05, poll_s=0.01) is False
    assert 2 <= len(calls) <= 0.05 / 0.01 + 3
