"""What each one-shot job does when a reconcile pass runs it.

A job action is called with the pass (:class:`PassContext`: the configuration, the schedule,
the pass's time, its journal and its hooks) and the instance's scheduled instant, and returns
what it did (journaled with the instance) or raises an :class:`~ncctl.errors.NcctlError` (the
instance fails and is retried with backoff).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ncctl.appconfig.model import NcctlConfig
    from ncctl.journal import Journal
    from ncctl.schedule import ScheduleEngine


class PassContext(Protocol):
    """What a job action sees of the pass running it (a :class:`~ncctl.runner.reconcile.
    Reconciler`)."""

    @property
    def config(self) -> NcctlConfig: ...
    @property
    def engine(self) -> ScheduleEngine: ...
    @property
    def now(self) -> dt.datetime: ...
    @property
    def config_path(self) -> Path | None: ...
    @property
    def journal(self) -> Journal: ...
    @property
    def registration_hook(self) -> JobAction | None: ...
    @property
    def preflight_hook(self) -> JobAction | None: ...


JobAction = Callable[[PassContext, dt.datetime], dict[str, Any]]


def rotate_job(
    config: NcctlConfig,
    engine: ScheduleEngine,
    now: dt.datetime,
    journal: Journal,
) -> dict[str, Any]:
    """The ``rotate`` job: ``logs rotate`` for every category, resuming what is left.

    It never rotates into the past: when the clock is behind the newest archive the instance
    is skipped (done, nothing rotated, so nothing new to upload) with an alert: a journal
    line, ``alert`` in the result, and the instance counted in ``ncctl_job_alerts``. A file
    a writer still holds is journaled (outcome ``held``) and fails the instance with exit 75,
    so that the next pass tries again."""
    from ncctl.components.lifecycle import backend_for
    from ncctl.errors import RefusedError
    from ncctl.logs.journal_export import export_journal
    from ncctl.logs.manifest import locked_manifest
    from ncctl.logs.rotation import Rotator
    from ncctl.logs.rotation_result import PAST_CODE, journal_rotation

    def reopen(owner: str) -> bool:
        return backend_for(owner, config.components, config.state_dir).reopen()

    with locked_manifest(config.logs, config.state_dir, "maintenance run: rotate") as manifest:
        rotator = Rotator(config.logs, engine, manifest, now, reopen)
        try:
            run = rotator.run()
        except RefusedError as err:
            if err.code != PAST_CODE:
                raise
            alert = {"job": "rotate", **err.as_dict()}
            journal.append("alert rotate", [], "alert", details=alert)
            return {"skipped": err.message, "alert": alert}
        run.results += export_journal(config.logs, config.state_dir, manifest, run.results)
    held = run.held_error()
    if held is not None:
        journal_rotation(journal, "job rotate", [], run=run)
        raise held
    return {
        "resumed": len(run.resumed),
        "categories": {r.category: r.action for r in run.results},
    }


def _rotate(rec: PassContext, instant: dt.datetime) -> dict[str, Any]:
    return rotate_job(rec.config, rec.engine, rec.now, rec.journal)


def _upload(rec: PassContext, instant: dt.datetime) -> dict[str, Any]:
    from ncctl.errors import TemporaryError
    from ncctl.logs.manifest import locked_manifest
    from ncctl.logs.upload import Uploader

    config = rec.config
    with locked_manifest(config.logs, config.state_dir, "maintenance run: upload") as manifest:
        outcomes = Uploader(config.logs, config.destinations, manifest).run()
    failed = [o for o in outcomes if o.state != "verified"]
    if failed:
        first = failed[0].error or {}
        raise TemporaryError(
            f"{len(failed)} upload(s) not verified: {first.get('message', '')}",
            hint="see `ncctl logs status`",
            code="upload.retry",
        )
    return {"verified": len(outcomes)}


def _party_registration(rec: PassContext, instant: dt.datetime) -> dict[str, Any]:
    hook = rec.registration_hook
    if hook is None:
        return {"registered": 0, "note": "no party registration configured"}
    return hook(rec, instant)


def _preflight(rec: PassContext, instant: dt.datetime) -> dict[str, Any]:
    hook = rec.preflight_hook
    if hook is None:
        return {"note": "preflight is not run by this pass"}
    return hook(rec, instant)


ACTIONS: dict[str, JobAction] = {
    "preflight": _preflight,
    "party_registration": _party_registration,
    "rotate": _rotate,
    "upload": _upload,
}


def preflight_hook(*, simulated: bool = False) -> JobAction:
    """The runner's job action: every check; failed checks fail the instance (retried with
    backoff, alerted when its window closes), warnings are in its result.

    Once the week has started (the feed handler's start, ``PREFLIGHT_LEAD`` after the
    instance) the checks are not run again: an instance that failed stays failed while the
    latest recorded run (by hand: ``ncctl preflight``) has a failed check, and is done once
    one passes; an instance the runner never got to (the host was down) is done with a note.
    """
    from ncctl.jobs.definitions import PREFLIGHT_LEAD
    from ncctl.preflight.result import Context
    from ncctl.preflight.run import failure, recorded_failure, run_checks

    def run(rec: PassContext, instant: dt.datetime) -> dict[str, Any]:
        if rec.now >= instant + PREFLIGHT_LEAD:
            problem = recorded_failure(rec.config.state_dir, instant)
            if problem is not None:
                raise problem
            return {"note": "the week had started: run `ncctl preflight` to check it now"}
        ctx = Context(rec.config, rec.engine, rec.now, simulated, rec.config_path)
        report = run_checks(ctx)
        problem = failure(report)
        if problem is not None:
            raise problem
        return {
            "counts": report.counts(),
            "warnings": [f"{c.name}: {c.detail}" for c in report.checks if c.status == "warn"],
        }

    return run
