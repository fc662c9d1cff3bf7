"""What ncctl adds to the environment of a component it starts as a process.

Every such component gets :data:`~ncctl.sim_interface.SCHEDULE_FILES_ENV`, the schedule files
of the configuration (the feed-handler simulator builds its schedule from them). The order
session of a development configuration (:func:`ncctl.appconfig.development.is_development`) with an
inline ``ilink.secret_key`` also gets the iLink credentials its simulator uses for a FIXP
session with the gateway simulator; no other configuration hands a secret to a component.
"""

from __future__ import annotations

from ncctl.appconfig.model import NcctlConfig
from ncctl.components.section import COMPONENT_NAMES
from ncctl.sim_interface import (
    GATEWAY_ACCESS_KEY_ENV,
    GATEWAY_SECRET_ENV,
    SCHEDULE_FILES_ENV,
    schedule_files_value,
)


def component_environment(name: str, config: NcctlConfig) -> dict[str, str]:
    """The variables ncctl sets for process component ``name`` of ``config``."""
    schedule = config.schedule
    holidays = [path.absolute() for path in schedule.holiday_paths()]
    env = {SCHEDULE_FILES_ENV: schedule_files_value(schedule.template_path().absolute(), holidays)}
    secret = config.ilink.secret_key
    if name == "order_session" and secret is not None:
        from ncctl.appconfig.development import is_development

        if is_development(config):
            env[GATEWAY_SECRET_ENV] = secret.get_secret_value()
            env[GATEWAY_ACCESS_KEY_ENV] = config.ilink.access_key_id
    return env


def component_environments(config: NcctlConfig) -> dict[str, dict[str, str]]:
    """:func:`component_environment` of every component of ``config``, by name."""
    return {name: component_environment(name, config) for name in COMPONENT_NAMES}
