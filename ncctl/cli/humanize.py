"""Sizes for people: one helper, binary units (JSON keeps bytes)."""

from __future__ import annotations

UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def human_size(size: int | None) -> str:
    """``size`` bytes as ``"512 B"``, ``"1.5 KiB"``, ``"3.2 GiB"``: below 1024 in its unit,
    one decimal; empty for an unknown size."""
    if size is None:
        return ""
    if abs(size) < 1024:
        return f"{size} B"
    value = float(size)
    step = 0
    while True:
        value /= 1024
        if abs(round(value, 1)) < 1024 or step == len(UNITS) - 1:
            return f"{value:.1f} {UNITS[step]}"
        step += 1
