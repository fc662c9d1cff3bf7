"""Host tuning: profiles, typed settings, plan/apply/verify/rollback under a root directory.

The library is the product; ``ncctl tune …`` (``ncctl/cli/tune_cmd.py``) is a thin wrapper.
Start from :class:`ncctl.tuning.tuner.Tuner` with a :class:`ncctl.tuning.host.Host` and a
profile from :func:`ncctl.tuning.profiles.load_profile`; each kind of setting is a module of
:mod:`ncctl.tuning.kinds`. See docs/tuning.md.
"""
