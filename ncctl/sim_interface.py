"""Names shared by the product and the simulators (``ncctl.sim``): environment variables the
product sets for a simulator it starts, and what a simulator announces of itself.

Both sides import them from here, so that neither imports the other.
"""

from __future__ import annotations

GATEWAY_ENV = "NCCTL_GATEWAY"
"""``HOST:PORT`` of the CME gateway simulator the order-session simulator holds its FIXP
session with (none if unset)."""
TRADING_SYSTEM_NAME = "ncctl.sim.order_session"
"""The TradingSystemName (tag 1603) of the order-session simulator's FIXP session."""
DEMO_GATEWAY_SECRET_ENV = "NCCTL_DEMO_GATEWAY_SECRET"  # noqa: S105 - the name of a variable
"""The variable through which ``ncctl demo`` hands the iLink secret to its gateway
simulator (``--secret-env``)."""
