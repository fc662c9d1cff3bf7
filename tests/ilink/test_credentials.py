"""Credentials: key-file permissions, formats, and a secret that is never shown."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from ncctl.errors import EXIT_CONFIG, EXIT_NOPERM
from ncctl.ilink.credentials import Credentials, load_credentials, read_key_file
from ncctl.ilink.errors import CredentialsError, KeyFilePermissionError

from .conftest import SECRET

SECRET_BYTES = base64.urlsafe_b64decode(SECRET)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602])
def test_a_key_file_others_can_access_is_refused(tmp_path: Path, mode: int) -> None:
    key = tmp_path / "k"
    key.write_text(SECRET + "\n")
    key.chmod(mode)
    with pytest.raises(KeyFilePermissionError) as info:
        read_key_file(key, "AK")
    err = info.value
    assert err.exit_code == EXIT_NOPERM
    assert err.code == "ilink.key_file.permissions"
    assert f"mode {mode:04o}" in err.message
    assert "chmod 600" in err.hint
    assert SECRET not in err.message + err.hint


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_private_key_file_with_the_secret_alone(tmp_path: Path, mode: int) -> None:
    key = tmp_path / "k"
    key.write_text(SECRET + "\n")
    key.chmod(mode)
    assert read_key_file(key, "AK") == Credentials("AK", SECRET_BYTES)


def test_a_toml_key_file_may_name_the_access_key(tmp_path: Path) -> None:
    key = tmp_path / "k"
    key.write_text(f'access_key_id = "FROMFILE"\nsecret_key = "{SECRET}"\n')
    key.chmod(0o600)
    assert read_key_file(key, "FROMCONFIG") == Credentials("FROMFILE", SECRET_BYTES)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("not base64!!\n", "not base64url"),
        ("abc+def/\n", "not base64url"),  # the standard alphabet is not base64url
        ("one\ntwo\n", "several lines"),
        (f'secret_key = "{SECRET}"\nuser = "x"\n', "unknown key(s)"),
        ("secret_key = 5\n", "must be a string"),
        ("secret_key = [\n", "neither one secret nor a TOML table"),
    ],
)
def test_malformed_key_files_are_config_errors(tmp_path: Path, text: str, words: str) -> None:
    key = tmp_path / "k"
    key.write_text(text)
    key.chmod(0o600)
    with pytest.raises(CredentialsError) as info:
        read_key_file(key, "AK")
    assert words in info.value.message
    assert info.value.exit_code == EXIT_CONFIG


def test_a_symbolic_link_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "real"
    target.write_text(SECRET)
    target.chmod(0o600)
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(CredentialsError, match="symbolic link"):
        read_key_file(link, "AK")


def test_missing_key_file_and_no_secret_at_all(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="not found"):
        load_credentials("AK", None, tmp_path / "absent")
    with pytest.raises(CredentialsError, match=r"neither ilink\.secret_key_file nor"):
        load_credentials("AK", None, None)


def test_the_key_file_wins_over_an_inline_secret(tmp_path: Path) -> None:
    key = tmp_path / "k"
    key.write_text(SECRET)
    key.chmod(0o600)
    assert load_credentials("AK", "b3RoZXI", key).secret == SECRET_BYTES
    assert load_credentials("AK", "b3RoZXI", None).secret == b"other"


def test_the_secret_never_shows_in_repr_or_str() -> None:
    creds = Credentials("AK", SECRET_BYTES)
    for text in (repr(creds), str(creds), repr([creds])):
        assert "AK" in text
        assert SECRET not in text
        assert repr(SECRET_BYTES) not in text
        assert "********" in text


def test_a_key_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    key = tmp_path / "k"
    key.write_text(SECRET + "\n")
    key.chmod(0o600)
    os.chown(key, 65534, -1)
    with pytest.raises(KeyFilePermissionError) as info:
        read_key_file(key, "AK")
    assert "owned by uid 65534" in info.value.message
    assert info.value.exit_code == EXIT_NOPERM
    assert SECRET not in info.value.message + info.value.hint
