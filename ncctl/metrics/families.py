"""Metric families from each part's read-only status: one builder per source, each a function
of a :class:`~ncctl.metrics.sources.ScrapeContext` returning families.

The sources: ``info``, ``schedule``, one ``component.NAME`` per component, ``uploads`` (the
upload manifest), ``rotation`` (files held back by a writer), ``jobs`` (the runner's
done-records), ``journal`` (the journal's head as anchored in ``journal.sqlite``),
``registration``, ``tuning`` and ``preflight`` (the latest ``ncctl preflight`` run). Every one
reads through a ``status`` function of its part (``ncctl.*.status``, ``read_record``): no SQL
and no storage class here, and nothing is created.

Label names never use ``job`` or ``instance``: Prometheus sets those on every scraped series
(and renames a scraped ``job`` label to ``exported_job``), so ncctl's jobs are ``job_name``.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ncctl.metrics.sources import ScrapeContext, Source

MARKET_STATES: tuple[str, ...] = ("CLOSED", "PRE_OPEN", "OPEN")
COMPONENT_STATES: tuple[str, ...] = ("running", "stopped", "crashed", "failed", "unknown")
TUNING_STATES: tuple[str, ...] = ("compliant", "drift", "reboot-pending", "unsupported")


def gauge(name: str, doc: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def counter(name: str, doc: str, labels: Sequence[str] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=list(labels))


def flag(value: bool) -> float:
    return 1.0 if value else 0.0


def info_source(ctx: ScrapeContext) -> list[Metric]:
    from ncctl import __version__

    config = ctx.config
    info = gauge(
        "ncctl_info",
        "ncctl's version, environment, and the client and site of its configuration (empty: "
        "not named); always 1. Join it for the identity: "
        "`* on (instance) group_left (client, site) ncctl_info`.",
        ["version", "environment", "client", "site"],
    )
    info.add_metric([__version__, config.environment, config.client or "", config.site or ""], 1.0)
    stamp = gauge(
        "ncctl_collect_timestamp_seconds",
        "When these values were computed (POSIX seconds, on ncctl's clock); a textfile that "
        "stops being rewritten shows as a growing time() - this.",
    )
    stamp.add_metric([], ctx.now.timestamp())
    return [info, stamp]


def schedule_source(ctx: ScrapeContext) -> list[Metric]:
    state = ctx.engine.state_at(ctx.now)
    market = gauge(
        "ncctl_schedule_market_state",
        "Scheduled market state: 1 for the current state, 0 for the others.",
        ["state"],
    )
    names = MARKET_STATES
    if state.market_state not in names:
        names = (*names, state.market_state)
    for name in names:
        market.add_metric([name], flag(state.market_state == name))
    out: list[Metric] = [market]
    for name, value, doc in (
        ("feed_handler", state.feed_handler, "1 when the schedule wants the feed handler on."),
        ("order_entry", state.order_entry, "1 when the schedule wants order entry up."),
        ("maintenance", state.maintenance, "1 inside the daily maintenance window."),
        ("l3_loop", state.l3_loop, "1 when the L3 snapshot loop runs (feed on, market closed)."),
    ):
        family = gauge(f"ncctl_schedule_{name}", doc)
        family.add_metric([], flag(value))
        out.append(family)
    upcoming = ctx.engine.next_transitions(ctx.now, 1)
    if upcoming:
        nxt = gauge(
            "ncctl_schedule_next_transition_timestamp_seconds",
            "When the next scheduled transition happens (POSIX seconds), by event.",
            ["event"],
        )
        nxt.add_metric([upcoming[0].event], upcoming[0].at.timestamp())
        out.append(nxt)
    return out


def component_source(name: str) -> Source:
    """The source of one component: desired (schedule) against actual (its backend)."""

    def source(ctx: ScrapeContext) -> list[Metric]:
        from ncctl.components.lifecycle import desired_running
        from ncctl.components.status import component_status

        desired = desired_running(name, ctx.engine.state_at(ctx.now))
        section = getattr(ctx.config.components, name)
        status = component_status(name, section, ctx.config.state_dir)
        want = gauge(
            "ncctl_component_desired",
            "1 when the schedule wants the component running, 0 when stopped.",
            ["component"],
        )
        want.add_metric([name], flag(desired))
        up = gauge("ncctl_component_up", "1 when the component is running.", ["component"])
        up.add_metric([name], flag(status.running))
        drift = gauge(
            "ncctl_component_drift",
            "1 when the component is not in the state the schedule wants.",
            ["component"],
        )
        drift.add_metric([name], flag(desired != status.running))
        states = gauge(
            "ncctl_component_state",
            "The component's state as its backend sees it: 1 for the current state.",
            ["component", "state"],
        )
        known = COMPONENT_STATES
        if status.state not in known:
            known = (*known, status.state)
        for st in known:
            states.add_metric([name, st], flag(status.state == st))
        return [want, up, drift, states]

    return source


def uploads_source(ctx: ScrapeContext) -> list[Metric]:
    from ncctl.logs.status import upload_totals

    dests = upload_totals(ctx.config.state_dir, ctx.config.destinations)
    label = ["destination"]
    last = gauge(
        "ncctl_upload_last_verified_timestamp_seconds",
        "When the latest upload to the destination was verified (POSIX seconds); absent "
        "before the first.",
        label,
    )
    pending = gauge(
        "ncctl_upload_pending_files",
        "Archives not yet verified at the destination (pending, uploading, uploaded, failed).",
        label,
    )
    pending_bytes = gauge(
        "ncctl_upload_pending_bytes", "Size of the archives not yet verified there.", label
    )
    failures = gauge(
        "ncctl_upload_failures",
        "Uploads to the destination whose last attempt failed (retried by the next run).",
        label,
    )
    verified = counter(
        "ncctl_upload_verified_files", "Archives verified at the destination.", label
    )
    verified_bytes = counter(
        "ncctl_upload_verified_bytes", "Size of the archives verified at the destination.", label
    )
    attempts = counter(
        "ncctl_upload_attempts", "Upload attempts to the destination, retries included.", label
    )
    for name in sorted(dests):
        d = dests[name]
        if d.last_verified_ns is not None:
            last.add_metric([name], d.last_verified_ns / 1e9)
        pending.add_metric([name], d.pending_files)
        pending_bytes.add_metric([name], d.pending_bytes)
        failures.add_metric([name], d.failed)
        verified.add_metric([name], d.verified_files)
        verified_bytes.add_metric([name], d.verified_bytes)
        attempts.add_metric([name], d.attempts)
    return [last, pending, pending_bytes, failures, verified, verified_bytes, attempts]


def rotation_source(ctx: ScrapeContext) -> list[Metric]:
    """Renamed files kept uncompressed because a writer still held them at the last rotation
    run (or nobody could tell), by category: 0 for every configured category without one."""
    from ncctl.logs.status import held_files

    counts = held_files(ctx.config.state_dir, ctx.config.logs.categories())
    held = gauge(
        "ncctl_rotation_held",
        "Rotated files kept uncompressed because a process still holds them open for writing "
        "(retried by every rotation run; never delete them).",
        ["category"],
    )
    for name in sorted(counts):
        held.add_metric([name], float(counts[name]))
    return [held]


def jobs_source(ctx: ScrapeContext) -> list[Metric]:
    from ncctl.jobs.status import job_status

    statuses = job_status(ctx.config.state_dir, ctx.engine, ctx.now)
    label = ["job_name"]
    lateness = gauge(
        "ncctl_job_lateness_seconds",
        "How late the job's latest instance started after its scheduled instant.",
        label,
    )
    alerts = counter(
        "ncctl_job_alerts",
        "Instances of the job whose window closed unfulfilled (alerted once each).",
        label,
    )
    failing = gauge(
        "ncctl_job_failing",
        "1 when the job's latest instance failed and is being retried with backoff.",
        label,
    )
    overdue = gauge(
        "ncctl_job_overdue",
        "1 when the job's latest scheduled instance is not done and its window has closed.",
        label,
    )
    for status in statuses:
        alerts.add_metric([status.job], status.alerts)
        if status.lateness_s is not None:
            lateness.add_metric([status.job], status.lateness_s)
        failing.add_metric([status.job], flag(status.failing))
        overdue.add_metric([status.job], flag(status.overdue))
    return [lateness, alerts, failing, overdue]


def registration_source(ctx: ScrapeContext) -> list[Metric]:
    status = ctx.sources.registration(ctx.config, ctx.now)
    if status is None:
        return []
    ok = gauge("ncctl_registration_ok", "1 when the latest party-ID registration run succeeded.")
    ok.add_metric([], flag(status.ok))
    out: list[Metric] = [ok]
    if status.last_run is not None:
        last = gauge(
            "ncctl_registration_last_timestamp_seconds",
            "When the latest party-ID registration run finished (POSIX seconds).",
        )
        last.add_metric([], status.last_run.timestamp())
        out.append(last)
    if status.secret_expires_in_days is not None:
        expiry = gauge(
            "ncctl_ilink_secret_expires_in_days",
            "Days until the iLink 3 secret key expires (SecretKeySecureIDExpiration).",
        )
        expiry.add_metric([], float(status.secret_expires_in_days))
        out.append(expiry)
    return out


def tuning_source(ctx: ScrapeContext) -> list[Metric]:
    status = ctx.sources.tuning(ctx.config, ctx.now)
    if status is None:
        return []
    compliant = gauge(
        "ncctl_tuning_compliant", "1 when the host matches its tuning profile.", ["profile"]
    )
    compliant.add_metric([status.profile], flag(status.compliant))
    state = gauge(
        "ncctl_tuning_state",
        "The host's tuning compliance: 1 for the current state (as `ncctl tune verify`).",
        ["profile", "state"],
    )
    for name in TUNING_STATES:
        state.add_metric([status.profile, name], flag(status.state == name))
    return [compliant, state]


def preflight_source(ctx: ScrapeContext) -> list[Metric]:
    """Each check of the latest preflight run: ok (1 unless it failed) and its status."""
    from ncctl.preflight.result import STATUSES

    recorded = ctx.sources.preflight(ctx.config, ctx.now)
    if recorded is None:
        return []
    ok = gauge(
        "ncctl_preflight_check_ok",
        "1 unless the check failed at the latest `ncctl preflight` run (warn and skip are 1).",
        ["check"],
    )
    status = gauge(
        "ncctl_preflight_check_status",
        "The check's status at the latest preflight run: 1 for the current one.",
        ["check", "status"],
    )
    for name in sorted(recorded.statuses):
        current = recorded.statuses[name]
        ok.add_metric([name], flag(current != "fail"))
        for st in STATUSES:
            status.add_metric([name, st], flag(current == st))
    last = gauge(
        "ncctl_preflight_last_run_timestamp_seconds",
        "When the latest preflight run was recorded (POSIX seconds).",
    )
    last.add_metric([], recorded.at)
    return [ok, status, last]


def journal_source(ctx: ScrapeContext) -> list[Metric]:
    """The journal's head as anchored in ``journal.sqlite`` (read-only), so that a scraper
    keeps a copy this host cannot rewrite. Before the first journaled action (or once the
    anchor is gone) the journal counts 0 lines: a journal that loses its anchor shrinks."""
    from ncctl.journal.status import journal_head

    recorded = journal_head(ctx.config.state_dir)
    head = recorded.head
    lines = gauge("ncctl_journal_lines", "Lines in the journal, as its anchor records them.")
    lines.add_metric([], head.lines if head else 0)
    size = gauge("ncctl_journal_bytes", "Size of the journal, as its anchor records it.")
    size.add_metric([], head.size if head else 0)
    anomalies = counter(
        "ncctl_journal_anomalies",
        "Times a writer found the journal different from its anchor (see `ncctl audit verify`).",
    )
    anomalies.add_metric([], recorded.anomalies)
    if head is None:
        return [lines, size, anomalies]
    info = gauge(
        "ncctl_journal_head_info",
        "1, labelled with the SHA-256 of the journal's last line (the chain's head).",
        ["hash"],
    )
    info.add_metric([head.hash], 1.0)
    return [lines, size, info, anomalies]


def default_sources() -> list[tuple[str, Source]]:
    """Every source, by the name ``ncctl_collector_errors`` reports it under."""
    from ncctl.components.backend import COMPONENTS

    return [
        ("info", info_source),
        ("schedule", schedule_source),
        *((f"component.{name}", component_source(name)) for name in COMPONENTS),
        ("uploads", uploads_source),
        ("rotation", rotation_source),
        ("jobs", jobs_source),
        ("journal", journal_source),
        ("registration", registration_source),
        ("tuning", tuning_source),
        ("preflight", preflight_source),
    ]
