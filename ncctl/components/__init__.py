"""Lifecycle of the feed handler and the order session: process and systemd backends."""
