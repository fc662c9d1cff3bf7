"""ncctl: operations CLI for a managed, colocated CME Globex trading environment."""

__version__ = "0.1.0"
