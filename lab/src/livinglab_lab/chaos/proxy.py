"""A loopback TCP proxy between the agents and the broker that can partition the network.

`partition()` stops forwarding in both directions, as a cut cable or a dead mobile link does:
connections stay open, bytes wait in the sockets' buffers, and nothing arrives, so each side
learns of it only by its own timeouts (MQTT keep-alive). `heal()` forwards again what waited.
Connections that either side closed meanwhile are closed on the other side too, and a client
that connects during a partition is accepted but hears nothing until the partition heals.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading

__all__ = ["Proxy"]

logger = logging.getLogger(__name__)

CHUNK_BYTES = 65_536
POLL_S = 0.05


class Proxy:
    """127.0.0.1:`port` forwarding to 127.0.0.1:`upstream_port`."""

    def __init__(self, *, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(POLL_S)
        self.port = int(self._listener.getsockname()[1])
        self._open = threading.Event()
        self._open.set()
        self._closing = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="proxy", daemon=True)
        self._thread.start()

    def partition(self) -> None:
        """Stop forwarding until `heal()`."""
        self._open.clear()

    def heal(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._closing.set()
        self._open.set()
        self._thread.join()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(
                target=self._connect, args=(client,), name="proxy-link", daemon=True
            ).start()

    def _connect(self, client: socket.socket) -> None:
        self._open.wait()
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            client.close()  # the broker is down: as it would refuse the connection
            return
        with self._lock:
            self._sockets |= {client, upstream}
        done = threading.Event()
        for source, target in ((client, upstream), (upstream, client)):
            threading.Thread(
                target=self._pump,
                args=(source, target, done),
                name="proxy-pump",
                daemon=True,
            ).start()

    def _pump(
        self, source: socket.socket, target: socket.socket, done: threading.Event
    ) -> None:
        try:
            # The other direction's pump may have closed both sockets already (EBADF).
            source.settimeout(POLL_S)
            while not done.is_set() and not self._closing.is_set():
                if not self._open.wait(POLL_S):
                    continue  # partitioned: leave the bytes where they are
                try:
                    data = source.recv(CHUNK_BYTES)
                except TimeoutError:
                    continue
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            done.set()
            with self._lock:
                for sock in (source, target):
                    self._sockets.discard(sock)
                    with contextlib.suppress(OSError):
                        sock.close()
