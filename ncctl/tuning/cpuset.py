"""CPU sets as the kernel writes them: lists (``0-3,8``) and hexadecimal masks (``ff``).

``/sys/devices/system/cpu/isolated`` and ``/proc/irq/*/smp_affinity_list`` hold lists;
``/proc/irq/default_smp_affinity`` and the workqueue ``cpumask`` files hold masks, written in
comma-separated 32-bit groups (``ff,ffffffff``) on machines with more than 32 CPUs. Both
parse to a ``frozenset`` of CPU numbers, so that a list and a mask of the same CPUs compare
equal.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_CPUS = 8192
"""The largest CPU number accepted plus one (the kernel's NR_CPUS ceiling)."""

CpuSet = frozenset[int]


def parse_cpulist(text: str) -> CpuSet:
    """``0-3,8`` (whitespace and an empty list allowed) as a set; ValueError when malformed."""
    cpus: set[int] = set()
    body = "".join(text.split())
    if body in ("", "(null)"):
        return frozenset()
    for part in body.split(","):
        if not part:
            raise ValueError(f"empty element in CPU list {text.strip()!r}")
        first, sep, last = part.partition("-")
        lo = _cpu_number(first, text)
        hi = _cpu_number(last, text) if sep else lo
        if hi < lo:
            raise ValueError(f"descending range {part!r} in CPU list {text.strip()!r}")
        cpus.update(range(lo, hi + 1))
    return frozenset(cpus)


def _cpu_number(word: str, text: str) -> int:
    if not word.isdigit():
        raise ValueError(f"{word!r} is not a CPU number in {text.strip()!r}")
    number = int(word)
    if number >= MAX_CPUS:
        raise ValueError(f"CPU {number} is beyond {MAX_CPUS - 1} in {text.strip()!r}")
    return number


def format_cpulist(cpus: Iterable[int]) -> str:
    """The canonical list: ascending, ranges of three or more CPUs as ``a-b`` (kernel style)."""
    ordered = sorted(set(cpus))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        if j == i:
            parts.append(str(ordered[i]))
        else:
            parts.append(f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def parse_cpumask(text: str) -> CpuSet:
    """A hexadecimal mask (``ff``, ``0x3``, ``00000000,000000ff``) as a set."""
    body = "".join(text.split()).lower()
    body = body.removeprefix("0x")
    if not body:
        raise ValueError("empty CPU mask")
    groups = body.split(",")
    value = 0
    for group in groups:
        if not group or len(group) > 8 or any(c not in "0123456789abcdef" for c in group):
            raise ValueError(f"{text.strip()!r} is not a hexadecimal CPU mask")
        value = (value << 32) | int(group, 16)
    if value.bit_length() > MAX_CPUS:
        raise ValueError(f"CPU mask {text.strip()!r} names CPUs beyond {MAX_CPUS - 1}")
    return frozenset(i for i in range(value.bit_length()) if value >> i & 1)


def format_cpumask(cpus: Iterable[int]) -> str:
    """The kernel's mask text: 32-bit groups, comma-separated, the first one unpadded."""
    value = 0
    for cpu in cpus:
        value |= 1 << cpu
    groups: list[str] = []
    while True:
        groups.append(f"{value & 0xFFFFFFFF:08x}")
        value >>= 32
        if value == 0:
            break
    groups.reverse()
    groups[0] = groups[0].lstrip("0") or "0"
    return ",".join(groups)
