"""The codec's layouts agree with CME's iLink 3 schema file, field by field.

CME publishes the schema (``ilinkbinary.xml``); it is not part of the project. The test reads
it from the path in ``$NCCTL_ILINK_SCHEMA`` and is skipped when that variable is unset or the
file is absent.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ncctl.ilink import sbe

SCHEMA = Path(os.environ.get("NCCTL_ILINK_SCHEMA", "") or "/nonexistent/ilinkbinary.xml")
NS = "{http://www.fixprotocol.org/ns/simple/1.0}"
SIZES = {"uint8": 1, "uint16": 2, "uint32": 4, "uint64": 8}
KIND_OF = {"uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64"}

pytestmark = pytest.mark.skipif(
    not SCHEMA.is_file(), reason="set NCCTL_ILINK_SCHEMA to the path of CME's ilinkbinary.xml"
)


def snake(name: str) -> str:
    name = name.replace("IDs", "Ids")
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return name.lower()


@pytest.fixture(scope="module")
def schema() -> ET.Element:
    return ET.parse(SCHEMA).getroot()


def resolve(root: ET.Element, type_name: str) -> dict[str, str]:
    """primitiveType, length, presence and nullValue of a type (through enum encodings)."""
    types = root.find("types")
    assert types is not None
    for node in types:
        if node.get("name") != type_name:
            continue
        if node.tag == "enum":
            encoding = node.get("encodingType", "")
            if encoding in SIZES or encoding == "char":
                return {"primitiveType": encoding, "presence": "required"}
            return resolve(root, encoding)
        if node.tag == "type":
            return dict(node.attrib)
        raise AssertionError(f"{type_name} is a {node.tag}")
    raise AssertionError(f"type {type_name} not in the schema")


def check_fields(
    root: ET.Element, owner: str, nodes: list[ET.Element], specs: tuple[sbe.FieldSpec, ...]
) -> None:
    mine = {f.name: f for f in specs}
    wire = []
    for node in nodes:
        t = resolve(root, node.get("type", ""))
        name = snake(node.get("name", ""))
        if t.get("presence") == "constant":
            assert name not in mine, f"{owner}.{name} is a constant: not on the wire"
            continue
        wire.append(name)
        assert name in mine, f"{owner}: schema field {name} missing from the codec"
        spec = mine[name]
        assert spec.offset == int(node.get("offset", "-1")), f"{owner}.{name} offset"
        primitive = t["primitiveType"]
        length = int(t.get("length", "1"))
        if primitive == "char" and length > 1:
            assert spec.kind in ("str", "raw"), f"{owner}.{name} is a string"
            assert spec.length == length, f"{owner}.{name} length"
        elif primitive == "char":
            assert spec.kind == "char", f"{owner}.{name} is one character"
            assert spec.optional == (t.get("presence") == "optional"), f"{owner}.{name} null"
        else:
            assert spec.kind == KIND_OF[primitive], f"{owner}.{name} type"
            if t.get("presence") == "optional":
                assert spec.optional, f"{owner}.{name} should be optional"
                assert spec.null == int(t["nullValue"]), f"{owner}.{name} nullValue"
            else:
                assert not spec.optional, f"{owner}.{name} should be required"
    assert sorted(wire) == sorted(mine), f"{owner}: codec has fields the schema lacks"


@pytest.mark.parametrize("cls", sbe.MESSAGE_CLASSES, ids=[c.SPEC.name for c in sbe.MESSAGE_CLASSES])
def test_layout_matches_the_schema(schema: ET.Element, cls: type[sbe.Message]) -> None:
    assert schema.get("id") == str(sbe.SCHEMA_ID)
    assert schema.get("version") == str(sbe.SCHEMA_VERSION)
    assert schema.get("byteOrder") == "littleEndian"
    spec = cls.SPEC
    message = next(m for m in schema.iter(f"{NS}message") if m.get("id") == str(spec.template_id))
    assert message.get("name") == f"{spec.name}{spec.template_id}"
    assert int(message.get("blockLength", "0")) == spec.block_length
    check_fields(schema, spec.name, message.findall("field"), spec.fields)
    groups = message.findall("group")
    assert [snake(g.get("name", "").removeprefix("No")) for g in groups] == [
        g.name for g in spec.groups
    ]
    for node, group in zip(groups, spec.groups, strict=True):
        assert node.get("dimensionType") == "groupSize"
        assert int(node.get("blockLength", "0")) == group.block_length
        check_fields(schema, f"{spec.name}.{group.name}", node.findall("field"), group.fields)
    assert [snake(d.get("name", "")) for d in message.findall("data")] == list(spec.var_data)


def test_group_size_and_header_composites(schema: ET.Element) -> None:
    types = schema.find("types")
    assert types is not None
    composites = {c.get("name"): c for c in types.findall("composite")}
    header = [(t.get("name"), t.get("primitiveType")) for t in composites["messageHeader"]]
    assert header == [
        ("blockLength", "uint16"),
        ("templateId", "uint16"),
        ("schemaId", "uint16"),
        ("version", "uint16"),
    ]
    group = [(t.get("name"), t.get("primitiveType")) for t in composites["groupSize"]]
    assert group == [("blockLength", "uint16"), ("numInGroup", "uint8")]
    assert sbe.GROUP_HEADER.size == 3
