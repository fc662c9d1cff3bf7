"""``ncctl preflight``: check, before the week starts, what the week will need.

Each check is a small function of a :class:`~ncctl.preflight.result.Context` returning one or
more :class:`~ncctl.preflight.result.CheckResult` (``ok``, ``warn``, ``fail`` or ``skip``),
grouped one file per kind: :mod:`.ilink` (secret expiry, gateway), :mod:`.space` (upload
destinations, local free space), :mod:`.host` (tuning, clock synchronisation),
:mod:`.holidays` (holiday-table coverage) and :mod:`.configured` (``config validate``).
:mod:`.run` runs them all and records the outcome for the metrics.

Preflight only reads, except for a small probe file written to and removed from each upload
destination, and its own record (``state_dir/preflight.json``) that the metrics read. Under a
simulated clock on a configuration whose environment is not ``dev`` nothing goes over the
wire (those checks are skipped, saying why) and nothing is recorded.
"""
