"""The one error tree of ncctl.

Every failure a user can meet is an :class:`NcctlError` with a stable ``code``, a one-line
``message`` and a ``hint``. The exit code is derived from the class, in one place, and follows
sysexits(3): 0 ok, 1 failed or drift, 2 usage (command-line parsing), 64-78 as sysexits.
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PARSE = 2
EXIT_USAGE = 64
EXIT_DATAERR = 65
EXIT_UNAVAILABLE = 69
EXIT_SOFTWARE = 70
EXIT_CANTCREAT = 73
EXIT_TEMPFAIL = 75
EXIT_NOPERM = 77
EXIT_CONFIG = 78


class NcctlError(Exception):
    """Base of every error ncctl reports to a user."""

    exit_code: int = EXIT_FAILED
    default_code: str = "failed"

    def __init__(self, message: str, *, hint: str = "", code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code or self.default_code

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "hint": self.hint}

    def detail_lines(self) -> list[str]:
        """Further lines shown under the error in text mode (a log tail, for example)."""
        return []


class UsageError(NcctlError):
    """A command-line argument has a value ncctl cannot use."""

    exit_code = EXIT_USAGE
    default_code = "usage"


class DataError(NcctlError):
    """Input data (a schedule, a holiday table, a file to upload) is malformed."""

    exit_code = EXIT_DATAERR
    default_code = "data.invalid"


class ConfigError(NcctlError):
    """The configuration file is missing, unreadable or invalid."""

    exit_code = EXIT_CONFIG
    default_code = "config.invalid"


class UnavailableError(NcctlError):
    """A service or component ncctl depends on is not available."""

    exit_code = EXIT_UNAVAILABLE
    default_code = "unavailable"


class CantCreateError(NcctlError):
    """An output file or directory cannot be created."""

    exit_code = EXIT_CANTCREAT
    default_code = "cant_create"


class TemporaryError(NcctlError):
    """A failure that is worth retrying later."""

    exit_code = EXIT_TEMPFAIL
    default_code = "temporary"


class PermissionDeniedError(NcctlError):
    """ncctl lacks the permission to do what was asked."""

    exit_code = EXIT_NOPERM
    default_code = "permission"


class RefusedError(NcctlError):
    """The action was refused (for example by the schedule) or failed; exit 1."""

    exit_code = EXIT_FAILED
    default_code = "refused"
