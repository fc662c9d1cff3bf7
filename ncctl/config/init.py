"""``ncctl config init``: a shipped configuration written as a project's own file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from ncctl.config.keys import Validate, dumps
from ncctl.errors import CantCreateError, UsageError
from ncctl.floor import write_text_atomic
from ncctl.resources import builtin_config, builtin_envs


def init_file(env: str, directory: Path, validate: Validate, force: bool = False) -> Path:
    """Write ``configs/ENV.toml`` under ``directory`` from the shipped configuration (see
    :func:`init_text`)."""
    if env not in builtin_envs():
        raise UsageError(
            f"--env {env!r} is not a shipped environment",
            hint=f"choose one of: {', '.join(builtin_envs())}",
        )
    target = directory / "configs" / f"{env}.toml"
    if target.exists() and not force:
        raise CantCreateError(
            f"{target}: already exists", hint="pass --force to overwrite it, or edit it in place"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CantCreateError(
            f"{target.parent}: cannot create: {exc.strerror}", hint="check permissions"
        ) from None
    write_text_atomic(target, init_text(env, directory, validate), mode=0o640)
    return target


def init_text(env: str, directory: Path, validate: Validate) -> str:
    """The shipped configuration ``env`` as ``config init --dir DIRECTORY`` writes it
    (``validate`` reads a document as the whole configuration).

    A file without relative paths (staging, prod) is copied as it is. The relative paths of
    the others (dev) are written absolute, taken from ``DIRECTORY/.ncctl`` (the project's
    state directory), so that they are right from wherever the file is read.
    """
    shipped = builtin_config(env)
    text = shipped.read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    base = directory.absolute() / ".ncctl"
    config = validate(doc, str(shipped), base=base)
    if config == validate(doc, str(shipped), base=base / "elsewhere"):
        return text
    header = (
        f"# ncctl {env} configuration, written by `ncctl config init` from the shipped file,\n"
        f"# with its paths made absolute: state in {str(base).replace(chr(10), ' ')}.\n"
    )
    return header + dumps(_plain(config.model_dump(exclude_unset=True)))


def _plain(value: Any) -> Any:
    """Model data as TOML can hold it: paths as text, secrets as their value."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value) if isinstance(value, Path) else value
