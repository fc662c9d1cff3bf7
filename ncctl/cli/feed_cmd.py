"""``ncctl feed …``: start, stop, restart and status of the market-data feed handler."""

from __future__ import annotations

from ncctl.cli.component_group import component_app

app = component_app("feed_handler", "market-data feed handler")
