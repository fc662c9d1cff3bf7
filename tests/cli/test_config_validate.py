"""``ncctl config validate`` looks past the schema: placeholders, key files, pinned host keys,
tuning profiles, /metrics exposure; every problem at once, each with its key path.

Real files in ``tmp_path`` (keys made with ssh-keygen, TLS material with ``cryptography``),
real symbolic links and modes; ncctl runs in-process through its CLI entry point.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ncctl.appconfig.check import placeholder_host, placeholder_text
from ncctl.config.keys import with_value
from ncctl.resources import builtin_config
from tests.cli.conftest import Runner, snapshot
from tests.helpers import Outcome
from tests.sshd import keygen, known_hosts_line
from tests.tls import make_authority

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="file ownership checks need root")
needs_ssh_keygen = pytest.mark.skipif(
    shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed"
)
pytestmark = [needs_ssh_keygen]

FCM_HOST, FCM_PORT = "127.0.0.1", 2222
CLIENT_HOST = "192.0.2.10"  # TEST-NET-1: a real address form, not a reserved name
ACCESS_KEY_ID = "AKID0123456789"
SECRET = "c2VjcmV0LWZvci10aGUtY29uZmlnLWNoZWNr"

TEMPLATE_PROBLEMS = {
    "destinations.fcm.url",
    "destinations.fcm.key_file",
    "destinations.fcm.known_hosts",
    "destinations.client.url",
    "destinations.client.key_file",
    "destinations.client.known_hosts",
    "ilink.host",
    "ilink.access_key_id",
    "ilink.secret_key_file",
}
"""What `config init --env staging|prod` leaves to fill in, by key path."""

TEMPLATE_FILES = (
    Path("/etc/ncctl/keys/fcm_ed25519"),
    Path("/etc/ncctl/keys/client_ed25519"),
    Path("/etc/ncctl/known_hosts"),
    Path("/etc/ncctl/keys/ilink_secret"),
)
templates_files_absent = pytest.mark.skipif(
    any(os.path.lexists(p) for p in TEMPLATE_FILES),
    reason="this host has the files the shipped template names",
)


@dataclass(frozen=True)
class Material:
    """Keys and certificates made once: copied into each test's own directory."""

    fcm_key: Path
    client_key: Path
    fcm_known: str
    client_known: str
    tls_cert: Path
    tls_key: Path
    tls_ca: Path


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Material:
    base = tmp_path_factory.mktemp("material")
    keygen(base / "fcm", "fcm-client")
    keygen(base / "client", "client-client")
    fcm_host = keygen(base / "fcm_host", "fcm-host")
    client_host = keygen(base / "client_host", "client-host")
    ca = make_authority(base / "pki", "metrics-ca")
    server = ca.issue("server", server=True)
    return Material(
        fcm_key=base / "fcm",
        client_key=base / "client",
        fcm_known=known_hosts_line(FCM_PORT, fcm_host, FCM_HOST),
        client_known=known_hosts_line(22, client_host, CLIENT_HOST),
        tls_cert=server.cert,
        tls_key=server.key,
        tls_ca=ca.cert,
    )


class Site:
    """A configuration file made from a shipped one, and the files it names, in ``root``."""

    def __init__(self, root: Path, config: Path | None = None) -> None:
        """A copy of the shipped prod file, or ``config`` (a file under ``root``) as it is."""
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        if config is None:
            config = root / "prod.toml"
            shutil.copyfile(builtin_config("prod"), config)
            config.chmod(0o600)
        self.config = config
        self.doc: dict[str, Any] = tomllib.loads(self.config.read_text(encoding="utf-8"))

    def set(self, key: str, value: Any) -> None:
        self.doc = with_value(self.doc, key, value)
        self.config.write_text(tomli_w.dumps(self.doc), encoding="utf-8")

    def file(self, name: str, data: bytes, mode: int) -> Path:
        path = self.root / name
        path.write_bytes(data)
        path.chmod(mode)
        return path

    def copy(self, source: Path, name: str, mode: int) -> Path:
        return self.file(name, source.read_bytes(), mode)


FILLS: list[tuple[str, Callable[[Site, Material], Any]]] = [
    ("destinations.fcm.url", lambda s, m: f"sftp://ncctl@{FCM_HOST}:{FCM_PORT}/incoming"),
    ("destinations.fcm.key_file", lambda s, m: str(s.copy(m.fcm_key, "fcm_ed25519", 0o600))),
    (
        "destinations.fcm.known_hosts",
        lambda s, m: str(s.file("known_hosts", m.fcm_known.encode(), 0o644)),
    ),
    (
        "destinations.client.key_file",
        lambda s, m: str(s.copy(m.client_key, "client_ed25519", 0o600)),
    ),
    ("destinations.client.known_hosts", lambda s, m: str(s.root / "known_hosts")),
    ("destinations.client.url", lambda s, m: f"sftp://ncctl@{CLIENT_HOST}/incoming"),
    ("ilink.host", lambda s, m: "192.0.2.1"),
    ("ilink.access_key_id", lambda s, m: ACCESS_KEY_ID),
    (
        "ilink.secret_key_file",
        lambda s, m: str(s.file("ilink_secret", SECRET.encode() + b"\n", 0o600)),
    ),
]
"""Every placeholder of the template, and the real value a site fills in, in order."""


def filled(root: Path, material: Material) -> Site:
    """A prod configuration with every placeholder filled in, the client's host key pinned,
    and /metrics over TLS with client certificates: no problem at all."""
    site = Site(root)
    for key, value in FILLS:
        site.set(key, value(site, material))
    with (root / "known_hosts").open("a", encoding="ascii") as fh:
        fh.write(material.client_known)
    site.set("metrics.tls_cert", str(site.copy(material.tls_cert, "metrics.crt", 0o644)))
    site.set("metrics.tls_key", str(site.copy(material.tls_key, "metrics.key", 0o600)))
    site.set("metrics.tls_client_ca", str(site.copy(material.tls_ca, "ca.crt", 0o644)))
    return site


def validate(ncctl: Runner, site: Site) -> tuple[Outcome, dict[str, dict[str, str]]]:
    """Run ``config validate --json`` on the site's file; the problems by key (each key at
    most once). Neither the configuration nor any file it names changes."""
    before = snapshot(site.root)
    result = ncctl("config", "validate", site.config, "--json")
    assert snapshot(site.root) == before, "config validate changed a file"
    doc = result.doc()
    assert doc["command"] == "config validate"
    problems = doc["data"]["problems"]
    by_key = {p["key"]: p for p in problems}
    assert len(by_key) == len(problems), problems
    errors = [p for p in problems if p["severity"] == "error"]
    assert result.code == (78 if errors else 0), result.out
    assert doc["data"]["valid"] is (not errors)
    if errors:
        err = result.error()
        assert err["code"] in {"config.problems", "config.invalid"}  # invalid: schema refusals
        assert err["message"].startswith(f"{site.config}: {errors[0]['key']}: ")
    for p in problems:
        assert {"key", "severity", "message", "hint"} == set(p) and all(p.values()), p
    return result, by_key


# -- the template, filled in one key at a time -----------------------------------------------


@templates_files_absent
@pytest.mark.parametrize("env", ["staging", "prod"])
def test_init_then_validate_lists_every_placeholder(
    ncctl: Runner, tmp_path: Path, env: str
) -> None:
    proj = tmp_path / "proj"
    target = proj / "configs" / f"{env}.toml"
    init = ncctl("config", "init", "--env", env, "--dir", proj)
    assert init.code == 0
    assert (
        f"9 settings are placeholders or name files not there yet: `ncctl config validate {target}`"
        in init.out
    )
    result = ncctl("config", "validate", target, "--json")
    assert result.code == 78
    problems = result.doc()["data"]["problems"]
    assert len(problems) == len(TEMPLATE_PROBLEMS) == 9
    assert {p["key"] for p in problems} == TEMPLATE_PROBLEMS
    assert {p["severity"] for p in problems} == {"error"}

    text = ncctl("config", "validate", target)
    assert text.code == 78
    assert text.out == ""
    lines = text.err.splitlines()
    assert lines[0].startswith(f"ncctl: error: {target}: destinations.fcm.url: ")
    assert lines[0].endswith("(and 8 more, listed below)")
    listed = [line.split(": ")[1] for line in lines if line.startswith("  error: ")]
    assert sorted(listed) == sorted(TEMPLATE_PROBLEMS)
    assert sum(line.startswith("    hint: ") for line in lines) == 9
    assert lines[-1].startswith("hint: ")


@pytest.mark.slow
@templates_files_absent
def test_filling_in_the_placeholders_one_by_one_ends_valid(
    ncctl: Runner, tmp_path: Path, material: Material
) -> None:
    root = tmp_path / "site"
    assert ncctl("config", "init", "--env", "prod", "--dir", root).code == 0
    site = Site(root, root / "configs" / "prod.toml")
    _, problems = validate(ncctl, site)
    assert set(problems) == TEMPLATE_PROBLEMS
    left = set(TEMPLATE_PROBLEMS)
    for key, value in FILLS:
        site.set(key, value(site, material))
        left.discard(key)
        _, problems = validate(ncctl, site)
        if key == "destinations.client.url":
            # a real host now: the shared known_hosts pins no key for it (yet)
            assert set(problems) == left | {"destinations.client.known_hosts"}
            assert (
                f"pins no host key for {CLIENT_HOST}"
                in (problems["destinations.client.known_hosts"]["message"])
            )
            assert (
                f"ssh-keyscan -p 22 {CLIENT_HOST}"
                in (problems["destinations.client.known_hosts"]["hint"])
            )
            with (site.root / "known_hosts").open("a", encoding="ascii") as fh:
                fh.write(material.client_known)
            _, problems = validate(ncctl, site)
        assert set(problems) == left, key
    assert left == set()
    result, problems = validate(ncctl, site)
    assert problems == {}
    assert result.code == 0
    text = ncctl("config", "validate", site.config)
    assert (text.code, text.err) == (0, "")
    assert f"{site.config}: valid" in text.out


def test_a_filled_in_site_has_no_problem(ncctl: Runner, tmp_path: Path, material: Material) -> None:
    result, problems = validate(ncctl, filled(tmp_path / "site", material))
    assert problems == {}
    assert result.data()["metrics_tls"] is True


# -- key and secret files --------------------------------------------------------------------

SECRET_KEYS = {
    "destinations.fcm.key_file": "fcm_ed25519",
    "ilink.secret_key_file": "ilink_secret",
    "metrics.tls_key": "metrics.key",
}


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
@pytest.mark.parametrize("key", list(SECRET_KEYS))
def test_a_secret_readable_by_others_is_an_error_naming_it(
    ncctl: Runner, tmp_path: Path, material: Material, key: str, mode: int
) -> None:
    site = filled(tmp_path / "site", material)
    path = site.root / SECRET_KEYS[key]
    path.chmod(mode)
    _, problems = validate(ncctl, site)
    assert set(problems) == {key}
    assert str(path) in problems[key]["message"]
    assert f"mode {mode:04o}" in problems[key]["message"]
    assert problems[key]["hint"].startswith(f"chmod 600 {path}")
    text = ncctl("config", "validate", site.config)
    assert text.err.splitlines()[0].startswith(f"ncctl: error: {site.config}: {key}: ")
    assert f"hint: chmod 600 {path}" in text.err


LINKED_KEYS = {
    **SECRET_KEYS,
    "destinations.client.key_file": "client_ed25519",
    "metrics.tls_cert": "metrics.crt",
}


@pytest.mark.parametrize("key", list(LINKED_KEYS))
def test_a_symbolic_link_as_a_key_file_is_refused_and_not_followed(
    ncctl: Runner, tmp_path: Path, material: Material, key: str
) -> None:
    site = filled(tmp_path / "site", material)
    target = site.root / LINKED_KEYS[key]
    link = site.root / f"link-to-{target.name}"
    link.symlink_to(target)
    site.set(key, str(link))
    before = (target.read_bytes(), target.stat().st_mode, target.stat().st_uid)
    _, problems = validate(ncctl, site)
    assert set(problems) == {key}
    assert f"{link} is a symbolic link" in problems[key]["message"]
    assert problems[key]["hint"] == f"point {key} at the file itself"
    assert (target.read_bytes(), target.stat().st_mode, target.stat().st_uid) == before
    assert link.is_symlink()


@needs_root
def test_a_key_file_owned_by_another_user_is_an_error(
    ncctl: Runner, tmp_path: Path, material: Material
) -> None:
    site = filled(tmp_path / "site", material)
    key_file = site.root / "client_ed25519"
    os.chown(key_file, 65534, 65534)
    _, problems = validate(ncctl, site)
    assert set(problems) == {"destinations.client.key_file"}
    assert "owned by uid 65534" in problems["destinations.client.key_file"]["message"]


def test_a_directory_or_a_fifo_as_a_key_file_is_an_error(
    ncctl: Runner, tmp_path: Path, material: Material
) -> None:
    site = filled(tmp_path / "site", material)
    fifo = site.root / "fifo"
    os.mkfifo(fifo, 0o600)
    site.set("ilink.secret_key_file", str(fifo))
    site.set("destinations.fcm.key_file", str(site.root))
    _, problems = validate(ncctl, site)  # a FIFO is not opened for reading: no hang
    assert set(problems) == {"ilink.secret_key_file", "destinations.fcm.key_file"}
    assert "is a FIFO" in problems["ilink.secret_key_file"]["message"]
    assert "is a directory" in problems["destinations.fcm.key_file"]["message"]


def test_a_key_file_ssh_cannot_use_is_an_error(
    ncctl: Runner, tmp_path: Path, material: Material
) -> None:
    site = filled(tmp_path / "site", material)
    encrypted = site.root / "encrypted"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "a passphrase", "-f", str(encrypted)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    encrypted.chmod(0o600)
    public = site.copy(material.fcm_key.with_name("fcm.pub"), "fcm.pub", 0o600)
    site.set("destinations.fcm.key_file", str(encrypted))
    site.set("destinations.client.key_file", str(public))
    _, problems = validate(ncctl, site)
    assert set(problems) == {"destinations.fcm.key_file", "destinations.client.key_file"}
    assert problems["destinations.fcm.key_file"]["message"] == f"key file {encrypted} is encrypted"
    assert problems["destinations.client.key_file"]["message"] == (
        f"key file {public} is not a private key"
    )


def test_an_ilink_key_file_that_is_not_a_secret_is_an_error(
    ncctl: Runner, tmp_path: Path, material: Material
) -> None:
    site = filled(tmp_path / "site", material)
    site.file("ilink_secret", b"not a secret at all!\n", 0o600)
    _, problems = validate(ncctl, site)
    assert set(problems) == {"ilink.secret_key_file"}
    assert "base64url" in problems["ilink.secret_key_file"]["message"]


def test_an_access_key_id_in_the_key_file_replaces_the_placeholder(
    ncctl: Runner, tmp_path: Path, material: Material
) -> None:
    site = filled(tmp_path / "site", material)
    site.set("ilink.access_key_id", "set-me")
    _, problems = validate(ncctl, site)
    assert set(problems) == {"ilink.access_key_id"}
    text = f'access_key_id = "{ACCESS_KEY_ID}"\nsecret_key = "{SECRET}"\n'
    site.file("ilink_secret", text.encode(), 0o600)
    _, problems = validate(ncctl, site)
    assert problems == {}


# -- host keys -------------------------------------------------------------------------------


def test_known_hosts_writable_by_others_or_malformed_is_an_error(
    ncctl: Runner, tmp_path: Path, material: Material
) -> None:
    site = filled(tmp_path / "site", material)
    known = site.root / "known_hosts"
    known.chmod(0o666)
    _, problems = validate(ncctl, site)
    assert set(problems) == {"destinations.fcm.known_hosts", "destinations.client.known_hosts"}
    assert "writable by group or others" in problems["destinations.fcm.known_hosts"]["message"]
    known.chmod(0o644)
    with known.open("a", encoding="ascii") as fh:
        fh.write("host.example.net ssh-ed25519 not!base64\n")
    _, problems = validate(ncctl, site)
    assert set(problems) == {"destinations.fcm.known_hosts", "destinations.client.known_hosts"}
    assert "line 3" in problems["destinations.fcm.known_hosts"]["message"]


def test_a_host_key_pinned_for_another_port_does_not_count(
    ncctl: Runner, tmp_path: Path, material: Material
) -> None:
    site = filled(tmp_path / "site", material)
    site.set("destinations.fcm.url", f"sftp://ncctl@{FCM_HOST}:{FCM_PORT + 1}/incoming")
    _, problems = validate(ncctl, site)
    assert set(problems) == {"destinations.fcm.known_hosts"}
    assert f"[{FCM_HOST}]:{FCM_PORT + 1}" in problems["destinations.fcm.known_hosts"]["message"]


# -- /metrics and warnings -------------------------------------------------------------------


def test_metrics_beyond_loopback_without_tls_is_exit_78_naming_the_key(
    ncctl: Runner, tmp_path: Path, material: Material
) -> None:
    site = filled(tmp_path / "site", material)
    doc = dict(site.doc)
    doc["metrics"] = {"listen": "0.0.0.0"}
    site.config.write_text(tomli_w.dumps(doc), encoding="utf-8")
    before = snapshot(site.root)
    result = ncctl("config", "validate", site.config, "--json")
    assert result.code == 78
    message = result.error()["message"]
    assert message.startswith(f"{site.config}: metrics.listen: ")
    assert "tls_cert" in message
    assert snapshot(site.root) == before


def test_settings_the_schema_refuses_are_listed_with_every_other_problem(
    ncctl: Runner, tmp_path: Path, material: Material
) -> None:
    site = filled(tmp_path / "site", material)
    site.doc["metrics"] = {"listen": "0.0.0.0"}
    site.set("ilink.prot", 29000)
    site.set("ilink.access_key_id", "set-me")
    site.set("destinations.fcm.retries", 1000)
    (site.root / "fcm_ed25519").chmod(0o644)
    result, problems = validate(ncctl, site)
    assert set(problems) == {
        "destinations.fcm.key_file",
        "destinations.fcm.retries",
        "ilink.access_key_id",
        "ilink.prot",
        "metrics.listen",
    }
    assert result.error()["code"] == "config.invalid"
    assert problems["ilink.prot"]["message"] == "unknown key"
    assert "tls_cert" in problems["metrics.listen"]["message"]
    text = ncctl("config", "validate", site.config)
    lines = text.err.splitlines()
    assert lines[0] == (
        f"ncctl: error: {site.config}: destinations.fcm.key_file: "
        f"{problems['destinations.fcm.key_file']['message']} (and 4 more, listed below)"
    )
    listed = [line.split(": ")[1] for line in lines if line.startswith("  error: ")]
    assert listed == [
        "destinations.fcm.key_file",
        "destinations.fcm.retries",
        "ilink.access_key_id",
        "ilink.prot",
        "metrics.listen",
    ]  # in the order of the file


def test_a_destination_the_logs_name_but_the_schema_refuses_is_not_reported_twice(
    ncctl: Runner, tmp_path: Path, material: Material
) -> None:
    site = filled(tmp_path / "site", material)
    site.doc["destinations"]["client"].pop("url")
    site.set("ilink.access_key_id", "set-me")
    _, problems = validate(ncctl, site)
    assert set(problems) == {"destinations.client.url", "ilink.access_key_id"}
    assert problems["destinations.client.url"]["message"] == "required key is missing"


def test_warnings_alone_print_and_exit_0(ncctl: Runner, tmp_path: Path, material: Material) -> None:
    site = filled(tmp_path / "site", material)
    site.set("metrics.listen", "0.0.0.0")
    site.doc["metrics"].pop("tls_client_ca")
    site.set("ilink.secret_key", SECRET)
    site.doc["ilink"].pop("secret_key_file")
    site.set("ilink.access_key_id", ACCESS_KEY_ID)
    result, problems = validate(ncctl, site)
    assert result.code == 0
    assert set(problems) == {"metrics.tls_client_ca", "ilink.secret_key"}
    assert {p["severity"] for p in problems.values()} == {"warning"}
    assert SECRET not in result.out
    text = ncctl("config", "validate", site.config)
    assert text.code == 0
    warned = [line for line in text.err.splitlines() if line.startswith("warning: ")]
    assert [w.split(": ")[1] for w in warned] == ["ilink.secret_key", "metrics.tls_client_ca"]
    assert SECRET not in text.out + text.err
    assert f"{site.config}: valid" in text.out


def test_the_resolved_configuration_is_checked_too(
    ncctl: Runner, tmp_path: Path, material: Material
) -> None:
    site = filled(tmp_path / "site", material)
    site.set("tuning.profile", "prod")
    result = ncctl("--config", site.config, "config", "validate", "--json")
    assert result.code == 78
    problems = result.doc()["data"]["problems"]
    assert [p["key"] for p in problems] == ["tuning.profile"]
    assert "'prod' not found" in problems[0]["message"]
    assert "isolated-cores" in problems[0]["hint"]


def test_the_shipped_dev_configuration_has_no_problem(ncctl: Runner) -> None:
    result = ncctl("config", "validate", builtin_config("dev"), "--json")
    assert result.data()["problems"] == []


# -- any set of problems is reported as exactly that set ------------------------------------


def _break_known_hosts(site: Site, material: Material) -> None:
    (site.root / "known_hosts").chmod(0o664)


def _unpin_client(site: Site, material: Material) -> None:
    site.set("destinations.client.known_hosts", str(site.file("kh2", b"", 0o644)))


def _link_client_key(site: Site, material: Material) -> None:
    link = site.root / "client-link"
    link.symlink_to(site.root / "client_ed25519")
    site.set("destinations.client.key_file", str(link))


INJECTIONS: dict[str, tuple[Callable[[Site, Material], None], set[str]]] = {
    "access key placeholder": (
        lambda s, m: s.set("ilink.access_key_id", "CHANGE_ME"),
        {"ilink.access_key_id"},
    ),
    "fcm key readable": (
        lambda s, m: (s.root / "fcm_ed25519").chmod(0o644),
        {"destinations.fcm.key_file"},
    ),
    "client key a link": (_link_client_key, {"destinations.client.key_file"}),
    "iLink secret missing": (
        lambda s, m: s.set("ilink.secret_key_file", str(s.root / "missing")),
        {"ilink.secret_key_file"},
    ),
    "no such profile": (
        lambda s, m: s.set("tuning.profile", "no-such-profile"),
        {"tuning.profile"},
    ),
    "client unpinned": (_unpin_client, {"destinations.client.known_hosts"}),
    "fcm host reserved": (
        lambda s, m: s.set("destinations.fcm.url", "sftp://ncctl@sftp.fcm.example.com/in"),
        {"destinations.fcm.url"},
    ),
    "iLink host reserved": (lambda s, m: s.set("ilink.host", "gw.invalid"), {"ilink.host"}),
    "known_hosts group-writable": (
        _break_known_hosts,
        {"destinations.fcm.known_hosts", "destinations.client.known_hosts"},
    ),
    "fcm retries out of range": (
        lambda s, m: s.set("destinations.fcm.retries", -1),
        {"destinations.fcm.retries"},
    ),
    "unknown iLink key": (lambda s, m: s.set("ilink.prot", 1), {"ilink.prot"}),
    "profile placeholder": (
        lambda s, m: s.set("tuning.profile", "set-me"),
        {"tuning.profile"},
    ),
    "TLS certificate placeholder": (
        lambda s, m: s.set("metrics.tls_cert", "<server certificate>"),
        {"metrics.tls_cert"},
    ),
    "TLS key readable": (
        lambda s, m: (s.root / "metrics.key").chmod(0o640),
        {"metrics.tls_key"},
    ),
}

_sites = itertools.count()


@pytest.mark.slow
@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(chosen=st.sets(st.sampled_from(sorted(INJECTIONS))))
def test_any_set_of_injected_problems_is_reported_exactly(
    ncctl: Runner, tmp_path: Path, material: Material, chosen: set[str]
) -> None:
    site = filled(tmp_path / f"site{next(_sites)}", material)
    expected: set[str] = set()
    for name in sorted(chosen):
        inject, keys = INJECTIONS[name]
        inject(site, material)
        expected |= keys
    _, problems = validate(ncctl, site)
    assert set(problems) == expected
    assert all(p["severity"] == "error" for p in problems.values())


labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True).filter(
    lambda label: label not in {"invalid", "example", "test"}
)


@pytest.mark.slow
@given(name=st.lists(labels, min_size=1, max_size=4).map(".".join))
def test_reserved_names_are_placeholders_and_others_are_not(name: str) -> None:
    for reserved in ("invalid", "example", "test", "example.com", "example.org"):
        assert placeholder_host(f"{name}.{reserved}")
        assert placeholder_host(f"{name}.{reserved}.".upper())
    assert not placeholder_host(name)
    assert not placeholder_host(f"{name}example.com")  # only whole labels are reserved


@given(
    word=st.sampled_from(["set-me", "SET_ME", "ChangeMe", "change me", "TODO", "fix.me"]),
    suffix=st.text(alphabet="0123456789xyz", min_size=1, max_size=4),
)
def test_template_words_are_placeholders(word: str, suffix: str) -> None:
    assert placeholder_text(word)
    assert placeholder_text(f"<{word}{suffix}>")
    assert not placeholder_text(word + suffix)
