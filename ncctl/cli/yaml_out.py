"""``-o yaml``: JSON-shaped data as block-style YAML, without a YAML library.

Every string (and every key) is double-quoted with only printable ASCII left as it is, so no
value is ever read back as another type (``"no"``, ``"1.0"``, ``"null"`` stay strings) and a
file name that is not UTF-8 cannot make the document invalid.
"""

from __future__ import annotations

import math
from typing import Any

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def quote(text: str) -> str:
    """A YAML double-quoted scalar for ``text``: printable ASCII kept, everything else escaped."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        mantissa, e, exponent = text.partition("e")
        if "." not in mantissa:  # YAML 1.1 reads a float only with a dot: 1e+100 is a string
            mantissa += ".0"
        if e and exponent[0] not in "+-":
            exponent = "+" + exponent
        return mantissa + (f"e{exponent}" if e else "")
    return quote(str(value))


def _lines(value: Any) -> list[str]:
    """``value`` as YAML lines at indent 0 (a scalar or an empty container is one line)."""
    if isinstance(value, dict) and value:
        lines: list[str] = []
        for key, item in value.items():
            head = f"{quote(str(key))}:"
            lines += _nested(head, item, "  ")
        return lines
    if isinstance(value, list | tuple) and value:
        lines = []
        for item in value:
            lines += _nested("-", item, "  ", inline_containers=True)
        return lines
    if isinstance(value, dict):
        return ["{}"]
    if isinstance(value, list | tuple):
        return ["[]"]
    return [_scalar(value)]


def _nested(head: str, item: Any, pad: str, *, inline_containers: bool = False) -> list[str]:
    """``head`` followed by ``item``: on the same line when it is one line, else below it
    (a list item's mapping or list starts on the dash's line)."""
    sub = _lines(item)
    container = isinstance(item, dict | list | tuple) and bool(item)
    if not container:
        return [f"{head} {sub[0]}"]
    if inline_containers:
        return [f"{head} {sub[0]}", *(pad + line for line in sub[1:])]
    return [head, *(pad + line for line in sub)]


def dump(value: Any) -> str:
    """The YAML document for JSON-shaped ``value``, ending in a newline."""
    return "\n".join(_lines(value)) + "\n"
