"""A TCP proxy on 127.0.0.1 in front of the test sshd, for tests that break connections.

:class:`LoopbackProxy` accepts connections on a free port in a thread of its own and hands
each to :meth:`LoopbackProxy.pump` (in a thread per connection) with the connection's number;
subclasses decide what passes, usually through :meth:`LoopbackProxy.relay`.
:meth:`LoopbackProxy.stop` ends every thread it started, within a bounded time.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar


class LoopbackProxy:
    """The listener and thread bookkeeping shared by the tests' proxies."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port: int = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()
        self._start(self._accept)

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _addr = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                number = self.connections
                self.connections += 1
            self._start(self.pump, client, number)

    def pump(self, client: socket.socket, number: int) -> None:
        """Serve connection ``number`` (0 for the first) until it ends or the proxy stops."""
        raise NotImplementedError

    def relay(
        self,
        client: socket.socket,
        upstream: socket.socket,
        from_client: Callable[[bytes], str | None],
        from_server: Callable[[bytes], str | None],
    ) -> str:
        """Hand what each side sends to its handler (which forwards what it lets through) until
        a handler returns a verdict (returned), a side closes ("eof") or the proxy stops."""
        while not self.stopping.is_set():
            readable, _, _ = select.select([client, upstream], [], [], 0.05)
            for sock in readable:
                data = sock.recv(256 * 1024)
                if not data:
                    return "eof"
                verdict = (from_server if sock is upstream else from_client)(data)
                if verdict is not None:
                    return verdict
        return "stopped"

    def stop(self) -> None:
        self.stopping.set()
        self.listener.close()
        for thread in self.threads:
            thread.join(10)
        assert not any(t.is_alive() for t in self.threads), "proxy threads did not stop"


P = TypeVar("P", bound=LoopbackProxy)


def stopped_afterwards() -> Iterator[list[P]]:
    """The body of a fixture: a list the test appends its proxies to; each is stopped after."""
    made: list[P] = []
    yield made
    for proxy in made:
        proxy.stop()
