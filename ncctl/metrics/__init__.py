"""Prometheus metrics of one ncctl, computed when they are scraped.

The only package that imports ``prometheus_client``; everything else imports it lazily, so
that ``ncctl --help`` and ``ncctl schedule now`` never load it.

* :mod:`ncctl.metrics.sources` - the pluggable status sources and the scrape's context;
* :mod:`ncctl.metrics.families` - status -> metric families, one builder per source;
* :mod:`ncctl.metrics.collector` - every source at each scrape (``NcctlCollector``,
  ``collect``), a failing source reported in ``ncctl_collector_errors``;
* :mod:`ncctl.metrics.server` - ``/metrics`` over HTTP on loopback or HTTPS anywhere
  (the daemon);
* :mod:`ncctl.metrics.textfile` - node_exporter's textfile format (``ncctl metrics
  --textfile``).
"""
