"""What keeps a configuration that parses from working: every problem at once, by key path.

:func:`check_config` looks past the schema (which :mod:`ncctl.config` enforces on loading) at
what the file points to and at values a template writes to be replaced:

- the tuning profile ``tuning.profile`` names, loaded as ``ncctl tune`` loads it;
- key and secret files (``destinations.*.key_file``, ``ilink.secret_key_file``,
  ``metrics.tls_key``): present, regular files (a symbolic link is never followed: opened
  ``O_NOFOLLOW``), owned by root or this user, not readable by group or others; the iLink key
  file is read as ``ncctl party`` reads it;
- files others must not change (``known_hosts``, ``metrics.tls_cert``,
  ``metrics.tls_client_ca``): present, regular, not writable by group or others;
- placeholders: values such as ``set-me``, hosts under a name RFC 2606 reserves
  (``.invalid``, ``.example``, ``example.com``), files the template names that do not exist;
- SFTP destinations whose ``known_hosts`` pins no key for their ``host:port``;
- ``/metrics`` beyond loopback without TLS (an error), or without client certificates (a
  warning).

Nothing is written and nothing goes over the network.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ncctl.errors import ConfigError, NcctlError

if TYPE_CHECKING:
    from ncctl.config import LoadedConfig, NcctlConfig

Severity = Literal["error", "warning"]
READ_LIMIT = 1024 * 1024
"""The most bytes read from a key or known_hosts file (far above any real one)."""

_PLACEHOLDER_WORDS = frozenset(
    {"setme", "changeme", "replaceme", "fillmein", "fillme", "todo", "tbd", "fixme", "placeholder"}
)
_RESERVED_TLDS = ("invalid", "example", "test")
_RESERVED_DOMAINS = ("example.com", "example.net", "example.org")


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration: where (a dotted key path), what, what to do."""

    key: str
    message: str
    hint: str
    severity: Severity = "error"
    refused: bool = False
    """The schema refuses the setting (the file does not load at all), as opposed to a
    setting that loads but cannot work."""

    def as_dict(self) -> dict[str, str]:
        return {
            "key": self.key,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
        }

    def line(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigProblems(ConfigError):
    """A configuration with at least one error: the first in the message, all of them below."""

    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        first = next((p for p in problems if p.severity == "error"), problems[0])
        message = f"{source}: {first.line()}"
        hint = first.hint
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more, listed below)"
            hint = "fix each key listed, then run `ncctl config validate` again"
        code = "config.invalid" if any(p.refused for p in problems) else "config.problems"
        super().__init__(message, hint=hint, code=code)
        self.problems = problems

    def detail_lines(self) -> list[str]:
        if len(self.problems) < 2:
            return []
        lines: list[str] = []
        for p in self.problems:
            lines += [f"  {p.severity}: {p.line()}", f"    hint: {p.hint}"]
        return lines


def check_config(loaded: LoadedConfig) -> list[ConfigProblem]:
    """Every problem of ``loaded`` (errors and warnings), in the order of the file's parts."""
    cfg = loaded.config
    problems = list(_placeholder_values(loaded.document))
    flagged = {p.key for p in problems}
    problems += _tuning(cfg)
    problems += _destinations(cfg, flagged)
    ilink, key_id_in_file = _ilink(cfg, flagged)
    if key_id_in_file:  # the key file names the access key id: the configured one is unused
        problems = [p for p in problems if p.key != "ilink.access_key_id"]
    problems += ilink
    problems += _metrics(cfg, flagged)
    first: dict[str, ConfigProblem] = {}
    for problem in problems:  # one per key: a placeholder rather than the missing file it names
        first.setdefault(problem.key, problem)
    return in_file_order(list(first.values()), loaded.document)


def in_file_order(
    problems: list[ConfigProblem], document: Mapping[str, Any]
) -> list[ConfigProblem]:
    """``problems`` in the order their keys (or the tables holding them) come in the file;
    keys the file does not set come last."""
    order: dict[str, int] = {}
    for i, (key, _) in enumerate(_walk(document, "")):
        for end in [m.start() for m in re.finditer(r"[.\[]", key)] + [len(key)]:
            order.setdefault(key[:end], i)
    return sorted(problems, key=lambda p: order.get(p.key, len(order)))


# -- the schema, and the rest despite it ----------------------------------------------------

MAX_REPAIRS = 16
"""How many times settings the schema refuses are left out before giving up on the rest."""


def load_checked(
    path: Path, source: str, *, credentials: bool = False
) -> tuple[LoadedConfig, list[ConfigProblem]]:
    """The configuration at ``path`` and every problem of it, the schema's included: settings
    the schema refuses are listed, then left out (their defaults stand in) so that the rest
    is checked too. A file that cannot be read as a TOML document raises ConfigError as
    :func:`ncctl.config.load_file` does. ``credentials``: key paths from systemd's
    credentials directory, as for the resolved configuration."""
    from ncctl import config
    from ncctl.config_files import base_dir
    from ncctl.floor import trust_service_user

    try:
        cfg, doc = config.load_file(path, source)
        schema: list[ConfigProblem] = []
        dropped: list[str] = []
    except ConfigError as err:
        repaired = _repaired(path, source)
        if repaired is None:
            raise err from None
        cfg, doc, schema, dropped = repaired
    if credentials:
        from ncctl.credentials import with_credentials

        cfg = with_credentials(cfg)
    trust_service_user(cfg.systemd.user)
    loaded = config.LoadedConfig(cfg, path, source, doc, base_dir(path, source))
    refused = {p.key for p in schema}
    rest = [
        p
        for p in check_config(loaded)
        if p.key not in refused and not any(_within(p.key, d) for d in dropped)
    ]
    if not schema:
        return loaded, rest
    original = read_document(path)
    return loaded, in_file_order(schema + rest, original or doc)


def read_document(path: Path) -> dict[str, Any] | None:
    from ncctl.validation import read_toml

    try:
        return read_toml(path, ConfigError, "configuration file")
    except ConfigError:
        return None


def _within(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith((prefix + ".", prefix + "["))


def _repaired(
    path: Path, source: str
) -> tuple[NcctlConfig, dict[str, Any], list[ConfigProblem], list[str]] | None:
    """(the configuration without the settings the schema refuses, its document, a problem
    per refusal, the key paths left out), or None when the file cannot be read or repaired."""
    import copy

    from pydantic import ValidationError

    from ncctl.config import NcctlConfig
    from ncctl.config_files import base_dir
    from ncctl.config_paths import context
    from ncctl.validation import describe_errors, key_path

    original = read_document(path)
    if not original:
        return None
    doc = copy.deepcopy(original)
    problems: list[ConfigProblem] = []
    dropped: list[str] = []
    for _ in range(MAX_REPAIRS):
        try:
            cfg = NcctlConfig.model_validate(doc, context=context(base_dir(path, source)))
        except ValidationError as exc:
            errors = describe_errors(exc)
            if not problems:  # the file as written: every refusal
                problems = [_refusal(key_path(loc), msg) for loc, msg in errors]
            removed = _drop(doc, [loc for loc, _ in errors])
            if not removed:
                return None
            dropped += removed
            continue
        cross = cfg.cross_reference_problem()
        if cross is not None and not any(_within(d, "destinations") for d in dropped):
            hint = f"add the destination or fix the name in {cross[0]}"
            problems.append(ConfigProblem(cross[0], cross[1], hint, refused=True))
        return cfg, doc, problems, dropped
    return None


def _refusal(key: str, msg: str) -> ConfigProblem:
    if msg == "unknown key":
        hint = f"remove {key} or correct its spelling (see docs/design.md for the keys)"
    elif msg == "required key is missing":
        hint = f"add {key}"
    else:
        hint = f"give {key} a value it accepts"
    return ConfigProblem(key, msg, hint, refused=True)


def _drop(doc: dict[str, Any], locs: list[tuple[int | str, ...]]) -> list[str]:
    """Remove the setting at each location (or, where it is not set, the nearest table
    holding it); the key paths removed."""
    from ncctl.validation import key_path

    removed: list[str] = []
    # deepest first, and the later items of a list before the earlier ones
    for loc in sorted(set(locs), key=_sort_key, reverse=True):
        for end in range(len(loc), 0, -1):
            parent: Any = doc
            for part in loc[: end - 1]:
                parent = _child(parent, part)
            if _child(parent, loc[end - 1]) is not None:
                del parent[loc[end - 1]]
                removed.append(key_path(loc[:end]))
                break
    return removed


def _sort_key(loc: tuple[int | str, ...]) -> tuple[tuple[int, str], ...]:
    return tuple((p, "") if isinstance(p, int) else (-1, p) for p in loc)


def _child(node: Any, part: int | str) -> Any:
    if isinstance(node, dict) and isinstance(part, str):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


# -- placeholders -------------------------------------------------------------------------


def placeholder_text(value: str) -> bool:
    """Whether ``value`` is a value a template writes to be replaced (``set-me``, ``<...>``)."""
    text = value.strip()
    word = re.sub(r"[\s_.-]", "", text.lower())
    return word in _PLACEHOLDER_WORDS or (len(text) > 2 and text[0] == "<" and text[-1] == ">")


def placeholder_host(host: str) -> bool:
    """Whether ``host`` is under a name RFC 2606 reserves, so it cannot be the real server."""
    name = host.strip().rstrip(".").lower()
    labels = name.split(".")
    return labels[-1] in _RESERVED_TLDS or any(
        name == d or name.endswith("." + d) for d in _RESERVED_DOMAINS
    )


def _walk(value: Any, key: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for name, item in value.items():
            yield from _walk(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{key}[{i}]")
    else:
        yield key, value


def _placeholder_values(document: Mapping[str, Any]) -> Iterator[ConfigProblem]:
    from ncctl.config import mask_value

    for key, value in _walk(document, ""):
        if not isinstance(value, str) or not placeholder_text(value):
            continue
        secret = mask_value(key, value) != value
        yield ConfigProblem(
            key,
            f"{'the value' if secret else repr(value)} is a placeholder, to be replaced with "
            "the real value",
            hint=f"set the real value: `ncctl config set {key} "
            + ("-` and type it (it is a secret)" if secret else "VALUE`"),
        )
    for key, host in _hosts(document):
        if placeholder_host(host):
            yield ConfigProblem(
                key,
                f"host {host!r} is a placeholder (RFC 2606 reserves that name; it resolves "
                "nowhere)",
                hint=f"put the real server's host name or address in {key}",
            )


def _hosts(document: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(key, host) of every host a configuration names."""
    from ncctl.logs.url import parse_destination_url

    destinations = document.get("destinations")
    if isinstance(destinations, Mapping):
        for name, dest in destinations.items():
            url = dest.get("url") if isinstance(dest, Mapping) else None
            if isinstance(url, str) and url.startswith("sftp://"):
                yield f"destinations.{name}.url", parse_destination_url(url).host
    for table, field in (("ilink", "host"), ("metrics", "listen")):
        section = document.get(table)
        value = section.get(field) if isinstance(section, Mapping) else None
        if isinstance(value, str):
            yield f"{table}.{field}", value


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
    from ncctl.statefile import kind_of

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


def _tuning(cfg: NcctlConfig) -> list[ConfigProblem]:
    from ncctl.tuning.profiles import load_profile

    try:
        load_profile(cfg.tuning.profile)
    except ConfigError as err:
        return [ConfigProblem("tuning.profile", err.message, err.hint or "see docs/tuning.md")]
    return []


def _destinations(cfg: NcctlConfig, flagged: set[str]) -> list[ConfigProblem]:
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


def _ilink(cfg: NcctlConfig, flagged: set[str]) -> tuple[list[ConfigProblem], bool]:
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


def _metrics(cfg: NcctlConfig, flagged: set[str]) -> list[ConfigProblem]:
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
