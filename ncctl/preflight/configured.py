"""``config validate`` as a preflight check: the configuration file as it is on disk now,
through :func:`ncctl.appconfig.check.check_config` (errors fail, warnings warn)."""

from __future__ import annotations

from ncctl.preflight.result import CheckResult, Context

CONFIG = "config"
SHOWN = 3
"""Problems named in the detail line; ``ncctl config validate`` lists them all."""


def validate(ctx: Context) -> CheckResult:
    from ncctl.appconfig.check import check_config
    from ncctl.appconfig.load import load

    loaded = load(ctx.config_path)  # a file that no longer loads raises: the check fails
    problems = check_config(loaded)
    if not problems:
        return CheckResult(CONFIG, "ok", f"{loaded.path}: no problem found")
    errors = [p for p in problems if p.severity == "error"]
    first = (errors or problems)[0]
    named = "; ".join(p.line() for p in (errors or problems)[:SHOWN])
    more = len(problems) - min(SHOWN, len(errors or problems))
    detail = f"{loaded.path}: {len(errors)} error(s), {len(problems) - len(errors)} warning(s): "
    detail += named + (f" (and {more} more)" if more > 0 else "")
    hint = f"{first.hint}; `ncctl config validate` lists every problem"
    return CheckResult(CONFIG, "fail" if errors else "warn", detail, hint)
