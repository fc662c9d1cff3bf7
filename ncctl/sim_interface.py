"""Names shared by the product and the simulators (``ncctl.sim``): environment variables the
product sets for a simulator it starts, and what a simulator announces of itself.

Both sides import them from here, so that neither imports the other.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

GATEWAY_ENV = "NCCTL_GATEWAY"
"""``HOST:PORT`` of the CME gateway simulator the order-session simulator holds its FIXP
session with (none if unset)."""
TRADING_SYSTEM_NAME = "ncctl.sim.order_session"
"""The TradingSystemName (tag 1603) of the order-session simulator's FIXP session."""
DEMO_GATEWAY_SECRET_ENV = "NCCTL_DEMO_GATEWAY_SECRET"  # noqa: S105 - the name of a variable
"""The variable through which ``ncctl demo`` hands the iLink secret to its gateway
simulator (``--secret-env``)."""
SCHEDULE_FILES_ENV = "NCCTL_SCHEDULE_FILES"
"""The schedule files of the feed-handler simulator (without ``--template``): a JSON array of
absolute paths, the weekly template first, then the holiday tables
(:func:`schedule_files_value`). ncctl sets it for every component it starts as a process,
from its ``[schedule]``."""
GATEWAY_SECRET_ENV = "NCCTL_GATEWAY_SECRET"  # noqa: S105 - the name of a variable
"""The base64url iLink secret of the order-session simulator's FIXP session (without
``--secret-env``), with :data:`GATEWAY_ACCESS_KEY_ENV`. ncctl sets both for the components of
a development configuration only (``ncctl.appconfig.development``)."""
GATEWAY_ACCESS_KEY_ENV = "NCCTL_GATEWAY_ACCESS_KEY_ID"
"""The access key id that goes with :data:`GATEWAY_SECRET_ENV`."""


def schedule_files_value(template: Path, holidays: Sequence[Path]) -> str:
    """The value of :data:`SCHEDULE_FILES_ENV` for these files (any path, ``:`` included)."""
    return json.dumps([str(path) for path in (template, *holidays)])


def parse_schedule_files(value: str) -> tuple[Path, list[Path]]:
    """The template and holiday tables of a :data:`SCHEDULE_FILES_ENV` value; ValueError
    says what is wrong with it."""
    try:
        files = json.loads(value)
    except ValueError:
        raise ValueError("is not a JSON array of file names") from None
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        raise ValueError("is not a JSON array of file names, the template first")
    return Path(files[0]), [Path(f) for f in files[1:]]
