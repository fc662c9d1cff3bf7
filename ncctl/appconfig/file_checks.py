"""The checks of ``config validate`` that look at what a loaded configuration points to:
key, secret, certificate and known_hosts files (read without following links), the tuning
profile, the iLink secret and the TLS of ``/metrics``. Nothing is written."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ncctl.appconfig.problems import ConfigProblem
from ncctl.errors import ConfigError, NcctlError

if TYPE_CHECKING:
    from ncctl.appconfig.model import NcctlConfig

READ_LIMIT = 1024 * 1024
"""The most bytes read from a key or known_hosts file (far above any real one)."""


# -- files --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Read:
    data: bytes | None
    problem: ConfigProblem | None


def _problem(key: str, message: str, hint: str) -> _Read:
    return _Read(None, ConfigProblem(key, message, hint))


def read_checked(key: str, path: Path, *, private: bool, what: str) -> _Read:
    """The content of the file ``key`` names, or the problem that keeps it from being used:
    missing, a link (never followed), not a regular file, owned by another user, readable by
    group or others (``private``), or writable by them."""
    from ncctl import floor

    try:
        fd = floor.open_fd(path, os.O_RDONLY, what=what, trusted_dir=False)
    except ValueError:
        return _problem(key, f"{path!r} is not a usable file name", f"fix the path in {key}")
    except NcctlError:  # floor refuses a link or a non-regular file
        return _not_regular(key, path, what)
    except (FileNotFoundError, NotADirectoryError):
        return _problem(
            key,
            f"{what} {path} does not exist",
            f"create it (owned by root, mode {'0600' if private else '0644'}) or point {key} "
            "at the real file",
        )
    except OSError as exc:
        return _problem(
            key,
            f"cannot open {what} {path}: {exc.strerror}",
            "run as root or as the user that owns it, and check the directories above it",
        )
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        mode = stat.S_IMODE(info.st_mode)
        if floor.foreign_owner(info):
            return _problem(
                key,
                f"{what} {path} is owned by uid {info.st_uid}, not by root or this user",
                f"chown root {path}" + (", and replace the secret" if private else ""),
            )
        if private and mode & 0o077:
            return _problem(
                key,
                f"{what} {path} is accessible by group or others (mode {mode:04o}); a secret "
                "must be private",
                f"chmod 600 {path}, and replace the secret if others may have read it",
            )
        if mode & 0o022:
            return _problem(
                key,
                f"{what} {path} is writable by group or others (mode {mode:04o})",
                f"chmod go-w {path}",
            )
        return _Read(fh.read(READ_LIMIT), None)


def _not_regular(key: str, path: Path, what: str) -> _Read:
    from ncctl.small_files import kind_of

    try:
        kind = kind_of(os.lstat(path).st_mode)
    except OSError:
        kind = "special file"
    if kind == "symbolic link":
        return _problem(
            key,
            f"{what} {path} is a symbolic link; ncctl follows no links for key files",
            f"point {key} at the file itself",
        )
    return _problem(key, f"{what} {path} is a {kind}, not a regular file", f"point {key} at a file")


# -- the parts ----------------------------------------------------------------------------


def tuning_problems(cfg: NcctlConfig) -> list[ConfigProblem]:
    from ncctl.tuning.profiles import load_profile

    try:
        load_profile(cfg.tuning.profile)
    except ConfigError as err:
        return [ConfigProblem("tuning.profile", err.message, err.hint or "see docs/tuning.md")]
    return []


def destination_problems(cfg: NcctlConfig, flagged: set[str]) -> list[ConfigProblem]:
    from ncctl.logs.url import parse_destination_url

    problems: list[ConfigProblem] = []
    for name, dest in cfg.destinations.items():
        if not dest.url.startswith("sftp://"):
            continue
        base = f"destinations.{name}"
        if dest.key_file is not None and f"{base}.key_file" not in flagged:
            key = f"{base}.key_file"
            read = read_checked(key, dest.key_file, private=True, what="key file")
            problem = read.problem or _private_key_problem(key, dest.key_file, read.data or b"")
            if problem is not None:
                problems.append(problem)
        if dest.known_hosts is None or f"{base}.known_hosts" in flagged:
            continue
        key = f"{base}.known_hosts"
        read = read_checked(key, dest.known_hosts, private=False, what="known_hosts")
        if read.problem is not None:
            problems.append(read.problem)
        elif read.data is not None and f"{base}.url" not in flagged:
            url = parse_destination_url(dest.url)
            problem = _pinned(key, dest.known_hosts, read.data, url.host, url.port)
            if problem is not None:
                problems.append(problem)
    return problems


def _private_key_problem(key: str, path: Path, data: bytes) -> ConfigProblem | None:
    """The problem when ``data`` is not an unencrypted private key paramiko can use (read as
    ``paramiko.PKey.from_path`` reads it: OpenSSH format first, then PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    hint = (
        "key_file must be an unencrypted OpenSSH or PEM private key (ed25519, ecdsa or rsa); "
        "ncctl uses no agent and asks no passphrase"
    )
    try:
        try:
            loaded: object = serialization.load_ssh_private_key(data, password=None)
        except ValueError:
            loaded = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # a password is needed
        return ConfigProblem(key, f"key file {path} is encrypted", hint)
    except Exception:  # cryptography raises assorted errors for what is not a key
        return ConfigProblem(key, f"key file {path} is not a private key", hint)
    if not isinstance(
        loaded, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey)
    ):
        return ConfigProblem(key, f"key file {path} holds a key type SSH cannot use here", hint)
    return None


def known_host_name(host: str, port: int) -> str:
    """How known_hosts names ``host:port`` (``host`` on 22, ``[host]:port`` otherwise)."""
    return host if port == 22 else f"[{host}]:{port}"


def _pinned(key: str, path: Path, data: bytes, host: str, port: int) -> ConfigProblem | None:
    """The problem when ``data`` (a known_hosts file) cannot be read or pins no key for
    ``host:port``; None when it pins one."""
    import paramiko

    name = known_host_name(host, port)
    keys = paramiko.HostKeys()
    for lineno, raw in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            entry = paramiko.hostkeys.HostKeyEntry.from_line(line, lineno)
        except Exception:  # paramiko raises assorted errors for a malformed line
            return ConfigProblem(
                key,
                f"known_hosts {path}: line {lineno} is not a known_hosts entry",
                f"fix or remove line {lineno} of {path}",
            )
        if entry is not None and entry.key is not None:
            for pattern in entry.hostnames:
                keys.add(pattern, entry.key.get_name(), entry.key)
    if keys.lookup(name):
        return None
    return ConfigProblem(
        key,
        f"known_hosts {path} pins no host key for {name}: uploads would be refused",
        f"get the key with `ssh-keyscan -p {port} {host}`, check its fingerprint with the "
        f"server's owner, then add that line to {path}",
    )


def ilink_problems(cfg: NcctlConfig, flagged: set[str]) -> tuple[list[ConfigProblem], bool]:
    """The problems of the iLink secret, and whether its key file names the access key id."""
    ilink = cfg.ilink
    key = "ilink.secret_key_file"
    if ilink.secret_key_file is not None and key not in flagged:
        read = read_checked(key, ilink.secret_key_file, private=True, what="iLink key file")
        if read.problem is not None:
            return [read.problem], False
        from ncctl.ilink.credentials import load_credentials

        try:
            creds = load_credentials(ilink.access_key_id, None, ilink.secret_key_file)
        except NcctlError as err:
            problem = ConfigProblem(key, _without(err.message, key), err.hint or "fix the file")
            return [problem], False
        return [], creds.access_key_id != ilink.access_key_id
    if ilink.secret_key is not None and cfg.environment != "dev":
        warning = ConfigProblem(
            "ilink.secret_key",
            f"the iLink secret is written in the {cfg.environment} configuration itself",
            "move it to a key file (mode 0600) and name it in ilink.secret_key_file",
            "warning",
        )
        return [warning], False
    return [], False


def metrics_problems(cfg: NcctlConfig, flagged: set[str]) -> list[ConfigProblem]:
    from ncctl.addresses import is_loopback

    metrics = cfg.metrics
    tls = metrics.tls()
    if is_loopback(metrics.listen) or "metrics.listen" in flagged:
        pass
    elif tls is None:
        return [
            ConfigProblem(
                "metrics.listen",
                f"{metrics.listen!r} is reachable from other hosts and /metrics has no TLS",
                'set metrics.tls_cert and metrics.tls_key, or listen on "127.0.0.1"',
            )
        ]
    elif tls.client_ca is None:
        problem = ConfigProblem(
            "metrics.tls_client_ca",
            f"/metrics on {metrics.listen!r} answers any client that reaches port "
            f"{metrics.port} (no client certificate is asked for)",
            "set metrics.tls_client_ca to the CA that signs the scrapers' certificates",
            "warning",
        )
        return [*_tls_files(cfg), problem]
    return _tls_files(cfg)


def _tls_files(cfg: NcctlConfig) -> list[ConfigProblem]:
    tls = cfg.metrics.tls()
    if tls is None:
        return []
    files = [("tls_cert", tls.cert, False), ("tls_key", tls.key, True)]
    if tls.client_ca is not None:
        files.append(("tls_client_ca", tls.client_ca, False))
    problems = []
    for name, path, private in files:
        read = read_checked(f"metrics.{name}", path, private=private, what="TLS file")
        if read.problem is not None:
            problems.append(read.problem)
    if problems:
        return problems
    from ncctl.tls_files import tls_context

    try:
        tls_context(tls)
    except ConfigError as err:
        key = err.message.split(":", 1)[0].split(",", 1)[0]
        return [ConfigProblem(key, _without(err.message, key), err.hint)]
    return []


def _without(message: str, key: str) -> str:
    """``message`` without a leading ``KEY: `` (or ``KEY, OTHER: ``) the problem already names."""
    head, sep, rest = message.partition(": ")
    return rest if sep and head.split(",")[0] == key else message
