"""Which configuration file applies, and where its relative paths are taken from.

Resolution order (first found wins): ``--config PATH`` > ``$NCCTL_CONFIG`` >
``/etc/ncctl/config.toml`` > ``configs/$NCCTL_ENV.toml`` in the current directory, only when
``NCCTL_ENV`` is set (a missing file is then an error) > the ``dev`` configuration shipped with
ncctl (the embedded default).

Relative paths in a file are taken from the file's directory; those of the embedded default
from the per-user state directory, ``$XDG_STATE_HOME/ncctl`` (``~/.local/state/ncctl``), so
that ncctl sees the same state from every directory.

:func:`read_document` reads a configuration file as a TOML document (validating it is
:mod:`ncctl.appconfig.load`'s job).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ncctl.errors import ConfigError
from ncctl.resources import builtin_config
from ncctl.validation import read_toml

ETC_CONFIG = Path("/etc/ncctl/config.toml")
EMBEDDED = "embedded"


def valid_env_name(name: str) -> bool:
    return bool(name) and all(c.isalnum() or c in "-_" for c in name) and len(name) <= 64


def resolve_path(
    explicit: Path | None, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> tuple[Path, str]:
    """Which configuration file to use and why (``--config``, ``$NCCTL_CONFIG``, ...)."""
    env = os.environ if env is None else env
    if explicit is not None:
        return explicit, "--config"
    if env.get("NCCTL_CONFIG"):
        return Path(env["NCCTL_CONFIG"]), "$NCCTL_CONFIG"
    if os.path.lexists(ETC_CONFIG):  # whatever is there: reading it names what is wrong
        return ETC_CONFIG, str(ETC_CONFIG)
    name = env.get("NCCTL_ENV")
    if name:
        if not valid_env_name(name):
            raise ConfigError(
                f"$NCCTL_ENV: {name!r} is not an environment name",
                hint="use letters, digits, '-' or '_', such as dev, staging or prod",
            )
        local = (Path.cwd() if cwd is None else cwd) / "configs" / f"{name}.toml"
        if not os.path.lexists(local):
            raise ConfigError(
                f"{local}: configuration file not found for NCCTL_ENV={name}",
                hint=f"run `ncctl config init --env {name}` here, or unset NCCTL_ENV",
            )
        return local, f"configs/{name}.toml"
    return builtin_config("dev"), EMBEDDED


def is_embedded_file(path: Path) -> bool:
    """Whether ``path`` is the embedded default itself, however it was named."""
    try:
        return path.samefile(builtin_config("dev"))
    except OSError:
        return False


NO_STATE_HOME = Path("/nonexistent/ncctl")
"""The state directory of the embedded default for an account without a home directory:
commands that only read work; those that would write there are refused (see
:func:`no_state_home`)."""


def state_home(env: Mapping[str, str] | None = None) -> Path:
    """The per-user state directory of the embedded default: ``$XDG_STATE_HOME/ncctl``, or
    ``~/.local/state/ncctl`` when that variable is unset or not an absolute path
    (:data:`NO_STATE_HOME` without a home directory)."""
    env = os.environ if env is None else env
    xdg = env.get("XDG_STATE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "ncctl"
    home = env.get("HOME", "")
    if not home:
        try:
            home = str(Path.home())
        except (RuntimeError, KeyError):
            home = ""
    if not home or not Path(home).is_absolute():
        return NO_STATE_HOME
    return Path(home) / ".local" / "state" / "ncctl"


def no_state_home() -> ConfigError:
    """Why a command cannot change the state of the embedded default without a home."""
    return ConfigError(
        "the embedded default configuration keeps its state in $XDG_STATE_HOME/ncctl or "
        "~/.local/state/ncctl, but neither is set for this account",
        hint="set XDG_STATE_HOME (or HOME) to an absolute directory, or pass --config FILE",
        code="config.no_state_home",
    )


def base_dir(path: Path, source: str) -> Path:
    """Where the relative paths of the file at ``path`` are taken from: its directory, or the
    per-user state directory for the embedded default."""
    if source == EMBEDDED or is_embedded_file(path):
        return state_home()
    return path.absolute().parent


def read_document(path: Path, missing_hint: str = "check the path") -> dict[str, Any]:
    """The configuration file at ``path`` as a TOML document; ConfigError naming the file
    when it cannot be read (``missing_hint`` when it does not exist) or is not TOML."""
    return read_toml(path, ConfigError, "configuration file", missing_hint)
