"""ncctl's /metrics on a fleet test host, at a simulated time, until it is killed.

``python tests/fleet/metrics_endpoint.py CONFIG CLOCK``

What the daemon (``ncctl scheduler run``) serves, computed by the same collector
(:func:`ncctl.metrics.collector.collect`) and served by the same server
(:func:`ncctl.metrics.server.serve`) on ``metrics.listen:metrics.port`` of CONFIG, with one
difference: every scrape computes the values at CLOCK (ISO 8601), not at the machine's time.
The daemon itself cannot be the endpoint of a test: it runs on the machine's clock only (it
refuses ``--clock``: a test must not depend on the day it runs), and its reconcile pass would
start again, within 15 s, the component a test stops by hand to see the drift alert fire.
"""

from __future__ import annotations

import datetime as dt
import signal
import sys
import threading
from pathlib import Path


def main(config_path: str, clock: str) -> int:
    from ncctl.appconfig.load import load
    from ncctl.metrics.collector import collect
    from ncctl.metrics.server import serve
    from ncctl.schedule import load_engine

    at = dt.datetime.fromisoformat(clock)
    loaded = load(Path(config_path))
    schedule = loaded.config.schedule
    engine = load_engine(schedule.template_path(), schedule.holiday_paths())
    metrics = loaded.config.metrics
    server = serve(collect(loaded.config, engine, at), metrics.listen, metrics.port)
    print(server.url, flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
