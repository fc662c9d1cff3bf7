"""systemd unit files for ncctl and its components, generated from the configuration.

Generation is pure (configuration and paths in, file texts out); :func:`write_units` is the only
function that touches the disk. The units:

* ``ncctl-feed-handler.service`` and ``ncctl-order-session.service`` (or the names in
  ``components.NAME.unit``): the components, started and stopped by ncctl on the schedule, so
  they have no ``[Install]`` section. A component without ``command`` gets no unit: ncctl then
  drives a unit installed by other means (the vendor's package, for instance);
* ``ncctl-scheduler.service``: the schedule engine (``ncctl scheduler run``), ``Type=notify``
  with a watchdog;
* ``ncctl-maintenance.service`` and ``ncctl-maintenance.timer``: ``ncctl maintenance run``
  every minute, one missed run caught up after downtime;
* ``ncctl-tune.service``: ``ncctl tune host``, oneshot, as root.

Every unit is sandboxed as :mod:`ncctl.components.sandbox` decides; the scheduler's
``WatchdogSec=`` is ``[systemd] watchdog_intervals`` reconcile intervals. The units run in the
state directory, or in ``base`` when the configuration has relative paths (they are taken from
the working directory).

Quoting follows systemd.syntax(7) and systemd.service(5): every ``%`` is written ``%%``
(specifiers), every ``$`` of an argument ``$$`` (variable expansion; the executable path itself
is never expanded), and a word with a space, a quote or a backslash is written in double quotes
with C escapes.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ncctl.appconfig.model import NcctlConfig
from ncctl.components import sandbox
from ncctl.components.base import COMPONENTS
from ncctl.components.process import PYTHON_PLACEHOLDER
from ncctl.components.section import ComponentConfig
from ncctl.errors import CantCreateError, ConfigError, UnavailableError
from ncctl.floor import write_text_atomic

DEFAULT_UNITS = {
    "feed_handler": "ncctl-feed-handler.service",
    "order_session": "ncctl-order-session.service",
}
SCHEDULER_UNIT = "ncctl-scheduler.service"
MAINTENANCE_UNIT = "ncctl-maintenance.service"
MAINTENANCE_TIMER = "ncctl-maintenance.timer"
TUNE_UNIT = "ncctl-tune.service"
DESCRIPTIONS = {
    "feed_handler": "ncctl feed handler (CME market data)",
    "order_session": "ncctl iLink 3 order-entry session",
}
UNIT_FILE_MODE = 0o644

_UNIT_NAME = re.compile(r"[A-Za-z0-9:_.\-]+\.service")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}

Which = Callable[[str], str | None]


@dataclass(frozen=True)
class UnitFile:
    """One unit file and whether it was (or, in a dry run, would be) written."""

    name: str
    path: Path
    changed: bool

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "changed": self.changed}


# -- names ----------------------------------------------------------------------------------


def component_unit(name: str, config: ComponentConfig) -> str:
    """The systemd unit of component ``name``: ``components.NAME.unit`` or ncctl's default."""
    unit = config.unit or DEFAULT_UNITS.get(name) or f"ncctl-{name.replace('_', '-')}.service"
    if "." not in unit:
        unit += ".service"
    if not _UNIT_NAME.fullmatch(unit):
        raise ConfigError(
            f"components.{name}.unit: {unit!r} is not a service unit name",
            hint="use a name such as ncctl-feed-handler.service (letters, digits, ':', '-', "
            "'_', '.')",
        )
    return unit


# -- quoting ----------------------------------------------------------------------------


def _escape(text: str, *, dollar: bool) -> tuple[str, bool]:
    """``text`` with systemd escapes, and whether it must be double-quoted."""
    out: list[str] = []
    needs_quotes = text in ("", ";")
    for ch in text:
        if ch in _C_ESCAPES:
            out.append(_C_ESCAPES[ch])
            needs_quotes = True
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
            needs_quotes = True
        elif ch == "%":
            out.append("%%")
        elif ch == "$" and dollar:
            out.append("$$")
        else:
            if ch.isspace() or ch == "'":
                needs_quotes = True
            out.append(ch)
    return "".join(out), needs_quotes


def quote_exec_arg(arg: str, *, executable: bool = False) -> str:
    """One word of an ``ExecStart=`` line, as systemd will read it back to ``arg``.

    ``executable`` marks the first word, the program path: systemd expands specifiers in it
    but never variables, so its ``$`` stays as it is.
    """
    escaped, needs_quotes = _escape(arg, dollar=not executable)
    return f'"{escaped}"' if needs_quotes else escaped


def exec_line(argv: list[str]) -> str:
    """The value of ``ExecStart=`` that runs ``argv`` (no shell, no variable expansion)."""
    if not argv:
        raise ValueError("empty argv")
    first, *rest = argv
    return " ".join([quote_exec_arg(first, executable=True), *(quote_exec_arg(a) for a in rest)])


def environment_line(key: str, value: str) -> str:
    """The value of one ``Environment=`` assignment (specifiers escaped, no expansion)."""
    escaped, _ = _escape(f"{key}={value}", dollar=False)
    return f'"{escaped}"'


def path_value(path: Path, key: str = "WorkingDirectory") -> str:
    """A path as the value of a path setting (``WorkingDirectory=``): specifiers escaped."""
    return _checked(path, key).replace("%", "%%")


def _duration(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


# -- generation -----------------------------------------------------------------------------


def _absolute(path: Path, base: Path) -> Path:
    return path if path.is_absolute() else base / path


def component_argv(
    name: str, config: ComponentConfig, workdir: Path, python: str, which: Which
) -> list[str]:
    """The component's command with ``{python}`` resolved and an absolute program path."""
    argv = [python if a == PYTHON_PLACEHOLDER else a for a in config.command]
    exe = argv[0]
    if "/" in exe:
        exe = str(_absolute(Path(exe), _absolute(config.cwd or Path(), workdir)))
    else:
        found = which(exe)
        if not found:
            raise UnavailableError(
                f"components.{name}.command: {exe!r} is not an executable on PATH",
                hint="install it, or give its full path in the configuration",
                code="component.no_command",
            )
        exe = str(Path(found).absolute())
    return [exe, *argv[1:]]


def _header(config_path: Path) -> str:
    where = str(config_path).replace("\n", "\\n")
    return (
        f"# Generated by ncctl from {where}.\n"
        "# Do not edit: change the configuration and run `ncctl systemd units` again.\n"
    )


def _checked(path: Path, key: str) -> str:
    """``path`` as systemd takes it: no control character, no ``..`` (not normalized)."""
    text = str(path)
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise ConfigError(
            f"{key}: {text!r} contains a control character, which no unit file can hold",
            hint="rename the file or directory without control characters",
        )
    if ".." in path.parts:
        raise ConfigError(
            f"{key}: {text!r} contains '..', which systemd refuses in a path setting",
            hint="write the path in the configuration without '..'",
        )
    return text


def path_word(path: Path, key: str, *, optional: bool = False) -> str:
    """One path of a path-list setting (``ReadWritePaths=``), ``-``-prefixed when
    ``optional`` (a missing directory is then skipped), quoted when needed."""
    text = ("-" if optional else "") + _checked(path, key)
    escaped = text.replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"')
    plain = escaped == text.replace("%", "%%") and not any(c.isspace() for c in text)
    return escaped if plain and "'" not in text else f'"{escaped}"'


def _sandbox(
    settings: tuple[str, ...],
    writable: list[Path],
    *,
    optional: tuple[Path, ...] = (),
    credentials: Sequence[tuple[str, Path]] = (),
) -> list[str]:
    lines = [*sandbox.COMMON, *settings]
    lines += [f"ReadWritePaths={path_word(p, 'ReadWritePaths')}" for p in writable]
    lines += [f"ReadWritePaths={path_word(p, 'ReadWritePaths', optional=True)}" for p in optional]
    for name, path in credentials:
        lines.append(f"LoadCredential={name}:{path_value(path, name)}")
    return lines


@dataclass(frozen=True)
class Layout:
    """What every unit of one configuration shares: where it runs and as whom."""

    base: Path
    workdir: Path
    user: str
    group: str
    header: str


def _component_text(
    name: str,
    comp: ComponentConfig,
    config: NcctlConfig,
    layout: Layout,
    *,
    python: str,
    which: Which,
) -> str:
    argv = component_argv(name, comp, layout.base, python, which)
    cwd = _absolute(comp.cwd, layout.base) if comp.cwd else layout.workdir
    lines = [
        layout.header,
        "[Unit]",
        f"Description={DESCRIPTIONS.get(name, 'ncctl component ' + name)}",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={exec_line(argv)}",
        f"WorkingDirectory={path_value(cwd)}",
    ]
    for key, value in comp.env.items():
        if not _ENV_NAME.fullmatch(key):
            raise ConfigError(
                f"components.{name}.env: {key!r} is not an environment variable name",
                hint="use letters, digits and '_', not starting with a digit",
            )
        lines.append(f"Environment={environment_line(key, value)}")
    lines += [
        "Restart=on-failure",
        "KillSignal=SIGTERM",
        f"TimeoutStopSec={_duration(comp.stop_timeout_s)}",
        f"User={layout.user}",
        f"Group={layout.group}",
        *_sandbox(
            sandbox.COMPONENT,
            sandbox.minimal([cwd, *sandbox.component_writable(comp, config, layout.base)]),
        ),
    ]
    return _join(*lines)


def watchdog_seconds(config: NcctlConfig) -> float:
    """``WatchdogSec=`` of the scheduler: ``[systemd] watchdog_intervals`` reconcile intervals
    (the daemon feeds the watchdog when a pass ends, so a pass that takes longer is hung)."""
    return config.runner.reconcile_interval_s * config.systemd.watchdog_intervals


def layout_of(config: NcctlConfig, base: Path, config_path: Path) -> Layout:
    """Where the units run: the state directory, unless the configuration has relative paths
    (they are taken from the working directory, so the units then run in ``base``)."""
    workdir = base if sandbox.relative_settings(config) else _absolute(config.state_dir, base)
    return Layout(base, workdir, config.systemd.user, config.systemd.group, _header(config_path))


def generate_units(
    config: NcctlConfig,
    *,
    ncctl: Path,
    base: Path,
    config_path: Path,
    python: str = sys.executable,
    which: Which = shutil.which,
) -> dict[str, str]:
    """Unit file name -> text for ``config``.

    ``ncctl`` is the ncctl executable the scheduler, maintenance and tuning units run,
    ``base`` the directory relative paths of the configuration are taken from, and
    ``config_path`` the configuration file they pass with ``--config``. All three must be
    absolute. ``python`` replaces ``{python}`` in component commands and ``which`` finds a
    program named without a path, so that every ``ExecStart=`` names an absolute path.
    """
    for label, path in (("ncctl", ncctl), ("base", base), ("config_path", config_path)):
        if not path.is_absolute():
            raise ValueError(f"{label} must be an absolute path, not {path}")
    layout = layout_of(config, base, config_path)
    texts: dict[str, str] = {}
    for name in COMPONENTS:
        comp: ComponentConfig = getattr(config.components, name)
        if not comp.command:
            continue
        texts[component_unit(name, comp)] = _component_text(
            name, comp, config, layout, python=python, which=which
        )
    base_argv = [str(ncctl), "--config", str(config_path)]
    network = ["Wants=network-online.target", "After=network-online.target"]
    cpus, _ = sandbox.housekeeping_cpus(config, base)
    affinity = [f"CPUAffinity={cpus}"] if cpus else []
    own = [
        f"User={layout.user}",
        f"Group={layout.group}",
        *affinity,
        *_sandbox(
            sandbox.NCCTL,
            sandbox.ncctl_writable(config, base),
            credentials=sandbox.credentials(config, base),
        ),
    ]
    texts[SCHEDULER_UNIT] = _join(
        layout.header,
        "[Unit]",
        "Description=ncctl schedule engine (starts and stops components on the CME schedule)",
        *network,
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        f"WatchdogSec={_duration(watchdog_seconds(config))}",
        f"ExecStart={exec_line([*base_argv, 'scheduler', 'run'])}",
        f"WorkingDirectory={path_value(layout.workdir)}",
        "Restart=on-failure",
        *own,
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    )
    texts[MAINTENANCE_UNIT] = _join(
        layout.header,
        "[Unit]",
        "Description=ncctl maintenance run (rotation, upload, maintenance window)",
        *network,
        "",
        "[Service]",
        "Type=oneshot",
        f"ExecStart={exec_line([*base_argv, 'maintenance', 'run'])}",
        f"WorkingDirectory={path_value(layout.workdir)}",
        *own,
    )
    texts[MAINTENANCE_TIMER] = _join(
        layout.header,
        "[Unit]",
        "Description=ncctl maintenance run, every minute",
        "",
        "[Timer]",
        "OnCalendar=*-*-* *:*:00",
        "AccuracySec=1s",
        "Persistent=true",
        f"Unit={MAINTENANCE_UNIT}",
        "",
        "[Install]",
        "WantedBy=timers.target",
    )
    required, optional = sandbox.tune_writable(config, base)
    texts[TUNE_UNIT] = _join(
        layout.header,
        "[Unit]",
        "Description=ncctl host tuning (kernel settings, IRQs, boot parameters)",
        f"Before={SCHEDULER_UNIT}",
        "",
        "[Service]",
        "Type=oneshot",
        f"ExecStart={exec_line([*base_argv, 'tune', 'host'])}",
        f"WorkingDirectory={path_value(layout.workdir)}",
        "# exit 3: applied, boot parameters staged for the next reboot",
        "SuccessExitStatus=3",
        *affinity,
        *_sandbox(sandbox.TUNE, required, optional=tuple(optional)),
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    )
    return texts


def _join(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def generation_notes(
    config: NcctlConfig, *, ncctl: Path, base: Path, config_path: Path
) -> list[str]:
    """What an operator should know about the generated set: skipped or unused units, and
    what the sandbox of ncctl's own units would keep from working on this host."""
    notes: list[str] = []
    for name in COMPONENTS:
        comp: ComponentConfig = getattr(config.components, name)
        unit = component_unit(name, comp)
        if not comp.command:
            notes.append(
                f"components.{name} has no command: no {unit} generated; ncctl drives the "
                f"{unit} installed on this host"
            )
        elif comp.backend != "systemd":
            notes.append(
                f'components.{name}.backend is "{comp.backend}": ncctl will not use {unit} '
                'until it is set to "systemd"'
            )
    relative = sandbox.relative_settings(config)
    if relative:
        notes.append(
            f"relative paths in the configuration ({', '.join(relative)}): the units run in "
            f"{base}, not in the state directory; make them absolute for a host"
        )
    writable = sandbox.ncctl_writable(config, base)
    user, group = config.systemd.user, config.systemd.group
    for path in writable:
        if not path.is_dir():
            notes.append(
                f"{path} does not exist: {SCHEDULER_UNIT} will not start until it does "
                f"(install -d -o {user} -g {group} -m 0750 {path})"
            )
    longest, watchdog = sandbox.longest_pass(config), watchdog_seconds(config)
    if longest >= watchdog:
        notes.append(
            f"a reconcile pass that waits for the runner lock and stops and starts both "
            f"components may take {longest:g} s, not less than WatchdogSec={watchdog:g}s: raise "
            "systemd.watchdog_intervals, or the watchdog restarts the scheduler in such a pass"
        )
    _, problem = sandbox.housekeeping_cpus(config, base)
    if problem:
        notes.append(f"no CPUAffinity= for ncctl's units: {problem}")
    known = [d.known_hosts for d in config.destinations.values() if d.known_hosts is not None]
    for path in [ncctl, config_path, *writable, *known]:
        setting = sandbox.hidden_by_sandbox(_absolute(path, base))
        if setting is not None:
            notes.append(f"{path} is hidden from ncctl's units by {setting}: move it")
    return notes


def ncctl_executable() -> Path:
    """The ``ncctl`` script of this installation (beside this Python, else on PATH)."""
    beside = Path(sys.executable).absolute().parent / "ncctl"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("ncctl")
    if found:
        return Path(found).absolute()
    raise UnavailableError(
        f"the ncctl executable is neither beside {sys.executable} nor on PATH",
        hint="install ncctl (pip install .) so that its `ncctl` script exists",
        code="systemd.no_ncctl",
    )


# -- writing ----------------------------------------------------------------------------


def write_units(texts: Mapping[str, str], directory: Path, dry_run: bool) -> list[UnitFile]:
    """Write each unit whose text differs from the file on disk (atomically: temp + rename).

    Unchanged files are left alone and reported with ``changed=False``; a dry run writes
    nothing and reports what it would change.
    """
    if not dry_run:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CantCreateError(
                f"{directory}: cannot create the directory: {exc.strerror}",
                hint="pick another --output directory, or check its permissions",
            ) from None
    results: list[UnitFile] = []
    for name, text in texts.items():
        path = directory / name
        try:
            current: str | None = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            current = None
        changed = current != text
        if changed and not dry_run:
            write_text_atomic(path, text, mode=UNIT_FILE_MODE)
        results.append(UnitFile(name, path, changed))
    return results
