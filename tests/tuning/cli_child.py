"""Run ``ncctl ARGS`` in a child process with the ``tune`` group wired in.

Used by the tests that need a real process (network namespaces, a SIGKILL between two writes):
``python -m tests.tuning.cli_child tune host --root / ...``. Once ``ncctl/cli/app.py`` lists
``tune`` in ENTRIES this is the same as ``python -m ncctl``.
"""

from __future__ import annotations

import sys

from ncctl.cli import app
from ncctl.cli.main import main


def wire_tune() -> None:
    """Add the tune group to the application when app.py does not list it yet."""
    if "tune" not in app.ENTRIES:
        app.ENTRIES["tune"] = ("ncctl.cli.tune_cmd", "app")
        app.build_app.cache_clear()


if __name__ == "__main__":
    wire_tune()
    raise SystemExit(main(sys.argv[1:]))
