"""Views of ``ncctl maintenance run``: what one reconcile pass did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import view

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from ncctl.cli.context import OutputOptions
    from ncctl.errors import NcctlError


@dataclass(frozen=True)
class MaintenancePass:
    """One pass: ``{"skipped": True, "reason"}`` when another pass held the runner lock, else
    ``{"skipped": False, **PassReport.as_dict()}``."""

    data: dict[str, Any]
    zone: ZoneInfo | None
    """The zone of the text's times (set when the pass ran)."""

    def failure(self) -> NcctlError | None:
        from ncctl.errors import RefusedError

        errors = [] if self.data["skipped"] else self.data["errors"]
        if not errors:
            return None
        first = errors[0]
        return RefusedError(
            f"{len(errors)} component action(s) failed; first: {first['message']}",
            hint=first.get("hint") or "see `ncctl status`",
            code="maintenance.failed",
        )


def pass_text(result: MaintenancePass, console: Console, out: OutputOptions) -> None:
    from ncctl.cli.times import local, print_zone

    data = result.data
    if data["skipped"] or result.zone is None:
        console.print(f"skipped: {data['reason']}")
        return
    zone = result.zone
    print_zone(console, zone)
    at = local(data["at"], zone)
    if not (data["actions"] or data["jobs"] or data["alerts"]):
        console.print(f"{at}: nothing to do")
    for a in data["actions"]:
        console.print(f"{at}: {a['component']}: {a['message']}", markup=False)
    for j in data["jobs"]:
        line = f"{at}: job {j['job']} ({j['instance']}): {j['state']}"
        if j["state"] != "done":
            line += f": {j.get('message', '')}"
        console.print(line, markup=False)
    for al in data["alerts"]:
        console.print(
            f"[red]ALERT[/red] job {al['job']} ({al['instance']}) not done when its "
            f"window closed at {local(al['window_closed'], zone)}: {al['error']}"
        )


@view(MaintenancePass, pass_text)
def pass_data(result: MaintenancePass) -> dict[str, Any]:
    return result.data
