"""How values are written in a systemd unit file: ``ExecStart=`` words, ``Environment=``
assignments, path settings and path lists, durations.

Quoting follows systemd.syntax(7) and systemd.service(5): every ``%`` is written ``%%``
(specifiers), every ``$`` of an argument ``$$`` (variable expansion; the executable path itself
is never expanded), and a word with a space, a quote or a backslash is written in double quotes
with C escapes.
"""

from __future__ import annotations

from pathlib import Path

from ncctl.errors import ConfigError

_C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


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
    return checked_path(path, key).replace("%", "%%")


def duration(seconds: float) -> str:
    """A ``*Sec=`` value: whole seconds, else milliseconds."""
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def checked_path(path: Path, key: str) -> str:
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
    text = ("-" if optional else "") + checked_path(path, key)
    escaped = text.replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"')
    plain = escaped == text.replace("%", "%%") and not any(c.isspace() for c in text)
    return escaped if plain and "'" not in text else f'"{escaped}"'
