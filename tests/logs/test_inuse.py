"""ncctl.logs.inuse against real processes: a file is held exactly when some process has it
open for writing (append, write, read-write), never because of a reader, and free again once
the writer is gone."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ncctl.floor import file_id
from ncctl.logs.inuse import Usage, scan

pytestmark = pytest.mark.slow

OPEN_ALL = (
    "import sys, time\n"
    "files = [open(p, m) for p, m in zip(sys.argv[1::2], sys.argv[2::2])]\n"
    "print('open', flush=True)\n"
    "time.sleep(120)\n"
)
WRITES = {"a", "w", "r+", "a+"}


@settings(max_examples=12, deadline=None)
@given(st.lists(st.sampled_from([None, "r", "a", "w", "r+", "a+"]), min_size=1, max_size=5))
def test_held_exactly_when_a_process_writes(modes: list[str | None]) -> None:
    with tempfile.TemporaryDirectory(prefix="ncctl-inuse-") as tmp:
        paths = [Path(tmp) / f"f{i}" for i in range(len(modes))]
        for path in paths:
            path.write_bytes(b"x\n")
        ids = {}
        for path in paths:
            fid = file_id(path)
            assert fid is not None
            ids[fid] = path
        argv = [sys.executable, "-c", OPEN_ALL]
        for path, mode in zip(paths, modes, strict=True):
            if mode is not None:
                argv += [str(path), mode]
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None and child.stdout.readline() == "open\n"
            usage = scan(ids)
            for (fid, path), mode in zip(ids.items(), modes, strict=True):
                writes = mode in WRITES
                assert usage.free(fid) is not writes, (path.name, mode)
                assert usage.kernel[fid] is writes
                if writes:
                    assert [h.pid for h in usage.writers[fid]] == [child.pid]
                    assert f"pid {child.pid}" in usage.reason(fid)
                else:
                    assert usage.reason(fid) == ""
        finally:
            child.kill()
            child.wait(timeout=10)
            if child.stdout is not None:
                child.stdout.close()
        after = scan(ids)
        assert all(after.free(fid) for fid in ids)


def test_only_regular_files_have_an_identity(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("x")
    (tmp_path / "link").symlink_to(target)
    assert file_id(target) is not None
    assert file_id(tmp_path / "link") is None  # never followed
    assert file_id(tmp_path) is None
    assert file_id(tmp_path / "missing") is None


def test_a_proc_without_descriptors_means_cannot_tell(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("x")
    fid = file_id(target)
    assert fid is not None
    usage = scan({fid: target}, proc=tmp_path / "not-proc")
    assert not usage.free(fid)
    assert usage.reason(fid).startswith("cannot tell whether a process writes to it")


@pytest.mark.parametrize(
    ("kernel", "unknown", "free"),
    [
        (False, None, True),
        (False, "/proc/1/fd/0: Permission denied", True),  # the kernel's count decides
        (True, "/proc/1/fd/0: Permission denied", False),
        (None, None, True),  # no leases here, and every process was read
        (None, "/proc/1/fd/0: Permission denied", False),  # nobody can tell: keep it
    ],
)
def test_which_answer_decides(kernel: bool | None, unknown: str | None, free: bool) -> None:
    fid = (1, 2)
    usage = Usage(kernel={fid: kernel}, unknown=unknown)
    assert usage.free(fid) is free
    assert (usage.reason(fid) == "") is free
    if not free:
        assert unknown is not None and unknown in usage.reason(fid)
