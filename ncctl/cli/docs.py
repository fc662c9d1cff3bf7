"""The command reference, generated from the Typer app: ``python -m ncctl.cli.docs > docs/cli.md``.

The output depends on the app alone: no terminal width, no colours, no environment. Commands,
arguments and options keep the order the app defines them in. ``tests/cli/test_docs.py`` fails
when ``docs/cli.md`` is stale or when a command, argument or option has no help text.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

import typer
import typer.main
from typer import _click
from typer.core import TyperArgument, TyperGroup, TyperOption

PROG = "ncctl"
REGENERATE = ".venv/bin/python -m ncctl.cli.docs > docs/cli.md"
MAN_REGENERATE = ".venv/bin/python -m ncctl.cli.docs --man > docs/ncctl.1"

_CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)
# Markdown-active characters in prose; "_" only at a word edge (GFM ignores intraword "_").
_MD_ACTIVE = re.compile(r"[\\*<|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


@dataclass(frozen=True)
class CommandEntry:
    """One command or group of the app, with the context it runs in."""

    path: tuple[str, ...]
    command: _click.Command
    ctx: _click.Context

    @property
    def name(self) -> str:
        """The full command path, like ``ncctl schedule now``."""
        return " ".join(self.path)

    @property
    def is_group(self) -> bool:
        return isinstance(self.command, TyperGroup)

    def subcommands(self) -> list[tuple[str, _click.Command]]:
        """The visible subcommands of a group, in the app's order."""
        group = self.command
        if not isinstance(group, TyperGroup):
            return []
        out: list[tuple[str, _click.Command]] = []
        for name in group.list_commands(self.ctx):
            sub = group.get_command(self.ctx, name)
            if sub is not None and not sub.hidden:
                out.append((name, sub))
        return out

    def params(self) -> list[_click.Parameter]:
        """Visible arguments and options, in the app's order (the help option excluded)."""
        return [p for p in self.command.params if not getattr(p, "hidden", False)]


def iter_commands(app: typer.Typer | None = None) -> Iterator[CommandEntry]:
    """Every visible command and group of ``app`` (default: ncctl's), depth first."""
    if app is None:
        from ncctl.cli.app import app as ncctl_app

        app = ncctl_app
    root = typer.main.get_command(app)
    root_ctx = _click.Context(root, info_name=PROG, **root.context_settings)
    yield from _walk(CommandEntry((PROG,), root, root_ctx))


def _walk(entry: CommandEntry) -> Iterator[CommandEntry]:
    yield entry
    for name, sub in entry.subcommands():
        ctx = _click.Context(sub, parent=entry.ctx, info_name=name, **sub.context_settings)
        yield from _walk(CommandEntry((*entry.path, name), sub, ctx))


# -- text -----------------------------------------------------------------------------------


def _markup_mode(command: _click.Command) -> str | None:
    mode: str | None = getattr(command, "rich_markup_mode", None)
    return mode


def _plain(text: str | None, markup_mode: str | None) -> str:
    """Help text as the terminal shows it: dedented, cut at ``\\f``, Rich markup removed."""
    if not text:
        return ""
    text = inspect.cleandoc(text).partition("\f")[0].strip()
    if markup_mode == "rich" and "[" in text:
        from rich.errors import MarkupError
        from rich.text import Text

        with contextlib.suppress(MarkupError):  # shown as written, as Typer would fail
            text = Text.from_markup(text).plain
    return text


def _paragraphs(text: str) -> list[str]:
    """Paragraphs with single line breaks removed, except in click's ``\\b`` blocks."""
    out: list[str] = []
    for para in text.split("\n\n"):
        if para.startswith("\b"):
            lines = [_md_text(line) for line in para.strip("\b\n").splitlines()]
            out.append(_block("\\\n".join(lines)))
        elif para.strip():
            out.append(_block(_md_text(" ".join(line.strip() for line in para.splitlines()))))
    return out


def _escape(text: str) -> str:
    return _MD_ACTIVE.sub(lambda m: "\\" + m.group(0), text)


def _block(text: str) -> str:
    """A paragraph that cannot turn into a heading, quote or list by its first character."""
    return "\\" + text if text[:1] in "#>-+=" and text else text


def _md_text(text: str) -> str:
    """Prose for Markdown: active characters escaped, code spans left as written."""
    out: list[str] = []
    pos = 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_escape(text[pos : match.start()]))
        out.append(match.group(0).replace("|", "\\|"))
        pos = match.end()
    out.append(_escape(text[pos:]))
    return "".join(out)


def _code(text: str) -> str:
    """An inline code span, safe inside a table cell."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text.replace('|', chr(92) + '|')}{pad}{fence}"


def _cell(text: str) -> str:
    return " ".join(text.split())


def _anchor(heading: str) -> str:
    """The anchor GitHub and GitLab give a heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def _summary(command: _click.Command) -> str:
    """The first paragraph of a command's help, on one line."""
    text = _plain(command.short_help or command.help, _markup_mode(command))
    first = text.split("\n\n", 1)[0]
    return _md_text(" ".join(first.split()))


# -- parameters -----------------------------------------------------------------------------


def _range(param: _click.Parameter) -> str:
    low = getattr(param, "min", None)
    high = getattr(param, "max", None)
    if getattr(param, "count", False) and low == 0 and high is None:
        return ""
    if low is not None and high is not None:
        return f"{low}<=x<={high}"
    if low is not None:
        return f"x>={low}"
    if high is not None:
        return f"x<={high}"
    return ""


def _param_names(param: _click.Parameter) -> str:
    if isinstance(param, TyperArgument):
        name = param.metavar or param.name
        if param.metavar is None and param.nargs != 1:
            name += "..."
        return _code(name)
    names = [*param.opts, *param.secondary_opts]
    return ", ".join(_code(n) for n in names)


def _type_label(param: _click.Parameter, ctx: _click.Context) -> str:
    """The type a parameter takes, as plain text (``count``, ``flag``, ``TEXT [x>=1]``)."""
    if isinstance(param, TyperOption):
        if param.count:
            return "count"
        if param.is_flag:
            return "flag"
        label = param.display_type_rich(ctx) or ""
    elif isinstance(param, TyperArgument):
        label = param.display_type(ctx)
    else:
        label = param.metavar or ""
    bounds = _range(param)
    return f"{label} [{bounds}]".strip() if bounds else label


def _param_type(param: _click.Parameter, ctx: _click.Context) -> str:
    label = _type_label(param, ctx)
    if isinstance(param, TyperOption) and (param.count or param.is_flag):
        return label
    text = _code(label) if label else ""
    if param.multiple:
        text = f"{text} (repeatable)".strip()
    return text


def _default_text(param: _click.Parameter, value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_default_text(param, v) for v in value)
    if isinstance(value, Enum):
        return str(value.value)
    if callable(value):
        return "(dynamic)"
    if isinstance(param, TyperOption) and param.is_bool_flag:
        if param.secondary_opts:
            return (param.opts if value else param.secondary_opts)[0]
        return str(value) if value else ""
    return str(value)


def _default_of(param: _click.Parameter, ctx: _click.Context) -> tuple[str, bool]:
    """A parameter's default as plain text, and whether that text is a value (not prose)."""
    if param.required:
        return "required", False
    show: bool | str = getattr(param, "show_default", False)
    if isinstance(show, str):
        return show, False
    if not (show or ctx.show_default):
        return "", False
    value = param.get_default(ctx, call=False)
    if value is None:
        return "", False
    return _default_text(param, value), True


def _param_default(param: _click.Parameter, ctx: _click.Context) -> str:
    text, is_value = _default_of(param, ctx)
    if not text:
        return ""
    return _code(text) if is_value else _md_text(text)


def _param_help(param: _click.Parameter, command: _click.Command) -> str:
    help_text = _plain(getattr(param, "help", None), _markup_mode(command))
    text = " ".join(_paragraphs(help_text))
    envvar = param.envvar
    if envvar:
        names = [envvar] if isinstance(envvar, str) else list(envvar)
        text = f"{text} Environment: {', '.join(_code(str(n)) for n in names)}.".strip()
    return text


def _param_table(title: str, params: list[_click.Parameter], entry: CommandEntry) -> list[str]:
    if not params:
        return []
    lines = [
        f"**{title}**",
        "",
        f"| {title[:-1]} | Type | Default | Description |",
        "|---|---|---|---|",
    ]
    for p in params:
        cells = [
            _param_names(p),
            _param_type(p, entry.ctx),
            _param_default(p, entry.ctx),
            _param_help(p, entry.command),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines.append("")
    return lines


# -- the document ---------------------------------------------------------------------------


def _usage(entry: CommandEntry) -> str:
    pieces = entry.command.collect_usage_pieces(entry.ctx)
    return " ".join([entry.ctx.command_path, *pieces])


def _section(entry: CommandEntry) -> list[str]:
    command = entry.command
    level = min(len(entry.path) + 1, 6)
    lines = ["#" * level + " " + entry.name, ""]
    if command.deprecated:
        note = command.deprecated if isinstance(command.deprecated, str) else ""
        lines += [f"**Deprecated.** {_md_text(note)}".strip(), ""]
    for para in _paragraphs(_plain(command.help, _markup_mode(command))):
        lines += [para, ""]
    lines += ["```text", _usage(entry), "```", ""]
    params = entry.params()
    lines += _param_table("Arguments", [p for p in params if isinstance(p, TyperArgument)], entry)
    lines += _param_table("Options", [p for p in params if not isinstance(p, TyperArgument)], entry)
    subs = entry.subcommands()
    if subs:
        lines += ["**Commands**", "", "| Command | Description |", "|---|---|"]
        for name, sub in subs:
            target = _anchor(f"{entry.name} {name}")
            lines.append(f"| [{name}](#{target}) | {_cell(_summary(sub))} |")
        lines.append("")
    if command.epilog:
        for para in _paragraphs(_plain(command.epilog, _markup_mode(command))):
            lines += [para, ""]
    return lines


def render_cli_reference(app: typer.Typer | None = None) -> str:
    """The Markdown command reference of the whole app (the content of docs/cli.md)."""
    entries = list(iter_commands(app))
    help_names = " or ".join(_code(n) for n in entries[0].ctx.help_option_names)
    lines = [
        f"# {PROG} command reference",
        "",
        f"<!-- Generated from the Typer app by `{REGENERATE}`; do not edit by hand. -->",
        "",
        f"Every command also takes {help_names}, which prints its help and exits.",
        "",
    ]
    for entry in entries:
        indent = "  " * (len(entry.path) - 1)
        summary = _summary(entry.command)
        link = f"[{entry.name}](#{_anchor(entry.name)})"
        lines.append(f"{indent}- {link}" + (f": {summary}" if summary else ""))
    lines.append("")
    for entry in entries:
        lines += _section(entry)
    return "\n".join(lines).rstrip("\n") + "\n"


def missing_help(app: typer.Typer | None = None) -> list[str]:
    """Every command, group, argument and option (``--help`` aside) without a help text."""
    out: list[str] = []
    for entry in iter_commands(app):
        command = entry.command
        if not _plain(command.help or command.short_help, _markup_mode(command)):
            out.append(f"{entry.name}: command has no help text")
        for p in entry.params():
            if _plain(getattr(p, "help", None), _markup_mode(command)):
                continue
            kind = "argument" if isinstance(p, TyperArgument) else "option"
            label = p.opts[0] if p.opts and kind == "option" else (p.metavar or p.name)
            out.append(f"{entry.name}: {kind} {label} has no help text")
    return out


# -- the man page ---------------------------------------------------------------------------


def _roff(text: str) -> str:
    """Prose for roff: backslashes and hyphens escaped, code spans in bold."""
    out: list[str] = []
    pos = 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_roff_escape(text[pos : match.start()]))
        fence = match.group(1)
        out.append(r"\fB" + _roff_escape(match.group(0)[len(fence) : -len(fence)].strip()) + r"\fR")
        pos = match.end()
    out.append(_roff_escape(text[pos:]))
    return "".join(out)


def _roff_escape(text: str) -> str:
    return text.replace("\\", r"\e").replace("-", r"\-")


def _roff_lines(text: str) -> list[str]:
    """Source lines that roff cannot read as requests (a leading dot or quote)."""
    return [r"\&" + line if line[:1] in ".'" else line for line in text.splitlines()]


def _roff_paragraphs(text: str) -> list[str]:
    """Help text as roff paragraphs; click's ``\\b`` blocks keep their lines."""
    out: list[str] = []
    for para in text.split("\n\n"):
        if para.startswith("\b"):
            lines = [_roff(line) for line in para.strip("\b\n").splitlines()]
            out += [".PP", ".nf", *_roff_lines("\n".join(lines)), ".fi"]
        elif para.strip():
            joined = " ".join(line.strip() for line in para.splitlines())
            out += [".PP", *_roff_lines(_roff(joined))]
    return out


def _man_param(param: _click.Parameter, entry: CommandEntry) -> list[str]:
    if isinstance(param, TyperArgument):
        names = r"\fI" + _roff_escape(param.metavar or param.name or "") + r"\fR"
    else:
        names = ", ".join(r"\fB" + _roff_escape(n) + r"\fR" for n in param.opts)
        names += "".join(r", \fB" + _roff_escape(n) + r"\fR" for n in param.secondary_opts)
    label = _type_label(param, entry.ctx)
    if label and label not in ("flag", "count"):
        names += r" \fI" + _roff_escape(label) + r"\fR"
    text = " ".join(_plain(getattr(param, "help", None), _markup_mode(entry.command)).split())
    default, _ = _default_of(param, entry.ctx)
    extras = [f"Default: {default}." if default and default != "required" else ""]
    if default == "required":
        extras.append("Required.")
    if param.multiple:
        extras.append("Repeatable.")
    if param.envvar:
        envs = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar)
        extras.append(f"Environment: {', '.join(envs)}.")
    body = " ".join(part for part in [text, *extras] if part)
    return [".TP", *_roff_lines(names), *_roff_lines(_roff(body))]


def _man_command(entry: CommandEntry) -> list[str]:
    command = entry.command
    lines = [f".SS {_roff_escape(entry.name)}"]
    if command.deprecated:
        lines += [".PP", "Deprecated."]
    lines += _roff_paragraphs(_plain(command.help, _markup_mode(command)))
    lines += [".PP", ".nf", *_roff_lines(r"\fB" + _roff_escape(_usage(entry)) + r"\fR"), ".fi"]
    params = entry.params()
    if params:
        lines += [".RS", *[line for p in params for line in _man_param(p, entry)], ".RE"]
    subs = entry.subcommands()
    if subs:
        lines += [".PP", "Commands: " + ", ".join(r"\fB" + n + r"\fR" for n, _ in subs) + "."]
    if command.epilog:
        lines += _roff_paragraphs(_plain(command.epilog, _markup_mode(command)))
    return lines


def render_man_page(app: typer.Typer | None = None) -> str:
    """The man page ncctl(1) of the whole app, in roff (the content of docs/ncctl.1)."""
    from ncctl.cli.app import EXIT_STATUS, TUNE_EXIT_STATUS
    from ncctl.config.files import ETC_CONFIG

    entries = list(iter_commands(app))
    root = entries[0]
    help_text = _plain(root.command.help, _markup_mode(root.command))
    summary = help_text.split("\n\n", 1)[0].rstrip(".")
    help_names = " or ".join(r"\fB" + _roff_escape(n) + r"\fR" for n in root.ctx.help_option_names)
    lines = [
        f'.\\" Generated from the Typer app by `{MAN_REGENERATE}`; do not edit by hand.',
        f'.TH {PROG.upper()} 1 "" "{PROG}" "{PROG} manual"',
        ".SH NAME",
        rf"{PROG} \- {_roff(summary[:1].lower() + summary[1:])}",
        ".SH SYNOPSIS",
        rf"\fB{PROG}\fR [\fIOPTIONS\fR] \fICOMMAND\fR [\fIARGS\fR]...",
        ".SH DESCRIPTION",
        *_roff_paragraphs(help_text),
        ".PP",
        f"Every command also takes {help_names}, which prints its help and exits.",
        ".SH OPTIONS",
        *[line for p in root.params() for line in _man_param(p, root)],
        ".SH COMMANDS",
        *[line for entry in entries[1:] for line in _man_command(entry)],
        ".SH EXIT STATUS",
    ]
    for code, meaning in EXIT_STATUS:
        lines += [".TP", f"\\fB{code}\\fR", _roff(meaning[:1].upper() + meaning[1:]) + "."]
    for code, meaning in TUNE_EXIT_STATUS:
        lines += [".TP", f"\\fB{code}\\fR", _roff(f"ncctl tune only: {meaning}.")]
    lines += [
        ".SH ENVIRONMENT",
        ".TP",
        r"\fBNCCTL_CONFIG\fR",
        "Configuration file, unless \\fB\\-\\-config\\fR names one.",
        ".TP",
        r"\fBNCCTL_ENV\fR",
        r"Name of the environment: \fBconfigs/$NCCTL_ENV.toml\fR in the current directory, "
        "when neither \\fB\\-\\-config\\fR, \\fBNCCTL_CONFIG\\fR nor "
        rf"\fB{_roff_escape(str(ETC_CONFIG))}\fR gives one.",
        ".TP",
        r"\fBXDG_STATE_HOME\fR",
        r"State of the embedded default configuration: \fB$XDG_STATE_HOME/ncctl\fR "
        r"(default \fB~/.local/state/ncctl\fR).",
        ".SH FILES",
        ".TP",
        rf"\fB{_roff_escape(str(ETC_CONFIG))}\fR",
        "Configuration of the host, unless \\fB\\-\\-config\\fR or \\fBNCCTL_CONFIG\\fR names one.",
        ".TP",
        r"\fBconfigs/$NCCTL_ENV.toml\fR",
        "Configuration of the environment, in the current directory, when NCCTL_ENV is set.",
        ".TP",
        r"\fB~/.local/state/ncctl\fR",
        "State directory of the embedded default configuration. Relative paths in a "
        "configuration file are taken from the file's directory.",
        ".SH SEE ALSO",
        r"\fBdocs/cli.md\fR, the same reference in Markdown.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    if sys.argv[1:] == ["--man"]:
        sys.stdout.write(render_man_page())
        return
    sys.stdout.write(render_cli_reference())


if __name__ == "__main__":
    main()
