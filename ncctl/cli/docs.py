"""The command reference, generated from the Typer app: ``python -m ncctl.cli.docs > docs/cli.md``.

The output depends on the app alone: no terminal width, no colours, no environment. Commands,
arguments and options keep the order the app defines them in. ``tests/cli/test_docs.py`` fails
when ``docs/cli.md`` is stale or when a command, argument or option has no help text.
"""

from __future__ import annotations

import re
import sys

import typer
import typer.main
from typer import _click
from typer.core import TyperArgument, TyperOption

from ncctl.cli.command_tree import (
    CODE_SPAN,
    PROG,
    CommandEntry,
    default_of,
    iter_commands,
    markup_mode,
    plain,
    type_label,
    usage,
)

REGENERATE = ".venv/bin/python -m ncctl.cli.docs > docs/cli.md"

# Markdown-active characters in prose; "_" only at a word edge (GFM ignores intraword "_").
_MD_ACTIVE = re.compile(r"[\\*<|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


# -- text -----------------------------------------------------------------------------------


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
    for match in CODE_SPAN.finditer(text):
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
    text = plain(command.short_help or command.help, markup_mode(command))
    first = text.split("\n\n", 1)[0]
    return _md_text(" ".join(first.split()))


# -- parameters -----------------------------------------------------------------------------


def _param_names(param: _click.Parameter) -> str:
    if isinstance(param, TyperArgument):
        name = param.metavar or param.name
        if param.metavar is None and param.nargs != 1:
            name += "..."
        return _code(name)
    names = [*param.opts, *param.secondary_opts]
    return ", ".join(_code(n) for n in names)


def _param_type(param: _click.Parameter, ctx: _click.Context) -> str:
    label = type_label(param, ctx)
    if isinstance(param, TyperOption) and (param.count or param.is_flag):
        return label
    text = _code(label) if label else ""
    if param.multiple:
        text = f"{text} (repeatable)".strip()
    return text


def _param_default(param: _click.Parameter, ctx: _click.Context) -> str:
    text, is_value = default_of(param, ctx)
    if not text:
        return ""
    return _code(text) if is_value else _md_text(text)


def _param_help(param: _click.Parameter, command: _click.Command) -> str:
    help_text = plain(getattr(param, "help", None), markup_mode(command))
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


def _section(entry: CommandEntry) -> list[str]:
    command = entry.command
    level = min(len(entry.path) + 1, 6)
    lines = ["#" * level + " " + entry.name, ""]
    if command.deprecated:
        note = command.deprecated if isinstance(command.deprecated, str) else ""
        lines += [f"**Deprecated.** {_md_text(note)}".strip(), ""]
    for para in _paragraphs(plain(command.help, markup_mode(command))):
        lines += [para, ""]
    lines += ["```text", usage(entry), "```", ""]
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
        for para in _paragraphs(plain(command.epilog, markup_mode(command))):
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
        if not plain(command.help or command.short_help, markup_mode(command)):
            out.append(f"{entry.name}: command has no help text")
        for p in entry.params():
            if plain(getattr(p, "help", None), markup_mode(command)):
                continue
            kind = "argument" if isinstance(p, TyperArgument) else "option"
            label = p.opts[0] if p.opts and kind == "option" else (p.metavar or p.name)
            out.append(f"{entry.name}: {kind} {label} has no help text")
    return out


def main() -> None:
    if sys.argv[1:] == ["--man"]:
        from ncctl.cli.man_page import render_man_page

        sys.stdout.write(render_man_page())
        return
    sys.stdout.write(render_cli_reference())


if __name__ == "__main__":
    main()
