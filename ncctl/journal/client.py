"""The client every journal line names: the ``client`` of the configuration a command or the
daemon runs with (None: the configuration names none).

One process acts for one configuration, so the client is set once per run, when the
configuration is loaded (:meth:`ncctl.cli.context.CommandContext.config`), and holds for every
thread (the daemon journals from its scheduler's worker). Older lines have no ``client`` field:
they were written before it existed, and they verify as they are (a line's hash covers the
fields it has).
"""

from __future__ import annotations

_client: str | None = None


def acting_for(client: str | None) -> None:
    """Name the client of the journal lines this process writes from now on."""
    global _client  # noqa: PLW0603 - one configuration per process, every thread
    _client = client


def client_field() -> str | None:
    """The ``client`` of a journal line written now."""
    return _client
