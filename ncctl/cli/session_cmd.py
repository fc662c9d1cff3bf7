"""``ncctl session …``: start, stop, restart and status of the iLink 3 order-entry session."""

from __future__ import annotations

from ncctl.cli.component_group import component_app

app = component_app("order_session", "iLink 3 order-entry session")
