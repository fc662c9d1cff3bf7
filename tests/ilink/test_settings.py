"""The configuration models of [ilink] and [[party_details]]."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from ncctl.ilink.section import IlinkConfig, PartyDetails, PartyDetailsList

from .conftest import entry

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_shipped_ilink_tables_validate_with_this_model(env: str) -> None:
    doc = tomllib.loads((REPO / "configs" / f"{env}.toml").read_text())
    config = IlinkConfig.model_validate(doc["ilink"])
    assert config.require_registration is True
    assert config.secret_expiry_warn_days == 14


def test_roles_in_role_order() -> None:
    e = entry(7, take_up_firm="TUF", take_up_account="TUA", cmta_giveup="G")
    assert e.roles() == {1: "T01", 24: "ACC7", 96: "TUF", 118: "NCCTL-OPS", 1000: "TUA"}
    assert list(entry(8, account=None).roles()) == [1, 118]


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"id": 0}, "id"),
        ({"id": 2**64 - 1}, "id"),
        ({"account": "A" * 21}, "account"),
        ({"account": "caf\u00e9"}, "account"),
        ({"operator": "has space"}, "operator"),
        ({"operator": "O" * 19}, "operator"),
        ({"location": "TOOLONG"}, "location"),
        ({"customer_type_indicator": 5}, "customer_type_indicator"),
        ({"clearing_account_type": 2}, "clearing_account_type"),
        ({"customer_order_handling": "Z"}, "customer_order_handling"),
        ({"smp_instruction": "N"}, "smp_instruction needs smp_id"),
        ({"avg_px_indicator": 1}, "needs avg_px_group_id"),
        ({"cmta_giveup": "G"}, "needs take_up_firm"),
        ({"memo": "m" * 76}, "memo"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_entries_name_the_key(changes: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as info:
        entry(1, **changes)
    assert where in str(info.value)


def test_ids_are_unique_across_entries() -> None:
    adapter: TypeAdapter[list[PartyDetails]] = TypeAdapter(PartyDetailsList)
    ok = adapter.validate_python([entry(1).model_dump(), entry(2).model_dump()])
    assert [e.id for e in ok] == [1, 2]
    with pytest.raises(ValidationError, match=r"\[1\]\.id 1 is used by an earlier entry"):
        adapter.validate_python([entry(1).model_dump(), entry(1).model_dump()])


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"session": "LONG"}, "session"),
        ({"firm": "FIRM12"}, "firm"),
        ({"trading_system_version": "v" * 11}, "trading_system_version"),
        ({"response_timeout_s": 0}, "response_timeout_s"),
        ({"registration_attempts": 0}, "registration_attempts"),
    ],
)
def test_ilink_values_outside_the_schema_lengths_are_refused(
    changes: dict[str, Any], where: str
) -> None:
    with pytest.raises(ValidationError) as info:
        IlinkConfig.model_validate(changes)
    assert where in str(info.value)
