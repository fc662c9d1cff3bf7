"""``/metrics`` over HTTPS: the TLS files checked, and a server whose handshakes cannot stall it.

prometheus_client's own ``certfile``/``keyfile`` support wraps the listening socket, so every
TLS handshake runs inside ``accept()`` on the serving thread: one client that connects and
sends nothing stops every scrape. Here the listening socket stays plain; each accepted
connection is wrapped without a handshake, and the handshake runs in that connection's own
thread, bounded by ``HANDSHAKE_TIMEOUT_S``. A client without a certificate, or with one not
signed by ``tls_client_ca``, fails its handshake and is disconnected.

The files are checked before use, each error naming its key: they must exist as regular files
(a symbolic link is not followed), the key readable by its owner only, and none of them
writable by group or others. An encrypted key is refused (nothing prompts for a passphrase).
"""

from __future__ import annotations

import os
import socket
import ssl
import stat
import threading
from pathlib import Path
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

from ncctl.errors import ConfigError


class MetricsTls(Protocol):
    """The TLS files of ``/metrics`` (``[metrics]``'s ``tls()``): server certificate and key,
    and the CA client certificates must chain to (None: none is asked for)."""

    @property
    def cert(self) -> Path: ...
    @property
    def key(self) -> Path: ...
    @property
    def client_ca(self) -> Path | None: ...


HANDSHAKE_TIMEOUT_S = 10.0
"""How long a client may take to complete its TLS handshake, and then each read or write."""


def check_file(key: str, path: Path, *, private: bool) -> None:
    """Refuse a TLS file that is missing, a link, not a regular file, writable by group or
    others, or (``private``: the key) readable by them: ConfigError naming ``metrics.KEY``."""
    name = f"metrics.{key}"
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise ConfigError(
            f"{name}: cannot read {path}: {exc.strerror or exc}",
            hint="see docs/runbook.md (Telemetry certificates) for how to make the files",
            code="metrics.tls",
        ) from None
    if stat.S_ISLNK(info.st_mode):
        raise ConfigError(
            f"{name}: {path} is a symbolic link; ncctl does not follow links for TLS files",
            hint=f"point {name} at the file itself",
            code="metrics.tls",
        )
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(
            f"{name}: {path} is not a regular file",
            hint=f"point {name} at a PEM file",
            code="metrics.tls",
        )
    mode = stat.S_IMODE(info.st_mode)
    if private and mode & 0o077:
        raise ConfigError(
            f"{name}: {path} is accessible by group or others (mode {mode:04o}); a private "
            "key must be private",
            hint=f"chmod 600 {path}",
            code="metrics.tls",
        )
    if mode & 0o022:
        raise ConfigError(
            f"{name}: {path} is writable by group or others (mode {mode:04o})",
            hint=f"chmod go-w {path}",
            code="metrics.tls",
        )


def _no_password() -> bytes:
    return b""  # an encrypted key fails to load instead of prompting on the terminal


def tls_context(tls: MetricsTls) -> ssl.SSLContext:
    """A server context from the checked files (TLS 1.2 or later; client certificates
    required when ``tls.client_ca`` is set)."""
    check_file("tls_cert", tls.cert, private=False)
    check_file("tls_key", tls.key, private=True)
    if tls.client_ca is not None:
        check_file("tls_client_ca", tls.client_ca, private=False)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.cert, tls.key, password=_no_password)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"metrics.tls_cert, metrics.tls_key: cannot use {tls.cert} with {tls.key}: "
            f"{_reason(exc)}",
            hint="tls_cert must be a PEM certificate and tls_key its unencrypted PEM private "
            "key (see docs/runbook.md)",
            code="metrics.tls",
        ) from None
    if tls.client_ca is not None:
        try:
            context.load_verify_locations(cafile=tls.client_ca)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"metrics.tls_client_ca: cannot use {tls.client_ca}: {_reason(exc)}",
                hint="tls_client_ca must hold the PEM certificate of the CA that signs the "
                "scrapers' client certificates",
                code="metrics.tls",
            ) from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged (as prometheus_client's own server)."""


class _TlsServer(ThreadingWSGIServer):
    """Accepts plain TCP, then handshakes in the connection's own thread."""

    context: ssl.SSLContext

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        sock.settimeout(HANDSHAKE_TIMEOUT_S)
        wrapped = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return wrapped, address

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.do_handshake()
        except (OSError, ValueError):  # refused certificate, not TLS, silent: hang up
            return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that goes away mid-request is not an error of ncctl's (no traceback)."""


def start_https_server(
    collector: Collector, listen: str, port: int, tls: MetricsTls
) -> tuple[WSGIServer, threading.Thread]:
    """Bind ``listen:port`` and serve ``collector`` over HTTPS in a daemon thread."""
    context = tls_context(tls)
    family, _, _, _, sockaddr = socket.getaddrinfo(
        listen, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]

    class Server(_TlsServer):
        address_family = family

    Server.context = context
    server = make_server(
        str(sockaddr[0]),
        port,
        make_wsgi_app(collector),
        server_class=Server,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, name="metrics-https", daemon=True)
    thread.start()
    return server, thread
