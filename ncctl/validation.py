"""Turn pydantic validation failures into one-line errors naming the file and the key path."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncctl.errors import NcctlError

if TYPE_CHECKING:
    from pydantic import ValidationError


def key_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location as a dotted TOML key path: ``components.feed_handler.cwd``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


def describe_errors(exc: ValidationError) -> list[tuple[tuple[int | str, ...], str]]:
    """Every error as (location without pydantic's union members, problem in words)."""
    described = []
    for error in exc.errors(include_url=False):
        loc = tuple(p for p in error["loc"] if not _is_union_tag(p))
        msg = str(error["msg"])
        if error["type"] == "extra_forbidden":
            msg = "unknown key"
        elif error["type"] == "missing":
            msg = "required key is missing"
        described.append((loc, msg))
    return described


def describe_validation_error(source: str, exc: ValidationError) -> str:
    """One line: ``FILE: KEY: problem`` for the first error, and how many more there are."""
    errors = describe_errors(exc)
    loc, msg = errors[0]
    line = f"{source}: {key_path(loc)}: {msg}"
    if len(errors) > 1:
        line += f" (and {len(errors) - 1} more)"
    return line


def _is_union_tag(part: int | str) -> bool:
    # pydantic adds the chosen union member (e.g. "function-after[...]") to locations
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


TOML_LIMIT = 4 * 1024 * 1024
"""The largest configuration or schedule file ncctl reads (far above any real one)."""


def read_toml(
    path: Path, error: type[NcctlError], what: str, missing_hint: str = "check the path"
) -> dict[str, Any]:
    """Read a TOML file, raising ``error`` with the file, line and a hint on any failure: a
    link, FIFO, device or directory is refused and at most TOML_LIMIT bytes are read."""
    import tomllib  # here, not above: `ncctl schedule now` needs only TOML_LIMIT

    from ncctl.small_files import read_capped

    raw = read_capped(path, what=what, limit=TOML_LIMIT, error=error, missing_hint=missing_hint)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: {what} is not UTF-8 text (byte {exc.start})",
            hint="save the file as UTF-8",
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(
            f"{path}: malformed TOML: {exc}", hint="fix the TOML syntax at the line shown"
        ) from None
    except RecursionError:
        raise error(
            f"{path}: malformed TOML: arrays or tables nested too deeply",
            hint="flatten the nesting",
        ) from None
