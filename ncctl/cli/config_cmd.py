"""``ncctl config …``: show, validate, change and create configuration files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ncctl.cli.command import command
from ncctl.cli.options import DryRunOpt, JsonOpt, OverrideOpt, ReasonOpt

if TYPE_CHECKING:
    from ncctl.appconfig.model import NcctlConfig
    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.config import ConfigInit, ConfigSet, ConfigShow, ConfigValidation

app = typer.Typer(
    help="Show, validate, change and create configuration files.", no_args_is_help=True
)


@command(app, "show")
def show(ctx: CommandContext) -> ConfigShow:
    """Show the resolved configuration, with its source; secrets are masked.

    Every path is shown absolute; "base" is the directory relative paths were taken from
    (the per-user state directory for the embedded default).
    """
    from ncctl.cli.views.config import ConfigShow
    from ncctl.config.masking import masked

    loaded = ctx.config()
    return ConfigShow(loaded.path, loaded.source, loaded.base, masked(loaded.config))


@command(app, "validate")
def validate(
    ctx: CommandContext,
    file: Annotated[
        Path | None,
        typer.Argument(
            help="The file to validate (default: the resolved configuration).",
            show_default=False,
            metavar="FILE",
        ),
    ] = None,
    json: JsonOpt = False,
) -> ConfigValidation:
    """Validate a configuration file, the schedule and TLS files it names, and everything it
    points to: the tuning profile, key and secret files (present, private, not links), pinned
    SFTP host keys, and placeholders left from `config init` (such as "set-me" or a host
    under .invalid). Every problem is listed, each with its key; exit 78 if any is an error
    (warnings alone exit 0). Nothing is written.
    """
    from ncctl.appconfig.check import load_checked
    from ncctl.appconfig.problems import ConfigProblems
    from ncctl.cli.views.config import ConfigValidation

    if file is None:
        from ncctl.config.files import resolve_path

        path, source = resolve_path(ctx.options.config_path)
        loaded, problems = load_checked(path, source, credentials=True)
    else:
        path = file
        loaded, problems = load_checked(file, "FILE argument")
    cfg = loaded.config
    refused = any(p.refused for p in problems)
    checked = [] if refused else _check_schedule(cfg)
    tls = cfg.metrics.tls()
    if any(p.severity == "error" for p in problems):
        failure = ConfigProblems(str(path), problems)  # config.invalid when the schema refuses
        if not json:
            raise failure  # one line naming the first, then every problem, then the hint
        return ConfigValidation(path, problems, checked, tls, failure)
    warnings = [f"{p.line()} (hint: {p.hint})" for p in problems]
    return ConfigValidation(path, problems, checked, tls, warnings=warnings)


def _check_schedule(cfg: NcctlConfig) -> list[dict[str, Any]]:
    """Check the schedule files the configuration names (raises on the first bad one)."""
    from ncctl.schedule import load_engine
    from ncctl.schedule.check import check_files

    files = [cfg.schedule.template_path(), *cfg.schedule.holiday_paths()]
    checked = check_files(files)
    load_engine(files[0], files[1:])
    return checked


@command(app, "set", context_settings={"ignore_unknown_options": True})
def set_(
    ctx: CommandContext,
    key: Annotated[
        str,
        typer.Argument(help="Dotted key path, like schedule.display_tz.", metavar="KEY"),
    ],
    value: Annotated[
        str | None,
        typer.Argument(
            help='A TOML value (5, true, ["a", "b"], "text"); bare words are text. "-" reads '
            "it from stdin. Secrets (ilink.secret_key, *password, *token...) are never given "
            'here: pass "-" and pipe them in, or leave VALUE out for a hidden prompt.',
            metavar="VALUE",
            show_default=False,
        ),
    ] = None,
    *,
    dry_run: DryRunOpt = False,
    force: OverrideOpt = False,
    reason: ReasonOpt = None,
) -> ConfigSet:
    """Set one key in the configuration file; the whole file is validated before writing.

    The file is rewritten from its data, so comments are not kept. A secret (such as
    ilink.secret_key) is read from stdin when VALUE is "-", or from a hidden prompt when VALUE
    is left out, never from the command line (exit 64 if given there).
    """
    from ncctl.appconfig.load import validate_document
    from ncctl.appconfig.model import NcctlConfig
    from ncctl.cli import secret_value
    from ncctl.cli.views.config import ConfigSet
    from ncctl.config.keys import parse_value, set_value
    from ncctl.config.masking import MASK, mask_value
    from ncctl.errors import ConfigError

    secret, value = _value_for(key, value)
    loaded = ctx.config()
    from ncctl.resources import builtin_config

    if loaded.embedded or loaded.path.resolve() == builtin_config("dev").resolve():
        raise ConfigError(
            "the embedded default configuration cannot be changed",
            hint="make your own copy with `ncctl config init --env dev --dir DIR`, then "
            "pass --config DIR/configs/dev.toml",
            code="config.read_only",
        )
    if not dry_run:
        ctx.changing(force, reason)
    path = loaded.path
    if secret or secret_value.secret_inside(key, parse_value(value)) is not None:
        secret_value.check_private(path)
    if not dry_run:
        from ncctl.journal import Journal, journal_path

        journal = Journal(journal_path(loaded.config.state_dir))  # checked before the change
    old_raw, new_raw = set_value(
        path, key, value, validate_document, dry_run=dry_run, literal=secret
    )
    old = mask_value(NcctlConfig, key, old_raw)
    new_value = mask_value(NcctlConfig, key, new_raw)
    if secret:
        old = MASK if old is not None else None
        new_value = MASK
    if not dry_run:
        journal.append(
            ctx.command,
            [key, value if new_value == new_raw else MASK],
            "ok",
            reason=reason,
            details={"file": str(path), "old": old, "new": new_value},
        )
    return ConfigSet(path, key, old, new_value, dry_run)


def _value_for(key: str, value: str | None) -> tuple[bool, str]:
    """(is a secret, the value text): a secret comes from stdin or a hidden prompt only."""
    from ncctl.cli import secret_value
    from ncctl.config.keys import parse_key, parse_value
    from ncctl.errors import UsageError

    parse_key(key)  # a malformed KEY is reported before anything is read
    if secret_value.is_secret_key(key):
        if value not in (None, secret_value.STDIN):
            raise secret_value.refuse_on_command_line(key, key)
        return True, secret_value.read_value(key)
    if value is None:
        raise UsageError(
            f"VALUE is missing for {key}",
            hint=f'give it: `ncctl config set {key} VALUE`, or "-" to read it from stdin',
        )
    if value == secret_value.STDIN:
        return False, secret_value.read_value(key)
    inside = secret_value.secret_inside(key, parse_value(value))
    if inside is not None:
        raise secret_value.refuse_on_command_line(key, inside)
    return False, value


@command(app, "init")
def init(
    ctx: CommandContext,
    env: Annotated[str, typer.Option("--env", help="Environment to create: dev, staging or prod.")],
    directory: Annotated[
        Path,
        typer.Option("--dir", help="Project directory; the file goes to DIR/configs/ENV.toml."),
    ] = Path(),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> ConfigInit:
    """Create DIR/configs/ENV.toml from the configuration shipped with ncctl.

    Relative paths of the shipped file (dev) are written absolute, taken from DIR/.ncctl, so
    that the file is right from wherever it is read.

    The staging and prod files hold placeholders (hosts under .invalid, "set-me", key files
    to create): `ncctl config validate FILE` lists each one until it is filled in.
    """
    from ncctl.appconfig.load import validate_document
    from ncctl.cli.views.config import ConfigInit
    from ncctl.config.init import init_file

    return ConfigInit(init_file(env, directory, validate_document, force=force), env)
