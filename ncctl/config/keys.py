"""Dotted key paths and values of a configuration document, and atomic edits of its file."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from ncctl.config.files import base_dir, read_document
from ncctl.errors import ConfigError, UsageError
from ncctl.floor import write_text_atomic


class Validate(Protocol):
    """Validates a whole document (relative paths from ``base``); ConfigError naming ``source``
    and the key when it is refused."""

    def __call__(
        self, doc: Mapping[str, Any], source: str, *, base: Path | None = None
    ) -> BaseModel: ...


def parse_key(key: str) -> list[str]:
    """Split a dotted key path, rejecting empty parts."""
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise UsageError(
            f"KEY {key!r} is not a dotted key path",
            hint="use a path such as schedule.display_tz or components.feed_handler.cwd",
        )
    return parts


def parse_value(text: str) -> Any:
    """A TOML value (``5``, ``true``, ``["a", "b"]``, ``"x"``); anything else is a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def with_value(doc: Mapping[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of ``doc`` with ``key`` (dotted) set to ``value``; tables are created."""
    parts = parse_key(key)
    new = copy.deepcopy(dict(doc))
    node: dict[str, Any] = new
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise UsageError(
                f"KEY {key!r}: {'.'.join(parts[: i + 1])} is a value, not a table",
                hint="set the value itself, or pick another key",
            )
        node = child
    node[parts[-1]] = value
    return new


def set_value(
    path: Path,
    key: str,
    text: str,
    validate: Validate,
    dry_run: bool = False,
    *,
    literal: bool = False,
) -> tuple[Any, Any]:
    """Set ``key`` to ``text`` in the file at ``path``, validating the result with ``validate``
    first; return (old, new).

    ``text`` is a TOML value (see :func:`parse_value`), or with ``literal`` the string itself.

    The file is replaced atomically: the new text is written beside it, flushed to disk and
    renamed over it, keeping its mode. Nothing is written when validation fails or when
    ``dry_run`` is set.
    """
    doc = read_document(path)
    value = text if literal else parse_value(text)
    new_doc = with_value(doc, key, value)
    try:
        validate(new_doc, f"{path} (after setting {key})", base=base_dir(path, ""))
    except ConfigError as err:
        err.hint = "nothing was written; give a value the key accepts (see docs/cli.md)"
        raise
    old = lookup(doc, key)
    if not dry_run:
        write_text_atomic(path, dumps(new_doc))
    return old, value


def lookup(doc: Mapping[str, Any], key: str) -> Any:
    """The value at a dotted key path, or None when it is not set."""
    node: Any = doc
    for part in parse_key(key):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def dumps(doc: Mapping[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps(dict(doc))
