"""The configuration: resolution order, validation messages, masking, atomic edits and init.

Resolution (docs/design.md §4.1): ``--config PATH`` > ``$NCCTL_CONFIG`` >
``/etc/ncctl/config.toml`` > ``configs/$NCCTL_ENV.toml`` in the current directory (only when
``NCCTL_ENV`` is set) > the embedded dev configuration. Every order of the five sources, with
a real /etc/ncctl/config.toml, is in tests/test_config_resolution.py.
"""

from __future__ import annotations

import copy
import json
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from ncctl.appconfig.load import load, load_file, validate_document
from ncctl.appconfig.model import NcctlConfig
from ncctl.config.files import ETC_CONFIG, resolve_path
from ncctl.config.init import init_file
from ncctl.config.keys import lookup, parse_key, parse_value, set_value, with_value
from ncctl.config.masking import MASK, mask_value, masked
from ncctl.errors import (
    EXIT_CANTCREAT,
    EXIT_CONFIG,
    EXIT_USAGE,
    CantCreateError,
    ConfigError,
    UsageError,
)
from ncctl.resources import builtin_config

REPO_ROOT = Path(__file__).resolve().parents[1]
DEV_TOML = REPO_ROOT / "configs" / "dev.toml"
DEV_SECRET = "ZGV2LW9ubHktc2VjcmV0LWZvci10aGUtc2ltdWxhdG9y"


no_etc_config = pytest.mark.skipif(
    ETC_CONFIG.exists(), reason=f"{ETC_CONFIG} exists on this host and comes first"
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NCCTL_CONFIG", raising=False)
    monkeypatch.delenv("NCCTL_ENV", raising=False)


def marked_config(path: Path, environment: str) -> Path:
    """A valid configuration whose ``environment`` says which file it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'environment = "{environment}"\n', encoding="utf-8")
    return path


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """One candidate file for every resolution step; the working directory is ``cwd``."""
    cwd = tmp_path / "cwd"
    files = {
        "cwd": cwd,
        "explicit": marked_config(tmp_path / "explicit.toml", "explicit"),
        "env_config": marked_config(tmp_path / "from-env.toml", "env-config"),
        "local_dev": marked_config(cwd / "configs" / "dev.toml", "local-dev"),
        "local_staging": marked_config(cwd / "configs" / "staging.toml", "local-staging"),
    }
    monkeypatch.chdir(cwd)
    return files


# -- resolution order ----------------------------------------------------------------------


def test_explicit_path_beats_environment_and_local_file(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NCCTL_CONFIG", str(layout["env_config"]))
    monkeypatch.setenv("NCCTL_ENV", "staging")
    loaded = load(layout["explicit"])
    assert (loaded.path, loaded.source) == (layout["explicit"], "--config")
    assert loaded.config.environment == "explicit"
    assert not loaded.embedded


def test_ncctl_config_beats_local_file(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NCCTL_CONFIG", str(layout["env_config"]))
    monkeypatch.setenv("NCCTL_ENV", "staging")
    loaded = load()
    assert (loaded.path, loaded.source) == (layout["env_config"], "$NCCTL_CONFIG")
    assert loaded.config.environment == "env-config"


@no_etc_config
def test_empty_ncctl_config_counts_as_unset(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NCCTL_CONFIG", "")
    monkeypatch.setenv("NCCTL_ENV", "dev")
    loaded = load()
    assert loaded.config.environment == "local-dev"


@no_etc_config
def test_ncctl_env_picks_configs_env_toml_in_cwd(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NCCTL_ENV", "staging")
    loaded = load()
    assert loaded.path.resolve() == layout["local_staging"].resolve()
    assert loaded.source == "configs/staging.toml"
    assert loaded.config.environment == "local-staging"


@no_etc_config
def test_configs_dev_toml_in_cwd_is_not_picked_without_ncctl_env(layout: dict[str, Path]) -> None:
    loaded = load()
    assert (loaded.path, loaded.source) == (builtin_config("dev"), "embedded")
    assert loaded.config.environment == "dev"


@no_etc_config
def test_local_file_is_looked_up_from_the_current_directory(
    layout: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NCCTL_ENV", "dev")
    elsewhere = tmp_path / "elsewhere"
    marked_config(elsewhere / "configs" / "dev.toml", "elsewhere")
    monkeypatch.chdir(elsewhere)
    assert load().config.environment == "elsewhere"


@no_etc_config
def test_named_env_without_its_file_is_a_config_error(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # asking for prod must never silently fall back to /etc or to the embedded dev config
    monkeypatch.setenv("NCCTL_ENV", "prod")
    with pytest.raises(ConfigError) as info:
        load()
    assert info.value.exit_code == EXIT_CONFIG
    assert str(layout["cwd"] / "configs" / "prod.toml") in info.value.message
    assert "config init --env prod" in info.value.hint


@no_etc_config
@pytest.mark.parametrize("name", ["../etc", "a/b", "x y", "dev.toml"])
def test_ncctl_env_must_be_a_plain_name(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("NCCTL_ENV", name)
    with pytest.raises(ConfigError) as info:
        load()
    assert "$NCCTL_ENV" in info.value.message
    assert info.value.hint


def test_without_local_file_etc_then_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    path, source = resolve_path(None)
    if ETC_CONFIG.exists():
        # this host has an /etc configuration: it must win over the embedded default
        assert (path, source) == (ETC_CONFIG, str(ETC_CONFIG))
        return
    assert (path, source) == (builtin_config("dev"), "embedded")
    loaded = load()
    assert loaded.embedded
    assert loaded.config.environment == "dev"


def test_resolve_path_takes_env_and_cwd_as_parameters(tmp_path: Path) -> None:
    marked_config(tmp_path / "configs" / "staging.toml", "x")
    path, source = resolve_path(None, env={"NCCTL_ENV": "staging"}, cwd=tmp_path)
    assert (path, source) == (tmp_path / "configs" / "staging.toml", "configs/staging.toml")
    explicit = tmp_path / "a.toml"
    assert resolve_path(explicit, env={"NCCTL_CONFIG": "b.toml"}, cwd=tmp_path) == (
        explicit,
        "--config",
    )


# -- validation messages -------------------------------------------------------------------


def test_shipped_configurations_validate() -> None:
    for env in ("dev", "staging", "prod"):
        cfg, _ = load_file(builtin_config(env))
        assert cfg.environment == env


def test_bad_value_names_file_and_key_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        DEV_TOML.read_text(encoding="utf-8").replace("stop_timeout_s = 5.0", "stop_timeout_s = 0"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_file(bad)
    assert info.value.exit_code == EXIT_CONFIG
    assert info.value.message.startswith(f"{bad}: components.feed_handler.stop_timeout_s: ")
    assert info.value.hint


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('enviroment = "dev"\n', "enviroment"),
        ("[ilink]\nport = 70000\n", "ilink.port"),
        ('[schedule]\ndisplay_tz = "Mars/Olympus"\n', "schedule.display_tz"),
        ('[destinations.x]\nurl = "ftp://h/x"\n', "destinations.x.url"),
        ('[destinations.s]\nurl = "sftp://u@h/in"\n', "destinations.s"),
        ('[logs.audit]\npath = "a.csv"\ncompress = "lz4"\n', "logs.audit.compress"),
        ('[components.feed_handler]\nbackend = "systemd"\n', "components.feed_handler"),
        ("[schedule]\nholidays = [1]\n", "schedule.holidays[0]"),
    ],
)
def test_invalid_documents_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_file(path)
    assert info.value.message.startswith(f"{path}: {key}"), info.value.message


def test_missing_and_malformed_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        load_file(tmp_path / "nope.toml")
    assert str(tmp_path / "nope.toml") in missing.value.message
    broken = tmp_path / "broken.toml"
    broken.write_text("[ilink\nport = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as malformed:
        load_file(broken)
    assert malformed.value.message.startswith(f"{broken}: malformed TOML")
    assert "line 1" in malformed.value.message


# -- masking -------------------------------------------------------------------------------


def test_masked_hides_every_secret(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        DEV_TOML.read_text(encoding="utf-8").replace(
            'secret_key = "ZGV2LW9ubHktc2VjcmV0LWZvci10aGUtc2ltdWxhdG9y"',
            'secret_key = "hunter2-secret"',
        ),
        encoding="utf-8",
    )
    cfg, _ = load_file(path)
    shown = masked(cfg)
    text = json.dumps(shown)
    assert DEV_SECRET not in text
    assert "hunter2-secret" not in text
    assert shown["ilink"]["secret_key"] == MASK
    # what is not secret is shown as is
    assert shown["ilink"]["access_key_id"] == "dev-access-key"
    # the relative directory of a file: URL is taken from the file's directory
    assert shown["destinations"]["fcm"]["url"] == f"file://{tmp_path}/outbox/fcm"


def test_masked_leaves_unset_secrets_unset() -> None:
    cfg, _ = load_file(builtin_config("prod"))
    assert masked(cfg)["ilink"]["secret_key"] is None


class _Login(BaseModel):
    user: str
    password: SecretStr | None = None


class _Document(BaseModel):
    name: str
    logins: dict[str, _Login]


def test_masking_knows_no_section_only_secret_fields() -> None:
    """The leaf masks the secrets of whatever model it is given, tables of tables included."""
    doc = _Document(name="x", logins={"a": _Login(user="u", password=SecretStr("p"))})
    assert masked(doc) == {"name": "x", "logins": {"a": {"user": "u", "password": MASK}}}
    assert mask_value(_Document, "logins.a.password", "p") == MASK
    assert mask_value(_Document, "logins.a", {"user": "u", "password": "p"}) == {
        "user": "u",
        "password": MASK,
    }
    assert mask_value(_Document, "logins.a.user", "u") == "u"
    # the whole configuration's secrets are found the same way
    assert mask_value(NcctlConfig, "ilink.secret_key", "s") == MASK
    assert mask_value(NcctlConfig, "ilink.host", "h") == "h"


# -- editing -------------------------------------------------------------------------------


@pytest.fixture
def dev_copy(tmp_path: Path) -> Path:
    target = tmp_path / "edit" / "dev.toml"
    target.parent.mkdir()
    shutil.copyfile(DEV_TOML, target)
    target.chmod(0o600)
    return target


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5", 5),
        ("2.5", 2.5),
        ("true", True),
        ('["a", "b"]', ["a", "b"]),
        ('"quoted"', "quoted"),
        ("UTC", "UTC"),
        ("America/Chicago", "America/Chicago"),
        ('{url = "file:///x"}', {"url": "file:///x"}),
    ],
)
def test_parse_value_reads_toml_or_falls_back_to_text(text: str, value: object) -> None:
    assert parse_value(text) == value


_NAMES = st.text("abcdefgh_", min_size=1, max_size=4)
_VALUES = st.one_of(st.integers(), st.booleans(), st.text(max_size=8), st.lists(st.integers()))
_DOCS = st.recursive(
    st.dictionaries(_NAMES, _VALUES, max_size=3),
    lambda inner: st.dictionaries(_NAMES, st.one_of(_VALUES, inner), max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(doc=_DOCS, parts=st.lists(_NAMES, min_size=1, max_size=4), value=_VALUES)
@example(doc={"a": 5}, parts=["a", "b", "c"], value=1)
@example(doc={"a": {"b": [1]}}, parts=["a", "b"], value=2)
def test_with_value_sets_the_key_and_nothing_else(
    doc: dict[str, Any], parts: list[str], value: Any
) -> None:
    key = ".".join(parts)
    before = copy.deepcopy(doc)
    try:
        new = with_value(doc, key, value)
    except UsageError:  # a part of the path is a value, not a table
        node: Any = doc
        for part in parts[:-1]:
            assert isinstance(node, dict) and part in node  # a missing table is created
            node = node[part]
            if not isinstance(node, dict):
                break
        else:
            pytest.fail(f"{key} is refused though every part above it is a table")
        assert doc == before
        return
    assert doc == before  # the original is never changed
    assert lookup(new, key) == value
    assert with_value(new, key, lookup(doc, key)) == with_value(doc, key, lookup(doc, key))


@pytest.mark.parametrize("key", ["", ".", "a..b", "a.", ".a"])
def test_parse_key_rejects_empty_parts(key: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_key(key)
    assert info.value.exit_code == EXIT_USAGE


def test_set_value_writes_atomically_keeping_the_mode(dev_copy: Path) -> None:
    inode = dev_copy.stat().st_ino
    old, new = set_value(
        dev_copy, "components.feed_handler.stop_timeout_s", "7.5", validate_document
    )
    assert (old, new) == (5.0, 7.5)
    cfg, doc = load_file(dev_copy)
    assert cfg.components.feed_handler.stop_timeout_s == 7.5
    assert doc["ilink"]["secret_key"] == DEV_SECRET  # the rest of the file is kept
    assert stat.S_IMODE(dev_copy.stat().st_mode) == 0o600
    assert dev_copy.stat().st_ino != inode  # renamed over, not rewritten in place
    assert sorted(p.name for p in dev_copy.parent.iterdir()) == ["dev.toml"]


def test_set_value_creates_missing_tables(dev_copy: Path) -> None:
    set_value(dev_copy, "components.feed_handler.env.TZ", "UTC", validate_document)
    cfg, _ = load_file(dev_copy)
    assert cfg.components.feed_handler.env == {"TZ": "UTC"}


def file_state(path: Path) -> tuple[bytes, int, int, int]:
    st = path.stat()
    return path.read_bytes(), st.st_mode, st.st_mtime_ns, st.st_ino


@pytest.mark.parametrize(
    ("key", "text", "named"),
    [
        ("components.feed_handler.stop_timeout_s", "0", "components.feed_handler.stop_timeout_s"),
        ("ilink.port", "70000", "ilink.port"),
        ("schedule.display_tz", "Nowhere/Town", "schedule.display_tz"),
        ("ilink.no_such_key", "1", "ilink.no_such_key"),
        ("logs.audit.destinations", '["nowhere"]', "logs.audit.destinations"),
    ],
)
def test_set_value_validates_before_writing(
    dev_copy: Path, key: str, text: str, named: str
) -> None:
    before = file_state(dev_copy)
    with pytest.raises(ConfigError) as info:
        set_value(dev_copy, key, text, validate_document)
    assert info.value.exit_code == EXIT_CONFIG
    assert str(dev_copy) in info.value.message
    assert f": {named}" in info.value.message
    assert file_state(dev_copy) == before
    assert sorted(p.name for p in dev_copy.parent.iterdir()) == ["dev.toml"]


def test_set_value_dry_run_writes_nothing(dev_copy: Path) -> None:
    before = file_state(dev_copy)
    old, new = set_value(dev_copy, "ilink.port", "29001", validate_document, dry_run=True)
    assert (old, new) == (29000, 29001)
    assert file_state(dev_copy) == before


def test_set_value_under_a_plain_value_is_a_usage_error(dev_copy: Path) -> None:
    before = file_state(dev_copy)
    with pytest.raises(UsageError) as info:
        set_value(dev_copy, "ilink.port.number", "1", validate_document)
    assert info.value.exit_code == EXIT_USAGE
    assert "ilink.port" in info.value.message
    assert file_state(dev_copy) == before


# -- init ----------------------------------------------------------------------------------


def test_init_file_writes_a_valid_copy_of_the_shipped_env(tmp_path: Path) -> None:
    target = init_file("staging", tmp_path, validate_document)
    assert target == tmp_path / "configs" / "staging.toml"
    assert target.read_bytes() == builtin_config("staging").read_bytes()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    cfg, _ = load_file(target)
    assert cfg.environment == "staging"


def test_init_file_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = init_file("prod", tmp_path, validate_document)
    target.write_text("# edited by the operator\n", encoding="utf-8")
    with pytest.raises(CantCreateError) as info:
        init_file("prod", tmp_path, validate_document)
    assert info.value.exit_code == EXIT_CANTCREAT
    assert str(target) in info.value.message
    assert "--force" in info.value.hint
    assert target.read_text(encoding="utf-8") == "# edited by the operator\n"
    init_file("prod", tmp_path, validate_document, force=True)
    assert target.read_bytes() == builtin_config("prod").read_bytes()


def test_init_file_of_dev_writes_paths_that_are_right_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    target = init_file("dev", project, validate_document)
    monkeypatch.chdir(tmp_path)  # read from elsewhere: the same paths
    cfg, doc = load_file(target)
    state = project.absolute() / ".ncctl"
    assert cfg.state_dir == state
    assert cfg.logs.archive_dir == state / "archive"
    assert cfg.destinations["fcm"].url == f"file://{state}/outbox/fcm"
    assert cfg.components.feed_handler.ready is not None
    assert cfg.components.feed_handler.ready.path == state / "run" / "feed_handler.status"
    assert cfg.components.feed_handler.command[-1] == str(state / "run" / "feed_handler.status")
    assert cfg.tuning.root == state / "fakeroot"
    # what is in the file is absolute already: moving it changes nothing
    moved = tmp_path / "moved.toml"
    shutil.copyfile(target, moved)
    assert load_file(moved)[0] == cfg
    assert doc["ilink"]["secret_key"] == DEV_SECRET


def test_init_file_rejects_unknown_env(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        init_file("qa", tmp_path, validate_document)
    assert info.value.exit_code == EXIT_USAGE
    assert "dev, prod, staging" in info.value.hint
    assert not (tmp_path / "configs").exists()
