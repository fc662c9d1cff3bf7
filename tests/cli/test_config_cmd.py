"""``ncctl config show|validate|set|init`` through the CLI entry point."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from ncctl.config.masking import MASK
from ncctl.resources import builtin_config
from tests.cli.conftest import DEV_SECRET, DEV_TOML, Runner, needs_embedded, snapshot, write_config
from tests.helpers import REPO_ROOT, run_process

STOP_TIMEOUT = "components.feed_handler.stop_timeout_s"

# -- config show: resolution and masking ---------------------------------------------------


def marked(path: Path, environment: str) -> Path:
    return write_config(path, f'environment = "{environment}"\n')


@needs_embedded
def test_show_follows_the_resolution_order(
    ncctl: Runner, tmp_path: Path, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit = marked(tmp_path / "explicit.toml", "explicit")
    from_env = marked(tmp_path / "env.toml", "from-env")
    marked(isolated_cwd / "configs" / "dev.toml", "local-dev")
    marked(isolated_cwd / "configs" / "staging.toml", "local-staging")

    def shown(*argv: str | Path) -> tuple[str, str, str]:
        data = ncctl(*argv, "config", "show", "--json").data()
        return data["source"], Path(data["path"]).name, data["config"]["environment"]

    # configs/ of the working directory only counts when NCCTL_ENV names a file there
    assert shown() == ("embedded", "dev.toml", "dev")
    monkeypatch.setenv("NCCTL_ENV", "staging")
    assert shown() == ("configs/staging.toml", "staging.toml", "local-staging")
    monkeypatch.setenv("NCCTL_CONFIG", str(from_env))
    assert shown() == ("$NCCTL_CONFIG", "env.toml", "from-env")
    assert shown("--config", explicit) == ("--config", "explicit.toml", "explicit")


@needs_embedded
def test_show_falls_back_to_the_embedded_default(ncctl: Runner) -> None:
    data = ncctl("config", "show", "--json").data()
    assert data["source"] == "embedded"
    assert Path(data["path"]) == builtin_config("dev")
    assert data["config"]["environment"] == "dev"


def test_show_json_masks_secrets(ncctl: Runner, dev_copy: Path) -> None:
    result = ncctl("--config", dev_copy, "config", "show", "--json")
    data = result.data()
    assert DEV_SECRET not in result.out + result.err
    assert data["config"]["ilink"]["secret_key"] == MASK
    assert data["config"]["ilink"]["access_key_id"] == "dev-access-key"


def test_show_text_masks_secrets(ncctl: Runner, dev_copy: Path) -> None:
    result = ncctl("--config", dev_copy, "config", "show")
    assert result.code == 0
    assert DEV_SECRET not in result.out + result.err
    assert f'secret_key = "{MASK}"' in result.out
    assert str(dev_copy) in result.out


def test_show_masks_secrets_of_any_file(ncctl: Runner, tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "sftp.toml",
        '[ilink]\nhost = "h.invalid"\nsecret_key = "pw-7f3a9c"\n',
    )
    for extra in ((), ("--json",)):
        result = ncctl("--config", path, "config", "show", *extra)
        assert result.code == 0, result.err
        assert "pw-7f3a9c" not in result.out + result.err
        assert "h.invalid" in result.out


def test_set_never_takes_a_secret_from_the_command_line(ncctl: Runner, dev_copy: Path) -> None:
    """Secrets are never printed (docs/design.md §4.2) nor taken from argv, where ps shows
    them: `config set` refuses them there (exit 64) and writes nothing."""
    new_secret = "bmV3LXNlY3JldC12YWx1ZS0xMjM0NTY3ODk"
    before = state(dev_copy)
    for extra in ((), ("--dry-run",), ("--dry-run", "--json")):
        result = ncctl(
            "--config", dev_copy, "config", "set", "ilink.secret_key", new_secret, *extra
        )
        assert result.code == 64, result.err
        printed = result.out + result.err
        assert DEV_SECRET not in printed, printed
        assert new_secret not in printed, printed
        assert "config set ilink.secret_key -" in printed
    assert state(dev_copy) == before


def test_set_never_takes_a_secret_inside_a_table_from_the_command_line(
    ncctl: Runner, dev_copy: Path
) -> None:
    before = state(dev_copy)
    value = '{host = "h", secret_key = "pw-c0ffee"}'
    result = ncctl("--config", dev_copy, "config", "set", "ilink", value, "--dry-run", "--json")
    assert result.code == 64, result.out
    assert "pw-c0ffee" not in result.out + result.err
    assert "ilink.secret_key" in result.error()["message"]
    assert state(dev_copy) == before


# -- config validate -----------------------------------------------------------------------


def test_validate_a_good_file(ncctl: Runner, dev_copy: Path) -> None:
    data = ncctl("config", "validate", dev_copy, "--json").data()
    assert data["file"] == str(dev_copy)
    assert data["valid"] is True
    assert [Path(f).name for f in data["schedule_files"]] == [
        "cme-globex.toml",
        "cme-2026.toml",
        "cme-2027.toml",
    ]
    text = ncctl("config", "validate", dev_copy)
    assert text.code == 0
    assert f"{dev_copy}: valid" in text.out
    assert text.err == ""


def test_validate_the_shipped_dev_file(ncctl: Runner) -> None:
    # staging and prod hold placeholders until filled in: see test_config_validate.py
    assert ncctl("config", "validate", builtin_config("dev"), "--json").data()["valid"] is True


def test_validate_the_resolved_configuration(ncctl: Runner, dev_copy: Path) -> None:
    data = ncctl("--config", dev_copy, "config", "validate", "--json").data()
    assert data["file"] == str(dev_copy)


def bad_dev(tmp_path: Path) -> Path:
    text = DEV_TOML.read_text(encoding="utf-8").replace(
        "stop_timeout_s = 5.0", "stop_timeout_s = -5.0", 1
    )
    return write_config(tmp_path / "bad" / "dev.toml", text)


def test_validate_a_bad_file_names_file_and_key(ncctl: Runner, tmp_path: Path) -> None:
    bad = bad_dev(tmp_path)
    err = ncctl("config", "validate", bad, "--json").error()
    assert err["code"] == "config.invalid"
    assert err["message"].startswith(f"{bad}: components.feed_handler.stop_timeout_s: ")
    text = ncctl("config", "validate", bad)
    assert text.code == 78
    assert text.out == ""
    lines = text.err.splitlines()
    assert lines[0].startswith("ncctl: error: ")
    assert f"{bad}: components.feed_handler.stop_timeout_s" in lines[0]
    assert lines[1].startswith("hint: ")


def test_validate_reports_a_bad_schedule_file_the_config_names(
    ncctl: Runner, tmp_path: Path
) -> None:
    template = write_config(
        tmp_path / "tpl.toml",
        (REPO_ROOT / "schedules" / "cme-globex.toml")
        .read_text(encoding="utf-8")
        .replace('start = "16:01"', 'start = "25:00"'),
    )
    cfg = write_config(tmp_path / "c.toml", f'[schedule]\ntemplate = "{template}"\nholidays = []\n')
    result = ncctl("config", "validate", cfg, "--json")
    assert result.code == 78
    assert result.error()["message"].startswith(f"{template}: windows[0].start: ")


def test_validate_a_missing_file(ncctl: Runner, tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    result = ncctl("config", "validate", missing, "--json")
    assert result.code == 78
    assert result.error()["message"] == f"{missing}: configuration file not found"


# -- config set ----------------------------------------------------------------------------


def state(path: Path) -> tuple[bytes, int, int, int]:
    st = path.stat()
    return path.read_bytes(), st.st_mode, st.st_mtime_ns, st.st_ino


def test_set_writes_a_validated_value(ncctl: Runner, dev_copy: Path) -> None:
    inode = dev_copy.stat().st_ino
    data = ncctl(
        "--config", dev_copy, "config", "set", "schedule.display_tz", "UTC", "--json"
    ).data()
    assert data == {
        "file": str(dev_copy),
        "key": "schedule.display_tz",
        "old": "America/Chicago",
        "new": "UTC",
        "dry_run": False,
        "written": True,
        "context": {
            "config": str(dev_copy),
            "source": "--config",
            "state_dir": str(dev_copy.parent),  # relative paths: from the file's directory
            "clock": {"kind": "real"},
        },
    }
    assert stat.S_IMODE(dev_copy.stat().st_mode) == 0o600
    assert dev_copy.stat().st_ino != inode
    # no temporary file is left; the journal is in the file's state directory (".")
    names = sorted(p.name for p in dev_copy.parent.iterdir())
    assert names == ["dev.toml", "journal.jsonl", "journal.sqlite"]
    # the new value is in force for the next command
    now = ncctl("--config", dev_copy, "schedule", "now", "--at", "2026-11-27T18:20Z", "--json")
    assert now.data()["at"] == "2026-11-27T18:20:00+00:00"
    assert ncctl("config", "validate", dev_copy, "--json").code == 0


def test_set_text_output(ncctl: Runner, dev_copy: Path) -> None:
    result = ncctl("--config", dev_copy, "config", "set", "ilink.port", "29001")
    assert result.code == 0, result.err
    assert result.out.strip() == f"set ilink.port = 29001 in {dev_copy} (was 29000)"


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        (STOP_TIMEOUT, "0", STOP_TIMEOUT),
        (STOP_TIMEOUT, "soon", STOP_TIMEOUT),
        ("ilink.port", "65536", "ilink.port"),
        ("schedule.display_tz", "Chicago", "schedule.display_tz"),
        ("schedule.colour", "blue", "schedule.colour"),
    ],
)
def test_set_an_invalid_value_changes_nothing(
    ncctl: Runner, dev_copy: Path, key: str, value: str, named: str
) -> None:
    before = state(dev_copy)
    result = ncctl("--config", dev_copy, "config", "set", key, value, "--json")
    assert result.code == 78
    message = result.error()["message"]
    assert message.startswith(str(dev_copy))
    assert f": {named}: " in message
    assert state(dev_copy) == before
    assert sorted(p.name for p in dev_copy.parent.iterdir()) == ["dev.toml"]
    text = ncctl("--config", dev_copy, "config", "set", key, value)
    assert text.code == 78
    assert "hint: " in text.err
    assert state(dev_copy) == before


def test_set_dry_run_writes_nothing(ncctl: Runner, dev_copy: Path) -> None:
    before = state(dev_copy)
    data = ncctl(
        "--config", dev_copy, "config", "set", "ilink.port", "29001", "--dry-run", "--json"
    ).data()
    assert data["old"] == 29000
    assert data["new"] == 29001
    assert (data["dry_run"], data["written"]) == (True, False)
    assert state(dev_copy) == before
    text = ncctl("--config", dev_copy, "config", "set", "ilink.port", "29001", "--dry-run")
    assert text.code == 0
    assert text.out.startswith("would set ilink.port = 29001")
    assert state(dev_copy) == before


def test_set_under_a_plain_value_is_a_usage_error(ncctl: Runner, dev_copy: Path) -> None:
    before = state(dev_copy)
    result = ncctl("--config", dev_copy, "config", "set", "environment.name", "x", "--json")
    assert result.code == 64
    err = result.error()
    assert "environment" in err["message"]
    assert err["code"] == "usage"
    assert state(dev_copy) == before


@pytest.mark.parametrize("key", ["", "a..b", ".ilink"])
def test_set_a_malformed_key_is_a_usage_error(ncctl: Runner, dev_copy: Path, key: str) -> None:
    before = state(dev_copy)
    assert ncctl("--config", dev_copy, "config", "set", key, "1").code == 64
    assert state(dev_copy) == before


@needs_embedded
def test_set_on_the_embedded_default_is_refused(ncctl: Runner) -> None:
    before = state(builtin_config("dev"))
    result = ncctl("config", "set", "ilink.port", "29001", "--json")
    assert result.code == 78
    err = result.error()
    assert err["code"] == "config.read_only"
    assert "config init" in err["hint"]
    assert state(builtin_config("dev")) == before


def test_set_refuses_the_embedded_default_even_from_the_source_checkout(
    ncctl: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the repository root with NCCTL_ENV=dev, configs/dev.toml resolves as a local file,
    but it is the very
    file ncctl ships as its embedded default: `config set` must not edit it either."""
    embedded = builtin_config("dev")
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setenv("NCCTL_ENV", "dev")
    if (REPO_ROOT / "configs" / "dev.toml").resolve() != embedded.resolve():
        pytest.skip("ncctl is installed from a wheel: configs/dev.toml is not the embedded file")
    before = state(embedded)
    result = ncctl("config", "set", "ilink.port", "29001", "--dry-run", "--json")
    assert state(embedded) == before  # --dry-run: nothing is written either way
    assert result.code == 78, result.out


# -- config init ---------------------------------------------------------------------------


def test_init_writes_a_copy_of_the_shipped_file(ncctl: Runner, tmp_path: Path) -> None:
    target = tmp_path / "proj" / "configs" / "staging.toml"
    data = ncctl("config", "init", "--env", "staging", "--dir", tmp_path / "proj", "--json").data()
    assert data == {"file": str(target), "env": "staging"}
    assert target.read_bytes() == builtin_config("staging").read_bytes()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    # what validate says of it (placeholders until filled in): test_config_validate.py


def test_init_refuses_to_overwrite_without_force(ncctl: Runner, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    assert ncctl("config", "init", "--env", "staging", "--dir", proj).code == 0
    target = proj / "configs" / "staging.toml"
    target.write_text('environment = "edited"\n', encoding="utf-8")
    before = snapshot(proj)
    result = ncctl("config", "init", "--env", "staging", "--dir", proj, "--json")
    assert result.code == 73
    err = result.error()
    assert str(target) in err["message"]
    assert "--force" in err["hint"]
    assert snapshot(proj) == before
    forced = ncctl("config", "init", "--env", "staging", "--dir", proj, "--force")
    assert forced.code == 0
    assert target.read_bytes() == builtin_config("staging").read_bytes()


def test_init_unknown_env_is_a_usage_error(ncctl: Runner, tmp_path: Path) -> None:
    result = ncctl("config", "init", "--env", "qa", "--dir", tmp_path / "proj", "--json")
    assert result.code == 64
    assert "dev, prod, staging" in result.error()["hint"]
    assert not (tmp_path / "proj").exists()


def test_init_then_resolve_by_env(
    ncctl: Runner, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ncctl("config", "init", "--env", "prod").code == 0
    monkeypatch.setenv("NCCTL_ENV", "prod")
    data = ncctl("config", "show", "--json").data()
    assert (data["source"], data["config"]["environment"]) == ("configs/prod.toml", "prod")


# -- end to end ----------------------------------------------------------------------------


@pytest.mark.slow
def test_real_process_config_round_trip(tmp_path: Path, isolated_cwd: Path) -> None:
    assert run_process("config", "init", "--env", "dev", cwd=isolated_cwd).code == 0
    local = isolated_cwd / "configs" / "dev.toml"
    env = {"NCCTL_ENV": "dev"}  # configs/ of the working directory counts only when named
    shown = run_process("config", "show", "--json", cwd=isolated_cwd, env=env)
    assert shown.code == 0, shown.err
    doc = json.loads(shown.out)
    assert doc["data"]["source"] == "configs/dev.toml"
    assert DEV_SECRET not in shown.out + shown.err
    before = state(local)
    bad = run_process("config", "set", "ilink.keepalive_ms", "10", cwd=isolated_cwd, env=env)
    assert bad.code == 78
    assert "Traceback" not in bad.err
    assert bad.err.startswith(f"ncctl: error: {local}")
    assert "ilink.keepalive_ms" in bad.err
    assert "\nhint: " in bad.err
    assert state(local) == before
