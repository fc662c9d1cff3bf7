"""Named points where a test can have ncctl killed, to prove every step is crash-safe.

When ``NCCTL_CRASH_AT`` names a point, the process sends itself SIGKILL there: no cleanup, no
``finally``, exactly what a power cut or the OOM killer does. Unset, a point costs one lookup.
"""

from __future__ import annotations

import os
import signal


def crashpoint(name: str) -> None:
    if os.environ.get("NCCTL_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
