"""The boot configuration as a whole: what the boot loader's artifacts were before the first
apply, so that a rollback converges whatever an earlier (killed) run left.

Before ncctl first stages anything, one rollback journal entry (kind ``bootcfg``) records a
fingerprint of every boot artifact: for update-grub the drop-in and each ``grub.cfg``
(``/boot/grub/grub.cfg``, ``/boot/grub2/grub.cfg``), for grubby the kernel arguments of the
default entry. Being the oldest boot entry, a rollback judges it last, after the drop-in or
the grubby arguments were put back: when any artifact still differs from before the apply,
whichever earlier run restored what, the boot configuration is regenerated (update-grub) or
the arguments set back (grubby); when all match, it is closed.
"""

from __future__ import annotations

import errno
import json
import os

from ncctl.tuning.host import Host
from ncctl.tuning.kinds.boot_loader import DROPIN, BootBackend, Grubby, GrubDropIn, detect_backend
from ncctl.tuning.rollback_journal import RollbackEntry, RollbackJournal, RollbackStep, sha256_hex

KIND = "bootcfg"
ENTRY_ID = "bootcfg"
GRUB_CFGS = ("/boot/grub/grub.cfg", "/boot/grub2/grub.cfg")


def fingerprint(host: Host, backend: BootBackend) -> dict[str, str | None]:
    """Each boot artifact of ``backend`` (sha256 of a file, or grubby's arguments)."""
    if isinstance(backend, Grubby):
        staged = backend.staged({})
        tokens = [n if v is None else f"{n}={v}" for n, v in staged.params.items()]
        return {"grubby args": " ".join(tokens) if staged.confirmed else None}
    return {path: _digest(host, path) for path in (DROPIN, *GRUB_CFGS)}


def _digest(host: Host, path: str) -> str | None:
    """The sha256 of a file under the root (None: absent), read without following a link
    (a link or an unreadable file is fingerprinted by the error)."""
    try:
        fd = os.open(host.path(path), os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"unreadable: {errno.errorcode.get(exc.errno or 0, exc.errno)}"
    with os.fdopen(fd, "rb") as fh:
        return sha256_hex(fh.read())


def remember(
    host: Host, backend: BootBackend, journal: RollbackJournal, boot_id: str | None
) -> None:
    """Record the boot artifacts as they are, before the first staging (once: a later apply
    keeps the first fingerprint)."""
    journal.remember(
        RollbackEntry(
            id=ENTRY_ID,
            kind=KIND,
            path=backend.name,
            root=str(host.root),
            original=json.dumps(fingerprint(host, backend), sort_keys=True),
            boot_id=boot_id,
        ),
        intended="staged",
    )


def _before(entry: RollbackEntry) -> dict[str, str | None]:
    try:
        loaded = json.loads(entry.original or "{}")
    except json.JSONDecodeError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def assess(entry: RollbackEntry, host: Host) -> RollbackStep:
    """Regenerate when any boot artifact differs from before the apply (see the module)."""
    backend = detect_backend(host)
    if backend is None or backend.name != entry.path:
        return RollbackStep(entry, "gone", None, f"the {entry.path} boot loader is gone")
    before, now = _before(entry), fingerprint(host, backend)
    differ = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
    if not differ:
        return RollbackStep(entry, "unchanged", "as before", "every boot artifact as before")
    what = "update-grub" if isinstance(backend, GrubDropIn) else "grubby"
    return RollbackStep(
        entry, "restore", "changed", f"{', '.join(differ)} differ from before: {what}"
    )


def restore(entry: RollbackEntry, host: Host) -> None:
    """Regenerate the boot configuration, or set grubby's arguments back."""
    backend = detect_backend(host)
    if isinstance(backend, GrubDropIn):
        outcome = backend.regenerate()
    elif isinstance(backend, Grubby):
        was = (_before(entry).get("grubby args") or "").split()
        now = backend.staged({}).params
        names = {t.partition("=")[0] for t in was}
        add = [t for t in was if t not in {n if v is None else f"{n}={v}" for n, v in now.items()}]
        outcome = backend.update(add, sorted(set(now) - names))
    else:
        raise OSError(f"the {entry.path} boot loader is gone")
    if not outcome.ok:
        raise OSError(outcome.message)
