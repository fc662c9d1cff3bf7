"""Putting ncctl on hosts: the artifact (wheel + hash-locked dependency wheels + installer).

Kept outside ``ncctl/`` on purpose: none of it is part of the installed product, the installer
must run on a host where ncctl is not installed yet (Python's standard library only), and the
top-level name ``packaging`` would shadow the PyPI package of that name.
"""
