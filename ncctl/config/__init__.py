"""The configuration's leaf: what every section is built from, and reading, showing and editing
configuration files, knowing nothing of the sections themselves.

- :mod:`ncctl.config.section` - the ``Section`` base and shared field types;
- :mod:`ncctl.config.files` - which file applies, and reading it;
- :mod:`ncctl.config.paths` - relative paths taken from the file's directory;
- :mod:`ncctl.config.masking` - secrets masked for showing;
- :mod:`ncctl.config.keys` - dotted keys, values and atomic edits;
- :mod:`ncctl.config.init` - ``config init``.

Each domain package owns its section (``ncctl/*/section.py``); :mod:`ncctl.appconfig` puts them
together into the whole file and loads it.
"""
