"""Prometheus metrics of one ncctl, computed when they are scraped.

The only module that imports ``prometheus_client``; everything else imports this one lazily,
so that ``ncctl --help`` and ``ncctl schedule now`` never load it.

Two ways out:

* the daemon serves ``/metrics``: ``serve(collect(config, engine, clock.now, config_path),
  config.metrics.listen, config.metrics.port, tls=config.metrics.tls())`` returns a
  :class:`MetricsServer` whose ``stop()`` shuts it down; every scrape computes the values
  afresh at ``clock.now()``. Over HTTP on loopback, over HTTPS (:mod:`ncctl.metrics_tls`,
  optionally mutual TLS) anywhere;
* cron setups write node_exporter's textfile format with ``ncctl metrics --textfile PATH``
  (:func:`write_textfile`, atomic).

What is measured comes from *sources*, each a function of a :class:`ScrapeContext` returning
metric families: ``info``, ``schedule``, one ``component.NAME`` per component, ``uploads``
(the upload manifest), ``rotation`` (files held back by a writer), ``jobs`` (the runner's
done-records), ``journal`` (the journal's head as anchored in ``journal.sqlite``),
``registration``, ``tuning`` and ``preflight`` (the latest ``ncctl preflight`` run).
A source that raises is skipped and reported as ``ncctl_collector_errors{source} 1``: nothing
fails the whole scrape. Sources only read: a state database that does not exist yet is not
created by a scrape.

Registration and tuning are pluggable (:class:`MetricSources`): :func:`registration_status`
and :func:`tuning_status` return None until the iLink and tuning parts provide them, and a
None leaves their metrics out of the exposition (absent, not 0).

Label names never use ``job`` or ``instance``: Prometheus sets those on every scraped series
(and renames a scraped ``job`` label to ``exported_job``), so ncctl's jobs are ``job_name``.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ncctl.errors import ConfigError, NcctlError, UnavailableError
from ncctl.ilink.status import RegistrationStatus
from ncctl.tuning.status import TuningStatus as TuningStatus  # noqa: PLC0414 (re-exported)

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from ncctl.appconfig.model import NcctlConfig
    from ncctl.appconfig.sections import MetricsTls
    from ncctl.preflight.result import Recorded
    from ncctl.schedule import ScheduleEngine

MARKET_STATES: tuple[str, ...] = ("CLOSED", "PRE_OPEN", "OPEN")
COMPONENT_STATES: tuple[str, ...] = ("running", "stopped", "crashed", "failed", "unknown")
TUNING_STATES: tuple[str, ...] = ("compliant", "drift", "reboot-pending", "unsupported")


# -- pluggable sources ------------------------------------------------------------------


RegistrationSource = Callable[["NcctlConfig", dt.datetime], RegistrationStatus | None]
TuningSource = Callable[["NcctlConfig", dt.datetime], TuningStatus | None]
PreflightSource = Callable[["NcctlConfig", dt.datetime], "Recorded | None"]


def registration_status(config: NcctlConfig, now: dt.datetime) -> RegistrationStatus | None:
    """The latest party-ID registration run recorded by ``ncctl.ilink.registration`` in
    ``state_dir/party.sqlite`` (opened read-only, never created); None without a run."""
    from ncctl.ilink.status import registration_status as recorded

    return recorded(config.state_dir)


def tuning_status(config: NcctlConfig, now: dt.datetime) -> TuningStatus | None:
    """How the host under ``tuning.root`` compares with ``tuning.profile`` (read-only)."""
    from ncctl.tuning.status import tuning_status as status_of

    return status_of(config.tuning, config.state_dir, now)


def preflight_status(config: NcctlConfig, now: dt.datetime) -> Recorded | None:
    """The latest ``ncctl preflight`` run recorded in ``state_dir/preflight.json`` (by the
    command or the runner's Sunday job); None before the first."""
    from ncctl.preflight.result import read_record

    return read_record(config.state_dir)


@dataclass(frozen=True)
class MetricSources:
    """The sources that other parts of ncctl provide; replace one to test or to plug it in."""

    registration: RegistrationSource = field(default=registration_status)
    tuning: TuningSource = field(default=tuning_status)
    preflight: PreflightSource = field(default=preflight_status)


@dataclass(frozen=True)
class ScrapeContext:
    """What every source sees during one scrape."""

    config: NcctlConfig
    engine: ScheduleEngine
    now: dt.datetime
    config_path: Path | None
    sources: MetricSources


Source = Callable[[ScrapeContext], list[Metric]]


# -- the sources ------------------------------------------------------------------------


def _gauge(name: str, doc: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def _counter(name: str, doc: str, labels: Sequence[str] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=list(labels))


def _flag(value: bool) -> float:
    return 1.0 if value else 0.0


def info_source(ctx: ScrapeContext) -> list[Metric]:
    from ncctl import __version__

    info = _gauge(
        "ncctl_info", "ncctl's version and environment (always 1).", ["version", "environment"]
    )
    info.add_metric([__version__, ctx.config.environment], 1.0)
    stamp = _gauge(
        "ncctl_collect_timestamp_seconds",
        "When these values were computed (POSIX seconds, on ncctl's clock); a textfile that "
        "stops being rewritten shows as a growing time() - this.",
    )
    stamp.add_metric([], ctx.now.timestamp())
    return [info, stamp]


def schedule_source(ctx: ScrapeContext) -> list[Metric]:
    state = ctx.engine.state_at(ctx.now)
    market = _gauge(
        "ncctl_schedule_market_state",
        "Scheduled market state: 1 for the current state, 0 for the others.",
        ["state"],
    )
    names = MARKET_STATES
    if state.market_state not in names:
        names = (*names, state.market_state)
    for name in names:
        market.add_metric([name], _flag(state.market_state == name))
    out: list[Metric] = [market]
    for name, value, doc in (
        ("feed_handler", state.feed_handler, "1 when the schedule wants the feed handler on."),
        ("order_entry", state.order_entry, "1 when the schedule wants order entry up."),
        ("maintenance", state.maintenance, "1 inside the daily maintenance window."),
        ("l3_loop", state.l3_loop, "1 when the L3 snapshot loop runs (feed on, market closed)."),
    ):
        gauge = _gauge(f"ncctl_schedule_{name}", doc)
        gauge.add_metric([], _flag(value))
        out.append(gauge)
    upcoming = ctx.engine.next_transitions(ctx.now, 1)
    if upcoming:
        nxt = _gauge(
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
        from ncctl.components.lifecycle import backend_for, desired_running

        desired = desired_running(name, ctx.engine.state_at(ctx.now))
        config = ctx.config
        status = backend_for(name, config.components, config.state_dir, ctx.config_path).status()
        want = _gauge(
            "ncctl_component_desired",
            "1 when the schedule wants the component running, 0 when stopped.",
            ["component"],
        )
        want.add_metric([name], _flag(desired))
        up = _gauge("ncctl_component_up", "1 when the component is running.", ["component"])
        up.add_metric([name], _flag(status.running))
        drift = _gauge(
            "ncctl_component_drift",
            "1 when the component is not in the state the schedule wants.",
            ["component"],
        )
        drift.add_metric([name], _flag(desired != status.running))
        states = _gauge(
            "ncctl_component_state",
            "The component's state as its backend sees it: 1 for the current state.",
            ["component", "state"],
        )
        known = COMPONENT_STATES
        if status.state not in known:
            known = (*known, status.state)
        for st in known:
            states.add_metric([name, st], _flag(status.state == st))
        return [want, up, drift, states]

    return source


def uploads_source(ctx: ScrapeContext) -> list[Metric]:
    from ncctl.logs.status import upload_totals

    dests = upload_totals(ctx.config.state_dir, ctx.config.destinations)
    label = ["destination"]
    last = _gauge(
        "ncctl_upload_last_verified_timestamp_seconds",
        "When the latest upload to the destination was verified (POSIX seconds); absent "
        "before the first.",
        label,
    )
    pending = _gauge(
        "ncctl_upload_pending_files",
        "Archives not yet verified at the destination (pending, uploading, uploaded, failed).",
        label,
    )
    pending_bytes = _gauge(
        "ncctl_upload_pending_bytes", "Size of the archives not yet verified there.", label
    )
    failures = _gauge(
        "ncctl_upload_failures",
        "Uploads to the destination whose last attempt failed (retried by the next run).",
        label,
    )
    verified = _counter(
        "ncctl_upload_verified_files", "Archives verified at the destination.", label
    )
    verified_bytes = _counter(
        "ncctl_upload_verified_bytes", "Size of the archives verified at the destination.", label
    )
    attempts = _counter(
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
    held = _gauge(
        "ncctl_rotation_held",
        "Rotated files kept uncompressed because a process still holds them open for writing "
        "(retried by every rotation run; never delete them).",
        ["category"],
    )
    for name in sorted(counts):
        held.add_metric([name], float(counts[name]))
    return [held]


def latest_instants(engine: ScheduleEngine, now: dt.datetime) -> dict[str, dt.datetime]:
    """Each one-shot job's latest scheduled instance at or before ``now``, within the
    reconciler's look-back horizon (the instance a pass at ``now`` works on)."""
    from ncctl.runner.jobs import job_instants
    from ncctl.runner.reconcile import LOOKBACK

    return {name: at[-1] for name, at in job_instants(engine, now, LOOKBACK).items()}


def jobs_source(ctx: ScrapeContext) -> list[Metric]:
    from ncctl.runner.jobs import JOBS, JobRun, JobStore, job_store_path

    runs: list[JobRun] = []
    path = job_store_path(ctx.config.state_dir)
    store = JobStore(path, read_only=True)  # missing: no runs (nothing is created)
    try:
        runs = store.runs()
    finally:
        store.close()
    latest = latest_instants(ctx.engine, ctx.now)
    label = ["job_name"]
    lateness = _gauge(
        "ncctl_job_lateness_seconds",
        "How late the job's latest instance started after its scheduled instant.",
        label,
    )
    alerts = _counter(
        "ncctl_job_alerts",
        "Instances of the job whose window closed unfulfilled (alerted once each).",
        label,
    )
    failing = _gauge(
        "ncctl_job_failing",
        "1 when the job's latest instance failed and is being retried with backoff.",
        label,
    )
    overdue = _gauge(
        "ncctl_job_overdue",
        "1 when the job's latest scheduled instance is not done and its window has closed.",
        label,
    )
    for job in JOBS:
        mine = [r for r in runs if r.job == job.name]
        alerts.add_metric([job.name], sum(1 for r in mine if r.alerted))
        newest = max(mine, key=lambda r: dt.datetime.fromisoformat(r.instance), default=None)
        if newest is not None:
            if newest.lateness_s is not None:
                lateness.add_metric([job.name], newest.lateness_s)
            failing.add_metric([job.name], _flag(newest.state == "failed"))
        else:
            failing.add_metric([job.name], 0.0)
        instant = latest.get(job.name)
        late = False
        if instant is not None and ctx.now >= instant + job.window:
            record = next((r for r in mine if r.instance == instant.isoformat()), None)
            late = record is None or record.state != "done"
        overdue.add_metric([job.name], _flag(late))
    return [lateness, alerts, failing, overdue]


def registration_source(ctx: ScrapeContext) -> list[Metric]:
    status = ctx.sources.registration(ctx.config, ctx.now)
    if status is None:
        return []
    ok = _gauge("ncctl_registration_ok", "1 when the latest party-ID registration run succeeded.")
    ok.add_metric([], _flag(status.ok))
    out: list[Metric] = [ok]
    if status.last_run is not None:
        last = _gauge(
            "ncctl_registration_last_timestamp_seconds",
            "When the latest party-ID registration run finished (POSIX seconds).",
        )
        last.add_metric([], status.last_run.timestamp())
        out.append(last)
    if status.secret_expires_in_days is not None:
        expiry = _gauge(
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
    compliant = _gauge(
        "ncctl_tuning_compliant", "1 when the host matches its tuning profile.", ["profile"]
    )
    compliant.add_metric([status.profile], _flag(status.compliant))
    state = _gauge(
        "ncctl_tuning_state",
        "The host's tuning compliance: 1 for the current state (as `ncctl tune verify`).",
        ["profile", "state"],
    )
    for name in TUNING_STATES:
        state.add_metric([status.profile, name], _flag(status.state == name))
    return [compliant, state]


def preflight_source(ctx: ScrapeContext) -> list[Metric]:
    """Each check of the latest preflight run: ok (1 unless it failed) and its status."""
    from ncctl.preflight.result import STATUSES

    recorded = ctx.sources.preflight(ctx.config, ctx.now)
    if recorded is None:
        return []
    ok = _gauge(
        "ncctl_preflight_check_ok",
        "1 unless the check failed at the latest `ncctl preflight` run (warn and skip are 1).",
        ["check"],
    )
    status = _gauge(
        "ncctl_preflight_check_status",
        "The check's status at the latest preflight run: 1 for the current one.",
        ["check", "status"],
    )
    for name in sorted(recorded.statuses):
        current = recorded.statuses[name]
        ok.add_metric([name], _flag(current != "fail"))
        for st in STATUSES:
            status.add_metric([name, st], _flag(current == st))
    last = _gauge(
        "ncctl_preflight_last_run_timestamp_seconds",
        "When the latest preflight run was recorded (POSIX seconds).",
    )
    last.add_metric([], recorded.at)
    return [ok, status, last]


def journal_source(ctx: ScrapeContext) -> list[Metric]:
    """The journal's head as anchored in ``journal.sqlite`` (read-only), so that a scraper
    keeps a copy this host cannot rewrite. Before the first journaled action (or once the
    anchor is gone) the journal counts 0 lines: a journal that loses its anchor shrinks."""
    from ncctl.journal.anchor import Anchor, AnchorState

    anchor = Anchor.open_readonly(ctx.config.state_dir)
    state = AnchorState(None, None)
    if anchor is not None:
        try:
            state = anchor.state()
        finally:
            anchor.close()
    head = state.committed
    lines = _gauge("ncctl_journal_lines", "Lines in the journal, as its anchor records them.")
    lines.add_metric([], head.lines if head else 0)
    size = _gauge("ncctl_journal_bytes", "Size of the journal, as its anchor records it.")
    size.add_metric([], head.size if head else 0)
    anomalies = _counter(
        "ncctl_journal_anomalies",
        "Times a writer found the journal different from its anchor (see `ncctl audit verify`).",
    )
    anomalies.add_metric([], len(state.anomalies))
    if head is None:
        return [lines, size, anomalies]
    info = _gauge(
        "ncctl_journal_head_info",
        "1, labelled with the SHA-256 of the journal's last line (the chain's head).",
        ["hash"],
    )
    info.add_metric([head.hash], 1.0)
    return [lines, size, info, anomalies]


def default_sources() -> list[tuple[str, Source]]:
    """Every source, by the name ``ncctl_collector_errors`` reports it under."""
    from ncctl.components.base import COMPONENTS

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


# -- collecting -------------------------------------------------------------------------


class _Fixed:
    """A collector of families computed once."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return list(self.families)


@dataclass(frozen=True)
class Scrape:
    """The families of one collection, and each failed source with its error."""

    at: dt.datetime
    families: list[Metric]
    errors: dict[str, str]

    def text(self) -> str:
        """The Prometheus text exposition format (what node_exporter's textfile reads)."""
        return generate_latest(_Fixed(self.families)).decode("utf-8")

    def samples(self) -> list[dict[str, Any]]:
        """Every sample as plain data: name, labels, value (None if not finite), type."""
        return [
            {
                "name": s.name,
                "labels": dict(s.labels),
                "value": s.value if math.isfinite(s.value) else None,
                "type": fam.type,
            }
            for fam in self.families
            for s in fam.samples
        ]


def _error_text(exc: Exception) -> str:
    if isinstance(exc, NcctlError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


class NcctlCollector:
    """A prometheus_client collector that computes every family at each scrape."""

    def __init__(
        self,
        config: NcctlConfig,
        engine: ScheduleEngine,
        now: dt.datetime | Callable[[], dt.datetime],
        config_path: Path | None = None,
        *,
        sources: MetricSources | None = None,
        source_list: Sequence[tuple[str, Source]] | None = None,
        on_error: Callable[[str, str], None] | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self._now = now
        self.config_path = config_path
        self.sources = sources or MetricSources()
        self.source_list = list(source_list) if source_list is not None else default_sources()
        self.on_error = on_error

    def now(self) -> dt.datetime:
        return self._now() if callable(self._now) else self._now

    def scrape(self) -> Scrape:
        ctx = ScrapeContext(self.config, self.engine, self.now(), self.config_path, self.sources)
        merged: dict[str, Metric] = {}
        errors: dict[str, str] = {}
        seconds: dict[str, float] = {}
        for name, source in self.source_list:
            started = time.perf_counter()
            try:
                families = source(ctx)
                _merge(merged, families)
            except Exception as exc:  # a broken source never fails the scrape
                errors[name] = _error_text(exc)
                if self.on_error is not None:
                    self.on_error(name, errors[name])
            seconds[name] = time.perf_counter() - started
        failed = _gauge(
            "ncctl_collector_errors",
            "1 when the source failed during this collection (its metrics are left out).",
            ["source"],
        )
        took = _gauge(
            "ncctl_collector_duration_seconds", "How long the source took to collect.", ["source"]
        )
        for name, _ in self.source_list:
            failed.add_metric([name], _flag(name in errors))
            took.add_metric([name], seconds[name])
        return Scrape(ctx.now, [*merged.values(), failed, took], errors)

    def collect(self) -> Iterable[Metric]:
        return self.scrape().families


def _merge(merged: dict[str, Metric], families: Sequence[Metric]) -> None:
    """Add a source's families; one whose name another source used with another type is
    a defect of that source (nothing of it is added)."""
    for fam in families:
        other = merged.get(fam.name)
        if other is not None and other.type != fam.type:
            raise ValueError(f"{fam.name} is a {other.type} elsewhere, here a {fam.type}")
    for fam in families:
        other = merged.get(fam.name)
        if other is None:
            merged[fam.name] = fam
        else:
            other.samples.extend(fam.samples)


def collect(
    config: NcctlConfig,
    engine: ScheduleEngine,
    now: dt.datetime | Callable[[], dt.datetime],
    config_path: Path | None = None,
    *,
    sources: MetricSources | None = None,
    on_error: Callable[[str, str], None] | None = None,
) -> CollectorRegistry:
    """A registry holding ncctl's collector; ``now`` is a time, or a clock read at every
    scrape (the daemon passes ``clock.now``)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        NcctlCollector(config, engine, now, config_path, sources=sources, on_error=on_error)
    )
    return registry


def write_textfile(path: Path, scrape: Scrape) -> None:
    """Write node_exporter's textfile format atomically: a temporary file in the same
    directory (not named ``*.prom``, so never read half-written), fsync, rename. It stays
    world-readable (0644): node_exporter is meant to read it."""
    from ncctl.floor import write_text_atomic

    write_text_atomic(path, scrape.text(), mode=0o644)


# -- serving ----------------------------------------------------------------------------


class _Deferred:
    """A collector built anew for every scrape by a factory."""

    def __init__(self, factory: Callable[[], Collector]) -> None:
        self.factory = factory

    def collect(self) -> Iterable[Metric]:
        return self.factory().collect()


@dataclass
class MetricsServer:
    """A running ``/metrics`` server (HTTP, or HTTPS when ``tls``); ``stop()`` shuts it down
    and waits for it."""

    server: WSGIServer
    thread: threading.Thread
    tls: bool = False

    @property
    def host(self) -> str:
        return str(self.server.server_address[0])

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/metrics"

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout_s)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    target: Collector | Callable[[], Collector],
    listen: str,
    port: int,
    *,
    tls: MetricsTls | None = None,
) -> MetricsServer:
    """Serve ``target`` (a registry, or a factory called at every scrape) on
    ``listen:port`` in a daemon thread (port 0: any free port, see ``MetricsServer.port``).

    With ``tls`` the server speaks HTTPS only (and asks for a client certificate signed by
    ``tls.client_ca`` when set, refusing clients without one); without it only a loopback
    address is served, in plain HTTP (metrics.listen)."""
    from ncctl.addresses import is_loopback

    collector: Collector
    if callable(getattr(target, "collect", None)):
        collector = cast("Collector", target)
    else:
        collector = _Deferred(cast("Callable[[], Collector]", target))
    if tls is None and not is_loopback(listen):
        raise ConfigError(
            f"metrics.listen: {listen!r} is reachable from other hosts and no TLS is configured",
            hint="set metrics.tls_cert and metrics.tls_key (see docs/runbook.md), or listen on "
            '"127.0.0.1"',
            code="metrics.tls",
        )
    try:
        if tls is None:
            server, thread = start_http_server(port, addr=listen, registry=collector)
        else:
            from ncctl.metrics_tls import start_https_server

            server, thread = start_https_server(collector, listen, port, tls)
    except OSError as exc:
        raise UnavailableError(
            f"cannot serve metrics on {listen}:{port}: {exc.strerror or exc}",
            hint="another process may hold the port: change metrics.port or metrics.listen",
            code="metrics.listen",
        ) from None
    return MetricsServer(server, thread, tls=tls is not None)
