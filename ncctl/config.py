"""Configuration: pydantic models of the whole file, TOML loading and atomic writing.

Resolution order (first found wins): ``--config PATH`` > ``$NCCTL_CONFIG`` >
``/etc/ncctl/config.toml`` > ``configs/$NCCTL_ENV.toml`` in the current directory, only when
``NCCTL_ENV`` is set > the ``dev`` configuration shipped with ncctl (the embedded default:
simulators, local directories, state in ``$XDG_STATE_HOME/ncctl``, by default
``~/.local/state/ncctl``). See :mod:`ncctl.config_files`.

Relative paths inside a configuration file are taken from the file's directory (those of the
embedded default from its state directory), never from the current directory: see
:mod:`ncctl.config_paths`.
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ncctl.addresses import is_loopback
from ncctl.config_files import (
    EMBEDDED,
    ETC_CONFIG,
    NO_STATE_HOME,
    base_dir,
    is_embedded_file,
    no_state_home,
    resolve_path,
)
from ncctl.config_paths import (
    CommandFromBase,
    ConfigPath,
    DataRef,
    PathText,
    UrlFromBase,
    context,
    with_state_dir,
)
from ncctl.errors import CantCreateError, ConfigError, UsageError
from ncctl.floor import write_text_atomic
from ncctl.ilink.settings import IlinkConfig, PartyDetailsList
from ncctl.preflight.settings import PreflightConfig
from ncctl.resources import builtin_config, builtin_envs, builtin_holidays, builtin_schedule

__all__ = ["ETC_CONFIG", "resolve_path"]
from ncctl.validation import describe_validation_error, read_toml

MASK = "********"


def _check_tz(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_tz)]
NonEmpty = Annotated[str, Field(min_length=1)]
Port = Annotated[int, Field(ge=1, le=65535)]


def _check_file_ref(value: str) -> str:
    if any(ord(c) < 32 for c in value):
        raise ValueError("must not contain control characters")
    return value


FileRef = Annotated[str, Field(min_length=1), AfterValidator(_check_file_ref)]
ScheduleRef = Annotated[FileRef, DataRef]


class Section(BaseModel):
    """Every section rejects unknown keys so that a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", validate_default=True, defer_build=True)


class ScheduleConfig(Section):
    """Which weekly template and holiday tables drive the schedule, and the display zone.

    A value ending in ``.toml`` is a path (relative: from the configuration file's directory);
    any other value names a file shipped with ncctl
    (``cme-globex`` is ``schedules/cme-globex.toml``, ``cme-2026`` is
    ``schedules/holidays/cme-2026.toml``).
    """

    template: ScheduleRef = "cme-globex"
    holidays: list[ScheduleRef] = Field(default_factory=lambda: ["cme-2026", "cme-2027"])
    display_tz: TimeZoneName = "America/Chicago"

    @field_validator("holidays")
    @classmethod
    def _once_each(cls, holidays: list[str]) -> list[str]:
        if len(set(holidays)) != len(holidays):
            raise ValueError("a holiday table is listed twice")
        return holidays

    def template_path(self) -> Path:
        return _resolve_data(self.template, builtin_schedule)

    def holiday_paths(self) -> list[Path]:
        return [_resolve_data(h, builtin_holidays) for h in self.holidays]


def _resolve_data(value: str, builtin: Any) -> Path:
    if value.endswith(".toml"):
        return Path(value)
    path: Path = builtin(value)
    return path


class ReadyCheck(Section):
    """How ncctl knows a started component is ready."""

    kind: Literal["status_file", "tcp_port", "file"]
    path: ConfigPath | None = None
    port: Port | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=600)

    @model_validator(mode="after")
    def _target(self) -> ReadyCheck:
        if self.kind == "tcp_port" and self.port is None:
            raise ValueError("a tcp_port check needs port")
        if self.kind in ("status_file", "file") and self.path is None:
            raise ValueError(f"a {self.kind} check needs path")
        return self


class ComponentConfig(Section):
    """A component run as a child process (containers) or as a systemd unit (hosts).

    In ``command``, ``{python}`` stands for ncctl's interpreter and ``{state_dir}`` (also in
    ``env`` values) for the absolute state directory; a program written with a ``/`` is a
    path like any other.
    """

    backend: Literal["process", "systemd"] = "process"
    command: Annotated[list[NonEmpty], CommandFromBase] = Field(default_factory=list)
    cwd: ConfigPath | None = None
    env: dict[str, str] = Field(default_factory=dict)
    log_file: ConfigPath | None = None
    stop_timeout_s: float = Field(default=10.0, gt=0, le=600)
    ready: ReadyCheck | None = None
    unit: NonEmpty | None = None

    @model_validator(mode="after")
    def _backend_fields(self) -> ComponentConfig:
        if self.backend == "process" and not self.command:
            raise ValueError("the process backend needs command (an argv list)")
        if self.backend == "systemd" and not self.unit:
            raise ValueError("the systemd backend needs unit")
        return self


def _default_feed() -> ComponentConfig:
    return ComponentConfig(command=["python3", "-m", "ncctl.sim.feed_handler"])


def _default_order() -> ComponentConfig:
    return ComponentConfig(command=["python3", "-m", "ncctl.sim.order_session"])


class ComponentsConfig(Section):
    feed_handler: ComponentConfig = Field(default_factory=_default_feed)
    order_session: ComponentConfig = Field(default_factory=_default_order)


COMPONENT_NAMES = ("feed_handler", "order_session")


class LogCategory(Section):
    """A kind of file rotated every trading day and uploaded: audit trail, trade log, ION.

    ``mode = "rename"`` renames the live file and has the writer reopen it: nothing is lost.
    It needs to know how the writer reopens: ``owner`` names the component ncctl sends SIGHUP
    (``reopen = "signal"``, the default with an owner), or ``reopen = "self"`` says the writer
    reopens by itself. Either way the renamed file is compressed and removed only once no
    process holds it open for writing (the kernel's writer count, and /proc to name the
    writer); until then it is kept as it is and every rotation run checks again.
    ``mode = "copytruncate"`` copies then truncates it in place, for writers that cannot
    reopen: whatever the writer appends between the copy and the truncation is lost.
    """

    path: Annotated[FileRef, PathText]
    owner: Literal["feed_handler", "order_session"] | None = None
    mode: Literal["rename", "copytruncate"] = "rename"
    reopen: Literal["signal", "self"] | None = None
    compress: Literal["none", "gzip", "zstd"] = "gzip"
    destinations: list[NonEmpty] = Field(default_factory=list)
    retain_days: int = Field(default=1830, ge=1, le=36500)
    archive_dir: ConfigPath | None = None
    reopen_timeout_s: float = Field(default=10.0, gt=0, le=600)

    @model_validator(mode="after")
    def _reopen_known(self) -> LogCategory:
        if self.mode == "rename" and self.owner is None and self.reopen != "self":
            from pydantic_core import PydanticCustomError

            raise PydanticCustomError(
                "reopen_unknown",
                'mode = "rename" needs owner (the component ncctl signals to reopen the '
                'file) or reopen = "self" (the writer reopens by itself); or use mode = '
                '"copytruncate"',
            )
        return self

    @property
    def signals_owner(self) -> bool:
        """Whether the rotation sends SIGHUP to ``owner`` after renaming the live file."""
        return self.mode == "rename" and self.owner is not None and self.reopen != "self"


class LogsConfig(Section):
    """The three categories; archives go to ``archive_dir/CATEGORY`` unless a category says
    (``archive_dir`` defaults to ``state_dir/archive``)."""

    audit: LogCategory | None = None
    trade: LogCategory | None = None
    ion: LogCategory | None = None
    archive_dir: ConfigPath = Path(".ncctl/archive")
    lock_timeout_s: float = Field(default=30.0, ge=0, le=3600)

    def categories(self) -> dict[str, LogCategory]:
        """The configured categories by name, in a fixed order."""
        found = {"audit": self.audit, "trade": self.trade, "ion": self.ion}
        return {name: cat for name, cat in found.items() if cat is not None}

    def archive_for(self, name: str) -> Path:
        cat = self.categories()[name]
        return cat.archive_dir or self.archive_dir / name


def _check_url(value: str) -> str:
    from ncctl.logs.url import parse_destination_url

    parse_destination_url(value)  # raises ValueError naming the problem
    return value


DestinationUrl = Annotated[str, AfterValidator(_check_url), UrlFromBase]


def _check_algorithms(value: list[str]) -> list[str]:
    from ncctl.logs.ssh_algorithms import check_allowed

    return check_allowed(value)  # raises ValueError naming the bad entry


AllowedAlgorithms = Annotated[list[str], AfterValidator(_check_algorithms)]


class DestinationConfig(Section):
    """Where archives are uploaded: ``sftp://user@host:port/dir`` or ``file:///dir``.

    SFTP uses key authentication only (``key_file``; no agent, no key search) and strict host
    keys from ``known_hosts``. ``verify`` says how an upload is confirmed: ``size`` (remote
    size), ``readback`` (read the file back and hash it; the default) or ``exec`` (run
    ``sha256sum`` on the server, where the account has a shell).

    Weak SSH algorithms (CBC ciphers, HMAC-SHA1/MD5, SHA-1 key exchange, ``ssh-rsa``/``ssh-dss``
    host-key signatures) are refused; ``allow_algorithms`` names those this one server may use.
    """

    url: DestinationUrl
    key_file: ConfigPath | None = None
    known_hosts: ConfigPath | None = None
    timeout_s: float = Field(default=30.0, gt=0, le=3600)
    retries: int = Field(default=5, ge=0, le=100)
    backoff_s: float = Field(default=2.0, ge=0, le=300)
    verify: Literal["size", "readback", "exec"] = "readback"
    allow_algorithms: AllowedAlgorithms = Field(default_factory=list)

    @model_validator(mode="after")
    def _sftp_needs_keys(self) -> DestinationConfig:
        if self.url.startswith("sftp://"):
            if self.key_file is None:
                raise ValueError("an sftp destination needs key_file")
            if self.known_hosts is None:
                raise ValueError("an sftp destination needs known_hosts (host keys are strict)")
        elif self.allow_algorithms:
            raise ValueError("allow_algorithms applies to sftp destinations only")
        return self


class TuningConfig(Section):
    """Host tuning: which profile, and the root under which /proc, /sys and /etc live."""

    profile: Annotated[NonEmpty, DataRef] = "dev"
    """A shipped profile's name, or a ``.toml`` path."""
    root: ConfigPath = Path("/")


@dataclass(frozen=True)
class MetricsTls:
    """The TLS files of ``/metrics``: server certificate and key, and the CA that client
    certificates must chain to (None: clients are not asked for one)."""

    cert: Path
    key: Path
    client_ca: Path | None


class MetricsConfig(Section):
    """Prometheus metrics: the daemon serves them on a loopback port; cron setups write a
    node_exporter textfile with `ncctl metrics --textfile PATH`.

    Beyond loopback ``/metrics`` is served over TLS only: ``tls_cert`` and ``tls_key`` (PEM;
    the key readable by its owner only), and ``tls_client_ca`` to require client certificates
    signed by that CA (mutual TLS). TLS may be set on loopback too.
    """

    tls_cert: ConfigPath | None = None
    tls_key: ConfigPath | None = None
    tls_client_ca: ConfigPath | None = None
    listen: NonEmpty = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535, description="0: any free port")

    @field_validator("listen")
    @classmethod
    def _tls_beyond_loopback(cls, listen: str, info: ValidationInfo) -> str:
        # tls_* are declared first, so they are validated (and in info.data) by now
        if not is_loopback(listen) and (
            info.data.get("tls_cert") is None or info.data.get("tls_key") is None
        ):
            raise ValueError(
                f"{listen!r} is reachable from other hosts: /metrics is served there over TLS "
                "only; set metrics.tls_cert and metrics.tls_key (see docs/runbook.md), or "
                'listen on "127.0.0.1"'
            )
        return listen

    @model_validator(mode="after")
    def _tls_pairs(self) -> MetricsConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: set both or neither")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ValueError("tls_client_ca needs tls_cert and tls_key (TLS on the server)")
        return self

    def tls(self) -> MetricsTls | None:
        if self.tls_cert is None or self.tls_key is None:
            return None
        return MetricsTls(self.tls_cert, self.tls_key, self.tls_client_ca)


class ClockConfig(Section):
    """A simulated clock for development: a file shared by ncctl and the simulators
    (see `ncctl clock set`). Unset, everything runs on the machine's clock."""

    file: ConfigPath | None = None


class RunnerConfig(Section):
    """The daemon: how often the safety-net reconcile pass runs, and the watchdog."""

    reconcile_interval_s: float = Field(default=15.0, ge=1, le=3600)


UNIX_NAME = r"^[a-z_][a-z0-9_-]{0,30}$"


class SystemdConfig(Section):
    """The generated systemd units (`ncctl systemd units`): the account ncctl's own units run
    as, and how many reconcile intervals a pass may take before the watchdog restarts the
    daemon (``WatchdogSec=`` is ``watchdog_intervals * runner.reconcile_interval_s``)."""

    user: Annotated[str, Field(pattern=UNIX_NAME)] = "ncctl"
    group: Annotated[str, Field(pattern=UNIX_NAME)] = "ncctl"
    watchdog_intervals: int = Field(default=20, ge=3, le=1000)


class NcctlConfig(Section):
    """The whole configuration file."""

    environment: NonEmpty = "dev"
    state_dir: ConfigPath = Path(".ncctl")
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    components: ComponentsConfig = Field(default_factory=ComponentsConfig)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    destinations: dict[str, DestinationConfig] = Field(default_factory=dict)
    tuning: TuningConfig = Field(default_factory=TuningConfig)
    ilink: IlinkConfig = Field(default_factory=IlinkConfig)
    party_details: PartyDetailsList = Field(default_factory=list)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    runner: RunnerConfig = Field(default_factory=RunnerConfig)
    clock: ClockConfig = Field(default_factory=ClockConfig)
    systemd: SystemdConfig = Field(default_factory=SystemdConfig)
    preflight: PreflightConfig = Field(default_factory=PreflightConfig)

    @model_validator(mode="after")
    def _from_state_dir(self) -> NcctlConfig:
        """``{state_dir}`` in component commands and environments, and the default archive
        directory."""
        for name in COMPONENT_NAMES:
            comp: ComponentConfig = getattr(self.components, name)
            comp.command = with_state_dir(comp.command, self.state_dir)
            comp.env = dict(
                zip(comp.env, with_state_dir(list(comp.env.values()), self.state_dir), strict=True)
            )
        if "archive_dir" not in self.logs.model_fields_set:
            self.logs.archive_dir = self.state_dir / "archive"
        return self

    def cross_reference_problem(self) -> tuple[str, str] | None:
        """A key path and a problem where one part names another that does not exist."""
        for name, cat in self.logs.categories().items():
            for i, dest in enumerate(cat.destinations):
                if dest not in self.destinations:
                    return (
                        f"logs.{name}.destinations[{i}]",
                        f"{dest!r} is not a [destinations.{dest}] table",
                    )
        return None


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration, where it came from, and the raw document."""

    config: NcctlConfig
    path: Path
    source: str
    document: dict[str, Any]
    base: Path
    """The directory relative paths of the file were taken from."""

    @property
    def embedded(self) -> bool:
        """Whether this is the embedded default (however it was named): read-only."""
        return self.source == EMBEDDED or is_embedded_file(self.path)


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
    doc = read_toml(path, ConfigError, "configuration file", missing)
    if not doc:  # a truncated file must not quietly become the defaults
        raise ConfigError(
            f"{path}: configuration file is empty (no settings at all)",
            hint="restore it, or write one with `ncctl config init --env ENV`",
            code="config.empty",
        )
    return validate_document(doc, str(path), base=base_dir(path, source)), doc


def load(explicit: Path | None = None) -> LoadedConfig:
    """Resolve, read and validate the configuration (key files from systemd's credentials
    directory when it holds them: see :mod:`ncctl.credentials`)."""
    from ncctl import floor
    from ncctl.credentials import with_credentials

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


# -- showing ----------------------------------------------------------------------------


def masked(config: NcctlConfig) -> dict[str, Any]:
    """The resolved configuration as plain data, every secret replaced by a mask."""
    data = config.model_dump(mode="json")
    _mask_secrets(config, data)
    return data


def _mask_secrets(model: BaseModel, data: dict[str, Any]) -> None:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            data[name] = MASK
        elif isinstance(value, BaseModel):
            _mask_secrets(value, data[name])
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    _mask_secrets(item, data[name][key])


def _secret_field_names() -> frozenset[str]:
    """Names of every secret field of the configuration models (password, secret_key)."""
    names: set[str] = set()
    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [NcctlConfig]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            text = repr(info.annotation)
            if "SecretStr" in text:
                names.add(name)
            todo.extend(_models_in(info.annotation))
    return frozenset(names)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.append(annotation)
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(_models_in(arg))
    for meta in getattr(annotation, "__metadata__", ()) or ():
        found.extend(_models_in(meta))
    return found


def mask_value(key: str, value: Any) -> Any:
    """``value`` as it may be shown for ``key``: secrets (and secrets inside tables) masked."""
    secret = _secret_field_names()
    if value is not None and key.rsplit(".", 1)[-1] in secret:
        return MASK
    if isinstance(value, dict):
        return {k: mask_value(f"{key}.{k}", v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(key, v) for v in value]
    return value


# -- editing ----------------------------------------------------------------------------


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
    path: Path, key: str, text: str, dry_run: bool = False, *, literal: bool = False
) -> tuple[Any, Any]:
    """Set ``key`` to ``text`` in the file at ``path``, validating first; return (old, new).

    ``text`` is a TOML value (see :func:`parse_value`), or with ``literal`` the string itself.

    The file is replaced atomically: the new text is written beside it, flushed to disk and
    renamed over it, keeping its mode. Nothing is written when validation fails or when
    ``dry_run`` is set.
    """
    doc = read_toml(path, ConfigError, "configuration file")
    value = text if literal else parse_value(text)
    new_doc = with_value(doc, key, value)
    try:
        validate_document(new_doc, f"{path} (after setting {key})", base=base_dir(path, ""))
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


def init_file(env: str, directory: Path, force: bool = False) -> Path:
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
    write_text_atomic(target, init_text(env, directory), mode=0o640)
    return target


def init_text(env: str, directory: Path) -> str:
    """The shipped configuration ``env`` as ``config init --dir DIRECTORY`` writes it.

    A file without relative paths (staging, prod) is copied as it is. The relative paths of
    the others (dev) are written absolute, taken from ``DIRECTORY/.ncctl`` (the project's
    state directory), so that they are right from wherever the file is read.
    """
    shipped = builtin_config(env)
    text = shipped.read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    base = directory.absolute() / ".ncctl"
    config = validate_document(doc, str(shipped), base=base)
    if config == validate_document(doc, str(shipped), base=base / "elsewhere"):
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
