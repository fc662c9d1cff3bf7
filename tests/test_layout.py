"""The shape of the code base, as ratchets that only tighten.

- No product file is over :data:`LIMIT` lines, except the iLink SBE message layouts and the
  simulators; the files that are over it today are listed with their size as a ceiling: a
  listed file may not grow, and leaves the list once it is under the limit.
- The import contracts of ``[tool.importlinter]`` (docs/design.md §3.1) are kept; their
  ``ignore_imports`` lists hold only today's exceptions (:data:`BASELINE_IGNORES`), and an
  exception that matches no import any more is an error of ``lint-imports``, so the lists only
  shrink.
- Every top-level command or group of the CLI lives in its own module, named after it.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 500
EXEMPT = ("ncctl/ilink/sbe.py", "ncctl/sim/")
"""The SBE layouts (one table per message) and the simulators (outside the product)."""

OVERSIZED: dict[str, int] = {}
"""Product files still over the limit, with their line count as a ceiling: none may grow, and
a file leaves the list once it is split."""

BASELINE_IGNORES: frozenset[str] = frozenset()
"""Every import exception the contracts had when they were declared; new ones are not
allowed (break the import instead)."""


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _product_files() -> dict[str, int]:
    files = {
        path.relative_to(ROOT).as_posix(): _lines(path)
        for path in sorted((ROOT / "ncctl").rglob("*.py"))
    }
    return {name: n for name, n in files.items() if not name.startswith(EXEMPT)}


def _importlinter() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        section: dict[str, Any] = tomllib.load(fh)["tool"]["importlinter"]
    return section


def _lint_imports(config: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "lint-imports"
    assert exe.exists(), f"{exe} is missing: install the dev extra (pip install -e '.[dev]')"
    return subprocess.run(
        [str(exe), "--no-logo", "--no-cache", str(config)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_no_product_file_is_over_the_limit_or_over_its_ceiling() -> None:
    files = _product_files()
    assert len(files) > 50  # the walk found the product
    too_long = [
        f"{name}: {n} lines (at most {OVERSIZED.get(name, LIMIT)})"
        for name, n in files.items()
        if n > OVERSIZED.get(name, LIMIT)
    ]
    assert too_long == [], "split these files (one job per file)"


def test_the_oversized_list_only_holds_files_still_over_the_limit() -> None:
    files = _product_files()
    stale = [
        f"{name}: {files.get(name, 'no such file')}"
        for name in OVERSIZED
        if files.get(name, 0) <= LIMIT
    ]
    assert stale == [], "remove these from OVERSIZED: they are within the limit now"


def test_the_exemptions_are_the_codec_layouts_and_the_simulators_only() -> None:
    exempt = sorted(
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "ncctl").rglob("*.py")
        if path.relative_to(ROOT).as_posix().startswith(EXEMPT)
    )
    assert "ncctl/ilink/sbe.py" in exempt
    assert all(name == "ncctl/ilink/sbe.py" or name.startswith("ncctl/sim/") for name in exempt)


def test_the_import_exceptions_only_shrink() -> None:
    contracts = _importlinter()["contracts"]
    assert {c["id"] for c in contracts} == {
        "layers",
        "domain-independence",
        "no-sim-in-product",
        "sim-libraries-only",
        "acyclic",
    }
    for contract in contracts:
        ignores = contract.get("ignore_imports", [])
        assert len(ignores) == len(set(ignores)), f"{contract['id']}: an exception is repeated"
        assert set(ignores) <= BASELINE_IGNORES, (
            f"{contract['id']}: new import exceptions {sorted(set(ignores) - BASELINE_IGNORES)}"
        )
        # an exception matching nothing must stay an error (lint-imports' default)
        assert contract.get("unmatched_ignore_imports_alerting", "error") == "error"


def test_the_import_contracts_are_kept() -> None:
    done = _lint_imports(ROOT / "pyproject.toml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 5 kept, 0 broken." in done.stdout


def test_an_import_exception_that_matches_nothing_fails_the_check(tmp_path: Path) -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    anchor = 'type = "layers"\n'
    assert text.count(anchor) == 1
    config = tmp_path / "pyproject.toml"
    config.write_text(
        text.replace(anchor, anchor + 'ignore_imports = ["ncctl.floor -> ncctl.cli"]\n'),
        encoding="utf-8",
    )
    done = _lint_imports(config)
    assert done.returncode == 1
    assert "No matches for ignored import ncctl.floor -> ncctl.cli." in done.stdout + done.stderr


def test_every_command_group_has_its_own_module_named_after_it() -> None:
    from ncctl.cli.app import ENTRIES

    assert {name: module for name, (module, _) in ENTRIES.items()} == {
        name: f"ncctl.cli.{name}_cmd" for name in ENTRIES
    }
    modules = {path.stem for path in (ROOT / "ncctl" / "cli").glob("*_cmd.py")}
    assert modules == {f"{name}_cmd" for name in ENTRIES}, "a *_cmd module without a command"
