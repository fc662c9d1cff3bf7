"""``ncctl.tuning.jitter`` and ``jitter_report``: percentiles from cyclictest's histogram,
parsing its JSON, the options, cyclictest's command line and the stored last report."""

from __future__ import annotations

import datetime as dt
import math
import os
import stat
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ncctl.errors import DataError, UsageError
from ncctl.tuning import jitter, jitter_report

LIMIT = 50
"""A small histogram limit, so that the generated samples overflow it often."""
samples_st = st.lists(st.integers(min_value=0, max_value=2 * LIMIT), max_size=300)
quantile_st = st.sampled_from([q for _, q in jitter_report.PERCENTILES]) | st.fractions(
    min_value=Fraction(1, 10_000), max_value=1
)


def histogram_of(samples: list[int]) -> tuple[dict[int, int], int, int]:
    """(histogram below LIMIT, overflows, max) as cyclictest counts them."""
    counts = Counter(s for s in samples if s < LIMIT)
    return dict(counts), sum(1 for s in samples if s >= LIMIT), max(samples, default=0)


def cyclictest_doc(threads: dict[int, list[int]], limit: int = LIMIT) -> dict[str, Any]:
    """cyclictest's --json document for one thread per CPU with these samples."""
    doc: dict[str, Any] = {"rt_test_version:": "2.40", "thread": {}}
    for n, (cpu, samples) in enumerate(sorted(threads.items())):
        counts = Counter(s for s in samples if s < limit)
        doc["thread"][str(n)] = {
            "histogram": {str(b): c for b, c in sorted(counts.items())},
            "cycles": len(samples),
            "min": min(samples),
            "max": max(samples),
            "avg": sum(samples) / len(samples),
            "cpu": cpu,
            "node": 0,
        }
    return doc


@settings(max_examples=300, deadline=None)
@given(samples=samples_st, q=quantile_st)
def test_percentile_from_histogram_is_that_of_the_samples(samples: list[int], q: Fraction) -> None:
    histogram, overflows, top = histogram_of(samples)
    found = jitter_report.percentile(histogram, overflows, top, q)
    if not samples:
        assert found is None
        return
    rank = max(1, math.ceil(q * len(samples)))
    expected = sorted(samples)[rank - 1]
    if expected < LIMIT or rank == len(samples):
        assert found == expected
    else:  # among the overflows, below the largest: not known from the histogram
        assert found is None


@settings(max_examples=100, deadline=None)
@given(samples=samples_st.filter(bool), threshold=st.integers(min_value=0, max_value=LIMIT - 1))
def test_row_counts_samples_above_the_threshold_overflows_included(
    samples: list[int], threshold: int
) -> None:
    histogram, overflows, top = histogram_of(samples)
    stats = {"min": min(samples), "max": top, "avg": 1.0}
    row = jitter_report.cpu_row(
        3, "isolated", histogram, overflows=overflows, stats=stats, threshold_us=threshold
    )
    assert row.samples == len(samples)
    assert row.overflows == sum(1 for s in samples if s >= LIMIT)
    assert row.above_threshold == sum(1 for s in samples if s > threshold)
    assert set(row.percentiles) == {"p50", "p99", "p99.9"}


@settings(max_examples=50, deadline=None)
@given(
    threads=st.dictionaries(
        st.integers(min_value=0, max_value=63), samples_st.filter(bool), min_size=1, max_size=4
    )
)
def test_parse_results_gives_one_row_per_cpu_housekeeping_first(
    threads: dict[int, list[int]],
) -> None:
    cpus = sorted(threads)
    roles = jitter.roles_of(cpus, frozenset(cpus[-1:]), frozenset(cpus[:-1]))
    version, rows = jitter_report.parse_results(cyclictest_doc(threads), roles, 20)
    assert version == "2.40"
    assert [r.cpu for r in rows] == [cpus[-1], *cpus[:-1]]
    assert [r.role for r in rows] == ["housekeeping"] + ["isolated"] * (len(cpus) - 1)
    for row in rows:
        assert row.samples == len(threads[row.cpu])
        assert row.max_us == max(threads[row.cpu])


def test_parse_results_refuses_a_cpu_without_a_thread() -> None:
    doc = cyclictest_doc({0: [5, 6]})
    with pytest.raises(DataError, match=r"no thread on CPUs 1"):
        jitter_report.parse_results(doc, {0: "housekeeping", 1: "isolated"}, 20)


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"thread": None},
        {"thread": {"0": {"cpu": 0}}},
        {"thread": {"0": {"cpu": "x", "cycles": 1, "min": 1, "max": 1, "avg": 1}}},
        {"thread": {"0": {"cpu": 0, "cycles": 1, "histogram": {"5": 2}, "min": 5, "max": 5}}},
        [],
    ],
    ids=["empty", "no-threads", "no-cycles", "bad-cpu", "more-in-histogram-than-cycles", "list"],
)
def test_parse_results_refuses_malformed_output(doc: Any) -> None:
    with pytest.raises(DataError) as caught:
        jitter_report.parse_results(doc, {0: "housekeeping"}, 20)
    assert caught.value.message.startswith("cyclictest --json output")
    assert "rt-tests" in caught.value.hint


@pytest.mark.parametrize(
    ("text", "seconds"), [("1", 1), ("10s", 10), (" 2m ", 120), ("30m", 1800), ("1800", 1800)]
)
def test_durations(text: str, seconds: int) -> None:
    assert jitter.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0", "", "-1", "1801", "31m", "1h", "1.5", "ten", "10 x"])
def test_bad_durations_name_the_option(text: str) -> None:
    with pytest.raises(UsageError, match=r"^--duration "):
        jitter.parse_duration(text)


def test_choose_cpus() -> None:
    usable = frozenset({0, 1})
    assert jitter.choose_cpus("1", frozenset({0}), usable) == (frozenset({1}), [])
    chosen, warnings = jitter.choose_cpus(None, frozenset({0, 5}), usable)
    assert chosen == {0} and len(warnings) == 1 and "5" in warnings[0]
    for bad in ("2", "0-3", "x", "", "1-0"):
        with pytest.raises(UsageError, match=r"^--cpus "):
            jitter.choose_cpus(bad, frozenset({0}), usable)


def test_argv_pins_one_thread_per_cpu_and_leaves_the_host_as_tuned(tmp_path: Path) -> None:
    request = jitter.Request(roles={0: "housekeeping", 2: "isolated", 3: "isolated"}, main_cpu=0)
    args = jitter.argv("/usr/bin/cyclictest", request, tmp_path / "r.json", tmp_path / "h")
    assert args[0] == "/usr/bin/cyclictest"
    for expected in (
        "--affinity=0,2-3",
        "--threads=3",
        "--mainaffinity=0",
        "--duration=10",
        "--interval=1000",
        "--default-system",  # never writes /dev/cpu_dma_latency itself
        f"--json={tmp_path / 'r.json'}",
    ):
        assert expected in args
    assert not any(a.startswith("--priority") or a == "--mlockall" for a in args)
    root = jitter.Request(roles={1: "isolated"}, main_cpu=0, privileged=True)
    args = jitter.argv("cyclictest", root, tmp_path / "r.json", tmp_path / "h")
    assert "--mlockall" in args and f"--priority={jitter.PRIORITY}" in args


def report(threshold: int = 20) -> jitter_report.JitterReport:
    _, rows = jitter_report.parse_results(
        cyclictest_doc({0: [3, 4, 30], 1: [2] * 98 + [60, 61, 80]}),
        {0: "housekeeping", 1: "isolated"},
        threshold,
    )
    return jitter_report.JitterReport(
        at=dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC),
        duration_s=10,
        interval_us=1000,
        threshold_us=threshold,
        histogram_limit_us=LIMIT,
        priority=None,
        cyclictest="2.40",
        cpus=rows,
    )


def test_stored_report_round_trips_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = jitter_report.jitter_status(state)
    assert first.report is None and "never measured" in first.summary
    assert not state.exists()  # reading never creates
    path = jitter_report.store(state, report())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    status = jitter_report.jitter_status(state)
    assert status.report == report()
    assert status.summary == (
        "jitter measured 2026-11-28T12:00:00+00:00 for 10 s: housekeeping 0 p99 30 µs, max 30 µs "
        "(CPU 0); isolated 1 p99 >=50 µs, max 80 µs (CPU 1); 4 of 104 samples above 20 µs"
    )
    assert status.as_dict()["measured"] is True


@pytest.mark.parametrize(
    "content", [b"", b"{", b"[]", b'{"version": 1}', b'{"version": 2}', b"\xff"]
)
def test_a_bad_stored_report_is_said_not_raised(tmp_path: Path, content: bytes) -> None:
    path = jitter_report.report_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    status = jitter_report.jitter_status(tmp_path)
    assert status.report is None
    assert status.summary.startswith(f"jitter report {path} unreadable")


def test_a_planted_link_is_never_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text("secret", encoding="utf-8")
    path = jitter_report.report_path(tmp_path / "state")
    path.parent.mkdir(parents=True)
    os.symlink(target, path)
    assert "unreadable" in jitter_report.jitter_status(tmp_path / "state").summary
    with pytest.raises(DataError):
        jitter_report.store(tmp_path / "state", report())
    assert target.read_text(encoding="utf-8") == "secret"
    assert path.is_symlink()
