"""``state_dir/tuning/state.json``: the boot parameters staged and the boot id at that
time, and the writes the kernel refused in this boot."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

from ncctl.errors import DataError
from ncctl.tuning.rollback_journal import ensure_dir


class TuningRecord:
    """``state_dir/tuning/state.json``: staged boot parameters and refused writes."""

    NAME = "state.json"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / self.NAME

    def load(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            raise DataError(
                f"{self.path}: unreadable tuning state",
                hint="delete it; `ncctl tune verify` then re-reads the host",
            ) from None
        return doc if isinstance(doc, dict) else {}

    def save(self, doc: dict[str, Any]) -> None:
        from ncctl.floor import write_text_atomic

        ensure_dir(self.directory)
        write_text_atomic(self.path, json.dumps(doc, indent=2, sort_keys=True) + "\n", mode=0o640)

    def refusals(self, boot_id: str | None) -> dict[str, dict[str, Any]]:
        """Writes refused by the kernel in the current boot, by setting id."""
        found = self.load().get("refusals", {})
        if not isinstance(found, dict):
            return {}
        return {
            k: v for k, v in found.items() if isinstance(v, dict) and v.get("boot_id") == boot_id
        }

    def note_refusal(self, ident: str, err: OSError, boot_id: str | None) -> None:
        doc = self.load()
        refusals = {
            k: v
            for k, v in doc.get("refusals", {}).items()
            if isinstance(v, dict) and v.get("boot_id") == boot_id
        }
        refusals[ident] = {
            "errno": err.errno,
            "error": f"{errno.errorcode.get(err.errno or 0, 'E?')}: {err.strerror}",
            "boot_id": boot_id,
        }
        doc["refusals"] = refusals
        self.save(doc)

    def boot(self) -> dict[str, Any]:
        found = self.load().get("boot", {})
        return found if isinstance(found, dict) else {}

    def set_boot(self, record: dict[str, Any] | None) -> None:
        doc = self.load()
        if record is None:
            doc.pop("boot", None)
        else:
            doc["boot"] = record
        self.save(doc)
