"""Loading the configuration: resolve which file applies, read and validate it.

Resolution order (first found wins): ``--config PATH`` > ``$NCCTL_CONFIG`` >
``/etc/ncctl/config.toml`` > ``configs/$NCCTL_ENV.toml`` in the current directory, only when
``NCCTL_ENV`` is set > the ``dev`` configuration shipped with ncctl (the embedded default:
simulators, local directories, state in ``$XDG_STATE_HOME/ncctl``, by default
``~/.local/state/ncctl``). See :mod:`ncctl.config.files`.

Relative paths inside a configuration file are taken from the file's directory (those of the
embedded default from its state directory), never from the current directory: see
:mod:`ncctl.config.paths`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ncctl.appconfig.model import LoadedConfig, NcctlConfig
from ncctl.config.files import NO_STATE_HOME, base_dir, no_state_home, read_document, resolve_path
from ncctl.config.paths import context
from ncctl.errors import ConfigError
from ncctl.validation import describe_validation_error


def validate_document(
    doc: Mapping[str, Any], source: str, *, base: Path | None = None
) -> NcctlConfig:
    """Validate a parsed document, relative paths taken from ``base`` (kept relative when
    None); a failure names ``source`` and the key path (exit 78)."""
    try:
        config = NcctlConfig.model_validate(doc, context=None if base is None else context(base))
    except ValidationError as exc:
        raise ConfigError(
            describe_validation_error(source, exc),
            hint="fix the key named, then run `ncctl config validate`",
        ) from None
    problem = config.cross_reference_problem()
    if problem is not None:
        raise ConfigError(
            f"{source}: {problem[0]}: {problem[1]}",
            hint="add the destination or fix the name, then run `ncctl config validate`",
        )
    return config


def load_file(path: Path, source: str = "") -> tuple[NcctlConfig, dict[str, Any]]:
    """Read and validate one configuration file (``source`` says where its name came from);
    its relative paths are taken from its directory (see :func:`base_dir`)."""
    missing = "pass an existing file with --config, or run `ncctl config init --env dev`"
    if source == "$NCCTL_CONFIG":
        missing = "fix or unset $NCCTL_CONFIG"
    elif source == "FILE argument":
        missing = "check the FILE argument"
    doc = read_document(path, missing)
    if not doc:  # a truncated file must not quietly become the defaults
        raise ConfigError(
            f"{path}: configuration file is empty (no settings at all)",
            hint="restore it, or write one with `ncctl config init --env ENV`",
            code="config.empty",
        )
    return validate_document(doc, str(path), base=base_dir(path, source)), doc


def load(explicit: Path | None = None) -> LoadedConfig:
    """Resolve, read and validate the configuration (key files from systemd's credentials
    directory when it holds them: see :mod:`ncctl.appconfig.credentials`)."""
    from ncctl import floor
    from ncctl.appconfig.credentials import with_credentials

    path, source = resolve_path(explicit)
    config, doc = load_file(path, source)
    loaded = LoadedConfig(with_credentials(config), path, source, doc, base_dir(path, source))
    if loaded.embedded:  # the per-user state directory: 0700 when created
        refused = no_state_home() if loaded.base == NO_STATE_HOME else None
        floor.private_state(loaded.base, refused)
        _check_state_home(loaded.base)
    return loaded


def _check_state_home(base: Path) -> None:
    """Refuse a per-user state directory that is a link or a file, or that is shared, or that
    cannot be made because its parent is not a directory (ConfigError names the variable)."""
    from ncctl import floor

    hint = "point $XDG_STATE_HOME (or $HOME) at a directory of yours"
    try:
        if os.path.lexists(base):
            floor.check_dir(base, "state directory ($XDG_STATE_HOME/ncctl)")
        elif os.path.lexists(base.parent) and not base.parent.is_dir():
            raise ConfigError(
                f"{base.parent}: not a directory, so the state directory {base} cannot be made",
                hint=hint,
            )
    except OSError as exc:
        message = f"{base}: cannot read the state directory: {exc.strerror}"
        raise ConfigError(message, hint=hint) from None
