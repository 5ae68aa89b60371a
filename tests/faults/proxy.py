"""A TCP proxy on loopback in front of the database, under the test's control: the fault drill's way
to restart, hang or freeze "the database" without touching the shared PostgreSQL server.

Modes: ``up`` (forwarding), ``down`` (every connection dropped, new ones closed at once: a database
restarting), ``hang`` (every connection dropped, new ones accepted and never answered: a database
that came back hung), ``paused`` (connections kept, nothing forwarded: queries stall mid-request).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

UP, DOWN, HANG, PAUSED = "up", "down", "hang", "paused"


def _reset(sock: socket.socket) -> None:
    """Close at once, as a dying server's kernel does: shut down first (a thread blocked reading the
    socket wakes up; a plain close() would leave the connection open under it), then close with a
    reset (SO_LINGER 0)."""
    for step in (
        lambda: sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)),
        lambda: sock.shutdown(socket.SHUT_RDWR),
        sock.close,
    ):
        with contextlib.suppress(OSError):
            step()


class Proxy:
    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.mode = UP
        self._held: set[socket.socket] = set()  # portal connections stalled mid-request while paused
        self._changed = threading.Condition()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._hung: list[socket.socket] = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    # --- control ------------------------------------------------------------------------------
    def set(self, mode: str) -> None:
        with self._changed:
            self.mode = mode
            self._held.clear()
            if mode in (DOWN, HANG):
                for client, server in self._pairs:
                    _reset(client)
                    _reset(server)
                self._pairs.clear()
            if mode == UP:
                for client in self._hung:
                    _reset(client)
                self._hung.clear()
            self._changed.notify_all()

    def close(self) -> None:
        self._closed = True
        self.set(DOWN)
        self._thread.join(timeout=2)
        self.listener.close()

    # --- forwarding ---------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _address = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._changed:
                mode = self.mode
            if mode == DOWN:
                _reset(client)
                continue
            if mode == HANG:
                with self._changed:
                    self._hung.append(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            with self._changed:
                self._pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server, client), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, client), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, portal: socket.socket) -> None:
        """Forward ``source`` to ``target``; while paused, hold what arrives (a query, or its answer:
        either way the request of the ``portal`` connection is stalled mid-flight)."""
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                with self._changed:
                    if self.mode == PAUSED:
                        self._held.add(portal)
                        self._changed.notify_all()
                    while self.mode == PAUSED:
                        self._changed.wait()
                target.sendall(data)
        except OSError:
            pass
        finally:
            _reset(source)
            _reset(target)

    def wait_for_held(self, count: int, timeout: float) -> bool:
        """True once ``count`` portal connections have a query stalled (paused mode), within ``timeout``."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._held) >= count, timeout=timeout)
