"""Relative paths of a configuration are taken from its base directory, in one place.

The base is the directory of the configuration file (the per-user state directory for the
embedded default: see :mod:`ncctl.config.files`). It travels in pydantic's validation context
(:func:`context`); every field that holds a path is typed with one of the annotations below, so
that validation itself makes it absolute. Without a context (a model built in code) paths stay
as they are written.

What counts as a path: every ``Path`` field, a log category's ``path``, a schedule template,
holiday table or tuning profile given as a ``.toml`` file, the directory of a ``file:``
destination URL, and the program of a component ``command`` when it is written with a ``/``.
The other arguments of a ``command`` (and ``env`` values) are passed as written: ncctl cannot
tell which of them are paths; ``{state_dir}`` in them stands for the absolute state directory
(see :func:`with_state_dir`).

This module imports nothing of ncctl's, so that every section can use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlsplit

from pydantic import AfterValidator, ValidationInfo

BASE_KEY = "ncctl_base"
STATE_DIR_PLACEHOLDER = "{state_dir}"


def context(base: Path) -> dict[str, Any]:
    """The validation context that takes relative paths from ``base`` (an absolute path)."""
    return {BASE_KEY: base}


def _base(info: ValidationInfo) -> Path | None:
    found = info.context.get(BASE_KEY) if isinstance(info.context, Mapping) else None
    return found if isinstance(found, Path) else None


def _from_base(value: Path, info: ValidationInfo) -> Path:
    base = _base(info)
    return value if base is None or value.is_absolute() else base / value


def _text_from_base(value: str, info: ValidationInfo) -> str:
    return str(_from_base(Path(value), info))


def _data_ref_from_base(value: str, info: ValidationInfo) -> str:
    """A schedule file given as a ``.toml`` path; any other value names a shipped file."""
    return _text_from_base(value, info) if value.endswith(".toml") else value


def _url_from_base(value: str, info: ValidationInfo) -> str:
    """A ``file:relative/dir`` URL as ``file:///base/relative/dir``; other URLs unchanged."""
    parts = urlsplit(value)
    path = unquote(parts.path)
    if parts.scheme != "file" or path.startswith("/") or _base(info) is None:
        return value
    return "file://" + quote(str(_from_base(Path(path), info)))


def _command_from_base(argv: list[str], info: ValidationInfo) -> list[str]:
    """A program written with a ``/`` (``bin/feed``) is a path; a bare name is looked up
    on ``PATH`` and every other argument is passed as written."""
    if argv and "/" in argv[0] and not argv[0].startswith("{"):
        return [_text_from_base(argv[0], info), *argv[1:]]
    return argv


ConfigPath = Annotated[Path, AfterValidator(_from_base)]
"""A path; relative, it is taken from the configuration's base directory."""
PathText = AfterValidator(_text_from_base)
"""For a ``str`` field that holds a path (a log category's live file)."""
DataRef = AfterValidator(_data_ref_from_base)
"""For a schedule or tuning profile reference: a ``.toml`` path, or a shipped file's name."""
UrlFromBase = AfterValidator(_url_from_base)
"""For a destination URL: the directory of a ``file:`` URL."""
CommandFromBase = AfterValidator(_command_from_base)
"""For a component ``command``: its program, when given as a path."""


def with_state_dir(argv: list[str], state_dir: Path) -> list[str]:
    """``argv`` with ``{state_dir}`` replaced by ``state_dir`` wherever it appears."""
    text = str(state_dir)
    return [arg.replace(STATE_DIR_PLACEHOLDER, text) for arg in argv]
