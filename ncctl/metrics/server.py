"""Serving ``/metrics``: HTTP on loopback, HTTPS (optionally mutual TLS) anywhere.

``serve(target, listen, port, tls=...)`` returns a :class:`MetricsServer` whose ``stop()``
shuts it down; the daemon serves the collector it is handed, and every scrape computes the
values afresh.

prometheus_client's own ``certfile``/``keyfile`` support wraps the listening socket, so every
TLS handshake runs inside ``accept()`` on the serving thread: one client that connects and
sends nothing stops every scrape. Here the listening socket stays plain; each accepted
connection is wrapped without a handshake, and the handshake runs in that connection's own
thread, bounded by ``HANDSHAKE_TIMEOUT_S``. A client without a certificate, or with one not
signed by ``tls_client_ca``, fails its handshake and is disconnected. The TLS files are
checked first (:mod:`ncctl.tls_files`).
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app, start_http_server
from prometheus_client.core import Metric
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

from ncctl.errors import ConfigError, UnavailableError
from ncctl.tls_files import tls_context

if TYPE_CHECKING:
    from ncctl.appconfig.sections import MetricsTls

HANDSHAKE_TIMEOUT_S = 10.0
"""How long a client may take to complete its TLS handshake, and then each read or write."""


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


class _Deferred:
    """A collector built anew for every scrape by a factory."""

    def __init__(self, factory: Callable[[], Collector]) -> None:
        self.factory = factory

    def collect(self) -> Iterable[Metric]:
        return self.factory().collect()


@dataclass
class MetricsServer:
    """A running ``/metrics`` server (HTTP, or HTTPS when ``tls``); ``stop()`` shuts it down
    and waits for it."""

    server: WSGIServer
    thread: threading.Thread
    tls: bool = False

    @property
    def host(self) -> str:
        return str(self.server.server_address[0])

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/metrics"

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout_s)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    target: Collector | Callable[[], Collector],
    listen: str,
    port: int,
    *,
    tls: MetricsTls | None = None,
) -> MetricsServer:
    """Serve ``target`` (a registry, or a factory called at every scrape) on
    ``listen:port`` in a daemon thread (port 0: any free port, see ``MetricsServer.port``).

    With ``tls`` the server speaks HTTPS only (and asks for a client certificate signed by
    ``tls.client_ca`` when set, refusing clients without one); without it only a loopback
    address is served, in plain HTTP (metrics.listen)."""
    from ncctl.addresses import is_loopback

    collector: Collector
    if callable(getattr(target, "collect", None)):
        collector = cast("Collector", target)
    else:
        collector = _Deferred(cast("Callable[[], Collector]", target))
    if tls is None and not is_loopback(listen):
        raise ConfigError(
            f"metrics.listen: {listen!r} is reachable from other hosts and no TLS is configured",
            hint="set metrics.tls_cert and metrics.tls_key (see docs/runbook.md), or listen on "
            '"127.0.0.1"',
            code="metrics.tls",
        )
    try:
        if tls is None:
            server, thread = start_http_server(port, addr=listen, registry=collector)
        else:
            server, thread = start_https_server(collector, listen, port, tls)
    except OSError as exc:
        raise UnavailableError(
            f"cannot serve metrics on {listen}:{port}: {exc.strerror or exc}",
            hint="another process may hold the port: change metrics.port or metrics.listen",
            code="metrics.listen",
        ) from None
    return MetricsServer(server, thread, tls=tls is not None)
