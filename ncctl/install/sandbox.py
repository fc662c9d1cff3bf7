"""The sandbox of each generated unit (systemd.exec(5)), decided per unit.

Every unit: ``ProtectSystem=strict`` (the whole file system read-only) with ``ReadWritePaths=``
for exactly the directories it writes, ``PrivateTmp=``, ``ProtectHome=``, no new privileges,
kernel modules, logs, control groups, clock and host name protected, no namespaces, no
SUID/SGID files, native system calls of ``@system-service`` only (others fail with EPERM),
``UMask=0027``.

* ncctl's own units (scheduler, maintenance) run as ``[systemd] user``/``group`` with no
  capabilities at all, no devices, no realtime scheduling, no writable+executable memory
  (CPython needs none), Internet and local sockets only (SFTP, iLink, D-Bus for systemctl),
  pinned to the tuning profile's housekeeping CPUs, secrets passed with ``LoadCredential=``.
  A process-backend component started by the scheduler inherits this sandbox. No
  ``RemoveIPC=``: the components run as the same user, and their shared memory must survive
  the end of a maintenance run.
* the components (vendor trading programs) run as the same user, so that ncctl can rotate
  their files, but keep what low-latency programs use: realtime scheduling (``RestrictRealtime``
  off, ``LimitRTPRIO=99`` for SCHED_FIFO without a capability), locked memory, the host's
  devices (kernel-bypass NICs, huge pages), netlink (interface lookups for multicast joins),
  writable+executable memory (JIT runtimes); ``CPUAffinity=`` only when the tuning profile's
  ``[cpus]`` gives the component CPUs (otherwise they pin their own threads).
* ``ncctl-tune-boot.service`` (``tune reapply``) and ``ncctl-latency.service``
  (``tune hold-latency``) run as root with only what they write: kernel tunables and
  ``sched_setaffinity`` for the first, the one PM QoS device for the second.
* ``ncctl-tune.service`` runs as root because it writes ``/proc/sys``, ``/sys`` and files in
  ``/etc``, so kernel tunables stay writable and it keeps the devices (update-grub probes the
  boot disk); it has only the capabilities those writes need and no network at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ncctl.appconfig.credentials import ILINK_SECRET, destination_credential
from ncctl.appconfig.model import NcctlConfig
from ncctl.components.section import ComponentConfig
from ncctl.errors import ConfigError

COMMON = (
    "UMask=0027",
    "ProtectSystem=strict",
    "PrivateTmp=yes",
    "ProtectHome=yes",
    "NoNewPrivileges=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "PrivateMounts=yes",
    "RestrictNamespaces=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "KeyringMode=private",
    "SystemCallArchitectures=native",
    "SystemCallFilter=@system-service",
    "SystemCallErrorNumber=EPERM",
)
NCCTL = (
    "ProtectKernelTunables=yes",
    "PrivateDevices=yes",
    "RestrictRealtime=yes",
    "MemoryDenyWriteExecute=yes",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "SystemCallFilter=~@privileged @resources",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    # the schedule cache (ncctl.schedule.cache): /var/cache/ncctl, made writable by systemd
    "CacheDirectory=ncctl",
    "CacheDirectoryMode=0750",
    "Environment=NCCTL_CACHE_DIR=%C/ncctl",
)
COMPONENT = (
    "ProtectKernelTunables=yes",
    "RestrictRealtime=no",
    "LimitRTPRIO=99",
    "LimitMEMLOCK=infinity",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
)
TUNE = (
    "User=root",
    "ProtectKernelTunables=no",
    "RestrictRealtime=yes",
    "MemoryDenyWriteExecute=yes",
    "CapabilityBoundingSet=CAP_SYS_ADMIN CAP_NET_ADMIN CAP_DAC_OVERRIDE",
    "AmbientCapabilities=",
    "SystemCallFilter=~@resources",
    "RestrictAddressFamilies=AF_UNIX",
    "IPAddressDeny=any",
)
TUNE_BOOT = (
    "User=root",
    "ProtectKernelTunables=no",
    "RestrictRealtime=yes",
    "MemoryDenyWriteExecute=yes",
    # writes /proc/irq and /sys; taskset moves kernel threads (sched_setaffinity, CAP_SYS_NICE)
    "CapabilityBoundingSet=CAP_SYS_ADMIN CAP_SYS_NICE CAP_DAC_OVERRIDE",
    "AmbientCapabilities=",
    "PrivateDevices=yes",
    "RestrictAddressFamilies=AF_UNIX",
    "IPAddressDeny=any",
)
"""``ncctl-tune-boot.service`` (``tune reapply``): kernel tunables writable, no devices, no
network; ``@resources`` allowed (``sched_setaffinity``)."""
LATENCY = (
    "User=root",
    "ProtectKernelTunables=yes",
    "RestrictRealtime=yes",
    "MemoryDenyWriteExecute=yes",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "DevicePolicy=closed",
    "DeviceAllow=/dev/cpu_dma_latency rw",
    "SystemCallFilter=~@privileged @resources",
    "RestrictAddressFamilies=AF_UNIX",
    "IPAddressDeny=any",
)
"""``ncctl-latency.service`` (``tune hold-latency``): one device (root's, mode 0600), nothing
else."""
TUNE_FILES = ("etc/sysctl.d", "etc/tmpfiles.d", "etc/default", "etc/systemd", "boot")
"""Where ``ncctl tune host`` writes under the tuned root: sysctl.d and tmpfiles.d files, the
grub drop-in and ``/etc/default/irqbalance``, systemd's ``system.conf.d`` drop-in, and what
update-grub or grubby rewrite. Optional (``-``): a host may lack one."""
HIDDEN = {
    "/home": "ProtectHome=yes",
    "/root": "ProtectHome=yes",
    "/run/user": "ProtectHome=yes",
    "/tmp": "PrivateTmp=yes",  # noqa: S108 (a prefix to warn about, not a file)
    "/var/tmp": "PrivateTmp=yes",  # noqa: S108
}


def absolute(path: Path, base: Path) -> Path:
    return path if path.is_absolute() else base / path


def minimal(paths: Iterable[Path]) -> list[Path]:
    """``paths`` without duplicates and without those inside another one, sorted."""
    unique = sorted(set(paths))
    return [p for p in unique if not any(o != p and p.is_relative_to(o) for o in unique)]


def component_writable(comp: ComponentConfig, config: NcctlConfig, base: Path) -> list[Path]:
    """Where a component writes: its working directory, its log, its ready file, and the live
    directories of the log categories it owns."""
    found: list[Path] = []
    if comp.cwd is not None:
        found.append(absolute(comp.cwd, base))
    if comp.log_file is not None:
        found.append(absolute(comp.log_file, base).parent)
    if comp.ready is not None and comp.ready.path is not None:
        found.append(absolute(comp.ready.path, base).parent)
    for cat in config.logs.categories().values():
        if cat.owner is not None and getattr(config.components, cat.owner) is comp:
            found.append(absolute(Path(cat.path), base).parent)
    return found


def ncctl_writable(config: NcctlConfig, base: Path) -> list[Path]:
    """Where ncctl's own units write: the state directory, the live log directories (rotation
    renames there), the archive directories, the outboxes of ``file:`` destinations, and what
    the process-backend components they start write."""
    from ncctl.components.backend import COMPONENTS
    from ncctl.logs.url import parse_destination_url

    found = [absolute(config.state_dir, base), absolute(config.logs.archive_dir, base)]
    for name, cat in config.logs.categories().items():
        found.append(absolute(Path(cat.path), base).parent)
        found.append(absolute(config.logs.archive_for(name), base))
    for dest in config.destinations.values():
        url = parse_destination_url(dest.url)
        if url.scheme == "file":
            found.append(absolute(Path(url.path), base))
    for name in COMPONENTS:
        comp: ComponentConfig = getattr(config.components, name)
        if comp.backend == "process":
            found.extend(component_writable(comp, config, base))
    return minimal(found)


def tune_writable(config: NcctlConfig, base: Path) -> tuple[list[Path], list[Path]]:
    """(required, optional) directories of ``ncctl tune host``: the state directory, and the
    configuration files it persists under the tuned root."""
    root = absolute(config.tuning.root, base)
    return [absolute(config.state_dir, base)], [root / sub for sub in TUNE_FILES]


def credentials(config: NcctlConfig, base: Path) -> list[tuple[str, Path]]:
    """(credential name, absolute file) of every secret a unit loads: the iLink secret and
    the SFTP keys."""
    found: list[tuple[str, Path]] = []
    if config.ilink.secret_key_file is not None:
        found.append((ILINK_SECRET, absolute(config.ilink.secret_key_file, base)))
    for name, dest in config.destinations.items():
        if dest.key_file is None:
            continue
        credential = destination_credential(name)
        if credential is None:
            raise ConfigError(
                f"destinations.{name}: the name cannot name a systemd credential",
                hint="rename the destination with letters, digits, '_', '-' and '.'",
            )
        found.append((credential, absolute(dest.key_file, base)))
    return found


def longest_pass(config: NcctlConfig) -> float:
    """How long a reconcile pass may take without being hung: waiting for the runner lock,
    then stopping and starting (and waiting for) every component."""
    from ncctl.components.backend import COMPONENTS
    from ncctl.locks import RUNNER_LOCK_WAIT_S

    total = RUNNER_LOCK_WAIT_S
    for name in COMPONENTS:
        comp: ComponentConfig = getattr(config.components, name)
        total += comp.stop_timeout_s + (comp.ready.timeout_s if comp.ready else 0.0)
    return total


def relative_settings(config: NcctlConfig) -> list[str]:
    """Keys whose value is a relative path (taken from the working directory at run time)."""
    from pydantic import BaseModel

    from ncctl.logs.url import parse_destination_url

    found: list[str] = []

    def walk(model: BaseModel, prefix: str) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            items = value.items() if isinstance(value, dict) else [(None, value)]
            for key, item in items:
                where = prefix + name + (f".{key}" if key is not None else "")
                if isinstance(item, Path) and not item.is_absolute():
                    found.append(where)
                elif isinstance(item, BaseModel):
                    walk(item, where + ".")

    walk(config, "")
    for name, dest in config.destinations.items():
        if not parse_destination_url(dest.url).path.startswith("/"):
            found.append(f"destinations.{name}.url")
    for cat_name, cat in config.logs.categories().items():
        if not Path(cat.path).is_absolute():
            found.append(f"logs.{cat_name}.path")
    return sorted(found)


def hidden_by_sandbox(path: Path) -> str | None:
    """The setting that hides ``path`` from every unit (``ProtectHome=``, ``PrivateTmp=``)."""
    for prefix, setting in HIDDEN.items():
        if path.is_relative_to(prefix):
            return setting
    return None
