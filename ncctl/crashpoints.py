"""Named points where a test can have ncctl killed (see :func:`ncctl.floor.crashpoint`)."""

from __future__ import annotations

from ncctl.floor import crashpoint

__all__ = ["crashpoint"]
