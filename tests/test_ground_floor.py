"""Every file ncctl writes, locks or opens as a database goes through one module,
:mod:`ncctl.floor` (no symbolic link followed, directories checked, atomic replace done one
way). This test reads the source: a new writer outside the floor fails it, by name and line."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import ncctl

pytestmark = pytest.mark.slow

PACKAGE = Path(ncctl.__file__).parent
FLOOR = "ncctl/floor.py"

# The only writers outside the floor, each for a reason (module, rule): keep it short.
ALLOWED = {
    # the kernel's /proc/sys and /sys settings: not files ncctl owns, written in place
    ("ncctl/tuning/host.py", "os.open for writing"),
    # /dev/cpu_dma_latency: the kernel's PM QoS device, held open, never created or replaced
    ("ncctl/tuning/latency.py", "os.open for writing"),
}

WRITE_FLAGS = {"O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC"}
BANNED_CALLS = {
    ("os", "replace"): "os.replace",
    ("os", "rename"): "os.rename",
    ("os", "truncate"): "os.truncate",
    ("tempfile", "mkstemp"): "tempfile.mkstemp",
    ("tempfile", "NamedTemporaryFile"): "tempfile.NamedTemporaryFile",
    ("sqlite3", "connect"): "sqlite3.connect",
    ("fcntl", "flock"): "fcntl.flock",
    ("fcntl", "lockf"): "fcntl.lockf",
    ("shutil", "move"): "shutil.move",
    ("shutil", "copy"): "shutil.copy",
    ("shutil", "copy2"): "shutil.copy2",
    ("shutil", "copyfile"): "shutil.copyfile",
}
BANNED_METHODS = {"write_text", "write_bytes", "touch"}  # Path's (with an argument)


def _names(node: ast.AST) -> set[str]:
    return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)} | {
        n.id for n in ast.walk(node) if isinstance(n, ast.Name)
    }


def _writing_mode(node: ast.Call, index: int) -> bool:
    mode: ast.AST | None = node.args[index] if len(node.args) > index else None
    for kw in node.keywords:
        if kw.arg == "mode":
            mode = kw.value
    return (
        isinstance(mode, ast.Constant)
        and isinstance(mode.value, str)
        and any(c in mode.value for c in "wax+")
    )


def violations(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, rule) for every file write, lock or SQLite open in ``tree``."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "open" and _writing_mode(node, 1):
            yield node.lineno, "open() for writing"
        if not isinstance(func, ast.Attribute):
            continue
        owner = func.value.id if isinstance(func.value, ast.Name) else None
        if owner is not None and (owner, func.attr) in BANNED_CALLS:
            yield node.lineno, BANNED_CALLS[(owner, func.attr)]
        elif owner == "os" and func.attr == "open":
            if len(node.args) > 1 and _names(node.args[1]) & WRITE_FLAGS:
                yield node.lineno, "os.open for writing"
        elif func.attr in BANNED_METHODS and (node.args or func.attr == "touch"):
            yield node.lineno, f".{func.attr}()"
        elif func.attr == "open" and _writing_mode(node, 0):
            yield node.lineno, ".open() for writing"
        elif func.attr in ("replace", "rename") and len(node.args) == 1 and not node.keywords:
            yield node.lineno, f".{func.attr}()"  # Path.replace/rename (str.replace takes 2)


def source_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "sim" not in p.relative_to(PACKAGE).parts)


def test_the_rules_catch_every_kind_of_writer() -> None:
    sample = """
import os, sqlite3, fcntl, tempfile
open(p, "w"); open(p, mode="ab"); p.open("a"); p.open("r+b")
p.write_text("x"); p.write_bytes(b""); p.touch()
os.open(p, os.O_WRONLY | os.O_CREAT, 0o600); os.open(p, flags=0)
os.replace(a, b); os.rename(a, b); p.replace(q); p.rename(q); os.truncate(p, 0)
tempfile.mkstemp(); sqlite3.connect(p); fcntl.flock(fd, 2)
open(p); p.open("rb"); os.open(p, os.O_RDONLY); s.replace("a", "b")
"""
    rules = [rule for _, rule in violations(ast.parse(sample))]
    assert len(rules) == 16, rules
    assert {line for line, _ in violations(ast.parse(sample))} == {3, 4, 5, 6, 7}


def test_no_module_outside_the_floor_writes_files_itself() -> None:
    found = []
    for path in source_files():
        rel = str(path.relative_to(PACKAGE.parent))
        if rel == FLOOR:
            continue
        for line, rule in violations(ast.parse(path.read_text(encoding="utf-8"))):
            if (rel, rule) not in ALLOWED:
                found.append(f"{rel}:{line}: {rule}")
    assert found == [], "write through ncctl.floor instead:\n" + "\n".join(found)


def test_every_allowance_is_still_needed() -> None:
    used = set()
    for path in source_files():
        rel = str(path.relative_to(PACKAGE.parent))
        used |= {(rel, rule) for _, rule in violations(ast.parse(path.read_text("utf-8")))}
    assert ALLOWED - used == set()


def test_the_floor_imports_only_the_standard_library() -> None:
    """The component supervisor uses it: no pydantic, typer or configuration behind it."""
    code = (
        "import sys, ncctl.floor, ncctl.crashpoints; "
        "print(' '.join(sorted(m for m in sys.modules "
        "if m.split('.')[0] not in sys.stdlib_module_names)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    site_hooks = {"__main__", "_distutils_hack"}
    assert set(out) - site_hooks == {
        "ncctl",
        "ncctl.errors",
        "ncctl.floor",
        "ncctl.temp_files",
        "ncctl.crashpoints",
    }
