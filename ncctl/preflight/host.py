"""Host checks: the tuning profile (``ncctl tune verify``) and clock synchronisation."""

from __future__ import annotations

import shutil
import subprocess

from ncctl.preflight.result import CheckResult, Context

TUNING = "tuning"
CLOCK_SYNC = "clock_sync"
COMMAND_TIMEOUT_S = 5.0


def tuning(ctx: Context) -> CheckResult:
    """The read-only check of ``ncctl tune verify``: drift fails; a pending reboot or a
    setting that cannot be changed from here warns."""
    from ncctl.tuning.errors import compliance_error
    from ncctl.tuning.fakeroot import uses_fake_root
    from ncctl.tuning.host import Host
    from ncctl.tuning.plan import Compliance
    from ncctl.tuning.profiles import load_profile
    from ncctl.tuning.tuner import Tuner
    from ncctl.tuning.window import trading_window

    cfg = ctx.config.tuning
    if not cfg.root.is_dir():
        hint = (  # never a hint at tuning this machine from a development setup
            "`ncctl tune plan` makes the development configuration's fake root"
            if uses_fake_root(ctx.config.environment, cfg)
            else "set tuning.root to the host's root (/) to check its tuning"
        )
        return CheckResult(
            TUNING, "skip", f"tuning.root {cfg.root} is not a directory: nothing to verify", hint
        )
    tuner = Tuner(Host(cfg.root), ctx.config.state_dir, now=ctx.now)
    plan = tuner.verify(load_profile(cfg.profile), trading_window(ctx.engine, ctx.now))
    status = plan.compliance()
    problem = compliance_error(plan)
    if problem is None:
        return CheckResult(TUNING, "ok", f"the host matches tuning profile {cfg.profile}")
    if status is Compliance.DRIFT:
        return CheckResult(TUNING, "fail", problem.message, problem.hint)
    return CheckResult(TUNING, "warn", problem.message, problem.hint)


def _run(argv: list[str]) -> tuple[int, str] | str:
    """(exit code, stdout) of a short command, or why it could not run."""
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return f"{argv[0]} gave no answer within {COMMAND_TIMEOUT_S:g} s"
    except OSError as exc:
        return f"cannot run {argv[0]}: {exc.strerror or exc}"
    if proc.returncode != 0:
        first = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[:1]
        return f"{' '.join(argv)} exited {proc.returncode}" + (f": {first[0]}" if first else "")
    return proc.returncode, proc.stdout


UNSYNCED_HINT = (
    "check the time service (systemctl status chrony or systemd-timesyncd) and its sources; "
    "CME rejects a Negotiate whose timestamp is off by more than a few seconds"
)


def _timedatectl(path: str) -> CheckResult | str:
    got = _run([path, "show", "-p", "NTPSynchronized", "--value"])
    if isinstance(got, str):
        return got
    value = got[1].strip()
    if value == "yes":
        return CheckResult(CLOCK_SYNC, "ok", "timedatectl: the system clock is synchronised")
    if value == "no":
        return CheckResult(
            CLOCK_SYNC, "fail", "timedatectl: the system clock is not synchronised", UNSYNCED_HINT
        )
    return f"timedatectl answered {value[:40]!r}, neither yes nor no"


def _chronyc(path: str) -> CheckResult | str:
    got = _run([path, "-n", "tracking"])
    if isinstance(got, str):
        return got
    fields = {}
    for line in got[1].splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    leap = fields.get("Leap status")
    if leap is None:
        return "chronyc tracking printed no Leap status"
    if leap == "Not synchronised":
        return CheckResult(
            CLOCK_SYNC, "fail", "chronyc: the system clock is not synchronised", UNSYNCED_HINT
        )
    offset = fields.get("System time", "?")
    return CheckResult(CLOCK_SYNC, "ok", f"chronyc: synchronised ({leap}); system time {offset}")


def clock_sync(ctx: Context) -> CheckResult:
    """``timedatectl show -p NTPSynchronized``, else ``chronyc tracking``; skip when neither
    can tell (not installed, or no systemd/chronyd to ask)."""
    reasons: list[str] = []
    for name, ask in (("timedatectl", _timedatectl), ("chronyc", _chronyc)):
        path = shutil.which(name)
        if path is None:
            reasons.append(f"{name} is not installed")
            continue
        answer = ask(path)
        if isinstance(answer, CheckResult):
            return answer
        reasons.append(answer)
    return CheckResult(
        CLOCK_SYNC,
        "skip",
        "cannot tell whether the clock is synchronised: " + "; ".join(reasons),
        "install chrony or run systemd-timesyncd to have it checked",
    )
