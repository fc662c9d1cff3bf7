"""Key files from systemd's credentials directory (``LoadCredential=``)."""

from __future__ import annotations

import json
from pathlib import Path

from ncctl.appconfig.credentials import ILINK_SECRET, destination_credential, with_credentials
from ncctl.appconfig.model import NcctlConfig
from tests.logs.helpers import run


def config() -> NcctlConfig:
    return NcctlConfig.model_validate(
        {
            "ilink": {"secret_key_file": "/etc/ncctl/keys/ilink_secret"},
            "destinations": {
                "fcm": {
                    "url": "sftp://u@h.invalid/in",
                    "key_file": "/etc/ncctl/keys/fcm",
                    "known_hosts": "/etc/ncctl/known_hosts",
                },
                "client": {
                    "url": "sftp://u@h.invalid/in",
                    "key_file": "/etc/ncctl/keys/client",
                    "known_hosts": "/etc/ncctl/known_hosts",
                },
                "local": {"url": "file:///srv/outbox"},
            },
        }
    )


def credential(directory: Path, name: str) -> Path:
    path = directory / name
    path.write_text("secret\n", encoding="utf-8")
    path.chmod(0o400)
    return path


def test_credentials_replace_the_configured_key_files(tmp_path: Path) -> None:
    secret = credential(tmp_path, ILINK_SECRET)
    fcm = credential(tmp_path, "ncctl-sftp-fcm")
    # a symbolic link is not a credential systemd made: the configured path stays
    (tmp_path / "ncctl-sftp-client").symlink_to(fcm)

    loaded = with_credentials(config(), {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert loaded.ilink.secret_key_file == secret
    assert loaded.destinations["fcm"].key_file == fcm
    assert loaded.destinations["client"].key_file == Path("/etc/ncctl/keys/client")
    assert loaded.destinations["local"].key_file is None
    assert loaded.destinations["fcm"].known_hosts == Path("/etc/ncctl/known_hosts")


def test_without_credentials_the_configuration_is_unchanged(tmp_path: Path) -> None:
    original = config()
    assert with_credentials(original, {}) is original
    assert with_credentials(original, {"CREDENTIALS_DIRECTORY": str(tmp_path)}) is original
    credential(tmp_path, ILINK_SECRET)
    assert with_credentials(original, {"CREDENTIALS_DIRECTORY": "relative/dir"}) is original


def test_credential_names() -> None:
    assert destination_credential("fcm") == "ncctl-sftp-fcm"
    for bad in ("a/b", "", ".hidden", "a:b", "a b", "é"):
        assert destination_credential(bad) is None


def test_the_cli_reads_the_credentials_directory(tmp_path: Path) -> None:
    """`ncctl config show` in a process started with $CREDENTIALS_DIRECTORY, as systemd does."""
    creds = tmp_path / "creds"
    creds.mkdir()
    secret = credential(creds, ILINK_SECRET)
    path = tmp_path / "c.toml"
    path.write_text('[ilink]\nsecret_key_file = "/etc/ncctl/keys/ilink_secret"\n', "utf-8")
    code, doc, err = run(
        path, "config", "show", clock_free=True, env={"CREDENTIALS_DIRECTORY": str(creds)}
    )
    assert code == 0, err
    assert json.dumps(doc["data"]).count(str(secret)) == 1, doc
