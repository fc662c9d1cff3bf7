"""What ``ncctl schedule now --json`` loads once the validated-schedule cache holds its
configuration: no configuration models (``ncctl.appconfig``, the sections), no schedule file
reader, no TOML parser, none of the heavy libraries (docs/design.md §3.2, rule 6;
benchmarks/startup.py measures the time)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tests.helpers import run_process

AT = "2026-03-04T10:00"

PROBE = (
    "import json, os, sys\n"
    "from ncctl.cli.main import main\n"
    "rc = main(sys.argv[1:])\n"
    "sys.stderr.write(json.dumps({'rc': rc, 'modules': sorted(sys.modules), "
    "'pydantic_plugins_env': 'PYDANTIC_DISABLE_PLUGINS' in os.environ}))\n"
)

NOT_ON_THE_FAST_PATH = (
    "tomllib",
    "ncctl.appconfig",
    "ncctl.config.section",
    "ncctl.schedule.section",
    "ncctl.schedule.files",
    "rich",
    "paramiko",
    "apscheduler",
    "prometheus_client",
    "sqlite3",
)


def test_schedule_now_from_the_cache_loads_no_models_and_no_toml_parser(
    isolated_cwd: Path,
) -> None:
    argv = ("--clock", AT, "schedule", "now", "--json")
    first = run_process(*argv, cwd=isolated_cwd)  # validates the configuration, fills the cache
    assert first.code == 0, first.err
    environ = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    probe = run_process(
        *argv,
        cwd=isolated_cwd,
        base_env=environ,
        wrapper=lambda command: [sys.executable, "-c", PROBE, *command[1:]],
    )
    report = json.loads(probe.err.strip().splitlines()[-1])
    assert report["rc"] == 0, probe.err
    assert probe.data() == first.data()
    loaded = set(report["modules"])
    assert [m for m in NOT_ON_THE_FAST_PATH if m in loaded] == []
    # the entry point leaves pydantic's plugin setting to the user (docs/design.md §3.2)
    assert report["pydantic_plugins_env"] is False
