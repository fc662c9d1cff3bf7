"""What a process component gets in its environment: the schedule files always, the iLink
credentials for the order session of a development configuration only."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from ncctl.appconfig.component_env import component_environment
from ncctl.appconfig.load import validate_document
from ncctl.sim_interface import (
    GATEWAY_ACCESS_KEY_ENV,
    GATEWAY_SECRET_ENV,
    SCHEDULE_FILES_ENV,
    parse_schedule_files,
)

REPO = Path(__file__).resolve().parents[2]
DEV = REPO / "configs" / "dev.toml"


def _dev_document() -> dict[str, Any]:
    with DEV.open("rb") as fh:
        return tomllib.load(fh)


def test_the_schedule_files_are_the_configured_ones_absolute(tmp_path: Path) -> None:
    doc = _dev_document()
    doc["schedule"] = {"template": "week.toml", "holidays": ["cme-2026", "h/extra.toml"]}
    config = validate_document(doc, "dev.toml", base=tmp_path)
    for name in ("feed_handler", "order_session"):
        listed = parse_schedule_files(component_environment(name, config)[SCHEDULE_FILES_ENV])
        assert listed == (
            tmp_path / "week.toml",
            [config.schedule.holiday_paths()[0].absolute(), tmp_path / "h" / "extra.toml"],
        )


def test_the_order_session_of_a_dev_configuration_gets_the_credentials(tmp_path: Path) -> None:
    config = validate_document(_dev_document(), "dev.toml", base=tmp_path)
    assert config.ilink.secret_key is not None
    env = component_environment("order_session", config)
    assert env[GATEWAY_SECRET_ENV] == config.ilink.secret_key.get_secret_value()
    assert env[GATEWAY_ACCESS_KEY_ENV] == config.ilink.access_key_id
    assert GATEWAY_SECRET_ENV not in component_environment("feed_handler", config)


@pytest.mark.parametrize(
    "change",
    [
        {"environment": "staging"},
        {"tuning": {"profile": "dev", "root": "/"}},
        {"components": {**_dev_document()["components"], "feed_handler": {"command": ["/opt/fh"]}}},
    ],
    ids=["staging", "real-tuning-root", "real-feed-handler"],
)
def test_no_other_configuration_hands_a_secret_to_a_component(
    tmp_path: Path, change: dict[str, Any]
) -> None:
    config = validate_document(_dev_document() | change, "dev.toml", base=tmp_path)
    env = component_environment("order_session", config)
    assert set(env) == {SCHEDULE_FILES_ENV}
