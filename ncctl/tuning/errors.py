"""The failures of tuning: a host that does not match its profile (exit 1 drift, 3 reboot
pending, 4 out of reach from here), and a rollback that left something behind."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ncctl.errors import NcctlError
from ncctl.tuning.kinds.base import Verdict
from ncctl.tuning.plan import Compliance, Plan, PlanItem

if TYPE_CHECKING:
    from ncctl.tuning.rollback import RollbackResult


class TuningDriftError(NcctlError):
    """The host differs from its profile in something ``tune host`` can change (exit 1)."""

    exit_code = int(Compliance.DRIFT)
    default_code = "tune.drift"


class RebootPendingError(NcctlError):
    """Boot parameters are staged and wait for a reboot (exit 3)."""

    exit_code = int(Compliance.REBOOT_PENDING)
    default_code = "tune.reboot_pending"


class UnreachableSettingError(NcctlError):
    """Settings that cannot be changed from here: host-only or unsupported (exit 4)."""

    exit_code = int(Compliance.UNREACHABLE)
    default_code = "tune.unsupported"


def setting_ids(items: list[PlanItem], limit: int = 5) -> str:
    names = [i.setting.id for i in items[:limit]]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(names) + more


def compliance_error(plan: Plan) -> NcctlError | None:
    """The failure a non-compliant plan is, with the settings that make it so, or None."""
    status = plan.compliance()
    name = plan.profile.name
    if status is Compliance.DRIFT:
        items = [i for i in plan.items if i.drifting]
        files = [f.path for f in plan.file_drift()]
        what = [setting_ids(items)] if items else []
        if files:
            what.append("persistence " + ", ".join(files))
        if plan.latency is not None and plan.latency.verdict == "drift":
            what.append(f"force_latency {plan.latency.reason()}")
        return TuningDriftError(
            f"drift from profile {name}: {'; '.join(what)}",
            hint="`ncctl tune plan` shows each change; `ncctl tune host` applies them",
        )
    if status is Compliance.REBOOT_PENDING:
        items = [i for i in plan.items if i.finding.verdict is Verdict.REBOOT]
        return RebootPendingError(
            f"reboot pending: {setting_ids(items)} staged in the boot loader for profile {name}",
            hint="reboot outside trading hours, then run `ncctl tune verify`",
        )
    if status is Compliance.UNREACHABLE:
        items = [
            i for i in plan.items if i.finding.verdict in (Verdict.HOST_ONLY, Verdict.UNSUPPORTED)
        ]
        what = [setting_ids(items)] if items else []
        if plan.latency is not None and plan.latency.verdict in ("unsupported", "host-only"):
            what.append(f"force_latency ({plan.latency.reason()})")
        return UnreachableSettingError(
            f"cannot be changed from here: {'; '.join(what)} (profile {name})",
            hint="each setting's reason says why; host-only ones need the host operator",
        )
    return None


def rollback_error(result: RollbackResult) -> NcctlError | None:
    """The failure of a rollback that left something behind, or None."""
    code = result.exit_code()
    if code == int(Compliance.DRIFT):
        left = [s.entry.id for s in result.of("skip")] + [f["id"] for f in result.failed]
        return TuningDriftError(
            f"rollback incomplete: {', '.join(left[:5])}"
            + (f" and {len(left) - 5} more" if len(left) > 5 else "")
            + " not restored",
            hint="skipped settings were changed by someone else since: check them, then "
            "`ncctl tune rollback --force --reason TEXT` restores them anyway",
            code="tune.rollback_incomplete",
        )
    if code == int(Compliance.REBOOT_PENDING):
        return RebootPendingError(
            "rollback done; the running kernel keeps its boot parameters until a reboot",
            hint="reboot outside trading hours, then run `ncctl tune verify`",
        )
    return None
