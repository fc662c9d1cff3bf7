"""Tuning profiles: TOML files under ``configs/tuning/`` with ordered inheritance.

A profile is a few tables of settings (``[sysctl]``, ``[sysfs]``, ``[hugepages]``, ``[thp]``,
``[governor]``, ``[irq]``, ``[boot]``), a ``[cpus]`` table naming the housekeeping and
isolated CPUs, and three keys at the top:

* ``extends = ["a", "b"]``: start from ``a``, merge ``b`` over it, then this file over both
  (a later source wins, key by key inside each table);
* ``remove = ["sysctl.vm.swappiness", "irq"]``: drop an inherited setting (``TABLE.KEY``) or a
  whole inherited table (``TABLE``) before this file's own tables are merged;
* ``description``, and the two reasons a profile must give to do something risky:
  ``isolate_cpu0_reason`` (CPU 0 is a housekeeping core unless a profile says why not) and
  ``weaken_tcp_reason`` (``tcp_timestamps``/``tcp_sack`` off weakens PAWS and loss recovery).

A name in ``extends`` is looked up beside the file that names it, then among the shipped
profiles; a value ending in ``.toml`` is a path. Errors name the file and the key (exit 78).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ncctl.errors import ConfigError
from ncctl.resources import data_dir

SETTING_TABLES = ("sysctl", "sysfs", "hugepages", "thp", "governor", "irq", "boot")
TABLES = (*SETTING_TABLES, "cpus", "pin")
SCALARS = ("description", "weaken_tcp_reason", "isolate_cpu0_reason")
META = ("extends", "remove")
MAX_DEPTH = 16
THP_KEYS = ("enabled", "defrag", "shmem_enabled")
CPU_KEYS = ("housekeeping", "isolated", "nic")
IRQBALANCE_MODES = ("ban", "stop", "ignore")
PIN_KEYS = ("irqbalance", "kthreads", "systemd_affinity", "force_latency")
MAX_LATENCY_US = 2_000_000_000
"""The largest value /dev/cpu_dma_latency takes (a signed 32-bit count of µs)."""
_COMPONENT = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
FORMATS = ("text", "int", "cpulist", "cpumask", "selection")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_BOOT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_BOOT_VALUE = re.compile(r"^[A-Za-z0-9_.,:/=+{}-]+$")
_SYSCTL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$")
_HUGE_SIZE = re.compile(r"^(\d+)\s*([kKmMgG])[bB]?$")
_NODE = re.compile(r"^node(\d+)$")
_INTERFACE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,14}$")
"""A network interface name as the kernel allows it (at most 15 bytes, no '/')."""


def shipped_dir() -> Path:
    """Where the shipped profiles live (``configs/tuning``)."""
    return data_dir("configs") / "tuning"


def shipped_profiles() -> list[str]:
    return sorted(p.stem for p in shipped_dir().glob("*.toml"))


@dataclass(frozen=True)
class Profile:
    """A profile with its parents merged in: every table flat (setting key -> value)."""

    name: str
    source: Path
    chain: tuple[str, ...]
    description: str = ""
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    weaken_tcp_reason: str | None = None
    isolate_cpu0_reason: str | None = None

    def table(self, name: str) -> dict[str, Any]:
        return self.tables.get(name, {})

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": str(self.source),
            "chain": list(self.chain),
            "description": self.description,
            "tables": self.tables,
            "weaken_tcp_reason": self.weaken_tcp_reason,
            "isolate_cpu0_reason": self.isolate_cpu0_reason,
        }


def load_profile(ref: str, search: Path | None = None) -> Profile:
    """Load profile ``ref`` (a shipped name, or a path ending in ``.toml``) with its parents."""
    path = locate(ref, search)
    merged = _resolve(path, ())
    chain = tuple(merged.pop("__chain__"))
    tables = {name: merged.pop(name) for name in TABLES if name in merged}
    return Profile(
        name=path.stem if ref.endswith(".toml") else ref,
        source=path,
        chain=chain,
        description=str(merged.get("description", "")),
        tables=tables,
        weaken_tcp_reason=merged.get("weaken_tcp_reason"),
        isolate_cpu0_reason=merged.get("isolate_cpu0_reason"),
    )


def locate(ref: str, beside: Path | None = None) -> Path:
    """The file of profile ``ref``: a ``.toml`` path, or a name beside ``beside`` or shipped."""
    if ref.endswith(".toml"):
        path = Path(ref)
        if beside is not None and not path.is_absolute():
            path = beside / path
        if not path.is_file():
            raise ConfigError(
                f"tuning profile {path}: no such file",
                hint="pass --profile NAME (a shipped profile) or the path of a profile file",
            )
        return path
    if not _NAME.match(ref):
        raise ConfigError(
            f"tuning profile name {ref!r} is not a name",
            hint="use letters, digits, '-', '_' and '.', or a path ending in .toml",
        )
    candidates = []
    if beside is not None:
        candidates.append(beside / f"{ref}.toml")
    candidates.append(shipped_dir() / f"{ref}.toml")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"tuning profile {ref!r} not found",
        hint=f"shipped profiles: {', '.join(shipped_profiles())}; or pass a .toml path",
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"tuning profile {path}: not valid TOML: {exc}", hint="fix the TOML syntax"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"tuning profile {path}: cannot read: {exc.strerror}", hint="check the file"
        ) from None


def _resolve(path: Path, stack: tuple[Path, ...]) -> dict[str, Any]:
    real = path.resolve()
    if real in stack:
        cycle = " -> ".join(p.stem for p in (*stack, real))
        raise ConfigError(
            f"tuning profile {path}: extends forms a cycle ({cycle})",
            hint="remove one of the extends entries",
        )
    if len(stack) >= MAX_DEPTH:
        raise ConfigError(
            f"tuning profile {path}: extends nests deeper than {MAX_DEPTH}",
            hint="flatten the profile chain",
        )
    doc = _read(path)
    _check_top(doc, path)
    merged: dict[str, Any] = {"__chain__": []}
    for parent in doc.get("extends", []):
        try:
            parent_path = locate(parent, path.parent)
        except ConfigError as err:
            raise ConfigError(
                f"tuning profile {path}: extends {parent!r}: {err.message}", hint=err.hint
            ) from None
        parent_doc = _resolve(parent_path, (*stack, real))
        merged = _merge(merged, parent_doc)
    for item in doc.get("remove", []):
        _remove(merged, item, path)
    own = _own_tables(doc, path)
    merged = _merge(merged, own)
    merged["__chain__"] = [*merged["__chain__"], path.stem]
    return merged


def _check_top(doc: dict[str, Any], path: Path) -> None:
    known = (*TABLES, *SCALARS, *META)
    for key, value in doc.items():
        if key not in known:
            raise ConfigError(
                f"tuning profile {path}: unknown key {key!r}",
                hint=f"known keys: {', '.join(known)}",
            )
        if key in TABLES and not isinstance(value, dict):
            raise ConfigError(f"tuning profile {path}: {key} must be a table", hint=f"[{key}]")
        if key in SCALARS and not (isinstance(value, str) and value.strip()):
            raise ConfigError(
                f"tuning profile {path}: {key} must be a non-empty string", hint="quote it"
            )
        if key in META and not (
            isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        ):
            raise ConfigError(
                f"tuning profile {path}: {key} must be a list of strings",
                hint=f'{key} = ["..."]',
            )


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if key == "__chain__":
            out[key] = [*base.get(key, []), *value]
        elif key in TABLES:
            out[key] = {**base.get(key, {}), **value}
        else:
            out[key] = value
    return out


def _remove(merged: dict[str, Any], item: str, path: Path) -> None:
    table, _, key = item.partition(".")
    if table in SCALARS and not key:
        if table not in merged:
            raise ConfigError(
                f"tuning profile {path}: remove names {item!r}, which no parent sets",
                hint="remove only what an extended profile sets",
            )
        del merged[table]
        return
    if table not in TABLES:
        raise ConfigError(
            f"tuning profile {path}: remove names {item!r}, which is not TABLE or TABLE.KEY",
            hint=f"tables: {', '.join(TABLES)}",
        )
    if not key:
        if table not in merged:
            raise ConfigError(
                f"tuning profile {path}: remove names table {table!r}, which no parent sets",
                hint="remove only what an extended profile sets",
            )
        del merged[table]
        return
    if key not in merged.get(table, {}):
        raise ConfigError(
            f"tuning profile {path}: remove names {item!r}, which no parent sets",
            hint="check the spelling against the extended profiles (`ncctl tune plan`)",
        )
    merged[table] = {k: v for k, v in merged[table].items() if k != key}


def _own_tables(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    own: dict[str, Any] = {k: doc[k] for k in SCALARS if k in doc}
    for table in TABLES:
        if table not in doc:
            continue
        raw = doc[table]
        entries = _flatten_sysctl(raw, "", path) if table == "sysctl" else dict(raw)
        own[table] = {key: _check_entry(table, key, value, path) for key, value in entries.items()}
    return own


def _is_typed(value: Any) -> bool:
    return isinstance(value, dict) and ("value" in value or "cpus" in value)


def _flatten_sysctl(raw: dict[str, Any], prefix: str, path: Path) -> dict[str, Any]:
    """``[sysctl.net.ipv4] tcp_rmem = ...`` and ``"net.ipv4.tcp_rmem" = ...`` alike."""
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and not _is_typed(value):
            if len(name.split(".")) > 32:
                raise ConfigError(f"tuning profile {path}: sysctl.{name}: too deep", hint="")
            flat.update(_flatten_sysctl(value, name, path))
        else:
            flat[name] = value
    return flat


def _bad(path: Path, where: str, what: str, hint: str) -> ConfigError:
    return ConfigError(f"tuning profile {path}: {where}: {what}", hint=hint)


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def _check_typed(value: Any, where: str, path: Path) -> Any:
    if _scalar(value):
        return value
    if not _is_typed(value):
        raise _bad(
            path,
            where,
            "must be a string, an integer or a table {value, format} / {cpus, format}",
            'for example 10, "4096 131072 6291456" or { cpus = "housekeeping", format = '
            '"cpumask" }',
        )
    extra = set(value) - {"value", "cpus", "format"}
    if extra or ("value" in value and "cpus" in value):
        raise _bad(path, where, "takes value or cpus, and format", "remove the other keys")
    fmt = value.get("format", "text" if "value" in value else "cpulist")
    if fmt not in FORMATS:
        raise _bad(path, where, f"format {fmt!r} is unknown", f"one of {', '.join(FORMATS)}")
    inner = value.get("value", value.get("cpus"))
    if not _scalar(inner):
        raise _bad(path, where, "value must be a string or an integer", "quote it")
    if "cpus" in value and fmt not in ("cpulist", "cpumask"):
        raise _bad(path, where, "cpus needs format cpulist or cpumask", "")
    return value


def _check_entry(table: str, key: str, value: Any, path: Path) -> Any:
    where = f"{table}.{key}"
    if table == "sysctl":
        if not _SYSCTL_NAME.match(key) or ".." in key or "//" in key:
            raise _bad(path, where, "is not a sysctl name", "like net.ipv4.tcp_rmem")
        return _check_typed(value, where, path)
    if table == "sysfs":
        rel = key.removeprefix("/sys/").strip("/")
        if not rel or ".." in rel.split("/") or any(c.isspace() for c in rel):
            raise _bad(path, where, "is not a path under /sys", 'like "kernel/mm/ksm/run"')
        return _check_typed(value, where, path)
    if table == "hugepages":
        if not _HUGE_SIZE.match(key):
            raise _bad(path, where, "is not a huge page size", 'like "2048kB", "2M" or "1G"')
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        if isinstance(value, dict) and value:
            for node, count in value.items():
                if not _NODE.match(node) or not (
                    isinstance(count, int) and not isinstance(count, bool) and count >= 0
                ):
                    raise _bad(
                        path,
                        f"{where}.{node}",
                        "must be nodeN = COUNT (a count >= 0)",
                        '"2048kB" = { node0 = 256, node1 = 256 }',
                    )
            return value
        raise _bad(path, where, "must be a page count or a table of nodeN = count", "")
    if table == "thp":
        if key not in THP_KEYS:
            raise _bad(path, where, "is not a THP file", f"one of {', '.join(THP_KEYS)}")
        if not (isinstance(value, str) and value.isidentifier()):
            raise _bad(path, where, "must be one word", 'like "never"')
        return value
    if table == "governor":
        if not (isinstance(value, str) and _NAME.match(value)):
            raise _bad(path, where, "must be a governor name", 'like "performance"')
        return value
    if table == "irq":
        if key not in ("all", "default") and not key.isdigit():
            raise _bad(path, where, "is not an IRQ", 'use "all", "default" or an IRQ number')
        if not isinstance(value, str):
            raise _bad(path, where, "must be CPUs", '"housekeeping" or a CPU list like "0-1"')
        return value
    if table == "boot":
        if not _BOOT_NAME.match(key):
            raise _bad(path, where, "is not a kernel parameter name", "like isolcpus")
        if value is True:
            return value
        if not (isinstance(value, str | int) and not isinstance(value, bool)):
            raise _bad(path, where, "must be a string (or true for a flag)", "")
        if not _BOOT_VALUE.match(str(value)):
            raise _bad(
                path,
                where,
                f"{value!r} has characters a boot loader would mangle",
                "no spaces, quotes, '$', '`' or '\\' in kernel parameters",
            )
        return value
    if table == "pin":
        return _check_pin(key, value, path)
    if key not in CPU_KEYS and not _COMPONENT.match(key):
        raise _bad(
            path,
            where,
            "is not a CPU set or component name",
            f"one of {', '.join(CPU_KEYS)}, or a component (order_session, feed_handler)",
        )
    if key not in CPU_KEYS:
        # a component's CPUs: "auto" (its own isolated core), a CPU set name, or a list
        if not isinstance(value, str) or not value.strip():
            raise _bad(path, where, "must be CPUs", '"auto", "housekeeping" or a list like "3"')
        return value
    if key == "nic":
        names = str(value).split(",") if isinstance(value, str) else []
        if not names or not all(_INTERFACE.match(n.strip()) for n in names):
            raise _bad(path, where, "must be interface names, comma-separated, or auto", '"ens1f0"')
        return value
    if not isinstance(value, str):
        raise _bad(path, where, "must be a CPU list string", 'like "0" or "0-1", or "auto"')
    return value


def _check_pin(key: str, value: Any, path: Path) -> Any:
    where = f"pin.{key}"
    if key not in PIN_KEYS:
        raise _bad(path, where, "is not a pinning setting", f"one of {', '.join(PIN_KEYS)}")
    if key == "irqbalance":
        if value not in IRQBALANCE_MODES:
            raise _bad(
                path, where, f"{value!r} is not a mode", f"one of {', '.join(IRQBALANCE_MODES)}"
            )
        return value
    if key == "force_latency":
        if not (isinstance(value, int) and not isinstance(value, bool)) or not (
            0 <= value <= MAX_LATENCY_US
        ):
            raise _bad(
                path,
                where,
                f"must be microseconds, 0 to {MAX_LATENCY_US}",
                "0 keeps every CPU out of deep C-states; leave it out to hold nothing",
            )
        return value
    if not isinstance(value, bool):
        raise _bad(path, where, "must be true or false", f"{key} = true")
    return value


def huge_size_kb(key: str) -> int:
    """``2048kB``, ``2M``, ``2MB``, ``1G`` as kB."""
    found = _HUGE_SIZE.match(key.strip())
    if not found:
        raise ValueError(f"{key!r} is not a huge page size")
    number, unit = int(found.group(1)), found.group(2).lower()
    return number * {"k": 1, "m": 1024, "g": 1024 * 1024}[unit]


def node_number(key: str) -> int:
    found = _NODE.match(key)
    if not found:
        raise ValueError(f"{key!r} is not nodeN")
    return int(found.group(1))
