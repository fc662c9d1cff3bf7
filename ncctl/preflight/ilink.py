"""iLink checks: the secret key's expiry, and the gateway's TCP port.

The expiry is what the gateway said at the latest party registration that learnt it
(``SecretKeySecureIDExpiration``, recorded in ``state_dir/party.sqlite``), counted down by the
days since: preflight itself opens no FIXP session (it would need the audit trail, and CME
sees every Negotiate). A key file changed after that registration holds a new secret whose
expiry is not known yet.
"""

from __future__ import annotations

import datetime as dt
import socket

from ncctl.preflight.result import CheckResult, Context

SECRET = "ilink_secret"  # noqa: S105 - a check name
GATEWAY = "ilink_gateway"


def _last_known_expiry(ctx: Context) -> tuple[int, dt.datetime] | None:
    """Days to expiry at the latest registration run that learnt them, and when it ended."""
    from ncctl.ilink.registration_store import RegistrationStore

    known = RegistrationStore(ctx.config.state_dir).last_known_expiry()
    if known is None:
        return None
    return known[0], dt.datetime.fromisoformat(known[1])


def _key_file_changed_since(ctx: Context, when: dt.datetime) -> bool:
    path = ctx.config.ilink.secret_key_file
    if path is None:
        return False
    try:
        mtime = path.lstat().st_mtime
    except OSError:
        return False
    return mtime > when.timestamp()


def secret_expiry(ctx: Context) -> CheckResult:
    """fail when the secret has expired, warn within ``ilink.secret_expiry_warn_days``."""
    known = _last_known_expiry(ctx)
    if known is None:
        return CheckResult(
            SECRET,
            "skip",
            "no party registration has reported the secret's expiry yet",
            "`ncctl party register` (run every Sunday) records it",
        )
    days_then, when = known
    if _key_file_changed_since(ctx, when):
        return CheckResult(
            SECRET,
            "ok",
            f"{ctx.config.ilink.secret_key_file} was replaced after the last registration "
            f"({when.date().isoformat()}); the new secret's expiry is reported by the next one",
        )
    elapsed = max(0, (ctx.now - when).days)
    days = days_then - elapsed
    where = ctx.config.ilink.secret_key_file or "ilink.secret_key"
    detail = (
        f"the iLink secret key expires in {days} day(s) (the gateway said {days_then} on "
        f"{when.date().isoformat()})"
    )
    renew = f"request a new secret key in CME Customer Center and update {where}"
    if days <= 0:
        expired = f"the iLink secret key has expired ({-days} day(s) ago by the count the "
        expired += f"gateway gave on {when.date().isoformat()})"
        return CheckResult(SECRET, "fail", expired, renew + "; Negotiate is rejected until then")
    if days < ctx.config.ilink.secret_expiry_warn_days:
        return CheckResult(SECRET, "warn", detail, renew)
    return CheckResult(SECRET, "ok", detail)


def gateway(ctx: Context) -> CheckResult:
    """A TCP connection to ``ilink.host:ilink.port`` within ``ilink.connect_timeout_s``."""
    ilink = ctx.config.ilink
    where = f"{ilink.host}:{ilink.port}"
    if not ctx.live:
        return ctx.no_wire(GATEWAY, f"the iLink gateway {where}")
    try:
        with socket.create_connection((ilink.host, ilink.port), timeout=ilink.connect_timeout_s):
            pass
    except TimeoutError:
        return CheckResult(
            GATEWAY,
            "fail",
            f"iLink gateway {where}: no connection within {ilink.connect_timeout_s:g} s",
            "check the route and firewall to the gateway, and ilink.host and ilink.port",
        )
    except OSError as exc:
        return CheckResult(
            GATEWAY,
            "fail",
            f"iLink gateway {where}: cannot connect: {exc.strerror or exc}",
            "check ilink.host and ilink.port, and that the gateway is up (in a development "
            "setup, `ncctl dev up` starts the gateway simulator)",
        )
    return CheckResult(GATEWAY, "ok", f"iLink gateway {where} accepts connections")
