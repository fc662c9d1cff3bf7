"""The client and site a configuration names: validated, shown by ``config show``, labels of
``ncctl_info``, and the client recorded in every journal line (older lines without it still
verify)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from ncctl.appconfig.model import NcctlConfig
from ncctl.config.section import IDENTITY_NAME
from ncctl.journal import GENESIS, Journal, verify
from ncctl.journal.client import acting_for
from ncctl.journal.records import canonical, iso_ns, sha
from tests.cli.conftest import Runner

CLOCK = "2026-12-06T15:10-06:00"
NAMES = st.one_of(
    st.from_regex(IDENTITY_NAME, fullmatch=True),
    st.text(alphabet="aZ0_-. /é\n", max_size=70),
)


@given(name=NAMES, key=st.sampled_from(["client", "site"]))
def test_a_client_or_site_is_accepted_exactly_when_it_is_a_lowercase_name(
    name: str, key: str
) -> None:
    good = re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", name) is not None
    try:
        config = NcctlConfig.model_validate({key: name})
    except ValidationError as exc:
        assert not good
        assert exc.errors()[0]["loc"] == (key,)
    else:
        assert good and getattr(config, key) == name


def journal_lines(directory: Path) -> list[dict[str, object]]:
    text = (directory / "journal.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_set_show_and_journal_name_the_client(ncctl: Runner, dev_copy: Path) -> None:
    before = dev_copy.read_bytes()
    bad = ncctl("--config", dev_copy, "config", "set", "client", "Acme Corp")
    assert bad.code == 78
    assert "client" in bad.err.splitlines()[0] and "lowercase name" in bad.err
    assert dev_copy.read_bytes() == before

    assert ncctl("--config", dev_copy, "config", "set", "client", "acme").code == 0
    assert ncctl("--config", dev_copy, "config", "set", "site", "aurora-1").code == 0
    shown = ncctl("--config", dev_copy, "config", "show", "--json").data()["config"]
    assert (shown["client"], shown["site"]) == ("acme", "aurora-1")
    text = ncctl("--config", dev_copy, "config", "show").out
    assert 'client = "acme"' in text and 'site = "aurora-1"' in text

    # each line names the client of the configuration the command ran with
    lines = journal_lines(dev_copy.parent)
    assert [line["client"] for line in lines] == [None, "acme"]
    assert verify(dev_copy.parent / "journal.jsonl").ok


def test_ncctl_info_carries_client_and_site(ncctl: Runner, dev_copy: Path) -> None:
    def info() -> dict[str, str]:
        out = ncctl("--config", dev_copy, "--clock", CLOCK, "metrics").out
        families = {f.name: f for f in text_string_to_metric_families(out)}
        (sample,) = families["ncctl_info"].samples
        return dict(sample.labels)

    assert info() == {"version": "0.1.0", "environment": "dev", "client": "", "site": ""}
    assert ncctl("--config", dev_copy, "config", "set", "client", "acme").code == 0
    assert ncctl("--config", dev_copy, "config", "set", "site", "aurora").code == 0
    assert info() == {"version": "0.1.0", "environment": "dev", "client": "acme", "site": "aurora"}


def old_line(seq: int, prev: str) -> bytes:
    """A journal line as ncctl wrote it before lines named the client."""
    ts_ns = 1_750_000_000_000_000_000 + seq
    record: dict[str, object] = {
        "ts_ns": ts_ns,
        "user": "root",
        "host": "h1",
        "pid": 4242,
        "command": "feed start",
        "args": [],
        "outcome": "ok",
        "reason": None,
        "details": {},
        "seq": seq,
        "prev": prev,
        "time": iso_ns(ts_ns),
        "clock": {"kind": "real"},
    }
    record["hash"] = sha(canonical(record))
    return canonical(record)


@pytest.mark.parametrize("old", [1, 3])
def test_older_lines_without_a_client_still_verify(tmp_path: Path, old: int) -> None:
    path = tmp_path / "journal.jsonl"
    prev, lines = GENESIS, []
    for seq in range(1, old + 1):
        line = old_line(seq, prev)
        lines.append(line + b"\n")
        prev = sha(line)
    path.write_bytes(b"".join(lines))
    acting_for("acme")
    try:
        new = Journal(path).append("feed stop", [], "ok")
    finally:
        acting_for(None)
    assert (new["client"], new["seq"], new["prev"]) == ("acme", old + 1, prev)
    result = verify(path)
    assert (result.ok, result.lines) == (True, old + 1)
    assert ["client" in json.loads(t) for t in path.read_text().splitlines()] == [False] * old + [
        True
    ]
