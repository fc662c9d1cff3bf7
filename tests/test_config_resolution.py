"""Which configuration applies, over every combination of the five sources, with a real
/etc/ncctl/config.toml (in a private mount namespace: tests/etc_namespace.py).

``--config`` > ``$NCCTL_CONFIG`` > ``/etc/ncctl/config.toml`` > ``configs/$NCCTL_ENV.toml`` in
the current directory, only when ``NCCTL_ENV`` is set (missing: exit 78) > the embedded
default. Every file found takes its relative paths from its own directory (the embedded
default from ``$XDG_STATE_HOME/ncctl``), never from the current directory.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.etc_namespace import SETUP_FAILED, etc_namespace_unusable, run_with_private_etc
from tests.helpers import NCCTL_BIN, one_json_document

REPO_ROOT = Path(__file__).resolve().parents[1]
ETC_DIR = Path("/etc/ncctl")
LOCAL_STATES = ("absent", "present-env-unset", "env-set", "env-set-missing")
"""configs/$NCCTL_ENV.toml: no file, a configs/dev.toml that NCCTL_ENV does not name (it
must not be picked), NCCTL_ENV=local and its file, NCCTL_ENV=local without its file."""
CASES = [
    {"explicit": e, "env_config": c, "etc": t, "local": local, "n": n}
    for n, (e, c, t, local) in enumerate(
        itertools.product((False, True), (False, True), (False, True), LOCAL_STATES)
    )
]


def marked(path: Path, environment: str) -> None:
    """A configuration naming itself, with a relative state directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'environment = "{environment}"\nstate_dir = "st"\n', encoding="utf-8")


def drive() -> None:
    """In the namespace: set up each case of stdin, load, print what was found (a line each)."""
    from ncctl.appconfig.load import load
    from ncctl.errors import NcctlError

    root = Path(sys.argv[1])
    for case in json.loads(sys.stdin.read()):
        where = root / f"case{case['n']}"
        cwd, elsewhere = where / "cwd", where / "elsewhere"
        cwd.mkdir(parents=True)
        os.chdir(cwd)
        for key in ("NCCTL_CONFIG", "NCCTL_ENV"):
            os.environ.pop(key, None)
        explicit = None
        if case["explicit"]:
            explicit = elsewhere / "explicit" / "c.toml"
            marked(explicit, "explicit")
        if case["env_config"]:
            marked(elsewhere / "from-env" / "c.toml", "env-config")
            os.environ["NCCTL_CONFIG"] = str(elsewhere / "from-env" / "c.toml")
        if case["etc"]:
            marked(ETC_DIR / "config.toml", "etc")
        elif ETC_DIR.exists():
            (ETC_DIR / "config.toml").unlink(missing_ok=True)
        if case["local"] == "present-env-unset":
            marked(cwd / "configs" / "dev.toml", "local-dev")
        elif case["local"] == "env-set":
            marked(cwd / "configs" / "local.toml", "local")
            os.environ["NCCTL_ENV"] = "local"
        elif case["local"] == "env-set-missing":
            os.environ["NCCTL_ENV"] = "local"
        try:
            loaded = load(explicit)
            found: dict[str, Any] = {
                "source": loaded.source,
                "environment": loaded.config.environment,
                "state_dir": str(loaded.config.state_dir),
                "created": sorted(p.name for p in cwd.iterdir()),
            }
        except NcctlError as err:
            found = {"error": err.exit_code, "message": err.message}
        print(json.dumps({"n": case["n"], **found}), flush=True)


def expected(case: dict[str, Any], root: Path, state_home: Path) -> dict[str, Any]:
    """What the documented order says for ``case``."""
    where = root / f"case{case['n']}"
    if case["explicit"]:
        return {
            "source": "--config",
            "environment": "explicit",
            "dir": where / "elsewhere/explicit",
        }
    if case["env_config"]:
        return {
            "source": "$NCCTL_CONFIG",
            "environment": "env-config",
            "dir": where / "elsewhere/from-env",
        }
    if case["etc"]:
        return {"source": str(ETC_DIR / "config.toml"), "environment": "etc", "dir": ETC_DIR}
    if case["local"] == "env-set":
        return {
            "source": "configs/local.toml",
            "environment": "local",
            "dir": where / "cwd/configs",
        }
    if case["local"] == "env-set-missing":
        return {"error": 78}
    return {"source": "embedded", "environment": "dev", "state_dir": state_home}


@pytest.fixture
def private_etc() -> None:
    reason = etc_namespace_unusable()
    if reason is not None:
        pytest.skip(reason)


def namespace_env() -> dict[str, str]:
    drop = {"NCCTL_CONFIG", "NCCTL_ENV", "PYTHONPATH"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


def test_every_combination_of_sources_resolves_in_the_documented_order(
    private_etc: None, tmp_path: Path, private_state_home: Path
) -> None:
    root = tmp_path / "cases"
    root.mkdir()
    etc_before = ETC_DIR.exists()
    proc = run_with_private_etc(
        [
            sys.executable,
            "-c",
            "from tests.test_config_resolution import drive; drive()",
            str(root),
        ],
        tmp_path / "scratch",
        cwd=tmp_path,
        env=namespace_env(),
        stdin=json.dumps(CASES),
    )
    if proc.returncode == SETUP_FAILED:
        pytest.skip(f"no private /etc here: {proc.stderr}")
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["n"] for r in results] == list(range(len(CASES)))
    assert len(results) == 2 * 2 * 2 * len(LOCAL_STATES) == 32
    counts: dict[str, int] = {}
    for case, got in zip(CASES, results, strict=True):
        want = expected(case, root, private_state_home)
        if "error" in want:
            assert got["error"] == want["error"], (case, got)
            assert "NCCTL_ENV=local" in got["message"], got
            counts["error"] = counts.get("error", 0) + 1
            continue
        assert (got.get("source"), got.get("environment")) == (
            want["source"],
            want["environment"],
        ), (case, got)
        # relative paths from the file's directory (the state home for the embedded default)
        state = want.get("state_dir", want.get("dir", Path()) / "st")
        assert got["state_dir"] == str(state), (case, got)
        # loading creates nothing in the current directory
        assert got["created"] == (
            ["configs"] if case["local"] in ("present-env-unset", "env-set") else []
        )
        counts[got["source"]] = counts.get(got["source"], 0) + 1
    assert counts == {
        "--config": 16,
        "$NCCTL_CONFIG": 8,
        "/etc/ncctl/config.toml": 4,
        "configs/local.toml": 1,
        "error": 1,
        "embedded": 2,
    }
    assert ETC_DIR.exists() == etc_before  # the host's /etc was never touched


def test_etc_config_takes_relative_paths_from_etc_and_wins_over_ncctl_env(
    private_etc: None, tmp_path: Path
) -> None:
    """Through the real CLI: /etc/ncctl/config.toml beats NCCTL_ENV, and its relative paths
    are taken from /etc/ncctl whatever the working directory."""
    script = (
        'mkdir -p /etc/ncctl && printf \'environment = "etc"\\nstate_dir = "st"\\n'
        '[logs]\\narchive_dir = "arch"\\n\' > /etc/ncctl/config.toml && exec "$@"'
    )
    cwd = tmp_path / "cwd"
    (cwd / "configs").mkdir(parents=True)
    marked(cwd / "configs" / "dev.toml", "local-dev")
    env = namespace_env()
    env["NCCTL_ENV"] = "dev"
    etc_before = ETC_DIR.exists()
    proc = run_with_private_etc(
        ["sh", "-c", script, "sh", str(NCCTL_BIN), "config", "show", "--json"],
        tmp_path / "scratch",
        cwd=cwd,
        env=env,
    )
    if proc.returncode == SETUP_FAILED:
        pytest.skip(f"no private /etc here: {proc.stderr}")
    doc = one_json_document(proc.stdout)
    assert proc.returncode == 0, proc.stderr
    data = doc["data"]
    assert (data["source"], data["config"]["environment"]) == ("/etc/ncctl/config.toml", "etc")
    assert data["config"]["state_dir"] == "/etc/ncctl/st"
    assert data["config"]["logs"]["archive_dir"] == "/etc/ncctl/arch"
    assert ETC_DIR.exists() == etc_before  # the host's /etc was never touched
