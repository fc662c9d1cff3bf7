"""One module per kind of tuning setting, each with ``expand`` (its table of a profile as
settings for one host), its probe, its write and its rollback; :mod:`.base` holds what they
share."""
