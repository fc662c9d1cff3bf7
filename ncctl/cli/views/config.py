"""Views of ``ncctl config``: the resolved configuration, a validation, a change, a new file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import view

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.appconfig.problems import ConfigProblem, ConfigProblems
    from ncctl.appconfig.sections import MetricsTls
    from ncctl.cli.context import OutputOptions


@dataclass(frozen=True)
class ConfigShow:
    path: Path
    source: str
    base: Path
    config: dict[str, Any]
    """The configuration, secrets masked."""


@dataclass(frozen=True)
class ConfigValidation:
    file: Path
    problems: list[ConfigProblem]
    checked: list[dict[str, Any]]
    """The schedule files checked (none when the file was refused)."""
    tls: MetricsTls | None
    invalid: ConfigProblems | None = None
    """Set when a problem is an error."""
    warnings: list[str] = field(default_factory=list)

    def failure(self) -> ConfigProblems | None:
        return self.invalid


@dataclass(frozen=True)
class ConfigSet:
    file: Path
    key: str
    old: Any
    new: Any
    """Both masked when secret."""
    dry_run: bool


@dataclass(frozen=True)
class ConfigInit:
    file: Path
    env: str


def _drop_none(value: dict[str, Any]) -> dict[str, Any]:
    """TOML has no null: leave unset optional keys out of the text view."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            out[key] = _drop_none(item)
        elif isinstance(item, list):
            out[key] = [_drop_none(i) if isinstance(i, dict) else i for i in item]
        elif item is not None:
            out[key] = item
    return out


def show_text(result: ConfigShow, console: Console, out: OutputOptions) -> None:
    from rich.syntax import Syntax

    from ncctl.config.keys import dumps

    console.print(f"# {result.path} ({result.source})", markup=False)
    console.print(f"# relative paths taken from {result.base}", markup=False)
    console.print(Syntax(dumps(_drop_none(result.config)), "toml", theme="ansi_dark"))


@view(ConfigShow, show_text)
def show_data(result: ConfigShow) -> dict[str, Any]:
    return {
        "path": str(result.path),
        "source": result.source,
        "base": str(result.base),
        "config": result.config,
    }


def validation_text(result: ConfigValidation, console: Console, out: OutputOptions) -> None:
    from rich.markup import escape

    if result.invalid is not None:
        return  # the error says it
    console.print(f"[green]ok[/green] {escape(str(result.file))}: valid", markup=True)
    for c in result.checked:
        console.print(f"  [green]ok[/green] {c['summary']}")
    if result.tls is not None:
        tls = result.tls
        console.print(f"  [green]ok[/green] metrics TLS: {tls.cert}, {tls.key}", markup=False)


@view(ConfigValidation, validation_text)
def validation_data(result: ConfigValidation) -> dict[str, Any]:
    return {
        "file": str(result.file),
        "valid": result.invalid is None,
        "schedule_files": [c["file"] for c in result.checked],
        "metrics_tls": result.tls is not None,
        "problems": [p.as_dict() for p in result.problems],
    }


def set_text(result: ConfigSet, console: Console, out: OutputOptions) -> None:
    import json

    verb = "would set" if result.dry_run else "set"
    console.print(
        f"{verb} {result.key} = {json.dumps(result.new, default=str)} in {result.file} "
        f"(was {json.dumps(result.old, default=str)})",
        markup=False,
    )


@view(ConfigSet, set_text)
def set_data(result: ConfigSet) -> dict[str, Any]:
    return {
        "file": str(result.file),
        "key": result.key,
        "old": result.old,
        "new": result.new,
        "dry_run": result.dry_run,
        "written": not result.dry_run,
    }


def init_text(result: ConfigInit, console: Console, out: OutputOptions) -> None:
    from ncctl.appconfig.check import load_checked
    from ncctl.errors import NcctlError

    target = result.file
    console.print(f"wrote {target}", markup=False)
    check = f"`ncctl config validate {target}`"
    try:
        _, problems = load_checked(target, "FILE argument")
    except NcctlError:  # written, but not readable back here: validate will say why
        console.print(f"check it with {check}", markup=False)
        return
    errors = sum(p.severity == "error" for p in problems)
    if errors:
        console.print(
            f"{errors} settings are placeholders or name files not there yet: {check} lists "
            "them; fill them in until it says valid",
            markup=False,
        )
    else:
        console.print(
            f"it is valid as written; after each edit, check it with {check}", markup=False
        )


@view(ConfigInit, init_text)
def init_data(result: ConfigInit) -> dict[str, Any]:
    return {"file": str(result.file), "env": result.env}
