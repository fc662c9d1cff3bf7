"""The whole configuration: every section together (:mod:`~ncctl.appconfig.model`), loading it
(:mod:`~ncctl.appconfig.load`), systemd's credentials, whether it is a development one, and the
checks of ``config validate``. Above the domain packages, whose sections it gathers."""
