"""Thin Typer commands: parse, call one core function, render (Rich text or ``--json``)."""
