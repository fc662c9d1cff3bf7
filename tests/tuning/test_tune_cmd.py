"""``ncctl tune …`` through ``ncctl.cli.main.main`` in-process: JSON contract, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ncctl.cli.docs import missing_help
from tests.helpers import run_in_process
from tests.tuning import fakeroot
from tests.tuning.conftest import WEDNESDAY, Tune, envelope, verdicts, write_config


def journal(state_dir: Path) -> list[dict[str, object]]:
    path = state_dir / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_plan_classifies_everything_and_writes_nothing(
    tune: Tune, fake_root: Path, state_dir: Path
) -> None:
    before = fakeroot.tree(fake_root)
    result = tune("plan")
    doc = envelope(result, "tune plan")
    assert result.code == 0  # a plan is a report: compliance is verify's job
    data = doc["data"]
    assert data["profile"]["chain"] == ["base", "latency"]
    assert data["status"] == "drift" and data["exit_code"] == 1
    assert verdicts(data)["thp:enabled"] == "apply"
    assert {row["verdict"] for row in data["settings"]} <= {
        "ok",
        "apply",
        "reboot",
        "host-only",
        "unsupported",
    }
    assert data["context"]["contained"] is False
    assert [f["action"] for f in data["files"]] == ["create", "create"]
    assert fakeroot.tree(fake_root) == before
    assert not state_dir.exists()


def test_verify_host_verify_rollback_exit_codes(
    tune: Tune, fake_root: Path, state_dir: Path
) -> None:
    start = fakeroot.tree(fake_root)
    drift = tune("verify")
    doc = envelope(drift, "tune verify")
    assert drift.code == 1
    assert doc["error"]["code"] == "tune.drift" and "tune host" in doc["error"]["hint"]
    assert doc["data"]["status"] == "drift"  # the result travels with the failure

    applied = tune("host")
    doc = envelope(applied, "tune host")
    assert applied.code == 0, doc
    assert doc["data"]["verify"]["status"] == "compliant"
    assert {c["id"] for c in doc["data"]["changed"]} >= {"thp:enabled", "hugepages:2048kB"}

    assert tune("verify").code == 0
    (fake_root / "sys/kernel/mm/transparent_hugepage/enabled").write_text("always\n")
    drifted = tune("verify")
    assert drifted.code == 1
    assert "thp:enabled" in envelope(drifted, "tune verify")["error"]["message"]

    undone = tune("rollback")
    doc = envelope(undone, "tune rollback")
    assert undone.code == 1  # THP was changed by someone else: skipped, with a warning
    assert [s["id"] for s in doc["data"]["skipped"]] == ["thp:enabled"]
    assert any("thp:enabled" in w for w in doc["data"]["warnings"])
    assert doc["error"]["code"] == "tune.rollback_incomplete"
    forced = tune("rollback", "--force", "--reason", "THP back to the distribution default")
    assert forced.code == 0
    assert fakeroot.tree(fake_root) == start
    again = tune("rollback")
    assert again.code == 0 and envelope(again, "tune rollback")["data"]["restored"] == []
    outcomes = [(e["command"], e["outcome"]) for e in journal(state_dir)]
    assert outcomes == [
        ("tune host", "ok"),
        ("tune rollback", "partial"),
        ("tune rollback", "ok"),
        ("tune rollback", "noop"),
    ]


def test_what_cannot_be_reached_here_is_exit_4(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state_dir: Path
) -> None:
    root = fakeroot.build(tmp_path / "no-grub", boot_loader=False)
    config = write_config(tmp_path / "c.toml", state_dir, root, "isolated-cores")
    tune = Tune(capsys, config)
    result = tune("host")
    doc = envelope(result, "tune host")
    assert result.code == 4, doc
    assert doc["error"]["code"] == "tune.unsupported"
    found = verdicts(doc["data"]["verify"])
    assert found["boot:isolcpus"] == "unsupported"
    assert found["irq:0"] == "kernel-managed"  # read-only: the kernel places it
    assert found["irq:24"] == "ok"
    reason = next(r for r in doc["data"]["verify"]["settings"] if r["id"] == "boot:nohz_full")
    assert "neither grubby nor update-grub" in reason["reason"]
    assert "never edits grub.cfg" in reason["reason"]


def test_trading_hours_guard_through_the_cli(tune: Tune, fake_root: Path, state_dir: Path) -> None:
    start = fakeroot.tree(fake_root)
    tune.clock = WEDNESDAY
    refused = tune("host")
    doc = envelope(refused, "tune host")
    assert refused.code == 1 and doc["data"] is None
    assert doc["error"]["code"] == "schedule.refused"
    assert "grows the hugepages-2048kB pool from 0 to 512" in doc["error"]["message"]
    assert "--force --reason" in doc["error"]["hint"]
    assert fakeroot.tree(fake_root) == start
    plan = envelope(tune("plan"), "tune plan")["data"]
    assert plan["trading"]["inside_trading_hours"] is True
    assert any(row["disruptive"] for row in plan["settings"])
    no_reason = tune("host", "--force")
    assert no_reason.code == 64
    forced = tune("host", "--force", "--reason", "pool resized for the new feed")
    assert forced.code == 0
    assert envelope(forced, "tune host")["data"]["overrides"] == "the market is OPEN"
    last = journal(state_dir)[-1]
    assert last["reason"] == "pool resized for the new feed"
    assert [e["outcome"] for e in journal(state_dir)] == ["refused", "ok"]


def test_dry_run_writes_nothing(tune: Tune, fake_root: Path, state_dir: Path) -> None:
    start = fakeroot.tree(fake_root)
    result = tune("host", "--dry-run")
    doc = envelope(result, "tune host")
    assert result.code == 0 and doc["data"]["dry_run"] is True
    assert doc["data"]["plan"]["status"] == "drift"
    assert fakeroot.tree(fake_root) == start
    assert not state_dir.exists()
    rollback = tune("rollback", "--dry-run")
    assert rollback.code == 0


def test_errors_are_one_document(tune: Tune, tmp_path: Path, state_dir: Path) -> None:
    missing = tune("plan", "--root", tmp_path / "nowhere")
    doc = envelope(missing, "tune plan")
    assert missing.code == 69 and doc["data"] is None
    assert "--root /" not in doc["error"]["hint"]  # never a hint to tune this machine
    assert "--root" in doc["error"]["hint"]
    bad = tune("verify", "--profile", "no-such-profile")
    assert bad.code == 78
    assert "isolated-cores" in envelope(bad, "tune verify")["error"]["hint"]
    parse = tune("plan", "--no-such-option")
    assert parse.code == 2
    assert json.loads(parse.out)["error"]["code"] == "usage.parse"


def test_the_embedded_dev_config_makes_its_fake_root(
    capsys: pytest.CaptureFixture[str], private_state_home: Path
) -> None:
    # configs/dev.toml: tuning.root = "fakeroot", in the per-user state directory
    result = run_in_process(capsys, "tune", "plan", "--json")
    doc = envelope(result, "tune plan")
    assert result.code == 0
    root = private_state_home / "fakeroot"
    assert doc["data"]["root"] == str(root)
    assert (root.stat().st_mode & 0o777) == 0o700
    assert set(verdicts(doc["data"])) == {
        "sysctl:net.ipv4.tcp_rmem",
        "sysctl:net.ipv4.tcp_wmem",
        "sysctl:net.ipv4.tcp_slow_start_after_idle",
    }


def test_dev_profile_on_the_dev_fake_root(
    capsys: pytest.CaptureFixture[str], private_state_home: Path
) -> None:
    fakeroot.build(private_state_home / "fakeroot")
    result = run_in_process(capsys, "tune", "plan", "--json")
    doc = envelope(result, "tune plan")
    assert doc["data"]["profile"]["name"] == "dev"
    assert set(verdicts(doc["data"])) == {
        "sysctl:net.ipv4.tcp_rmem",
        "sysctl:net.ipv4.tcp_wmem",
        "sysctl:net.ipv4.tcp_slow_start_after_idle",
    }


def test_text_mode(tune: Tune, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    plan = tune("plan", json_mode=False)
    assert plan.code == 0
    assert "profile latency (base > latency)" in plan.out
    assert "transparent_hugepage/enabled" in plan.out and "drift" in plan.out
    verify = tune("verify", json_mode=False)
    assert verify.code == 1
    assert "ncctl: drift from profile latency" in verify.err and "hint:" in verify.err


def test_every_tune_option_has_help() -> None:
    from ncctl.cli.tune_cmd import app

    assert missing_help(app) == []
