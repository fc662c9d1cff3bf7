"""The man page ncctl(1), generated from the Typer app: ``python -m ncctl.cli.docs --man``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typer.core import TyperArgument

from ncctl.cli import command_tree as tree
from ncctl.cli.command_tree import PROG, CommandEntry

if TYPE_CHECKING:
    import typer
    from typer import _click

MAN_REGENERATE = ".venv/bin/python -m ncctl.cli.docs --man > docs/ncctl.1"


def _roff(text: str) -> str:
    """Prose for roff: backslashes and hyphens escaped, code spans in bold."""
    out: list[str] = []
    pos = 0
    for match in tree.CODE_SPAN.finditer(text):
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
    label = tree.type_label(param, entry.ctx)
    if label and label not in ("flag", "count"):
        names += r" \fI" + _roff_escape(label) + r"\fR"
    text = " ".join(
        tree.plain(getattr(param, "help", None), tree.markup_mode(entry.command)).split()
    )
    default, _ = tree.default_of(param, entry.ctx)
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
    lines += _roff_paragraphs(tree.plain(command.help, tree.markup_mode(command)))
    lines += [".PP", ".nf", *_roff_lines(r"\fB" + _roff_escape(tree.usage(entry)) + r"\fR"), ".fi"]
    params = entry.params()
    if params:
        lines += [".RS", *[line for p in params for line in _man_param(p, entry)], ".RE"]
    subs = entry.subcommands()
    if subs:
        lines += [".PP", "Commands: " + ", ".join(r"\fB" + n + r"\fR" for n, _ in subs) + "."]
    if command.epilog:
        lines += _roff_paragraphs(tree.plain(command.epilog, tree.markup_mode(command)))
    return lines


def render_man_page(app: typer.Typer | None = None) -> str:
    """The man page ncctl(1) of the whole app, in roff (the content of docs/ncctl.1)."""
    from ncctl.cli.app import EXIT_STATUS, TUNE_EXIT_STATUS
    from ncctl.config.files import ETC_CONFIG

    entries = list(tree.iter_commands(app))
    root = entries[0]
    help_text = tree.plain(root.command.help, tree.markup_mode(root.command))
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
