"""Run the collection's playbooks with a real ansible-playbook child against a fleet.

:func:`write_inventory` makes the inventory (ansible_port per host, the fleet's key, the test
interpreter on the hosts, a generated known_hosts with strict host key checking);
:func:`run_playbook` runs one playbook, bounded in time, and returns its recap per host.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fleet.hosts import FleetHost, Keys
from tests.sshd import LOOPBACK, free_port

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "ansible_collections" / "ncctl" / "fleet" / "playbooks"
PLAYBOOK_TIMEOUT_S = 240.0
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)
CLOCK = "2026-12-06T15:10-06:00"
"""Sunday 15:10 in Chicago: the feed handler is wanted up, order entry is not yet."""


def ansible_unavailable() -> str | None:
    if not ANSIBLE_PLAYBOOK.exists():
        return "ansible-playbook is not installed (the dev extra pins ansible-core)"
    if shutil.which("nsenter") is None:
        return "nsenter(1) is not installed (util-linux)"
    return None


STATE_DIR = "/var/lib/ncctl"
"""Every host's state directory: the same path on each, as in a fleet of containers."""


def host_config() -> dict[str, Any]:
    """A development configuration with absolute paths (the simulated feed handler), the
    same for every host."""
    status_file = f"{STATE_DIR}/run/feed_handler.status"
    return {
        "environment": "dev",
        "state_dir": STATE_DIR,
        "schedule": {"display_tz": "America/Chicago"},
        "components": {
            "feed_handler": {
                "backend": "process",
                "command": [
                    "{python}",
                    "-m",
                    "ncctl.sim.feed_handler",
                    "--status-file",
                    status_file,
                ],
                "log_file": f"{STATE_DIR}/log/feed_handler.log",
                "ready": {"kind": "status_file", "path": status_file},
            }
        },
        "tuning": {"profile": "dev", "root": f"{STATE_DIR}/fakeroot"},
    }


def identity(name: str) -> dict[str, str]:
    """The client and site of host ``name`` in the inventory: one client per host."""
    return {"ncctl_client": f"client-{name}", "ncctl_site": "chicago"}


def write_inventory(
    directory: Path,
    hosts: list[FleetHost],
    keys: Keys,
    *,
    artifact: Path,
    host_vars: dict[str, dict[str, Any]] | None = None,
    unreachable: tuple[str, ...] = (),
    **group_vars: Any,
) -> Path:
    """An inventory of ``hosts`` (and of names that nothing answers for: ``unreachable``)."""
    known_hosts = directory / "known_hosts"
    known_hosts.write_text("".join(h.known_hosts_line for h in hosts), encoding="ascii")
    entries: dict[str, dict[str, Any]] = {
        h.name: {
            "ansible_port": h.port,
            "ncctl_config": host_config(),
            **identity(h.name),
            **(host_vars or {}).get(h.name, {}),
        }
        for h in hosts
    }
    for name in unreachable:
        entries[name] = {"ansible_port": free_port()}
    inventory = {
        "ncctl": {
            "hosts": entries,
            "vars": {
                "ansible_host": LOOPBACK,
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(keys.client_key),
                "ansible_ssh_common_args": f"-o UserKnownHostsFile={known_hosts} "
                "-o StrictHostKeyChecking=yes -o ConnectTimeout=5",
                "ansible_python_interpreter": sys.executable,
                "ncctl_python": sys.executable,
                "ncctl_artifact": str(artifact),
                "ncctl_clock": CLOCK,
                **group_vars,
            },
        }
    }
    path = directory / "inventory.yml"
    path.write_text(json.dumps(inventory, indent=1), encoding="utf-8")  # JSON is YAML
    return path


@dataclass(frozen=True)
class PlaybookRun:
    code: int
    out: str
    err: str
    recap: dict[str, dict[str, int]]

    def changed(self) -> dict[str, int]:
        return {host: counts["changed"] for host, counts in self.recap.items()}

    def failed(self) -> set[str]:
        return {h for h, c in self.recap.items() if c["failed"]}

    def unreachable(self) -> set[str]:
        return {h for h, c in self.recap.items() if c["unreachable"]}


def run_playbook(
    playbook: str, inventory: Path, workdir: Path, *args: str, forks: int = 20
) -> PlaybookRun:
    """``ansible-playbook -i INVENTORY playbooks/PLAYBOOK ARGS`` in ``workdir``."""
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(REPO),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_FORKS": str(forks),
        # a master connection per host; it ends with the host's sshd (FleetHost.stop)
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=60s",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(workdir / "cp"),
        "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-local"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "PWD": str(workdir),
    }
    done = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(PLAYBOOKS / playbook), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=PLAYBOOK_TIMEOUT_S,
        check=False,
    )
    recap = {
        m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
        for m in RECAP.finditer(done.stdout)
    }
    return PlaybookRun(done.returncode, done.stdout, done.stderr, recap)
