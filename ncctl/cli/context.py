"""What every command shares: the global options, the output options and the configuration,
loaded once. One :class:`CommandContext` per run: ``main`` makes it and hands it to Click
(``click.Context.obj``); the option callbacks fill in the output options and the root
callback the global options while the command line is parsed, and ``@command`` gives it to
the command. Nothing else in ``ncctl.cli`` keeps state between runs.

Loading the configuration also tells :func:`ncctl.floor.trust_service_user` the service
account (``systemd.user``): the floor's file checks run deep inside domain code that has no
context to be handed, and one process runs one command, so that one setting stays global."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from typer import _click as click

    from ncctl.appconfig.model import LoadedConfig
    from ncctl.clock import Clock
    from ncctl.schedule import ScheduleEngine


def _system_clock() -> Clock:
    from ncctl.clock import SystemClock

    return SystemClock()


@dataclass(frozen=True)
class GlobalOptions:
    """The options given before the command: ``--config``, ``--clock``, ``--speed``,
    ``--debug``."""

    config_path: Path | None = None
    clock_at: str | None = None
    speed: float = 1.0
    debug: bool = False


@dataclass
class OutputOptions:
    """How the command answers: ``-o/--output`` (or ``--json``), ``-q/--quiet``, ``--tz``;
    set by the option callbacks while the command line is parsed."""

    format: str = "table"
    quiet: bool = False
    tz: str | None = None

    @property
    def structured(self) -> bool:
        """One document (``-o json`` or ``-o yaml``), not text."""
        from ncctl.cli.output import STRUCTURED

        return self.format in STRUCTURED

    @property
    def wide(self) -> bool:
        """Text tables show every column in full (``-o wide``)."""
        return self.format == "wide"

    @property
    def shows_text(self) -> bool:
        """Text on stdout (neither one document nor ``--quiet``): progress may be shown."""
        return not self.structured and not self.quiet


@dataclass
class CommandContext:
    options: GlobalOptions = field(default_factory=GlobalOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    command: str = ""
    """The command path without ``ncctl`` (``schedule now``), set when the command runs."""
    legacy_output_dir: str | None = None
    """The directory of ``systemd units --output DIR`` (deprecated: ``--dir DIR``)."""
    share_clock: tuple[dt.datetime, float] | None = None
    """The start and speed of ``--clock``, shared with components this command starts."""
    _clock: Clock | None = field(default=None, repr=False)
    _loaded: LoadedConfig | None = field(default=None, repr=False)
    _engine: ScheduleEngine | None = field(default=None, repr=False)
    _display_tz: str | None = field(default=None, repr=False)
    _clock_file: Path | None = field(default=None, repr=False)
    context: dict[str, Any] | None = None
    """What a state-changing command acts with (config, state directory, clock): see
    :meth:`changing`."""

    @property
    def config_path(self) -> Path | None:
        return self.options.config_path

    @property
    def debug(self) -> bool:
        return self.options.debug

    @property
    def clock_at(self) -> str | None:
        return self.options.clock_at

    @property
    def clock_speed(self) -> float:
        return self.options.speed

    def config(self) -> LoadedConfig:
        if self._loaded is None:
            from ncctl.appconfig.load import load
            from ncctl.floor import trust_service_user
            from ncctl.journal.client import acting_for

            self._loaded = load(self.config_path)
            trust_service_user(self._loaded.config.systemd.user)
            acting_for(self._loaded.config.client)
        return self._loaded

    def clock_env(self) -> dict[str, str]:
        """The environment that lets components started by this command share its simulated
        clock: with ``--clock`` the clock is written to ``state_dir/run/clock.json``; with
        ``[clock] file`` that file is named. Empty on the machine's clock."""
        self.now()
        from ncctl.clock import CLOCK_FILE_ENV, SharedClock

        if self.share_clock is not None:
            path = (self.config().config.state_dir / "run" / "clock.json").absolute()
            SharedClock(path).set(self.now(), speed=self.share_clock[1], paused=False)
            return {CLOCK_FILE_ENV: str(path)}
        if isinstance(self._clock, SharedClock):
            return {CLOCK_FILE_ENV: str(self._clock.path.absolute())}
        return {}

    def now(self) -> dt.datetime:
        """The current time: the machine's, or the simulated clock of ``--clock``."""
        if self._clock is None:
            from ncctl.clock import clock_from_env

            shared = clock_from_env() if self.clock_at is None else None
            configured = None
            if shared is None and self.clock_at is None and self._loaded is not None:
                configured = self._loaded.config.clock.file  # no schedule needed (config set)
            elif shared is None and self.clock_at is None:
                self.engine()  # the configured clock comes with the (cached) schedule
                configured = self._clock_file
            if shared is not None:
                self._clock = shared
            elif configured is not None:
                from ncctl.clock import SharedClock

                self._clock = SharedClock(configured, source="clock.file")
            elif self.clock_at is None:
                self._clock = _system_clock()
            else:
                from ncctl.clock import SimulatedClock
                from ncctl.schedule.timeparse import parse_instant

                start = parse_instant(self.clock_at, self.engine().zone, "--clock")
                self._clock = SimulatedClock(start, self.clock_speed)
                self.share_clock = (start, self.clock_speed)
            if self.clock_at is not None or shared is not None or configured is not None:
                from ncctl.clock import run_on

                run_on(self._clock)  # whatever this command journals ran on it
        return self._clock.now()

    def clock(self) -> Clock:
        """The clock this command runs on (chosen on first use, as :meth:`now` does)."""
        self.now()
        assert self._clock is not None
        return self._clock

    def simulated(self) -> bool:
        """Whether this command runs on a simulated clock (``--clock``, ``[clock] file`` or
        ``$NCCTL_CLOCK_FILE``) rather than the machine's."""
        from ncctl.clock import SystemClock

        self.now()
        return not isinstance(self._clock, SystemClock)

    def clock_info(self) -> dict[str, Any]:
        """The clock this command runs on: ``{"kind": "real"}`` or ``{"kind": "simulated",
        "at", "speed", "source"}`` (see :func:`ncctl.clock.describe`)."""
        from ncctl.clock import describe

        self.now()
        assert self._clock is not None
        return describe(self._clock)

    def changing(
        self,
        force: bool = False,
        reason: str | None = None,
        *,
        action: str | None = None,
        simulated: bool = False,
        hint: str | None = None,
        tuning_root: Path | None = None,
    ) -> None:
        """Call before the command (or ``action``, when it names what changes) changes any
        state. A simulated clock (``--clock``, ``[clock] file``, ``$NCCTL_CLOCK_FILE``) is
        refused (exit 1, nothing changed) unless the configuration is a development one
        (:func:`ncctl.appconfig.development.is_development`) or ``--force --reason`` is given:
        then the journal records the override with the clock.
        Every journal line of the command records its clock; the configuration, its source,
        the state directory and the clock are said on stderr (text) or in ``data.context``
        (JSON). ``simulated``: the command runs a simulated clock of its own (the demo);
        ``hint``: instead of offering ``--force`` (a command that has none); ``tuning_root``:
        the root a ``tune`` command acts on instead of ``tuning.root`` (``--root``)."""
        from ncctl.appconfig.development import development_problem
        from ncctl.errors import RefusedError
        from ncctl.journal.runclock import forced
        from ncctl.override import check_force

        command = action or self.command
        check_force(force, reason, "a guard is overridden")
        loaded = self.config()
        clock = {"kind": "simulated", "source": command} if simulated else self.clock_info()
        override = None
        config = loaded.config
        if tuning_root is not None:
            tuning = config.tuning.model_copy(update={"root": tuning_root})
            config = config.model_copy(update={"tuning": tuning})
        problem = development_problem(config) if clock["kind"] == "simulated" else None
        if problem is not None:
            if hint is not None or not force:
                at = f"{str(clock['at'])[:19]}, " if "at" in clock else ""
                raise RefusedError(
                    f"{command} refused: a simulated clock ({at}from {clock['source']}) "
                    f"never changes real state, and {loaded.path} is not a development "
                    f"configuration: {problem}",
                    hint=hint
                    or "rehearse on a development configuration, or "
                    f"{_real_clock_hint(clock['source'])}; --force --reason TEXT acts on the "
                    "simulated clock all the same",
                    code="clock.simulated",
                )
            override = reason  # the journal says the simulated clock was forced, and why
        forced(override)
        self.context = {
            "config": str(loaded.path.absolute()),
            "source": loaded.source,
            "state_dir": str(loaded.config.state_dir.absolute()),
            "clock": clock,
        }

    def engine(self) -> ScheduleEngine:
        """The schedule engine of the configuration; from the validated-schedule cache when
        the configuration and its schedule files are unchanged since they were validated."""
        if self._engine is None:
            from ncctl.schedule import cache

            if self._loaded is None:
                from ncctl.config.files import resolve_path

                path, _ = resolve_path(self.config_path)
                hit = cache.load(path)
                if hit is not None:
                    self._engine, self._display_tz = hit.engine, hit.display_tz
                    self._clock_file = Path(hit.clock_file) if hit.clock_file else None
                    return self._engine
            from ncctl.schedule import load_engine

            loaded = self.config()
            sched = loaded.config.schedule
            files = [sched.template_path(), *sched.holiday_paths()]
            self._engine = load_engine(files[0], files[1:])
            self._display_tz = sched.display_tz
            self._clock_file = loaded.config.clock.file
            cache.store(loaded.path, sched.display_tz, files, self._engine, self._clock_file)
        return self._engine

    def display_zone(self, tz: str | None = None) -> ZoneInfo:
        """The zone times are shown in: ``tz``, else ``--tz``, else ``schedule.display_tz``."""
        from ncctl.schedule.timeparse import parse_zone

        tz = tz if tz is not None else self.output.tz
        if tz is not None:
            return parse_zone(tz)
        if self._display_tz is None:
            self._display_tz = self.config().config.schedule.display_tz
        return parse_zone(self._display_tz, "schedule.display_tz")


def _real_clock_hint(source: str) -> str:
    """How to act on the machine's clock instead of the simulated one from ``source``."""
    if source == "--clock":
        return "drop --clock to act on the machine's clock"
    if source == "clock.file":
        return "remove [clock] file from the configuration to act on the machine's clock"
    return f"unset {source.lstrip('$')} to act on the machine's clock"


def of(parsed: click.Context) -> CommandContext:
    """The context of this run, kept on ``click.Context.obj`` (``main`` hands one to Click;
    made here for an app run without it)."""
    return parsed.ensure_object(CommandContext)


def reset() -> None:
    """Forget what a previous run set in the core (``main`` may run many times in-process)."""
    for name, forget in (
        ("ncctl.clock", "run_on"),
        ("ncctl.journal.runclock", "forced"),
        ("ncctl.journal.client", "acting_for"),
    ):
        module = sys.modules.get(name)
        if module is not None:  # an earlier run in this process set it
            getattr(module, forget)(None)
