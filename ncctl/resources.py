"""Where the data shipped with ncctl lives: ``schedules/`` and ``configs/``.

From a source checkout (or an editable install) they are the folders at the top of the
repository; in an installed wheel they are packaged under ``ncctl/_data/``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The shipped folder ``name`` (``schedules`` or ``configs``)."""
    packaged = _PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE.parent / name


def builtin_schedule(name: str) -> Path:
    """The shipped weekly template called ``name``."""
    return data_dir("schedules") / f"{name}.toml"


def builtin_holidays(name: str) -> Path:
    """The shipped holiday table called ``name`` (such as ``cme-2026``)."""
    return data_dir("schedules") / "holidays" / f"{name}.toml"


def builtin_config(env: str) -> Path:
    """The shipped configuration of environment ``env`` (dev, staging, prod)."""
    return data_dir("configs") / f"{env}.toml"


def builtin_envs() -> list[str]:
    """Names of the shipped environments."""
    return sorted(p.stem for p in data_dir("configs").glob("*.toml"))
