"""Run plan, host, verify, rollback and verify in one process, inside the network namespace
a test made with ``unshare -n`` (each new ``unshare`` would be a fresh namespace).

``python -m tests.tuning.netns_child CONFIG PROFILE SYSCTL...`` prints one JSON document: every
step's exit code and envelope, the named sysctls at the start, after apply and at the end,
and the sysctl.d file ncctl wrote.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any

from ncctl.cli.main import main
from tests.tuning.cli_child import wire_tune

SATURDAY = "2026-11-28T12:00"
SYSCTL_D = Path("/etc/sysctl.d/99-ncctl.conf")


def run(argv: list[str]) -> dict[str, Any]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(argv)
    return {"code": code, "doc": json.loads(buffer.getvalue())}


def values(names: list[str]) -> dict[str, str]:
    return {name: Path("/proc/sys", name.replace(".", "/")).read_text().strip() for name in names}


def persisted() -> str | None:
    return SYSCTL_D.read_text() if SYSCTL_D.exists() else None


def session(config: str, profile: str, names: list[str]) -> dict[str, Any]:
    base = ["--config", config, "--clock", SATURDAY, "tune"]
    opts = ["--root", "/", "--profile", profile, "--json"]
    out: dict[str, Any] = {"values": {"start": values(names)}, "steps": {}}
    out["steps"]["plan"] = run([*base, "plan", *opts])
    # the machine's root (of a network namespace): more than a development setup
    forced = ["--force", "--reason", "a test in a network namespace"]
    out["steps"]["host"] = run([*base, "host", *forced, *opts])
    out["values"]["applied"] = values(names)
    out["persisted"] = persisted()
    out["steps"]["verify"] = run([*base, "verify", *opts])
    out["steps"]["rollback"] = run([*base, "rollback", *forced, "--root", "/", "--json"])
    out["steps"]["verify_after"] = run([*base, "verify", *opts])
    out["values"]["end"] = values(names)
    out["persisted_end"] = persisted()
    return out


if __name__ == "__main__":
    wire_tune()
    print(json.dumps(session(sys.argv[1], sys.argv[2], sys.argv[3:])))
