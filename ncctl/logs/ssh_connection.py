"""The SSH connection of an SFTP destination, with paramiko.

paramiko is imported by this module and :mod:`ncctl.logs.sftp_destination` only, and only
when a connection is opened, so that commands which upload nothing never load it
(docs/design.md §3.2, rule 6). It provides the SSH transport (key exchange, ciphers, host
key, public-key authentication, channels, keepalive); this module loads the key and
``known_hosts`` (refusing files others could change), pins the host key, keeps weak
algorithms out unless allowed, and maps network failures to errors.

**Timeouts everywhere.** TCP connect, banner, key exchange, authentication and channel open
are bounded by ``timeout_s``, and so is every wait on the channel (its ``settimeout``), so a
frozen server raises instead of blocking. A stall or end of file during key exchange or
authentication is a network fault (retried); only the server's answer refusing the key is
``sftp.auth``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import socket
import stat as stat_mode
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ncctl import floor
from ncctl.errors import (
    ConfigError,
    NcctlError,
    PermissionDeniedError,
    TemporaryError,
    UnavailableError,
)
from ncctl.logs.section import DestinationConfig
from ncctl.logs.sftp_wire import SftpProtocolError
from ncctl.logs.ssh_algorithms import apply_floor, legacy_kex, refused_offer, unsupported
from ncctl.logs.url import parse_destination_url

if TYPE_CHECKING:
    import paramiko

RECV_WINDOW = 8 * 1024 * 1024
RECV_MAX_PACKET = 64 * 1024
PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
"""Tried before paramiko's defaults (aes-ctr + hmac-sha2): AEAD needs no separate MAC pass."""
KEEPALIVE_S = 15.0
AUTH_POLL_S = 0.05
"""How often a wait for the authentication answer checks that the connection is still up."""

_S = TypeVar("_S")


class HostKeyError(UnavailableError):
    """The server's host key is not the one ``known_hosts`` pins (or none is pinned)."""

    default_code = "sftp.host_key"


class WeakAlgorithmsError(UnavailableError):
    """The server offers only algorithms below ncctl's floor (not retried: exit 69)."""

    default_code = "sftp.weak_algorithms"


class Silent(TimeoutError):
    """No answer within ``timeout_s`` at a step the message names ("during key exchange")."""


def openssh_fingerprint(key_blob: bytes) -> str:
    """``SHA256:...`` as ``ssh-keygen -l`` prints it (unpadded base64 of the blob's SHA-256)."""
    import base64

    digest = hashlib.sha256(key_blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def dead_connection_errors() -> tuple[type[BaseException], ...]:
    """What a frozen or closed connection raises (a time-out is an OSError): the connection is
    dropped without another round trip."""
    return (OSError, EOFError, SftpProtocolError)


def network_errors() -> tuple[type[BaseException], ...]:
    """What a broken, frozen or refusing connection raises (paramiko imported lazily)."""
    import paramiko

    return (*dead_connection_errors(), paramiko.SSHException)


def _quiet_paramiko_logging() -> None:
    """paramiko logs connection failures from its own thread; ncctl reports them itself, so
    they must not reach stderr through logging's last-resort handler."""
    logger = logging.getLogger("paramiko")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


@functools.cache
def _recording_transport() -> type[paramiko.Transport]:
    """paramiko's Transport, keeping the server's KEXINIT lists (``server_offer``) so that a
    refused handshake can name what the server offered, and knowing the SHA-1 key exchanges
    that ``allow_algorithms`` may name (:func:`ncctl.logs.ssh_algorithms.legacy_kex`)."""
    import paramiko

    class RecordingTransport(paramiko.Transport):
        server_offer: dict[str, list[str]] | None = None
        _kex_info: ClassVar[dict[str, Any]] = {
            **legacy_kex(),
            **paramiko.Transport._kex_info,  # type: ignore[attr-defined]
        }

        def _really_parse_kex_init(self, m: Any, ignore_first_byte: bool = False) -> Any:
            parsed = super()._really_parse_kex_init(m, ignore_first_byte)  # type: ignore[misc]
            if not ignore_first_byte:  # the peer's KEXINIT (ours is parsed with True)
                self.server_offer = {k: list(v) for k, v in parsed.items() if k.endswith("_list")}
            return parsed

    return RecordingTransport


# --- the destination ----------------------------------------------------------------------


def run_command(
    channel: paramiko.Channel, command: str, quiet_s: float, timeout_s: float
) -> tuple[int | None, bytes, bytes]:
    """Run ``command`` on an exec channel: its exit status (None when it never came), and the
    first 64 KiB of its output and error output. Silence longer than ``quiet_s`` raises."""
    channel.settimeout(quiet_s)
    channel.exec_command(command)
    channel.shutdown_write()
    out = bytearray()
    err = bytearray()
    deadline = time.monotonic() + quiet_s + timeout_s
    for _ in range(100_000):  # bounded by the deadline as well
        data = channel.recv(65536)
        if not data:
            break
        out += data[: max(0, 65536 - len(out))]
        if time.monotonic() > deadline:
            raise TimeoutError
    while channel.recv_stderr_ready() and len(err) < 65536:
        err += channel.recv_stderr(65536)
    done = channel.status_event.wait(timeout_s)
    return (channel.exit_status if done else None), bytes(out), bytes(err)


class SshEndpoint:
    """The account ``user@host:port`` of an SFTP destination and how to reach it."""

    def __init__(self, name: str, config: DestinationConfig) -> None:
        self.name = name
        self.url = config.url
        self.config = config
        parsed = parse_destination_url(config.url)
        self.user = parsed.user
        self.host = parsed.host
        self.port = parsed.port
        self.directory = parsed.path.rstrip("/") or "/"
        self.timeout_s = config.timeout_s

    # -- naming

    @property
    def where(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    def _prefix(self) -> str:
        return f"destination {self.name} ({self.where})"

    # -- connection

    def _known_host_name(self) -> str:
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    def _load_key(self) -> paramiko.PKey:
        import paramiko

        key_file = self.config.key_file
        if key_file is None:
            raise ConfigError(f"{self._prefix()}: no key_file", code="sftp.key_file")
        try:
            info = key_file.stat()
        except OSError as exc:
            raise ConfigError(
                f"{self._prefix()}: cannot read key file {key_file}: {exc.strerror or exc}",
                hint="key_file must name the private key whose public half the server trusts",
                code="sftp.key_file",
            ) from None
        if info.st_mode & 0o077:
            raise ConfigError(
                f"{self._prefix()}: key file {key_file} is accessible by group or others "
                f"(mode {stat_mode.S_IMODE(info.st_mode):04o}); it must be private",
                hint=f"chmod 600 {key_file}",
                code="sftp.key_file",
            )
        if floor.foreign_owner(info):
            raise ConfigError(
                f"{self._prefix()}: key file {key_file} is owned by uid {info.st_uid}, "
                "not by root or this user",
                hint=f"chown root {key_file}",
                code="sftp.key_file",
            )
        try:
            return paramiko.PKey.from_path(key_file)
        except paramiko.PasswordRequiredException:
            raise ConfigError(
                f"{self._prefix()}: key file {key_file} is encrypted",
                hint="ncctl uses no agent and asks no passphrase: use an unencrypted key "
                "readable only by the ncctl user",
                code="sftp.key_file",
            ) from None
        except (OSError, ValueError, paramiko.SSHException) as exc:
            raise ConfigError(
                f"{self._prefix()}: cannot load key file {key_file}: {exc}",
                hint="key_file must be an OpenSSH or PEM private key (ed25519, ecdsa or rsa)",
                code="sftp.key_file",
            ) from None

    def _load_known_hosts(self) -> paramiko.HostKeys:
        import paramiko

        path = self.config.known_hosts
        if path is None:
            raise ConfigError(f"{self._prefix()}: no known_hosts", code="sftp.known_hosts")
        keys = paramiko.HostKeys()
        try:
            info = path.stat()
            if info.st_mode & 0o022 or floor.foreign_owner(info):
                raise ConfigError(
                    f"{self._prefix()}: known_hosts {path} can be changed by others (owner uid "
                    f"{info.st_uid}, mode {stat_mode.S_IMODE(info.st_mode):04o})",
                    hint=f"chown root {path} && chmod go-w {path}",
                    code="sftp.known_hosts",
                )
            keys.load(str(path))
        except ConfigError:
            raise
        except OSError as exc:
            raise ConfigError(
                f"{self._prefix()}: cannot read known_hosts {path}: {exc.strerror or exc}",
                hint="known_hosts must hold the server's host key (ssh-keyscan, then check its "
                "fingerprint with the server's owner)",
                code="sftp.known_hosts",
            ) from None
        except Exception as exc:  # paramiko raises assorted errors for a malformed line
            raise ConfigError(
                f"{self._prefix()}: cannot parse known_hosts {path}: {exc}",
                code="sftp.known_hosts",
            ) from None
        return keys

    def _check_host_key(self, known: paramiko.HostKeys, offered: paramiko.PKey) -> None:
        name = self._known_host_name()
        fingerprint = f"{offered.get_name()} {openssh_fingerprint(offered.asbytes())}"
        pinned = known.lookup(name)
        path = self.config.known_hosts
        if not pinned:
            raise HostKeyError(
                f"{self._prefix()}: host key of {name} is not in {path}; the server offered "
                f"{fingerprint}",
                hint=f"check that fingerprint with the server's owner, then add the key to {path}"
                f" (ssh-keyscan -p {self.port} {self.host}); ncctl never adds keys itself",
            )
        expected = pinned.get(offered.get_name())
        if expected is None or expected.asbytes() != offered.asbytes():
            known_list = ", ".join(
                f"{key.get_name()} {openssh_fingerprint(key.asbytes())}" for key in pinned.values()
            )
            raise HostKeyError(
                f"{self._prefix()}: HOST KEY CHANGED for {name}: the server offered "
                f"{fingerprint}, {path} pins {known_list}",
                hint="someone may be intercepting the connection, or the server was rebuilt: "
                "confirm the new fingerprint with the server's owner before replacing the key",
            )

    def _set_preferences(self, transport: paramiko.Transport, known: paramiko.HostKeys) -> None:
        """No weak algorithm unless allowed; AES-GCM first; the host key types that
        known_hosts pins for this host first."""
        unsupported = apply_floor(transport, self.config.allow_algorithms)
        if unsupported:
            import paramiko

            raise ConfigError(
                f"destinations.{self.name}.allow_algorithms: paramiko {paramiko.__version__} "
                f"cannot speak {', '.join(unsupported)} at all",
                hint="remove those names; the server's owner has to enable a modern algorithm",
                code="sftp.allow_algorithms",
            )
        options = transport.get_security_options()
        available = tuple(options.ciphers)
        options.ciphers = tuple(c for c in PREFERRED_CIPHERS if c in available) + tuple(
            c for c in available if c not in PREFERRED_CIPHERS
        )
        pinned = known.lookup(self._known_host_name())
        if pinned:
            wanted: list[str] = []
            for key_type in pinned:
                wanted += ["rsa-sha2-512", "rsa-sha2-256"] if key_type == "ssh-rsa" else [key_type]
            types = tuple(options.key_types)
            first = tuple(t for t in wanted if t in types)
            options.key_types = first + tuple(t for t in types if t not in first)

    def _open(
        self, subsystem: str, start: Callable[[paramiko.Channel], _S]
    ) -> tuple[paramiko.Transport, _S]:
        """A new authenticated connection and what ``start`` makes of a channel running
        ``subsystem``; every failure is an NcctlError (the transport closed)."""
        import paramiko

        _quiet_paramiko_logging()
        key = self._load_key()
        known = self._load_known_hosts()
        timeout = self.timeout_s
        transport: paramiko.Transport | None = None
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport = _recording_transport()(sock)
            transport.banner_timeout = timeout
            transport.handshake_timeout = timeout
            transport.auth_timeout = timeout
            transport.channel_timeout = timeout
            self._set_preferences(transport, known)
            transport.set_keepalive(min(KEEPALIVE_S, max(1.0, timeout / 2)))
            try:
                transport.start_client(timeout=timeout)
            except paramiko.ssh_exception.IncompatiblePeer as exc:
                raise self._weak_algorithms(transport, exc) from None
            if transport.is_active() and not transport.initial_kex_done:
                raise Silent("during key exchange")  # start_client gave up waiting
            self._check_host_key(known, transport.get_remote_server_key())
            remaining = self._authenticate(transport, key)
            if remaining:
                raise PermissionDeniedError(
                    f"{self._prefix()}: the server wants more than a key for {self.user} "
                    f"({', '.join(remaining)})",
                    hint="ncctl authenticates with a key only: ask for a key-only account",
                    code="sftp.auth",
                )
            channel = transport.open_session(
                window_size=RECV_WINDOW, max_packet_size=RECV_MAX_PACKET, timeout=timeout
            )
            channel.settimeout(timeout)
            channel.invoke_subsystem(subsystem)
            session = start(channel)
        except NcctlError:
            if transport is not None:
                transport.close()
            raise
        except network_errors() as exc:
            if transport is not None:
                transport.close()
            raise self._network_failure(exc, "cannot connect") from None
        return transport, session

    def _weak_algorithms(
        self, transport: paramiko.Transport, exc: Exception
    ) -> WeakAlgorithmsError:
        """The handshake found nothing acceptable: name what the server offers instead."""
        offer = getattr(transport, "server_offer", None) or {}
        weak = refused_offer(offer, self.config.allow_algorithms)
        if not weak:
            return WeakAlgorithmsError(
                f"{self._prefix()}: no SSH algorithm in common with the server ({exc})",
                hint="ask the server's owner which algorithms it offers (ssh -vv shows them)",
            )
        named = "; ".join(f"{kind} {', '.join(names)}" for kind, names in weak.items())
        hint = (
            "ask the server's owner to enable modern ones (curve25519-sha256, "
            "aes128-gcm@openssh.com or aes128-ctr, hmac-sha2-256)"
        )
        # a kind in which this paramiko speaks none of the offered names cannot be allowed
        missing = [
            names for names in weak.values() if len(unsupported(transport, names)) == len(names)
        ]
        if missing:
            import paramiko

            lacking = ", ".join(n for names in missing for n in names)
            hint += f"; paramiko {paramiko.__version__} cannot speak {lacking} at all"
        else:
            listed = ", ".join(f'"{n}"' for names in weak.values() for n in names)
            hint += (
                f"; only if that cannot be done, accept the risk for this server with "
                f"allow_algorithms = [{listed}] in [destinations.{self.name}]"
            )
        return WeakAlgorithmsError(
            f"{self._prefix()}: the server offers only weak algorithms: {named}", hint=hint
        )

    def _authenticate(self, transport: paramiko.Transport, key: paramiko.PKey) -> list[str]:
        """Public-key authentication; the methods the server still wants (none when done).

        Only an answer from the server (USERAUTH_FAILURE) is a refusal (``sftp.auth``). A server
        that says nothing within ``timeout_s``, or closes the connection, raises TimeoutError or
        EOFError: a network fault, retried by the next run (paramiko reports both as an
        AuthenticationException, which would send the operator to fix a key that is fine).
        """
        import paramiko

        answered = threading.Event()
        transport.auth_publickey(self.user, key, answered)  # sends the request, returns at once
        deadline = time.monotonic() + self.timeout_s
        for _ in range(int(self.timeout_s / AUTH_POLL_S) + 2):  # bounded by the deadline too
            if answered.wait(AUTH_POLL_S):
                break
            if not transport.is_active():
                raise EOFError("the server closed the connection during authentication")
            if time.monotonic() >= deadline:
                break
        if not answered.is_set():
            raise Silent("during authentication")
        handler = transport.auth_handler
        if handler is None or not transport.is_active():  # paramiko sets the event on EOF too
            raise EOFError("the server closed the connection during authentication")
        try:
            remaining: list[str] = handler.wait_for_response(answered)
        except paramiko.AuthenticationException as exc:
            raise PermissionDeniedError(
                f"{self._prefix()}: the server refused key {self.config.key_file} for "
                f"{self.user}: {exc}",
                hint=f"install the public key in ~{self.user}/.ssh/authorized_keys on "
                f"{self.host}, or fix key_file",
                code="sftp.auth",
            ) from None
        return remaining

    # -- error mapping

    def _network_failure(self, exc: BaseException, what: str) -> NcctlError:
        """A connection-level failure: worth retrying."""
        import paramiko

        if isinstance(exc, NcctlError):
            return exc
        if isinstance(exc, paramiko.AuthenticationException):
            return PermissionDeniedError(
                f"{self._prefix()}: {what}: authentication failed: {exc}",
                hint=f"check key_file and ~{self.user}/.ssh/authorized_keys on {self.host}",
                code="sftp.auth",
            )
        if isinstance(exc, socket.timeout | TimeoutError):
            detail = f"no answer within {self.timeout_s:g} s"
            if isinstance(exc, Silent):
                detail += f" {exc}"
        elif isinstance(exc, EOFError):
            detail = f"the connection was closed ({exc})" if str(exc) else "connection closed"
        elif isinstance(exc, SftpProtocolError):
            detail = f"SFTP protocol error: {exc}"
        else:
            detail = str(exc) or type(exc).__name__
        return TemporaryError(
            f"{self._prefix()}: {what}: {detail}",
            hint="a network or server problem: the upload resumes on the next run",
            code="upload.network",
        )
