"""How a kernel value reads, and its canonical form for comparison.

A value read back from the kernel rarely looks like the value written: ``tcp_rmem`` comes
back tab-separated, a mask file answers ``3`` to ``0-1``, a selection file answers
``always [madvise] never``. Comparing raw text gives verify false negatives, so every value
is compared in its canonical form:

* ``text``: whitespace runs collapsed to one space, ends stripped;
* ``int``: a decimal integer;
* ``cpulist`` and ``cpumask``: the CPU set, shown as a canonical list (``0-3,8``);
* ``selection``: the bracketed choice of ``a [b] c``, or the text itself.
"""

from __future__ import annotations

import re
from enum import StrEnum

from ncctl.tuning.cpuset import format_cpulist, format_cpumask, parse_cpulist, parse_cpumask


class ValueFormat(StrEnum):
    TEXT = "text"
    INT = "int"
    CPULIST = "cpulist"
    CPUMASK = "cpumask"
    SELECTION = "selection"


_SELECTED = re.compile(r"\[([^\]\s]+)\]")


def normalise_text(raw: str) -> str:
    return " ".join(raw.split())


def selected(raw: str) -> str:
    """The selected word of ``always [madvise] never``; the whole text when none is marked."""
    found = _SELECTED.search(raw)
    return found.group(1) if found else normalise_text(raw)


def choices(raw: str) -> list[str]:
    """Every word a selection file offers (brackets removed)."""
    return [w.strip("[]") for w in raw.split()]


def canonical(fmt: ValueFormat, raw: str) -> str:
    """The canonical form of ``raw``; ValueError when it does not parse as ``fmt``."""
    if fmt is ValueFormat.TEXT:
        return normalise_text(raw)
    if fmt is ValueFormat.INT:
        text = raw.strip()
        try:
            return str(int(text, 10))
        except ValueError:
            raise ValueError(f"{text!r} is not an integer") from None
    if fmt is ValueFormat.CPULIST:
        return format_cpulist(parse_cpulist(raw))
    if fmt is ValueFormat.CPUMASK:
        return format_cpulist(parse_cpumask(raw))
    return selected(raw)


def same(fmt: ValueFormat, a: str, b: str) -> bool:
    """Whether two values are the same once canonical (False when either does not parse)."""
    try:
        return canonical(fmt, a) == canonical(fmt, b)
    except ValueError:
        return False


def writable_form(fmt: ValueFormat, value: str) -> str:
    """The text to write to the kernel for a desired value in canonical form (a CPU list for
    both CPU formats)."""
    if fmt is ValueFormat.CPUMASK:
        return format_cpumask(parse_cpulist(value))
    if fmt is ValueFormat.SELECTION:
        return selected(value)
    if fmt is ValueFormat.CPULIST:
        return format_cpulist(parse_cpulist(value))
    return normalise_text(value)


def restore_form(fmt: ValueFormat, original_raw: str) -> str:
    """The text that puts back a value read earlier: the raw text itself (the kernel takes
    what it printed), except for a selection, whose file takes only the chosen word."""
    if fmt is ValueFormat.SELECTION:
        return selected(original_raw)
    return original_raw.rstrip("\n")
