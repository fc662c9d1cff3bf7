"""Relative paths of a configuration are taken from the file's directory (the embedded
default's from ``$XDG_STATE_HOME/ncctl``), never from the current directory."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from ncctl.appconfig.load import load_file, validate_document
from ncctl.appconfig.model import NcctlConfig
from ncctl.config.files import NO_STATE_HOME, state_home
from ncctl.config.paths import ConfigPath
from ncctl.errors import EXIT_CONFIG
from tests.cli.conftest import snapshot
from tests.helpers import run_process

EVERY_PATH = """\
state_dir = "st"

[schedule]
template = "sched/week.toml"
holidays = ["sched/holidays.toml", "cme-2026"]

[components.feed_handler]
command = ["bin/feed", "--status-file", "{state_dir}/run/feed.status", "plain/arg", "-v"]
cwd = "work"
log_file = "logs/feed.log"

[components.feed_handler.ready]
kind = "status_file"
path = "run/feed.status"

[components.order_session]
command = ["python3", "-m", "x", "--out={state_dir}/x"]
env = { SPOOL = "{state_dir}/spool", PLAIN = "a/b" }

[components.order_session.ready]
kind = "file"
path = "run/session.ready"

[logs]
archive_dir = "arch"

[logs.audit]
path = "data/audit.csv"
reopen = "self"
archive_dir = "arch-audit"
destinations = ["fcm", "remote"]

[destinations.fcm]
url = "file:out/fcm dir"

[destinations.remote]
url = "sftp://u@127.0.0.1:2222/incoming"
key_file = "keys/id"
known_hosts = "keys/known_hosts"

[tuning]
root = "fakeroot"
profile = "prof/custom.toml"

[ilink]
secret_key_file = "keys/ilink"

[metrics]
tls_cert = "tls/cert.pem"
tls_key = "tls/key.pem"
tls_client_ca = "tls/ca.pem"

[clock]
file = "clock.json"
"""


def made(*directories: Path) -> tuple[Path, ...]:
    """``directories``, created empty."""
    for directory in directories:
        directory.mkdir()
    return directories


def path_fields(model: type[BaseModel], prefix: str = "") -> dict[str, bool]:
    """Every field of the configuration models whose type holds a ``Path``, by key path:
    whether it is a :data:`ConfigPath` (taken from the base directory)."""
    from_base = get_args(ConfigPath)[1]
    found: dict[str, bool] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        table = f"{prefix}{name}.*." if get_origin(annotation) is dict else f"{prefix}{name}."
        for option in get_args(annotation) or (annotation,):
            arg, metadata = option, list(info.metadata)
            if get_origin(option) is Annotated:
                arg, *more = get_args(option)
                metadata += more
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                found.update(path_fields(arg, table))
            elif arg is Path:
                found[prefix + name] = from_base in metadata
    return found


def test_every_path_field_of_the_configuration_is_taken_from_the_base() -> None:
    fields = path_fields(NcctlConfig)
    components = [
        f"components.{name}.{key}"
        for name in ("feed_handler", "order_session")
        for key in ("cwd", "log_file", "ready.path")
    ]
    # the set is checked, so that a new path field cannot be added without being seen here
    assert fields == dict.fromkeys(
        [
            "state_dir",
            "logs.archive_dir",
            "tuning.root",
            "ilink.secret_key_file",
            "metrics.tls_cert",
            "metrics.tls_key",
            "metrics.tls_client_ca",
            "clock.file",
            *components,
            *(f"logs.{name}.archive_dir" for name in ("audit", "trade", "ion")),
            "destinations.*.key_file",
            "destinations.*.known_hosts",
        ],
        True,
    )


def test_every_relative_path_is_taken_from_the_files_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, elsewhere = made(tmp_path / "etc dir", tmp_path / "elsewhere")
    path = directory / "c.toml"
    path.write_text(EVERY_PATH, encoding="utf-8")
    monkeypatch.chdir(elsewhere)
    cfg, doc = load_file(path)
    d = directory
    feed, session = cfg.components.feed_handler, cfg.components.order_session
    assert feed.ready is not None and session.ready is not None
    audit = cfg.logs.audit
    assert audit is not None
    got = {
        "state_dir": cfg.state_dir,
        "template": cfg.schedule.template_path(),
        "holidays": cfg.schedule.holiday_paths()[0],
        "cwd": feed.cwd,
        "log_file": feed.log_file,
        "ready": feed.ready.path,
        "session ready": session.ready.path,
        "archive_dir": cfg.logs.archive_dir,
        "audit": Path(audit.path),
        "audit archive": audit.archive_dir,
        "key_file": cfg.destinations["remote"].key_file,
        "known_hosts": cfg.destinations["remote"].known_hosts,
        "tuning root": cfg.tuning.root,
        "ilink secret": cfg.ilink.secret_key_file,
        "tls_cert": cfg.metrics.tls_cert,
        "tls_key": cfg.metrics.tls_key,
        "tls_client_ca": cfg.metrics.tls_client_ca,
        "clock": cfg.clock.file,
    }
    want = {
        "state_dir": d / "st",
        "template": d / "sched/week.toml",
        "holidays": d / "sched/holidays.toml",
        "cwd": d / "work",
        "log_file": d / "logs/feed.log",
        "ready": d / "run/feed.status",
        "session ready": d / "run/session.ready",
        "archive_dir": d / "arch",
        "audit": d / "data/audit.csv",
        "audit archive": d / "arch-audit",
        "key_file": d / "keys/id",
        "known_hosts": d / "keys/known_hosts",
        "tuning root": d / "fakeroot",
        "ilink secret": d / "keys/ilink",
        "tls_cert": d / "tls/cert.pem",
        "tls_key": d / "tls/key.pem",
        "tls_client_ca": d / "tls/ca.pem",
        "clock": d / "clock.json",
    }
    assert got == want
    # a shipped holiday table is named, not a path; an sftp URL has no local directory
    assert cfg.schedule.holidays[1] == "cme-2026"
    assert cfg.destinations["remote"].url == "sftp://u@127.0.0.1:2222/incoming"
    from ncctl.logs.url import parse_destination_url

    assert parse_destination_url(cfg.destinations["fcm"].url).path == str(d / "out/fcm dir")
    # commands: the program given as a path, and {state_dir}; other arguments as written
    assert feed.command == [
        str(d / "bin/feed"),
        "--status-file",
        str(d / "st/run/feed.status"),
        "plain/arg",
        "-v",
    ]
    assert session.command == ["python3", "-m", "x", f"--out={d / 'st'}/x"]
    assert session.env == {"SPOOL": f"{d / 'st'}/spool", "PLAIN": "a/b"}
    assert cfg.tuning.profile == str(d / "prof/custom.toml")
    # the document itself is as written (config set rewrites it from there)
    assert doc["state_dir"] == "st"
    assert not list(elsewhere.iterdir())


def test_the_default_archive_directory_is_in_the_state_directory(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('state_dir = "/var/lib/x"\n', encoding="utf-8")
    cfg, _ = load_file(path)
    assert cfg.logs.archive_dir == Path("/var/lib/x/archive")
    path.write_text('environment = "x"\n', encoding="utf-8")
    cfg, _ = load_file(path)
    assert (cfg.state_dir, cfg.logs.archive_dir) == (
        tmp_path / ".ncctl",
        tmp_path / ".ncctl/archive",
    )


segment = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/\x00", min_codepoint=32),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", ".."))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=st.lists(segment, min_size=1, max_size=4), absolute=st.booleans())
def test_any_path_is_taken_from_the_base_unless_absolute(
    tmp_path: Path, parts: list[str], absolute: bool
) -> None:
    written = ("/" if absolute else "") + "/".join(parts)
    doc = {"state_dir": written, "clock": {"file": written}}
    cfg = validate_document(doc, "t.toml", base=tmp_path)
    want = Path(written) if absolute else tmp_path / written
    assert cfg.state_dir == want and cfg.clock.file == want
    # without a base (a model built in code), paths stay as written
    assert validate_document(doc, "t.toml").state_dir == Path(written)


@pytest.mark.parametrize(
    ("env", "want"),
    [
        ({"XDG_STATE_HOME": "/x/state", "HOME": "/home/u"}, Path("/x/state/ncctl")),
        ({"XDG_STATE_HOME": "relative", "HOME": "/home/u"}, Path("/home/u/.local/state/ncctl")),
        ({"XDG_STATE_HOME": "", "HOME": "/home/u"}, Path("/home/u/.local/state/ncctl")),
        ({"HOME": "/home/u"}, Path("/home/u/.local/state/ncctl")),
        ({"HOME": "not/absolute"}, NO_STATE_HOME),
    ],
)
def test_the_per_user_state_directory(env: dict[str, str], want: Path) -> None:
    assert state_home(env) == want


@pytest.mark.slow
def test_embedded_default_state_follows_home_and_read_only_commands_create_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, cwd = made(tmp_path / "home", tmp_path / "cwd")
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(home))
    shown = run_process("config", "show", "--json", cwd=cwd).data()
    state = home / ".local" / "state" / "ncctl"
    assert (shown["source"], shown["base"]) == ("embedded", str(state))
    assert shown["config"]["state_dir"] == str(state)
    assert shown["config"]["logs"]["archive_dir"] == str(state / "archive")
    for argv in (("schedule", "now"), ("status",), ("logs", "status"), ("audit", "verify")):
        done = run_process(*argv, "--json", cwd=cwd)
        assert done.code in (0, 1), done
    assert not (home / ".local").exists() and not list(cwd.iterdir())
    # the first command that changes state makes the directory, private to the user
    assert run_process("logs", "rotate", "--json", cwd=cwd).code == 0
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert not list(cwd.iterdir())


@pytest.mark.slow
def test_without_a_home_reading_works_and_writing_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", "relative/home")  # neither usable: the state has no place
    shown = run_process("config", "show", "--json", cwd=tmp_path).data()
    assert shown["config"]["state_dir"] == str(NO_STATE_HOME)
    refused = run_process("logs", "rotate", "--json", cwd=tmp_path)
    assert refused.code == EXIT_CONFIG, refused
    error = refused.error()
    assert error["code"] == "config.no_state_home" and "XDG_STATE_HOME" in error["hint"]
    assert not NO_STATE_HOME.exists()
    assert not list(tmp_path.iterdir())


def _link(xdg: Path) -> None:
    (xdg / "elsewhere").mkdir()
    (xdg / "ncctl").symlink_to(xdg / "elsewhere")


def _shared(xdg: Path) -> None:
    (xdg / "ncctl").mkdir()
    (xdg / "ncctl").chmod(0o777)


def _under_a_file(xdg: Path) -> None:
    (xdg / "file").write_text("not a directory\n")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("plant", "xdg_under", "code"),
    [(_link, "", 65), (_shared, "", 77), (_under_a_file, "file", 78)],
)
def test_a_bad_state_directory_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plant: Any, xdg_under: str, code: int
) -> None:
    xdg, cwd = made(tmp_path / "xdg", tmp_path / "cwd")
    plant(xdg)
    monkeypatch.setenv("XDG_STATE_HOME", str(xdg / xdg_under) if xdg_under else str(xdg))
    before = snapshot(xdg)
    before_names = [p.name for p in xdg.rglob("*")]
    for argv in (("logs", "rotate"), ("--clock", "2026-11-25T10:00", "feed", "start")):
        done = run_process(*argv, "--json", cwd=cwd)
        error = done.error()
        assert done.code == code, done
        assert str(xdg) in error["message"] and "\n" not in error["message"]
    assert snapshot(xdg) == before and not list(cwd.iterdir())
    assert sorted(p.name for p in xdg.rglob("*")) == sorted(before_names)
