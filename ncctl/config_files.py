"""Which configuration file applies: the resolution order, without loading anything heavy.

``--config PATH`` > ``$NCCTL_CONFIG`` > ``configs/$NCCTL_ENV.toml`` in the current directory
(``NCCTL_ENV`` defaults to ``dev``) > ``/etc/ncctl/config.toml`` > the ``dev`` configuration
shipped with ncctl (the embedded default).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ncctl.errors import ConfigError
from ncctl.resources import builtin_config

ETC_CONFIG = Path("/etc/ncctl/config.toml")


def valid_env_name(name: str) -> bool:
    return bool(name) and all(c.isalnum() or c in "-_" for c in name) and len(name) <= 64


def resolve_path(
    explicit: Path | None, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> tuple[Path, str]:
    """Which configuration file to use and why (``--config``, ``$NCCTL_CONFIG``, ...)."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    if explicit is not None:
        return explicit, "--config"
    if env.get("NCCTL_CONFIG"):
        return Path(env["NCCTL_CONFIG"]), "$NCCTL_CONFIG"
    name = env.get("NCCTL_ENV") or "dev"
    if not valid_env_name(name):
        raise ConfigError(
            f"$NCCTL_ENV: {name!r} is not an environment name",
            hint="use letters, digits, '-' or '_', such as dev, staging or prod",
        )
    local = cwd / "configs" / f"{name}.toml"
    if os.path.lexists(local):  # whatever is there: reading it names what is wrong
        return local, f"configs/{name}.toml"
    if env.get("NCCTL_ENV"):
        raise ConfigError(
            f"{local}: configuration file not found for NCCTL_ENV={name}",
            hint=f"run `ncctl config init --env {name}` or unset NCCTL_ENV",
        )
    if os.path.lexists(ETC_CONFIG):
        return ETC_CONFIG, str(ETC_CONFIG)
    return builtin_config("dev"), "embedded"
