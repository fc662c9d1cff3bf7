"""Metrics for cron setups: node_exporter's textfile format (``ncctl metrics --textfile``)."""

from __future__ import annotations

from pathlib import Path

from ncctl.metrics.collector import Scrape


def write_textfile(path: Path, scrape: Scrape) -> None:
    """Write node_exporter's textfile format atomically: a temporary file in the same
    directory (not named ``*.prom``, so never read half-written), fsync, rename. It stays
    world-readable (0644): node_exporter is meant to read it."""
    from ncctl.floor import write_text_atomic

    write_text_atomic(path, scrape.text(), mode=0o644)
