"""A thousand small live files (a glob) rotated and uploaded in one run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.logs.helpers import run, write_config

pytestmark = pytest.mark.slow


def test_a_thousand_small_files(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    text = config.read_text().replace(
        f'path = "{tmp_path / "live" / "audit.csv"}"', f'path = "{tmp_path / "live" / "*.csv"}"'
    )
    config.write_text(text)
    for i in range(1000):
        (tmp_path / "live" / f"a{i:04d}.csv").write_text(f"file {i}\n")
    code, doc, _ = run(config, "logs", "rotate")
    assert code == 0, doc
    assert len(doc["data"]["categories"][0]["files"]) == 1000
    code, doc, _ = run(config, "logs", "upload")
    assert code == 0, doc["error"]
    assert doc["data"]["verified"] == 2000 and doc["data"]["failed"] == 0
    for dest in ("fcm", "client"):
        names = sorted(p.name for p in (tmp_path / "outbox" / dest).iterdir())
        assert names == [f"a{i:04d}.20261125.csv.gz" for i in range(1000)]
    assert not list((tmp_path / "live").iterdir())
